"""Decide what a learner sees of a graded notebook: the one rule every learner-facing view calls.

`workshop feedback`, the board's feedback page, its result JSON and the Submit panel all show a
`LearnerView`, so what a learner may see is decided here and nowhere else:

- the cells the learner wrote (solution cells, cells they added) with their outputs, and the
  release's own cells (instructions) but its Check cells, which only work in a kernel;
- visible test cells as released, with their outputs and failure message;
- of a test cell that holds hidden tests, only its points and whether it passed: no source, no
  output, no message, no traceback;
- no secret of the source (`autograde.redact`: solution and hidden-test lines, hints) anywhere,
  unless the learner wrote that line themselves.

Which cell is whose is decided by the gradebook's metadata (restored before grading, whatever
the submission claimed) and by comparing with the release, never by the submission alone. A
notebook that could not be read is shown as a sentence saying so, and nothing of its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograde.redact import Secrets, find_secrets, is_learners, redact_outputs, redact_text
from course.add_checks import CHECK_TAG
from course.cells import autograded_tests, grade_id, is_autograded_test, is_hint, nbgrader_meta
from course.errors import NotebookError
from course.layout import active_release
from course.notebook_io import read_notebook
from course.score import first_failure, score_cells
from course.settings import Settings

__all__ = [
    "ExerciseView",
    "LearnerView",
    "Scores",
    "learner_view",
    "learner_views",
    "source_secrets",
    "unreadable_view",
]

Scores = Mapping[str, tuple[float | None, float]]
"""grade id -> (points or None while a person has to grade it, maximum)"""


@dataclass(frozen=True)
class ExerciseView:
    """One autograded test cell as its learner may know it."""

    notebook: str
    exercise: str
    points: float | None
    max_points: float
    passed: bool
    message: str | None
    hidden_tests: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LearnerView:
    """What a learner may see of one notebook: its cells (points lines included), its test
    cells, the points of every graded cell, and why it could not be read, if it could not."""

    name: str
    notebook: NotebookNode
    exercises: tuple[ExerciseView, ...]
    scores: tuple[tuple[str, float | None, float], ...]
    unreadable: str | None = None


def learner_views(
    settings: Settings,
    assignment: str,
    learner: str,
    scores: Mapping[str, Scores] | None = None,
) -> tuple[LearnerView, ...]:
    """The view of every notebook of *assignment* for *learner*, graded or not.

    *scores* (notebook name -> grade id -> points) overrides the points computed from the
    autograded notebook, e.g. with the gradebook's, which include manual grades.
    """
    views = []
    for name in _notebook_names(settings, assignment):
        released = _read_if_present(active_release(settings, assignment) / f"{name}.ipynb")
        secrets = source_secrets(settings, assignment, name, released)
        graded_path = settings.autograded_dir / learner / assignment / f"{name}.ipynb"
        given = (scores or {}).get(name)
        try:
            graded = read_notebook(graded_path, f"{name}.ipynb")
        except NotebookError:
            reason = _unread_reason(settings, assignment, learner, name)
            like = released or _read_if_present(settings.source_dir / assignment / f"{name}.ipynb")
            views.append(unreadable_view(name, reason, like or nbformat.v4.new_notebook(), given))
            continue
        views.append(
            learner_view(name, graded, released, secrets, given, stderr_fails=settings.stderr_fails)
        )
    return tuple(views)


def source_secrets(
    settings: Settings, assignment: str, name: str, released: NotebookNode | None
) -> Secrets:
    """The secrets of the source notebook *name* of *assignment* (see `autograde.redact`);
    none without a readable source (a course graded from its gradebook alone)."""
    source = _read_if_present(settings.source_dir / assignment / f"{name}.ipynb")
    if source is None:
        return Secrets(frozenset())
    return find_secrets(source, released, settings.markers)


def learner_view(
    name: str,
    graded: NotebookNode,
    released: NotebookNode | None,
    secrets: Secrets,
    scores: Scores | None = None,
    *,
    stderr_fails: bool = False,
) -> LearnerView:
    """The view of the graded notebook *graded* (see the module docstring for the rule);
    without *scores*, its points are scored here by the course's rule (*stderr_fails*)."""
    if scores is None:
        scores = {
            s.grade_id: (s.points, s.max_points)
            for s in score_cells(graded, stderr_fails=stderr_fails)
        }
    visible = autograded_tests(released) if released is not None else {}
    written = [c.source for c in graded.cells if is_learners(c)]
    mine = secrets.unwritten(written)
    cells: list[NotebookNode] = []
    exercises: list[ExerciseView] = []
    for cell in graded.cells:
        key = grade_id(cell)
        shown: NotebookNode | None
        if key is not None and is_autograded_test(cell):
            hidden = key not in visible or visible[key].source != cell.source
            failure = first_failure(cell)
            points, maximum = scores.get(key, (0.0, float(nbgrader_meta(cell).get("points", 0))))
            passed = points is not None and points == maximum
            message = None if hidden or failure is None else redact_text(failure, mine)
            exercises.append(
                ExerciseView(name, key, points, maximum, passed, message, hidden_tests=hidden)
            )
            shown = (
                _hidden_test_cell(key, passed)
                if hidden
                else _visible_test_cell(cell, message, mine)
            )
        elif is_hint(cell) or CHECK_TAG in cell.get("metadata", {}).get("tags", []):
            shown = None
        elif is_learners(cell):
            shown = _with_outputs(cell, cell.source, mine)
        else:
            shown = _with_outputs(cell, redact_text(cell.source, mine), mine)
        if shown is not None:
            cells.append(shown)
        if key is not None and key in scores:
            failed = any(e.exercise == key and not e.passed for e in exercises)
            cells.append(_points_cell(*scores[key], failed=failed))
    return LearnerView(
        name, _notebook(graded, cells), tuple(exercises), _score_rows(scores), unreadable=None
    )


def unreadable_view(
    name: str, reason: str, released: NotebookNode, scores: Scores | None = None
) -> LearnerView:
    """The view of a notebook that was not graded: why, and 0 points on every graded cell."""
    maxima = {
        key: float(nbgrader_meta(cell).get("points", 0))
        for cell in released.cells
        if (key := grade_id(cell)) is not None and nbgrader_meta(cell).get("grade")
    }
    scores = scores or {key: (0.0, maximum) for key, maximum in maxima.items()}
    exercises = tuple(
        ExerciseView(name, key, 0.0, maxima[key], False, None, hidden_tests=False)
        for key in autograded_tests(released)
        if key in maxima
    )
    cell = nbformat.v4.new_markdown_cell(
        f"**{name}.ipynb was not graded:** {_escape_markdown(reason)}\n\n"
        "Nothing of this notebook can be shown; every exercise in it scores 0."
    )
    return LearnerView(name, _notebook(released, [cell]), exercises, _score_rows(scores), reason)


def _hidden_test_cell(key: str, passed: bool) -> NotebookNode:
    cell: NotebookNode = nbformat.v4.new_markdown_cell(
        f"*Tests `{key}` {'passed' if passed else 'failed'}: this cell holds hidden tests; "
        "only its result is shown.*"
    )
    return cell


def _visible_test_cell(cell: NotebookNode, message: str | None, mine: Secrets) -> NotebookNode:
    """The released test code, its outputs without the traceback, and its one-line failure."""
    shown = _with_outputs(cell, cell.source, mine)
    shown.outputs = [o for o in shown.outputs if o.output_type != "error"]
    if message:
        shown.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=message + "\n"))
    return shown


def _with_outputs(cell: NotebookNode, source: str, mine: Secrets) -> NotebookNode:
    shown: NotebookNode
    if cell.cell_type == "code":
        shown = nbformat.v4.new_code_cell(source)
        shown.outputs = redact_outputs(cell.get("outputs", []), mine)
        shown.execution_count = cell.get("execution_count")
    elif cell.cell_type == "markdown":
        shown = nbformat.v4.new_markdown_cell(source)
        if cell.get("attachments") and is_learners(cell):
            shown.attachments = cell.attachments
    else:
        shown = nbformat.v4.new_raw_cell(source)
    return shown


def _points_cell(score: float | None, maximum: float, *, failed: bool) -> NotebookNode:
    mark = "✗" if failed or score == 0 else "✓"
    points = "to be graded" if score is None else f"{score:g}"
    cell: NotebookNode = nbformat.v4.new_markdown_cell(f"**{mark} {points} / {maximum:g} points**")
    return cell


def _notebook(like: NotebookNode, cells: list[NotebookNode]) -> NotebookNode:
    nb: NotebookNode = nbformat.v4.new_notebook()
    for key in ("kernelspec", "language_info"):
        if key in like.metadata:
            nb.metadata[key] = like.metadata[key]
    nb.cells = cells
    for index, cell in enumerate(nb.cells):
        cell.id = f"view-{index}"
    return nb


def _score_rows(scores: Scores) -> tuple[tuple[str, float | None, float], ...]:
    return tuple((key, points, maximum) for key, (points, maximum) in scores.items())


def _notebook_names(settings: Settings, assignment: str) -> list[str]:
    folders = (active_release(settings, assignment), settings.source_dir / assignment)
    return sorted({p.stem for folder in folders for p in folder.glob("*.ipynb")})


def _read_if_present(path: Path) -> NotebookNode | None:
    try:
        nb: NotebookNode = read_notebook(path)
        return nb
    except NotebookError:
        return None


def _unread_reason(settings: Settings, assignment: str, learner: str, name: str) -> str:
    """Why *name* has no graded copy, in words naming the learner's own file."""
    folder = settings.submitted_dir / learner / assignment
    path = folder / f"{name}.ipynb"
    if not path.exists() and not path.is_symlink():
        others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        also = f" (the submission holds {', '.join(others)})" if others else ""
        return f"no file {name}.ipynb was submitted{also}; submit the notebook under this name"
    if not path.is_file() or path.is_symlink():
        return f"{name}.ipynb is not a regular file"
    try:
        read_notebook(path, f"{name}.ipynb")
    except NotebookError as error:
        return str(error)
    return "it could not be graded; ask the organiser"


def _escape_markdown(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]<>()#+-.!|" else ch for ch in text)
