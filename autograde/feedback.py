"""Per-learner HTML feedback: what `autograde.learner_view` lets a learner see, as a page.

nbgrader's own feedback prints the autograded notebook, hidden tests included (nbgrader issue
1363). Here each page is a `LearnerView` (the one rule of what a learner may see) under a
summary of the scores; a notebook that could not be graded gets a page that says why.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde.learner_view import LearnerView, Scores, learner_views
from course.errors import WorkshopError
from course.gradebook import open_gradebook
from course.notebook_io import write_text_atomic
from course.settings import Settings

__all__ = ["FeedbackReport", "feedback_page", "write_feedback"]


@dataclass(frozen=True)
class FeedbackReport:
    """The pages written, and the learners who got none with the reason (never silent)."""

    written: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]


def write_feedback(
    settings: Settings, assignment: str, students: Sequence[str] = ()
) -> FeedbackReport:
    """Write `feedback/<learner>/<assignment>/<notebook>.html` for every notebook of every
    graded learner (or of *students*), a page for an ungraded notebook included."""
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
    written: list[Path] = []
    skipped: list[tuple[str, str]] = []
    with open_gradebook(settings) as gradebook:
        for learner in learners:
            if not (graded_root / learner / assignment).is_dir():
                skipped.append((learner, f"not graded yet; run `workshop grade {assignment}`"))
                continue
            try:
                submission = gradebook.find_submission(assignment, learner)
            except MissingEntry:
                skipped.append((learner, "no grades in the gradebook; grade again"))
                continue
            scores: dict[str, Scores] = {
                notebook.name: {g.cell.name: (g.score, g.max_score) for g in notebook.grades}
                for notebook in submission.notebooks
            }
            for view in learner_views(settings, assignment, learner, scores):
                target = settings.feedback_dir / learner / assignment / f"{view.name}.html"
                write_text_atomic(target, feedback_page(view))
                written.append(target)
    return FeedbackReport(tuple(written), tuple(skipped))


def feedback_page(view: LearnerView) -> str:
    """The HTML page of *view*: a summary of the scores, then the cells."""
    from nbconvert import HTMLExporter

    total = sum(points or 0 for _, points, _ in view.scores)
    possible = sum(maximum for _, _, maximum in view.scores)
    summary = nbformat.v4.new_markdown_cell(
        f"## Feedback: {html.escape(view.name)}\n\n**Score: {total:g} / {possible:g}**\n\n"
        + "\n".join(
            f"- `{html.escape(key)}`: {_points(points)} / {maximum:g}"
            for key, points, maximum in view.scores
        )
    )
    summary.id = "feedback-summary"
    nb = nbformat.from_dict(view.notebook)
    nb.cells = [summary, *nb.cells]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return str(body)


def _points(score: float | None) -> str:
    return "to be graded" if score is None else f"{score:g}"
