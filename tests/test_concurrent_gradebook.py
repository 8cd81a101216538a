"""One gradebook shared at the same moment by two `workshop grade` runs on different workshops
and a session board receiving Check events: afterwards every submission has exactly one set of
grades with the right scores, and every event is stored once.

Two learners who are not on the roster submit both workshops; graded first (by id), both
graders add them to the roster at about the same time. The narrow races themselves are pinned
down by the threaded tests of `tests/course/test_gradebook.py` and `tests/autograde/
test_persist.py`; this test shows the whole runs agree.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

import nbformat
import pytest
from board_server import NOTEBOOK, BoardServer, event, serve, two_exercise_notebook
from conftest import gradebook_url, new_course, write_nb
from sqlalchemy import create_engine, func, select

from autograde.persist import graded_fingerprints
from course.gradebook import open_gradebook
from course.release import release_workshop
from course.roster import import_roster
from course.settings import Settings, load_settings
from extensions.board.schema import EVENT
from extensions.board.tokens import issue_learner_tokens, issue_organiser_token

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.server,
    pytest.mark.databases("sqlite", "postgresql"),
]

WORKSHOPS = ("powers", "more-powers")
ROSTER = tuple(f"learner{i}" for i in range(6))
WALK_INS = ("guest0", "guest1")
SQUARE = {True: "def square(x):\n    return x * x", False: "def square(x):\n    return x + x"}
CUBE = {True: "def cube(x):\n    return x ** 3", False: "def cube(x):\n    return 0"}
MIN_EVENT_ROUNDS = 10


def answers(learner: str, workshop: str) -> tuple[bool, bool]:
    """Whether *learner* solved square and cube in *workshop* (varied, and not the same in
    both workshops, so swapped grades would show)."""
    number = sum(map(ord, learner + workshop))
    return number % 2 == 0, number % 3 == 0


def expected_score(learner: str, workshop: str) -> float:
    square, cube = answers(learner, workshop)
    return 1.0 * square + 2.0 * cube


def submit(settings: Settings, learner: str, workshop: str) -> None:
    released = nbformat.read(settings.release_dir / workshop / f"{NOTEBOOK}.ipynb", 4)
    nb = copy.deepcopy(released)
    square, cube = answers(learner, workshop)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "square":
            cell.source = SQUARE[square]
        elif grade_id == "cube":
            cell.source = CUBE[cube]
    folder = settings.submitted_dir / learner / workshop
    write_nb(folder / f"{NOTEBOOK}.ipynb", nb)
    (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")


@pytest.fixture
def course(tmp_path: Path, database: str, request: pytest.FixtureRequest):
    with gradebook_url(database, request) as url:
        root = new_course(tmp_path / "course", url)
        for workshop in WORKSHOPS:
            write_nb(root / "source" / workshop / f"{NOTEBOOK}.ipynb", two_exercise_notebook())
        settings = load_settings(root)
        for workshop in WORKSHOPS:
            release_workshop(settings, workshop, {})
        (root / "roster.csv").write_text("id\n" + "\n".join(ROSTER) + "\n")
        import_roster(settings, root / "roster.csv")
        for learner in ROSTER + WALK_INS:
            for workshop in WORKSHOPS:
                submit(settings, learner, workshop)
        yield settings


def post_checks(board: BoardServer, learner: str, round_: int) -> tuple[set[str], int, int]:
    """One request of three Checks across both workshops, then the same request again (a
    resend after a lost acknowledgement); returns the keys and the answers' counts."""
    checks = [
        {
            **event(learner, exercise, key=f"{learner}-{round_}-{i}"),
            "workshop": WORKSHOPS[i % 2],
        }
        for i, exercise in enumerate(("square_tests", "cube_tests", "square_tests"))
    ]
    token = board.tokens[learner]
    first, again = board.post_events(token, *checks), board.post_events(token, *checks)
    assert (first.status, again.status) == (200, 200), (first.body, again.body)
    accepted = first.json()["accepted"] + again.json()["accepted"]
    duplicates = first.json()["duplicates"] + again.json()["duplicates"]
    return {c["key"] for c in checks}, accepted, duplicates


def test_two_graders_and_the_board_share_one_gradebook(course: Settings):
    tokens = {t.subject: t.token for t in issue_learner_tokens(course).issued}
    tokens["organiser"] = issue_organiser_token(course, "Olga").issued[0].token
    exe = str(Path(sys.executable).parent / "workshop")
    keys: set[str] = set()
    accepted = duplicates = 0
    with serve(course.root, tokens) as board, ThreadPoolExecutor(len(ROSTER)) as pool:
        graders = [
            subprocess.Popen(
                [exe, "grade", workshop, "--workers", "1"],
                cwd=course.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for workshop in WORKSHOPS
        ]
        rounds, deadline = 0, time.monotonic() + 600
        while rounds < MIN_EVENT_ROUNDS or any(g.poll() is None for g in graders):
            assert time.monotonic() < deadline, "grading took over 10 minutes"
            for sent, fresh, repeated in pool.map(
                post_checks, repeat(board), ROSTER, repeat(rounds)
            ):
                keys |= sent
                accepted += fresh
                duplicates += repeated
            rounds += 1
        outputs = [g.communicate() for g in graders]
        for grader, (_, stderr) in zip(graders, outputs, strict=True):
            assert grader.returncode == 0, stderr
        board_view = board.request(
            "GET", f"/workshop/api/board/{WORKSHOPS[0]}", token=tokens["organiser"]
        )
        assert board_view.status == 200

    assert (accepted, duplicates) == (len(keys), len(keys))
    engine = create_engine(course.db_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(EVENT.c.key, func.count()).group_by(EVENT.c.key)
            ).all()
    finally:
        engine.dispose()
    assert {key for key, _ in stored} == keys
    assert all(count == 1 for _, count in stored)

    with open_gradebook(course) as gradebook:
        assert sorted(s.id for s in gradebook.students) == sorted(ROSTER + WALK_INS)
        for workshop in WORKSHOPS:
            assignment = gradebook.find_assignment(workshop)
            assert sorted(s.student.id for s in assignment.submissions) == sorted(ROSTER + WALK_INS)
            for submission in assignment.submissions:
                (notebook,) = submission.notebooks
                cells = sorted(g.name for g in notebook.grades)
                assert cells == ["cube_tests", "reflection", "square_tests"]
                learner = submission.student.id
                assert submission.code_score == expected_score(learner, workshop), learner
            assert sorted(graded_fingerprints(gradebook, workshop)) == sorted(ROSTER + WALK_INS)
