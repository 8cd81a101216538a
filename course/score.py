"""The one scoring rule: nbgrader's own `determine_grade`, applied to executed cells.

A learner's Check, `workshop validate` and the grader all score through `score_cells`, so a
cell can never be worth one thing in the notebook and another in the gradebook.

One documented exception to nbgrader (DESIGN invariant 1): nbgrader gives 0 to a test cell with
any stderr output, so a correct answer loses its points when NumPy or pandas warns. By default
stderr that is only text (warnings, logging) does not count; errors are `error` outputs and still
fail, and so does the grader's own notice that output was cut. `c.Workshop.stderr_fails = True`
restores nbgrader's rule exactly.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

from course.cells import grade_id, nbgrader_meta

__all__ = ["OUTPUT_LIMIT_TEXT", "CellScore", "first_failure", "score_cells", "scored_outputs"]

OUTPUT_LIMIT_TEXT = "[output limit reached]"


@dataclass(frozen=True)
class CellScore:
    """Score of one graded cell; `points` is None when a person has to grade it."""

    grade_id: str
    points: float | None
    max_points: float
    failure: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score_cells(nb: NotebookNode, *, stderr_fails: bool) -> tuple[CellScore, ...]:
    """Score every graded cell of an executed notebook, in cell order.

    *stderr_fails* is `c.Workshop.stderr_fails`: with it, any stderr output gives 0 (nbgrader's
    rule); without it, only stderr that signals a failure does (see `scored_outputs`).
    Where nbgrader's rule raises (a partial-credit value above the cell's points, a result
    without plain text), nbgrader stops the whole notebook; here that one cell scores 0.
    """
    from nbgrader.utils import determine_grade

    scores = []
    for cell in nb.cells:
        key = grade_id(cell)
        if key is None or not nbgrader_meta(cell).get("grade"):
            continue
        scored = _as_scored(cell, stderr_fails=stderr_fails)
        try:
            points, max_points = determine_grade(scored)
        except (ValueError, KeyError) as error:
            points, max_points = 0.0, float(nbgrader_meta(cell).get("points", 0))
            scores.append(CellScore(key, points, max_points, f"unusable partial credit: {error}"))
            continue
        failure = (
            first_failure(cell, stderr_fails=stderr_fails) if cell.cell_type == "code" else None
        )
        scores.append(CellScore(key, points, max_points, failure))
    return tuple(scores)


def scored_outputs(outputs: list[Any], *, stderr_fails: bool) -> list[Any]:
    """The outputs nbgrader's rule is applied to: all of them when *stderr_fails*, else all but
    stderr streams that are only text (a stderr stream holding the output-limit notice stays)."""
    if stderr_fails:
        return list(outputs)
    return [
        o
        for o in outputs
        if not (
            o.get("output_type") == "stream"
            and o.get("name") == "stderr"
            and OUTPUT_LIMIT_TEXT not in str(o.get("text", ""))
        )
    ]


def _as_scored(cell: NotebookNode, *, stderr_fails: bool) -> NotebookNode:
    if stderr_fails or cell.cell_type != "code":
        return cell
    scored = copy.copy(cell)
    scored["outputs"] = scored_outputs(cell.get("outputs", []), stderr_fails=False)
    return scored


def first_failure(cell: NotebookNode, *, stderr_fails: bool = False) -> str | None:
    """The first output of *cell* that fails it under the scoring rule, as one line a person
    can read (an error, or stderr that counts: see `scored_outputs`)."""
    for output in scored_outputs(cell.get("outputs", []), stderr_fails=stderr_fails):
        if output.output_type == "error":
            value = str(output.get("evalue", "")).strip().splitlines()
            return f"{output.get('ename', 'Error')}: {value[0]}" if value else output.ename
        if output.output_type == "stream" and output.get("name") == "stderr":
            lines = [line for line in str(output.text).splitlines() if line.strip()]
            return f"wrote to stderr: {lines[0].strip()}" if lines else "wrote to stderr"
    return None
