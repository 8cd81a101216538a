"""Per-learner HTML feedback that shows scores and messages, never hidden test code.

nbgrader's own feedback prints the autograded notebook, hidden tests included (nbgrader issue
1363). Here every autograder test cell shows the learner's version of its source (the release),
its failure as `ExceptionName: message` only (a traceback would quote hidden lines), and a line
with the points earned; a summary of the scores comes first.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.cells import grade_id, is_autograded_test
from course.errors import NotebookError, WorkshopError
from course.gradebook import open_gradebook
from course.layout import active_release
from course.notebook_io import read_notebook, write_text_atomic
from course.score import first_failure
from course.settings import Settings

__all__ = ["feedback_notebook", "write_feedback"]


def write_feedback(settings: Settings, assignment: str, students: Sequence[str] = ()) -> list[Path]:
    """Write `feedback/<learner>/<assignment>/<notebook>.html` for every graded learner."""
    from nbgrader.api import MissingEntry

    graded_root = settings.autograded_dir
    learners = (
        list(students) or sorted(p.name for p in graded_root.iterdir() if (p / assignment).is_dir())
        if graded_root.is_dir()
        else list(students)
    )
    if not learners:
        raise WorkshopError(
            f"{settings.relative(graded_root)}: nothing graded for '{assignment}'; "
            f"run `workshop grade {assignment}` first"
        )
    released = {
        p.stem: read_notebook(p)
        for p in sorted(active_release(settings, assignment).glob("*.ipynb"))
    }
    written = []
    with open_gradebook(settings) as gradebook:
        for learner in learners:
            for path in sorted((graded_root / learner / assignment).glob("*.ipynb")):
                try:
                    nb = read_notebook(path, settings.relative(path))
                    grades = gradebook.find_submission_notebook(path.stem, assignment, learner)
                except (NotebookError, MissingEntry):
                    continue
                scores = {g.cell.name: (g.score, g.max_score) for g in grades.grades}
                page = _render(feedback_notebook(nb, released.get(path.stem), scores))
                target = settings.feedback_dir / learner / assignment / f"{path.stem}.html"
                write_text_atomic(target, page)
                written.append(target)
    return written


def feedback_notebook(
    autograded: NotebookNode,
    released: NotebookNode | None,
    scores: Mapping[str, tuple[float | None, float]],
) -> NotebookNode:
    """The notebook a learner may see: learner-visible test sources, short failures, points."""
    visible = {grade_id(c): c.source for c in released.cells} if released is not None else {}
    nb = copy.deepcopy(autograded)
    cells = []
    for cell in nb.cells:
        key = grade_id(cell)
        if is_autograded_test(cell):
            cell.source = visible.get(key, "# (test code not shown)")
            failure = first_failure(cell)
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"]
            if failure:
                cell.outputs.append(
                    nbformat.v4.new_output("stream", name="stderr", text=failure + "\n")
                )
        cells.append(cell)
        if key is not None and key in scores:
            failed = is_autograded_test(cell) and first_failure(cell) is not None
            cells.append(_points_cell(*scores[key], failed=failed))
    total = sum(score or 0 for score, _ in scores.values())
    possible = sum(maximum for _, maximum in scores.values())
    summary = nbformat.v4.new_markdown_cell(
        f"## Feedback\n\n**Score: {total:g} / {possible:g}**\n\n"
        + "\n".join(
            f"- `{html.escape(name)}`: {_points(score)} / {maximum:g}"
            for name, (score, maximum) in scores.items()
        )
    )
    nb.cells = [summary, *cells]
    for index, cell in enumerate(nb.cells):
        cell.id = f"feedback-{index}"
    return nb


def _points(score: float | None) -> str:
    return "to be graded" if score is None else f"{score:g}"


def _points_cell(score: float | None, maximum: float, *, failed: bool) -> NotebookNode:
    mark = "✗" if failed or score == 0 else "✓"
    cell: NotebookNode = nbformat.v4.new_markdown_cell(
        f"**{mark} {_points(score)} / {maximum:g} points**"
    )
    return cell


def _render(nb: NotebookNode) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return str(body)
