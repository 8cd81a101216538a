"""Results never cross: three `workshop grade` runs at once on a loaded machine, each beside a
learner who closes every file descriptor it can, give every learner nbgrader's scores.

The attacker's cell closes the pipe its results travel on and keeps its lane busy, so later
notebooks get pipes with the numbers it closed: the case that once filed one notebook's
results under another's (DESIGN invariant 3, STYLE rule 15).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from parity import (
    NBGRADER_CANNOT_GRADE,
    make_course,
    nbgrader,
    rows,
    submission,
    use_nbgraders_stderr_rule,
)

pytestmark = pytest.mark.kernel

GRADERS = 3
COPIES = 2  # learners per parity submission (and attackers), in each course
BURNERS = 2
ATTACK = "import os, time\nos.closerange(3, 4096)\ntime.sleep(4)\ndef square(x):\n    return x * x"
DELETED_CELL = ("deleted", "mean_tests")  # a deliberate difference (see test_parity)


def attacker(released, source):
    return {"closer": submission(released, source, {"square": ATTACK})}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    top = tmp_path_factory.mktemp("concurrency")
    theirs = top / "theirs"
    make_course(theirs)
    skipped = ",".join(sorted(NBGRADER_CANNOT_GRADE))
    done = nbgrader(
        "autograde", "squares", f"--CourseDirectory.student_id_exclude={skipped}", cwd=theirs
    )
    assert done.returncode == 0, done.stderr[-3000:]
    courses = [top / f"ours{i}" for i in range(GRADERS)]
    make_course(courses[0], copies=COPIES, extra=attacker)
    use_nbgraders_stderr_rule(courses[0])
    for course in courses[1:]:
        shutil.copytree(courses[0], course)
    exe = Path(sys.executable).parent / "workshop"
    burn = [sys.executable, "-c", "while True: pass"]
    burners = [subprocess.Popen(burn) for _ in range(BURNERS)]
    try:
        graders = [
            subprocess.Popen(
                [str(exe), "grade", "squares", "--workers", "2", "--report", "report.json"],
                cwd=course,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for course in courses
        ]
        outcomes = [(g.returncode, *g.communicate(timeout=600)) for g in graders]
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    results = []
    for course, (_, _, stderr), grader in zip(courses, outcomes, graders, strict=True):
        assert grader.returncode == 0, stderr[-3000:]
        report = json.loads((course / "report.json").read_text())
        results.append((rows(course / "gradebook.db"), report))
    return rows(theirs / "gradebook.db"), results


def original(learner):
    return learner.rsplit("-", 1)[0] if learner.rsplit("-", 1)[-1].isdigit() else learner


def test_every_cell_of_every_learner_scores_as_nbgrader_scores_it(graded):
    (their_grades, their_comments, their_penalties), results = graded
    compared = 0
    for (our_grades, our_comments, our_penalties), _ in results:
        for (learner, cell), ours in our_grades.items():
            key = (original(learner), cell)
            if key in their_grades and key != DELETED_CELL:
                assert ours == their_grades[key], (learner, cell)
                assert our_comments.get((learner, cell)) == their_comments.get(key)
                compared += 1
        for learner, penalty in our_penalties.items():
            if original(learner) in their_penalties and original(learner) != "deleted":
                assert penalty == their_penalties[original(learner)], learner
    assert compared == GRADERS * COPIES * len({k for k in their_grades if k != DELETED_CELL})


def test_no_learner_is_told_of_a_problem_another_caused(graded):
    _, results = graded
    for _, report in results:
        for result in report["submissions"]:
            codes = {p["code"] for p in result["problems"]}
            if original(result["student"]) != "closer":
                assert not codes & {"sandbox-crashed", "tampered-output", "exited"}, result
            if original(result["student"]) == "honest":
                assert codes == set() and result["score"] == 6.0, result


def test_the_attacker_loses_only_its_own_points(graded):
    _, results = graded
    for (our_grades, _, _), report in results:
        closers = [r for r in report["submissions"] if original(r["student"]) == "closer"]
        assert len(closers) == COPIES
        for closer in closers:
            assert closer["status"] == "graded" and closer["score"] == 0
            assert {p["code"] for p in closer["problems"]} == {"exited"}
        scores = [score for (who, _), (score, _) in our_grades.items() if original(who) == "closer"]
        assert scores and set(scores) == {0}
