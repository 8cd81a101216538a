"""Check events reach the board: spooled while it is down, none lost, none counted twice; and a
personal copy fetched with `workshop join` reports from a real kernel."""

import shutil
import socket
import time

import pytest
from board_server import NOTEBOOK, WORKSHOP, build_course, serve
from conftest import run_cli
from kernels import learner_kernel

from extensions.events import EventSender, new_event


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_event(attempt: int, *, passed: bool) -> dict:
    return new_event(
        learner="ada",
        workshop=WORKSHOP,
        notebook=NOTEBOOK,
        exercise="square_tests",
        passed=passed,
        points=float(passed),
        max_points=1.0,
        attempt=attempt,
    )


def square_progress(board, token: str) -> dict:
    response = board.request(
        "GET", f"/workshop/api/learners/ada/progress?workshop={WORKSHOP}", token=token
    )
    assert response.status == 200, response.body
    return next(e for e in response.json()["exercises"] if e["exercise"] == "square_tests")


@pytest.mark.server
def test_events_wait_in_the_spool_while_the_board_is_down_and_arrive_once(tmp_path):
    tokens = build_course(tmp_path / "course", [{"id": "ada"}])
    spool = tmp_path / "copy" / ".workshop" / "spool"
    offline = EventSender(f"http://127.0.0.1:{unused_port()}", tokens["ada"], spool)
    for attempt in (1, 2, 3):
        offline.send(check_event(attempt, passed=attempt == 3))
    assert offline.pending() == 3  # spooled at once; delivery is the thread's business
    deadline = time.monotonic() + 30
    while offline.last_error is None:
        assert time.monotonic() < deadline, "the sender never tried the board"
        time.sleep(0.05)
    assert offline.pending() == 3 and offline.last_error.startswith("board unreachable")
    kept = {p.name: p.read_bytes() for p in spool.glob("*.json")}
    with serve(tmp_path / "course", tokens) as board:
        online = EventSender(board.url, tokens["ada"], spool)  # the next kernel of the learner
        assert online.flush(timeout_s=20)
        first = square_progress(board, tokens["organiser"])
        assert first["attempts"] == 3 and first["passed"]
        for name, data in kept.items():  # the acknowledgement got lost: everything again
            (spool / name).write_bytes(data)
        assert online.flush(timeout_s=20)
        assert square_progress(board, tokens["ada"]) == first
        assert not (spool / "rejected").exists()
        refused = {**check_event(4, passed=True), "exercise": "no_such_exercise"}
        for event in (check_event(4, passed=True), refused, check_event(5, passed=True)):
            online.send(event)
        assert online.flush(timeout_s=20)
        assert square_progress(board, tokens["ada"])["attempts"] == 5  # the good ones arrived
        [kept_aside] = (spool / "rejected").glob("*.json")
        assert "no_such_exercise" in kept_aside.read_text()


@pytest.mark.server
@pytest.mark.kernel
def test_a_personal_copy_from_the_join_endpoint_reports_checks(tmp_path):
    tokens = build_course(tmp_path / "course", [{"id": "ada"}])
    with serve(tmp_path / "course", tokens) as board:
        join_url = f"{board.url}/workshop/join/{WORKSHOP}"
        into = str(tmp_path / "learner")
        refused = run_cli("join", join_url, "--token", "wrong", "--into", into, cwd=tmp_path)
        assert refused.returncode == 1 and "answered 401" in refused.stderr
        assert "Traceback" not in refused.stderr and not (tmp_path / "learner").exists()
        joined = run_cli("join", join_url, "--token", tokens["ada"], "--into", into, cwd=tmp_path)
        assert joined.returncode == 0, joined.stderr
        again = run_cli("join", join_url, "--token", tokens["ada"], "--into", into, cwd=tmp_path)
        assert again.returncode == 1 and "already exists" in again.stderr
        folder = tmp_path / "learner" / WORKSHOP
        assert (folder / ".workshop" / "learner.json").is_file()
        assert tokens["ada"] not in (folder / f"{NOTEBOOK}.ipynb").read_text()
        with learner_kernel(folder) as kernel:
            kernel.run("from extensions.learner import check\nn = 3")
            kernel.run("def square(x):\n    return x + x")
            kernel.run("p = check('square_tests'); p.run()")
            kernel.run("def square(x):\n    return x * x")
            kernel.run("p.run()")
            assert kernel.json("p.session.sender.flush(20)") is True
        progress = square_progress(board, tokens["ada"])
        assert progress["attempts"] == 2 and progress["passed"]
    shutil.rmtree(tmp_path / "learner")
