"""Differential test: `workshop grade` and `nbgrader autograde` on identical copies of a course.

Both grade the same honest, partial, blank, broken, noisy and tampered submissions; the
gradebook rows must agree cell by cell, except where nbworkshop deliberately does better
(documented in docs/grading.md and asserted below).
"""

import shutil

import pytest
from parity import NBGRADER_CANNOT_GRADE, make_course, nbgrader, rows, use_nbgraders_stderr_rule

from autograde.grade import grade_assignment
from course.settings import load_settings

pytestmark = pytest.mark.kernel

# A deleted test cell: nbgrader leaves it ungraded (None, flagged for manual grading); we put
# the cell back from the gradebook and run it.
DIFFERENCES = {
    ("deleted", "mean_tests"): (1.0, False),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("parity") / "course"
    make_course(base)
    theirs, ours = base.parent / "theirs", base.parent / "ours"
    shutil.copytree(base, theirs)
    shutil.copytree(base, ours)
    use_nbgraders_stderr_rule(ours)
    nbgrader_failed = set()
    for student in sorted(NBGRADER_CANNOT_GRADE):
        result = nbgrader("autograde", "squares", "--student", student, cwd=theirs)
        if result.returncode != 0:
            nbgrader_failed.add(student)
    exclude = ",".join(sorted(NBGRADER_CANNOT_GRADE))
    result = nbgrader(
        "autograde", "squares", f"--CourseDirectory.student_id_exclude={exclude}", cwd=theirs
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = grade_assignment(load_settings(ours), "squares")
    return rows(ours / "gradebook.db"), rows(theirs / "gradebook.db"), report, nbgrader_failed


def graded_by_nbgrader(key, failed):
    return key[0] not in failed


def test_scores_match_nbgrader_cell_by_cell(graded):
    (our_grades, _, _), (their_grades, _, _), _, failed = graded
    compared = {k: v for k, v in their_grades.items() if graded_by_nbgrader(k, failed)}
    assert len({k[0] for k in compared}) == 7
    for key, theirs in sorted(compared.items()):
        if key not in DIFFERENCES:
            assert our_grades[key] == theirs, key
    assert set(our_grades) >= set(compared)


def test_comments_match_nbgrader(graded):
    (_, our_comments, _), (_, their_comments, _), _, failed = graded
    compared = {k: v for k, v in their_comments.items() if graded_by_nbgrader(k, failed)}
    assert {k: our_comments[k] for k in compared} == compared


def test_late_penalties_match_nbgrader(graded):
    (_, _, ours), (_, _, theirs), report, failed = graded
    scored_differently = {student for student, _ in DIFFERENCES}
    compared = {s: p for s, p in theirs.items() if s not in failed | scored_differently}
    assert {s: ours[s] for s in compared} == compared
    assert compared["honest"] is None and compared["partial"] > 0  # on time; late, zeroed
    totals = {r.student: r.score for r in report.results}
    assert all(ours[s] == totals[s] for s in scored_differently)  # zeroed like the others


def test_deliberate_differences(graded):
    (our_grades, _, _), (their_grades, _, _), report, failed = graded
    assert failed == NBGRADER_CANNOT_GRADE
    for key, ours in DIFFERENCES.items():
        assert our_grades[key] == ours
        assert their_grades.get(key) != ours
    statuses = {r.student: r.status for r in report.results}
    assert statuses["duplicated"] == statuses["fake"] == "graded"


def test_expected_scores(graded):
    _, _, report, _ = graded
    totals = {r.student: r.score for r in report.results}
    assert totals["honest"] == 6.0
    assert totals["partial"] == 2.0 + 0 + 2.0
    assert totals["blank"] == totals["broken"] == totals["fake"] == 0.0
    assert totals["noisy"] == 1.0  # stderr in a test cell costs its points, as in nbgrader
    assert totals["tampered"] == totals["duplicated"] == totals["deleted"] == 6.0


def test_tampering_is_reported(graded):
    _, _, report, _ = graded
    codes = {r.student: {f.code for f in r.findings} for r in report.results}
    assert codes["honest"] == set()
    assert {"tampered-metadata", "edited-test-cell", "prefilled-output"} <= codes["tampered"]
    assert "duplicate-grade-id" in codes["duplicated"]
    assert "unknown-cell" in codes["fake"]
    assert "missing-cell" in codes["deleted"]
