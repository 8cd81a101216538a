"""The parity course of `tests/data/parity-course`: its submissions, nbgrader run as a user
runs it, and the gradebook rows both graders are compared on (`test_parity`, `test_concurrency`)."""

import copy
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import REPO

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


def nbgrader(*args, cwd):
    exe = Path(sys.executable).parent / "nbgrader"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


# nbgrader fails on these submissions (a duplicated or an unknown grade cell fails its own
# metadata check, and the error stops the rest of its batch).
NBGRADER_CANNOT_GRADE = {"duplicated", "fake"}

# Late submissions lose everything (`penalty_method = "zero"` in the course config).
DUE = "2026-11-20 09:30:00 UTC"
ON_TIME, LATE = "2026-11-20 09:00:00.000000 UTC", "2026-11-20 10:00:00.000000 UTC"
PUNCTUAL = {"honest", "broken"}


def make_course(base: Path, copies: int = 1, extra=None) -> None:
    """The parity course at *base*, released with its due date, holding every submission of
    `build_submissions` and those *extra* makes (`extra(released, source)` -> learner ->
    notebook, on time), each by *copies* learners (`name`, then `name-2`...)."""
    shutil.copytree(DATA, base)
    generated = nbgrader("generate_assignment", "squares", "--force", cwd=base)
    assert generated.returncode == 0, generated.stderr
    due = nbgrader("db", "assignment", "add", "squares", f"--duedate={DUE}", cwd=base)
    assert due.returncode == 0, due.stderr
    released = nbformat.read(base / "release" / "squares" / "squares.ipynb", 4)
    source = nbformat.read(base / "source" / "squares" / "squares.ipynb", 4)
    submissions = build_submissions(released, source)
    stamps = {s: ON_TIME if s in PUNCTUAL else LATE for s in submissions}
    for student, nb in (extra(released, source) if extra else {}).items():
        submissions[student], stamps[student] = nb, ON_TIME
    for student, nb in submissions.items():
        for copy_number in range(1, copies + 1):
            name = student if copy_number == 1 else f"{student}-{copy_number}"
            folder = base / "submitted" / name / "squares"
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / "squares.ipynb")
            (folder / "timestamp.txt").write_text(stamps[student])


def use_nbgraders_stderr_rule(course: Path) -> None:
    """Parity needs nbgrader's own stderr rule (any stderr output scores 0)."""
    with (course / "nbgrader_config.py").open("a") as config:
        config.write("\nc.Workshop.stderr_fails = True  # parity: nbgrader's stderr rule\n")
