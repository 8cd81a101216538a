"""Differential test: `workshop grade` and `nbgrader autograde` on identical copies of a course.

Both grade the same honest, partial, blank, broken, noisy and tampered submissions; the
gradebook rows must agree cell by cell, except where nbworkshop deliberately does better
(documented in docs/grading.md and asserted below).
"""

import copy
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from autograde.grade import grade_assignment
from course.settings import load_settings

pytestmark = pytest.mark.kernel

DATA = REPO / "tests" / "data" / "parity-course"


def strip_markers(source):
    return "\n".join(line for line in source.splitlines() if "SOLUTION" not in line)


def solution_cells(nb):
    return [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]


def submission(released, source, overrides=None):
    nb = copy.deepcopy(released)
    answers = {
        c.metadata.nbgrader.grade_id: strip_markers(c.source) for c in solution_cells(source)
    }
    answers.update(overrides or {})
    for cell in solution_cells(nb):
        cell.source = answers[cell.metadata.nbgrader.grade_id]
    return nb


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def build_submissions(released, source):
    honest = submission(released, source)
    tampered = copy.deepcopy(honest)
    cell(tampered, "square_tests").metadata.nbgrader.points = 100
    cell(tampered, "square_tests").metadata.nbgrader.locked = False
    cell(tampered, "square_tests").metadata.nbgrader.checksum = "0" * 32
    cell(tampered, "mean_tests").source = "pass"
    cell(tampered, "mean_tests").outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="ok")
    ]
    duplicated = copy.deepcopy(honest)
    twin = copy.deepcopy(cell(duplicated, "square_tests"))
    twin.source, twin.id = "pass", "twin"
    duplicated.cells.append(twin)
    fake = copy.deepcopy(released)
    bonus = nbformat.v4.new_code_cell("pass")
    bonus.metadata.nbgrader = {
        **cell(fake, "mean_tests").metadata.nbgrader,
        "grade_id": "bonus",
        "points": 50,
    }
    fake.cells.append(bonus)
    deleted = copy.deepcopy(honest)
    deleted.cells.remove(cell(deleted, "mean_tests"))
    return {
        "honest": honest,
        "partial": submission(released, source, {"mean": "def mean(xs):\n    return 0"}),
        "blank": copy.deepcopy(released),
        "broken": submission(
            released,
            source,
            {
                "square": "def square(x):\n    return x *",
                "mean": "def mean(xs):\n    raise ValueError('no')",
            },
        ),
        "noisy": submission(
            released,
            source,
            {
                "square": "import sys\ndef square(x):\n"
                "    print('careful', file=sys.stderr)\n    return x * x"
            },
        ),
        "tampered": tampered,
        "duplicated": duplicated,
        "fake": fake,
        "deleted": deleted,
    }


def rows(db: Path):
    connection = sqlite3.connect(db)
    grades = connection.execute(
        "select st.id, bc.name, g.auto_score, g.needs_manual_grade from grade g "
        "join submitted_notebook sn on g.notebook_id = sn.id "
        "join submitted_assignment sa on sn.assignment_id = sa.id "
        "join student st on sa.student_id = st.id join base_cell bc on g.cell_id = bc.id"
    ).fetchall()
    comments = connection.execute(
        "select st.id, bc.name, c.auto_comment from comment c "
        "join submitted_notebook sn on c.notebook_id = sn.id "
        "join submitted_assignment sa on sn.assignment_id = sa.id "
        "join student st on sa.student_id = st.id join base_cell bc on c.cell_id = bc.id"
    ).fetchall()
    penalties = connection.execute(
        "select st.id, sn.late_submission_penalty from submitted_notebook sn "
        "join submitted_assignment sa on sn.assignment_id = sa.id "
        "join student st on sa.student_id = st.id"
    ).fetchall()
    connection.close()
    return (
        {(s, c): (score, bool(flag)) for s, c, score, flag in grades},
        {(s, c): text for s, c, text in comments},
        dict(penalties),
    )


# A deleted test cell: nbgrader leaves it ungraded (None, flagged for manual grading); we put
# the cell back from the gradebook and run it.
DIFFERENCES = {
    ("deleted", "mean_tests"): (1.0, False),
}
# nbgrader fails on these submissions (a duplicated or an unknown grade cell fails its own
# metadata check, and the error stops the rest of its batch); each is tried on its own.
NBGRADER_CANNOT_GRADE = {"duplicated", "fake"}


# Late submissions lose everything (`penalty_method = "zero"` in the course config).
DUE = "2026-11-20 09:30:00 UTC"
ON_TIME, LATE = "2026-11-20 09:00:00.000000 UTC", "2026-11-20 10:00:00.000000 UTC"
PUNCTUAL = {"honest", "broken"}


def nbgrader(*args, cwd):
    exe = Path(sys.executable).parent / "nbgrader"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("parity") / "course"
    shutil.copytree(DATA, base)
    generated = nbgrader("generate_assignment", "squares", "--force", cwd=base)
    assert generated.returncode == 0, generated.stderr
    due = nbgrader("db", "assignment", "add", "squares", f"--duedate={DUE}", cwd=base)
    assert due.returncode == 0, due.stderr
    released = nbformat.read(base / "release" / "squares" / "squares.ipynb", 4)
    source = nbformat.read(base / "source" / "squares" / "squares.ipynb", 4)
    for student, nb in build_submissions(released, source).items():
        folder = base / "submitted" / student / "squares"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "squares.ipynb")
        (folder / "timestamp.txt").write_text(ON_TIME if student in PUNCTUAL else LATE)
    theirs, ours = base.parent / "theirs", base.parent / "ours"
    shutil.copytree(base, theirs)
    shutil.copytree(base, ours)
    with (ours / "nbgrader_config.py").open("a") as config:
        config.write("\nc.Workshop.stderr_fails = True  # parity: nbgrader's stderr rule\n")
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
