"""Feedback pages: scores and messages for the learner, never hidden test code."""

import copy
import html
import re

import nbformat
import pytest

from autograde.feedback import write_feedback
from autograde.grade import grade_assignment
from course.release import release_workshop

pytestmark = pytest.mark.kernel


def text_of(page):
    """What a reader sees: the page without tags (code is split into highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def submit(settings, student, square_source):
    nb = copy.deepcopy(nbformat.read(settings.release_dir / "ws" / "nb.ipynb", 4))
    next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square"
    ).source = square_source
    folder = settings.submitted_dir / student / "ws"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "nb.ipynb")


def test_feedback_shows_a_hidden_test_cell_as_points_and_pass_or_fail_only(settings):
    release_workshop(settings, "ws", {})
    submit(settings, "ada", "def square(x):\n    return x * abs(x)")
    submit(settings, "eve", "print('<script>alert(1)</script>')\ndef square(x):\n    return x * x")
    grade_assignment(settings, "ws")
    pages = write_feedback(settings, "ws").written
    assert sorted(p.relative_to(settings.feedback_dir).as_posix() for p in pages) == [
        "ada/ws/nb.html",
        "eve/ws/nb.html",
    ]
    ada = text_of(settings.feedback_dir / "ada" / "ws" / "nb.html")
    assert "square(-2)" not in ada and "HIDDEN" not in ada and "AssertionError" not in ada
    assert "assert square(n)" not in ada  # the cell holds hidden tests: no source at all
    assert "holds hidden tests" in ada and "✗ 0 / 2 points" in ada
    assert "return x * abs(x)" in ada  # the learner's own code
    assert "Score: 0 / 4" in ada
    eve = (settings.feedback_dir / "eve" / "ws" / "nb.html").read_text()
    assert "✓ 2 / 2 points" in text_of(settings.feedback_dir / "eve" / "ws" / "nb.html")
    assert "<script>alert(1)</script>" not in eve
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in eve


def test_feedback_before_grading_is_a_clear_error(settings):
    from course.errors import WorkshopError

    with pytest.raises(WorkshopError, match="nothing graded for 'ws'"):
        write_feedback(settings, "ws")


def test_feedback_names_every_learner_it_wrote_no_page_for(settings):
    release_workshop(settings, "ws", {})
    submit(settings, "ada", "def square(x):\n    return x * x")
    grade_assignment(settings, "ws")
    report = write_feedback(settings, "ws", ["ada", "zoe"])
    assert [p.relative_to(settings.feedback_dir).as_posix() for p in report.written] == [
        "ada/ws/nb.html"
    ]
    assert report.skipped == (("zoe", "not graded yet; run `workshop grade ws`"),)
