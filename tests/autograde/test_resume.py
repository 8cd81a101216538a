"""A batch killed half-way, re-run: every submission graded exactly once; manual grades kept;
on SQLite and PostgreSQL."""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import create_engine, inspect, text

from autograde.grade import grade_assignment
from course.gradebook import open_gradebook
from course.release import release_workshop

pytestmark = [pytest.mark.kernel, pytest.mark.databases("sqlite", "postgresql")]

STUDENTS = [f"learner{i:02d}" for i in range(8)]


def submit(settings, student, square_source, stamp="2026-11-20 10:00:00.000000 UTC"):
    released = nbformat.read(settings.release_dir / "ws" / "nb.ipynb", 4)
    nb = copy.deepcopy(released)
    next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square"
    ).source = square_source
    folder = settings.submitted_dir / student / "ws"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "nb.ipynb")
    (folder / "timestamp.txt").write_text(stamp)


def graded_students(settings):
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("workshop_graded"):
                return set()
            return set(connection.execute(text("select student from workshop_graded")).scalars())
    finally:
        engine.dispose()


def test_killed_batch_resumes_without_grading_twice(settings):
    release_workshop(settings, "ws", {})
    for student in STUDENTS:
        submit(settings, student, "import time\ntime.sleep(0.5)\ndef square(x):\n    return x * x")
    exe = str(Path(sys.executable).parent / "workshop")
    batch = subprocess.Popen(
        [exe, "grade", "ws", "--workers", "1"],
        cwd=settings.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(graded_students(settings)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait()
    first = graded_students(settings)
    assert 3 <= len(first) < len(STUDENTS)

    report = grade_assignment(settings, "ws", workers=2)
    statuses = {r.student: r.status for r in report.results}
    assert {s for s, status in statuses.items() if status == "skipped"} == first
    assert {s for s, status in statuses.items() if status == "graded"} == set(STUDENTS) - first
    with open_gradebook(settings) as gradebook:
        for student in STUDENTS:
            submission = gradebook.find_submission("ws", student)
            assert submission.code_score == 2.0
        assert len(gradebook.find_assignment("ws").submissions) == len(STUDENTS)


def test_changed_submissions_are_regraded_and_manual_grades_survive(settings):
    release_workshop(settings, "ws", {})
    for student in ("ada", "bob"):
        submit(settings, student, "def square(x):\n    return x * x")
    first = grade_assignment(settings, "ws")
    assert [r.status for r in first.results] == ["graded", "graded"]
    with open_gradebook(settings) as gradebook:
        grade = gradebook.find_grade("reflection", "nb", "ws", "ada")
        grade.manual_score = 1.5
        gradebook.db.commit()

    submit(settings, "bob", "def square(x):\n    return 0", stamp="2026-11-20 11:00:00.000000 UTC")
    second = grade_assignment(settings, "ws")
    assert {r.student: r.status for r in second.results} == {"ada": "skipped", "bob": "graded"}
    assert next(r for r in second.results if r.student == "bob").score == 0.0

    forced = grade_assignment(settings, "ws", force=True)
    assert [r.status for r in forced.results] == ["graded", "graded"]
    with open_gradebook(settings) as gradebook:
        grade = gradebook.find_grade("reflection", "nb", "ws", "ada")
        assert grade.manual_score == 1.5 and grade.needs_manual_grade
        assert gradebook.find_submission("ws", "ada").score == 2.0 + 1.5
