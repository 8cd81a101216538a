"""The one scoring rule: nbgrader's own `determine_grade`, applied to executed cells.

A learner's Check, `workshop validate` and the grader all score through `score_cells`, so a
cell can never be worth one thing in the notebook and another in the gradebook.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nbformat import NotebookNode

from course.cells import grade_id, nbgrader_meta

__all__ = ["CellScore", "first_failure", "score_cells"]


@dataclass(frozen=True)
class CellScore:
    """Score of one graded cell; `points` is None when a person has to grade it."""

    grade_id: str
    points: float | None
    max_points: float
    failure: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score_cells(nb: NotebookNode) -> tuple[CellScore, ...]:
    """Score every graded cell of an executed notebook, in cell order.

    Where nbgrader's rule raises (a partial-credit value above the cell's points, a result
    without plain text), nbgrader stops the whole notebook; here that one cell scores 0.
    """
    from nbgrader.utils import determine_grade

    scores = []
    for cell in nb.cells:
        key = grade_id(cell)
        if key is None or not nbgrader_meta(cell).get("grade"):
            continue
        try:
            points, max_points = determine_grade(cell)
        except (ValueError, KeyError) as error:
            points, max_points = 0.0, float(nbgrader_meta(cell).get("points", 0))
            scores.append(CellScore(key, points, max_points, f"unusable partial credit: {error}"))
            continue
        failure = first_failure(cell) if cell.cell_type == "code" else None
        scores.append(CellScore(key, points, max_points, failure))
    return tuple(scores)


def first_failure(cell: NotebookNode) -> str | None:
    """The first error or stderr output of *cell*, as one line a person can read."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            value = str(output.get("evalue", "")).strip().splitlines()
            return f"{output.get('ename', 'Error')}: {value[0]}" if value else output.ename
        if output.output_type == "stream" and output.get("name") == "stderr":
            lines = [line for line in str(output.text).splitlines() if line.strip()]
            return f"wrote to stderr: {lines[0].strip()}" if lines else "wrote to stderr"
    return None
