"""Check events reach the board: spooled while it is down, none lost, none counted twice; and a
personal copy fetched with `workshop join` reports from a real kernel."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


def test_a_board_that_does_not_answer_never_holds_up_a_check(tmp_path):
    """The board takes the request and sits on it: Checks meanwhile return at once and are
    spooled; once it answers, everything arrives (a resend after a timeout counts once)."""
    arrived, answer = threading.Event(), threading.Event()
    stored: dict[str, dict] = {}

    class SlowBoard(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            events = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["events"]
            arrived.set()
            answer.wait(30)
            stored.update((e["key"], e) for e in events)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"accepted": 1, "duplicates": 0}')

        def log_message(self, *args) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), SlowBoard) as board:
        threading.Thread(target=board.serve_forever, daemon=True).start()
        sender = EventSender(f"http://127.0.0.1:{board.server_port}", "token", tmp_path / "spool")
        sender.send(check_event(1, passed=False))
        assert arrived.wait(20), "the sender never posted"
        checking = threading.Thread(target=sender.send, args=(check_event(2, passed=True),))
        checking.start()
        checking.join(timeout=2)
        assert not checking.is_alive(), "a Check waited for the board"
        assert sender.pending() == 2
        answer.set()
        assert sender.flush(timeout_s=30)
        board.shutdown()
    assert sorted(e["attempt"] for e in stored.values()) == [1, 2]


@pytest.mark.server
@pytest.mark.kernel
def test_a_personal_copy_from_the_join_endpoint_reports_checks(tmp_path):
    tokens = build_course(tmp_path / "course", [{"id": "ada"}])
    with serve(tmp_path / "course", tokens) as board:
        join_url = f"{board.url}/workshop/join/{WORKSHOP}"
        into = str(tmp_path / "learner")
        refused = run_cli("join", join_url, "--token", "wrong", "--into", into, cwd=tmp_path)
        assert refused.returncode == 1 and "did not accept this token" in refused.stderr
        assert "Traceback" not in refused.stderr and not (tmp_path / "learner").exists()
        no_token = subprocess.run(
            [str(Path(sys.executable).parent / "workshop"), "join", join_url, "--into", into],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,  # no terminal to type the token at
            env={k: v for k, v in os.environ.items() if k != "WORKSHOP_TOKEN"},
        )
        assert no_token.returncode == 1 and "EOFError" not in no_token.stderr
        assert "no token: pass the one the presenter gave you with --token" in no_token.stderr
        joined = run_cli("join", join_url, "--token", tokens["ada"], "--into", into, cwd=tmp_path)
        assert joined.returncode == 0, joined.stderr
        again = run_cli("join", join_url, "--token", tokens["ada"], "--into", into, cwd=tmp_path)
        assert again.returncode == 1 and "already exists and may hold your work" in again.stderr
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
            saved_with_the_notebook = kernel.run(  # what "save widget state" writes
                "import json\nfrom ipywidgets.embed import dependency_state\n"
                "print(json.dumps(dependency_state([p.view.box])))"
            )
        assert "Passed" in saved_with_the_notebook and tokens["ada"] not in saved_with_the_notebook
        progress = square_progress(board, tokens["ada"])
        assert progress["attempts"] == 2 and progress["passed"]
    shutil.rmtree(tmp_path / "learner")
