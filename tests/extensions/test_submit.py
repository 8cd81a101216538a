"""Submit from the notebook, graded on submit, nothing lost across a server restart (issue 5);
the submission queue on SQLite and PostgreSQL."""

import getpass
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, build_course, serve
from conftest import gradebook_url, run_cli
from kernels import learner_kernel
from sqlalchemy import update

from course.settings import load_settings
from extensions.board.intake import store_submission
from extensions.board.schema import SUBMISSION, create_tables, open_engine

LEARNERS = [{"id": "ada"}, {"id": "bob"}]
REPO_BIN = Path(sys.executable).parent


@pytest.fixture
def tokens(tmp_path, database, request):
    """The board's course in `tmp_path / "course"`, gradebook on the engine of `database`."""
    with gradebook_url(database, request) as url:
        yield build_course(tmp_path / "course", LEARNERS, url)


def answered(folder, square: str, cube: str) -> nbformat.NotebookNode:
    """The learner's notebook, as saved, with their answers."""
    path = folder / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if key == "square":
            cell.source = square
        elif key == "cube":
            cell.source = cube
    nbformat.write(nb, path)
    return nb


def wait_for_result(board, token: str, learner: str, receipt_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view = board.request(
            "GET", f"/workshop/api/submissions/{WORKSHOP}/{learner}", token=token
        ).json()
        if view["result"] is not None and view["result"]["id"] >= receipt_id:
            return view
        time.sleep(0.2)
    raise AssertionError("no result within 120 s")


@pytest.mark.server
@pytest.mark.kernel
def test_submit_from_the_notebook_is_graded_and_shown(tmp_path, tokens):
    with serve(tmp_path / "course", tokens) as board:
        into = str(tmp_path / "ada")
        join_url = f"{board.url}/workshop/join/{WORKSHOP}"
        assert (
            run_cli(
                "join", join_url, "--token", tokens["ada"], "--into", into, cwd=tmp_path
            ).returncode
            == 0
        )
        folder = tmp_path / "ada" / WORKSHOP
        answered(folder, "def square(x):\n    return x * x", "def cube(x):\n    return x * x")
        with learner_kernel(folder) as kernel:
            kernel.run("from extensions.learner import check, submit\nn = 3")
            kernel.run("panel = check('square_tests')")
            started = time.monotonic()
            receipt = kernel.json("submit().wait(60)")
            assert (
                receipt["learner"] == "ada" and len(receipt["sha256"]) == 64 and not receipt["late"]
            )
            view = wait_for_result(board, tokens["ada"], "ada", receipt["id"])
            elapsed = time.monotonic() - started
            result = view["result"]
            assert result["status"] == "graded" and result["score"] == 1
            points = {e["exercise"]: e["points"] for e in result["exercises"]}
            assert points == {"square_tests": 1, "cube_tests": 0}
            deadline = time.monotonic() + 30
            while "Score: 1 of" not in kernel.json("panel.progress.submit_status.value"):
                assert time.monotonic() < deadline, "the panel never showed the score"
                time.sleep(0.2)
        print(f"submit to score: {elapsed:.1f} s")
        feedback = board.request(
            "GET", f"/workshop/api/submissions/{WORKSHOP}/ada/feedback", token=tokens["ada"]
        )
        assert feedback.status == 200 and b"square_tests" in feedback.body
        assert "frame-ancestors 'none'" in feedback.headers["content-security-policy"]
        # roles: learners see only their own, organisers everyone's; only learners submit
        path = f"/workshop/api/submissions/{WORKSHOP}/ada"
        assert board.request("GET", path, token=tokens["bob"]).status == 403
        assert board.request("GET", path + "/feedback", token=tokens["bob"]).status == 403
        assert board.request("GET", path, token=tokens["organiser"]).status == 200
        assert board.request("GET", path).status == 401
        upload = f"/workshop/api/submissions/{WORKSHOP}"
        nb = json.loads((folder / f"{NOTEBOOK}.ipynb").read_text())
        body = {"notebooks": {f"{NOTEBOOK}.ipynb": nb}}
        assert board.request("POST", upload, token=tokens["organiser"], body=body).status == 403
        assert board.request("POST", upload, body=body).status == 401
        wrong_name = board.request(
            "POST", upload, token=tokens["bob"], body={"notebooks": {"x.ipynb": nb}}
        )
        assert wrong_name.status == 400 and "x.ipynb" in wrong_name.json()["error"]
        broken = board.request(
            "POST",
            upload,
            token=tokens["bob"],
            body={"notebooks": {f"{NOTEBOOK}.ipynb": {"cells": 1}}},
        )
        assert broken.status == 400 and "not a valid notebook" in broken.json()["error"]
        bad_json = board.request("POST", upload, token=tokens["bob"], raw=b"{nope")
        assert bad_json.status == 400
        huge = board.request("POST", upload, token=tokens["bob"], raw=b" " * (21 * 1024 * 1024))
        assert huge.status == 413
        # a second submission keeps the first in the history
        second = board.request("POST", upload, token=tokens["ada"], body=body)
        assert second.status == 200
        view = wait_for_result(board, tokens["ada"], "ada", second.json()["id"])
        assert len(view["submissions"]) == 2
    history = tmp_path / "course" / "var" / "submission-history" / "ada" / WORKSHOP
    assert len(list(history.iterdir())) == 2


@pytest.mark.server
@pytest.mark.databases("sqlite", "postgresql")
def test_a_restarted_server_grades_what_was_queued_or_half_graded(tmp_path, tokens):
    settings = load_settings(tmp_path / "course")
    engine = open_engine(settings.db_url)
    create_tables(engine)
    released = (settings.release_dir / WORKSHOP / f"{NOTEBOOK}.ipynb").read_text()
    queued = store_submission(
        settings, engine, "ada", WORKSHOP, {f"{NOTEBOOK}.ipynb": released}, late_policy="accept"
    )
    interrupted = store_submission(
        settings, engine, "bob", WORKSHOP, {f"{NOTEBOOK}.ipynb": released}, late_policy="accept"
    )
    with engine.begin() as connection:  # the server died while grading bob's
        connection.execute(
            update(SUBMISSION).where(SUBMISSION.c.id == interrupted.id).values(status="grading")
        )
    engine.dispose()
    with serve(tmp_path / "course", tokens) as board:
        for learner, receipt in (("ada", queued), ("bob", interrupted)):
            result = wait_for_result(board, tokens["organiser"], learner, receipt.id)["result"]
            assert result["status"] == "graded" and result["score"] == 0


def nbgrader(*args: str, cwd) -> None:
    exe = REPO_BIN / "nbgrader"
    done = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.server
@pytest.mark.kernel
def test_the_board_and_nbgraders_exchange_end_in_the_same_place(tmp_path, tokens):
    """A laptop offline hands in with `nbgrader submit`; the organiser collects; `workshop
    grade` grades both that and a board submission from the same submitted folder."""
    course, exchange, laptop = tmp_path / "course", tmp_path / "exchange", tmp_path / "laptop"
    exchange.mkdir()
    laptop.mkdir()
    root = f"--Exchange.root={exchange}"
    nbgrader("release_assignment", WORKSHOP, root, cwd=course)
    course_id = load_settings(course).course_id
    nbgrader("fetch_assignment", WORKSHOP, f"--course={course_id}", root, cwd=laptop)
    answered(
        laptop / WORKSHOP, "def square(x):\n    return x * x", "def cube(x):\n    return x ** 3"
    )
    nbgrader("submit", WORKSHOP, f"--course={course_id}", root, cwd=laptop)
    nbgrader("collect", WORKSHOP, root, cwd=course)
    offline = getpass.getuser()
    with serve(course, tokens) as board:
        nb = json.loads((course / "release" / WORKSHOP / f"{NOTEBOOK}.ipynb").read_text())
        body = {"notebooks": {f"{NOTEBOOK}.ipynb": nb}}
        sent = board.request(
            "POST", f"/workshop/api/submissions/{WORKSHOP}", token=tokens["ada"], body=body
        )
        wait_for_result(board, tokens["ada"], "ada", sent.json()["id"])
    for learner in (offline, "ada"):
        folder = course / "var" / "submitted" / learner / WORKSHOP
        assert (folder / f"{NOTEBOOK}.ipynb").is_file() and (folder / "timestamp.txt").is_file()
    graded = run_cli("grade", WORKSHOP, "--report", "report.json", cwd=course)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads((course / "report.json").read_text())
    scores = {s["student"]: s["score"] for s in report["submissions"]}
    assert scores[offline] == 3  # the laptop's answers: both exercises right


@pytest.mark.databases("sqlite", "postgresql")
def test_past_the_due_date_a_submission_is_marked_late_or_refused(tmp_path, tokens):
    from datetime import UTC, datetime, timedelta

    from course.errors import RequestRejected
    from course.gradebook import open_gradebook

    settings = load_settings(tmp_path / "course")
    due = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    with open_gradebook(settings) as gradebook:
        gradebook.update_or_create_assignment(WORKSHOP, duedate=due)
    engine = open_engine(settings.db_url)
    create_tables(engine)
    notebooks = {
        f"{NOTEBOOK}.ipynb": (settings.release_dir / WORKSHOP / f"{NOTEBOOK}.ipynb").read_text()
    }
    late = store_submission(settings, engine, "ada", WORKSHOP, notebooks, late_policy="accept")
    assert late.late
    with pytest.raises(RequestRejected) as refused:
        store_submission(settings, engine, "bob", WORKSHOP, notebooks, late_policy="refuse")
    assert refused.value.status == 403 and "submissions are closed" in str(refused.value)
    assert not (settings.submitted_dir / "bob").exists()
    early = store_submission(
        settings,
        engine,
        "bob",
        WORKSHOP,
        notebooks,
        late_policy="refuse",
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    assert not early.late
    engine.dispose()
