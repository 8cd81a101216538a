"""Grading on arrival under a runaway (issue 13): lanes, a time budget per submission, and a
resubmission that replaces the same learner's queued one; against a real `workshop serve`."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, BoardServer, build_course, serve, stored

from course.settings import load_settings

pytestmark = [pytest.mark.server, pytest.mark.kernel]

LEARNERS = [{"id": "runaway"}, {"id": "honest"}]
BUDGET_S = 45
SUBMIT = f"/workshop/api/submissions/{WORKSHOP}"
LOOP = "def square(x):\n    while True:\n        pass"
RIGHT = "def square(x):\n    return x * x"


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    course = tmp_path_factory.mktemp("lanes") / "course"
    tokens = build_course(course, LEARNERS)
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(f"c.BoardApp.grading_workers = 2\nc.BoardApp.grading_budget_s = {BUDGET_S}\n")
    with serve(course, tokens) as server:
        yield server


def submit(board: BoardServer, learner: str, square: str) -> dict:
    released = load_settings(board.course).release_dir / WORKSHOP / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "square":
            cell.source = square
    response = board.request(
        "POST", SUBMIT, token=board.tokens[learner], body={"notebooks": {f"{NOTEBOOK}.ipynb": nb}}
    )
    assert response.status == 200, response.body
    return response.json()


def receipts(board: BoardServer, learner: str) -> dict[int, dict]:
    view = board.request("GET", f"{SUBMIT}/{learner}", token=board.tokens["organiser"]).json()
    return {r["id"]: r for r in view["submissions"]}


def wait_until(condition, bound_s: float, what: str) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_runaway_holds_one_lane_and_its_resubmissions_replace_each_other(board):
    first = submit(board, "runaway", LOOP)
    wait_until(
        lambda: receipts(board, "runaway")[first["id"]]["status"] == "grading",
        120,
        "the runaway was never taken",
    )
    honest = submit(board, "honest", RIGHT)
    second = submit(board, "runaway", LOOP)
    third = submit(board, "runaway", RIGHT)
    wait_until(
        lambda: receipts(board, "honest")[honest["id"]]["status"] == "graded",
        BUDGET_S * 3,
        "the honest learner was not scored",
    )
    assert receipts(board, "honest")[honest["id"]]["score"] == 1
    wait_until(
        lambda: receipts(board, "runaway")[third["id"]]["status"] == "graded",
        BUDGET_S * 4,
        "the resubmission was not graded",
    )
    final = receipts(board, "runaway")
    assert final[first["id"]]["status"] in ("graded", "failed")
    assert not final[first["id"]]["score"]
    assert final[second["id"]]["status"] == "superseded"
    assert final[third["id"]]["score"] == 1
    # the honest learner, who submitted while the runaway ran, was scored before it stopped
    graded_at = dict(stored(board, "select id, graded_at from workshop_submission"))
    assert graded_at[honest["id"]] < graded_at[first["id"]]


def test_an_unreachable_cluster_puts_submissions_back_instead_of_failing_them(
    tmp_path, monkeypatch
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")
    course = tmp_path / "course"
    tokens = build_course(course, LEARNERS)
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(f"c.Workshop.dask_scheduler = 'tcp://127.0.0.1:{closed_port}'\n")
    with serve(course, tokens) as board:
        receipt = submit(board, "honest", RIGHT)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not requeued(seen):
            status = receipts(board, "honest")[receipt["id"]]["status"]
            assert status in ("queued", "grading"), status
            if not seen or seen[-1] != status:
                seen.append(status)
            time.sleep(0.1)
    assert requeued(seen), seen


def requeued(statuses: list[str]) -> bool:
    """Whether a submission went back to `queued` after it was being graded."""
    return "grading" in statuses and "queued" in statuses[statuses.index("grading") :]
