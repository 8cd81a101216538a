"""The session board's HTTP API against a real `workshop serve` on loopback, its gradebook on
real SQLite and on real PostgreSQL."""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from board_server import (
    EXERCISES,
    NOTEBOOK,
    WORKSHOP,
    XSS,
    BoardServer,
    build_course,
    event,
    serve,
    stored,
)
from conftest import gradebook_url

pytestmark = [pytest.mark.server, pytest.mark.databases("sqlite", "postgresql")]

PUBLIC_URL = "https://board.example.invalid/session"
LEARNERS = [
    {"id": "alice", "first_name": "Alice", "last_name": "Ant"},
    {"id": "bob", "first_name": "Bob"},
    {"id": "carol"},
    {"id": "mallory", "first_name": XSS, "last_name": "<b>x</b>"},
    {"id": "attendee"},
    {"id": "watcher"},
    *({"id": f"s{i}"} for i in range(1, 9)),
]


@pytest.fixture(scope="module")
def board(
    tmp_path_factory: pytest.TempPathFactory, database: str, request: pytest.FixtureRequest
) -> Iterator[BoardServer]:
    course = tmp_path_factory.mktemp("board") / "course"
    with gradebook_url(database, request) as url:
        tokens = build_course(course, LEARNERS, url)
        with (course / "nbgrader_config.py").open("a") as config:
            config.write(f"c.BoardApp.public_url = {PUBLIC_URL!r}\n")
        with serve(course, tokens) as server:
            yield server


def test_serve_prints_the_board_and_join_pages_of_each_released_workshop(board):
    line = next(line for line in board.output if line.strip().startswith(f"{WORKSHOP}:"))
    assert f"{board.url}/workshop/board/{WORKSHOP}" in line
    assert f"{board.url}/workshop/join/{WORKSHOP}" in line


def test_health_needs_no_token(board):
    response = board.request("GET", "/workshop/api/health")
    assert response.status == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("token", [None, "not-a-token", ""])
def test_events_without_a_valid_token_are_401(board, token):
    response = (
        board.post_events(token, event("alice"))
        if token is not None
        else board.request("POST", "/workshop/api/events", body={"events": [event("alice")]})
    )
    assert response.status == 401
    assert "Authorization" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_jupyter_style_token_header_is_not_accepted(board):
    response = board.request(
        "GET",
        f"/workshop/api/board/{WORKSHOP}",
        headers={"Authorization": f"token {board.tokens['organiser']}"},
    )
    assert response.status == 401


def test_a_learner_cannot_send_another_learners_events(board):
    response = board.post_events(board.tokens["alice"], event("alice"), event("bob"))
    assert response.status == 403
    assert response.json()["error"].startswith("events[1].learner:")
    assert stored(board, "select count(*) from workshop_event where learner = 'bob'") == [(0,)]


def test_a_body_over_the_limit_is_413(board):
    padding = "x" * (70 * 1024)
    response = board.request(
        "POST",
        "/workshop/api/events",
        token=board.tokens["alice"],
        raw=json.dumps({"events": [event("alice")], "padding": padding}).encode(),
    )
    assert response.status == 413
    assert "65536" in response.json()["error"]


def test_malformed_json_is_400_with_a_message(board):
    response = board.request(
        "POST", "/workshop/api/events", token=board.tokens["alice"], raw=b'{"events": [}'
    )
    assert response.status == 400
    assert response.json()["error"].startswith("body: not valid JSON")


def _without(name):
    def change(e):
        del e[name]

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_without("key"), "events[0].key"),
        (lambda e: e.update(key="k" * 65), "events[0].key"),
        (lambda e: e.update(key="k\x00"), "events[0].key"),
        (lambda e: e.update(passed="yes"), "events[0].passed"),
        (lambda e: e.update(points="1"), "events[0].points"),
        (lambda e: e.update(points=3, max_points=1), "events[0].points"),
        (lambda e: e.update(attempt=0), "events[0].attempt"),
        (lambda e: e.update(attempt=True), "events[0].attempt"),
        (lambda e: e.update(attempt=2**31), "events[0].attempt"),
        (lambda e: e.update(time="2025-05-01T10:00:00"), "events[0].time"),
        (lambda e: e.update(time="yesterday"), "events[0].time"),
        (lambda e: e.update(workshop="not-released"), "events[0].workshop"),
        (lambda e: e.update(notebook="other"), "events[0].notebook"),
        (lambda e: e.update(exercise="reflection"), "events[0].exercise"),
        (lambda e: e.update(exercise="square"), "events[0].exercise"),
    ],
)
def test_a_bad_field_is_400_naming_the_field(board, change, field):
    bad = event("alice")
    change(bad)
    response = board.post_events(board.tokens["alice"], bad)
    assert response.status == 400
    assert response.json()["error"].startswith(f"{field}:")


@pytest.mark.parametrize("body", [[], {"events": []}, {"events": "x"}, {"nope": 1}])
def test_a_body_without_1_to_100_events_is_400(board, body):
    response = board.request("POST", "/workshop/api/events", token=board.tokens["alice"], body=body)
    assert response.status == 400
    assert response.json()["error"].split(":")[0] in ("body", "events")


def test_more_than_100_events_is_400(board):
    response = board.post_events(board.tokens["s8"], *(event("s8") for _ in range(101)))
    assert response.status == 400
    assert response.json()["error"].startswith("events:")


def test_organiser_events_must_name_a_roster_learner(board):
    response = board.post_events(board.tokens["organiser"], event("nobody"))
    assert response.status == 400
    assert response.json()["error"].startswith("events[0].learner:")


def test_the_same_key_sent_twice_is_stored_once(board):
    first = event("carol", key="carol-once")
    assert board.post_events(board.tokens["carol"], first).json() == {
        "accepted": 1,
        "duplicates": 0,
    }
    again = board.post_events(board.tokens["carol"], first, event("carol", key="carol-twice"))
    assert again.json() == {"accepted": 1, "duplicates": 1}
    in_one_request = board.post_events(
        board.tokens["carol"], event("carol", key="carol-x"), event("carol", key="carol-x")
    )
    assert in_one_request.json() == {"accepted": 1, "duplicates": 1}
    assert stored(
        board,
        "select key, count(*) from workshop_event where learner = 'carol' group by key order by key",
    ) == [("carol-once", 1), ("carol-twice", 1), ("carol-x", 1)]


def test_concurrent_posts_are_all_stored_exactly_once(board):
    learners = [f"s{i}" for i in range(1, 8)]

    def send(i: int) -> dict[str, int]:
        learner = learners[i % len(learners)]
        batch = [event(learner, key=f"burst-{i}-{j}") for j in range(3)]
        batch.append(event(learner, key=f"burst-{i}-0"))
        return board.post_events(board.tokens[learner], *batch).json()

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(send, range(200)))
    assert sum(r["accepted"] for r in results) == 600
    assert sum(r["duplicates"] for r in results) == 200
    assert stored(board, "select count(*) from workshop_event where key like 'burst-%'") == [(600,)]


def test_a_learner_reads_their_own_progress(board):
    learner = "bob"
    board.post_events(board.tokens[learner], event(learner, EXERCISES[1]))
    board.post_events(board.tokens[learner], event(learner, EXERCISES[1], passed=True))
    response = board.request(
        "GET",
        f"/workshop/api/learners/{learner}/progress?workshop={WORKSHOP}",
        token=board.tokens[learner],
    )
    assert response.status == 200
    progress = response.json()
    assert progress["learner"] == learner and progress["workshop"] == WORKSHOP
    assert [(e["exercise"], e["state"], e["attempts"]) for e in progress["exercises"]] == [
        (EXERCISES[0], "not-started", 0),
        (EXERCISES[1], "passed", 2),
    ]
    assert (progress["passed"], progress["total"]) == (1, 2)


def test_a_learner_cannot_read_another_learners_progress(board):
    response = board.request(
        "GET",
        f"/workshop/api/learners/bob/progress?workshop={WORKSHOP}",
        token=board.tokens["alice"],
    )
    assert response.status == 403
    assert "learner" in response.json()["error"]


def test_an_organiser_reads_anyones_progress(board):
    response = board.request(
        "GET",
        f"/workshop/api/learners/bob/progress?workshop={WORKSHOP}",
        token=board.tokens["organiser"],
    )
    assert response.status == 200
    assert response.json()["learner"] == "bob"


def test_progress_needs_the_workshop_parameter(board):
    response = board.request(
        "GET", "/workshop/api/learners/bob/progress", token=board.tokens["bob"]
    )
    assert response.status == 400
    assert response.json()["error"].startswith("workshop:")


@pytest.mark.parametrize(
    "path", [f"/workshop/api/board/{WORKSHOP}", f"/workshop/api/board/{WORKSHOP}/stream"]
)
def test_board_views_need_an_organiser_token(board, path):
    assert board.request("GET", path).status == 401
    response = board.request("GET", path, token=board.tokens["alice"])
    assert response.status == 403
    assert "organiser" in response.json()["error"]


def test_an_unknown_workshop_is_404(board):
    response = board.request("GET", "/workshop/api/board/nope", token=board.tokens["organiser"])
    assert response.status == 404
    assert "nope" in response.json()["error"]


def test_an_unknown_api_path_is_a_json_404(board):
    response = board.request("GET", "/workshop/api/frobnicate")
    assert response.status == 404
    assert "error" in response.json()


def _board(board: BoardServer) -> dict:
    response = board.request(
        "GET", f"/workshop/api/board/{WORKSHOP}", token=board.tokens["organiser"]
    )
    assert response.status == 200
    return response.json()


def _cell(view: dict, learner: str, exercise: str) -> dict:
    row = next(r for r in view["learners"] if r["id"] == learner)
    return next(c for c in row["cells"] if c["exercise"] == exercise)


def test_the_board_shows_roster_by_exercises_in_notebook_order(board):
    board.post_events(board.tokens["alice"], event("alice", EXERCISES[0]))
    board.post_events(board.tokens["alice"], event("alice", EXERCISES[0], passed=True))
    board.post_events(board.tokens["alice"], event("alice", EXERCISES[1]))
    view = _board(board)
    assert [(e["notebook"], e["exercise"]) for e in view["exercises"]] == [
        (NOTEBOOK, EXERCISES[0]),
        (NOTEBOOK, EXERCISES[1]),
    ]
    assert [e["max_points"] for e in view["exercises"]] == [1.0, 2.0]
    assert [r["id"] for r in view["learners"]] == sorted(r["id"] for r in LEARNERS)
    assert view["roster"] == len(LEARNERS)
    assert _cell(view, "alice", EXERCISES[0]) | {"last_time": None} == {
        "notebook": NOTEBOOK,
        "exercise": EXERCISES[0],
        "state": "passed",
        "attempts": 2,
        "last_time": None,
    }
    assert _cell(view, "alice", EXERCISES[1])["state"] == "attempted"
    assert _cell(view, "mallory", EXERCISES[0])["state"] == "not-started"
    alice = next(r for r in view["learners"] if r["id"] == "alice")
    assert (alice["name"], alice["passed"], alice["attempted"]) == ("Alice Ant", 1, 2)
    mallory = next(r for r in view["learners"] if r["id"] == "mallory")
    assert mallory["name"] == f"{XSS} <b>x</b>"
    first = view["exercises"][0]
    passed = sum(_cell(view, r["id"], EXERCISES[0])["state"] == "passed" for r in view["learners"])
    assert first["passed"] == passed
    assert first["pass_rate"] == pytest.approx(passed / len(LEARNERS))


def test_the_stuck_list_follows_the_documented_rule(board):
    now = datetime.now(UTC)
    long_ago = now - timedelta(minutes=30)
    ex = EXERCISES[1]

    def checks(learner: str, *outcomes: tuple[bool, timedelta]) -> None:
        events = [event(learner, ex, passed=p, at=long_ago + offset) for p, offset in outcomes]
        assert board.post_events(board.tokens[learner], *events).status == 200

    minute = timedelta(minutes=1)
    # s1: three failures, never passed -> stuck
    checks("s1", (False, minute), (False, 2 * minute), (False, 3 * minute))
    # s2: only two failures -> not stuck
    checks("s2", (False, minute), (False, 2 * minute))
    # s3: passed 5 minutes ago, then three failures -> not stuck (recent pass)
    recent = timedelta(minutes=25)
    checks("s3", (True, recent), *((False, recent + i * timedelta(seconds=10)) for i in (1, 2, 3)))
    # s4: passed 29 minutes ago, then three failures -> stuck again
    checks("s4", (True, minute), (False, 2 * minute), (False, 3 * minute), (False, 4 * minute))
    # s5: three failures then a pass -> not stuck
    checks("s5", (False, minute), (False, 2 * minute), (False, 3 * minute), (True, 4 * minute))
    # s6: failures before an old pass don't count: fail, fail, pass, fail, fail -> not stuck
    checks(
        "s6",
        (False, minute),
        (False, 2 * minute),
        (True, 3 * minute),
        (False, 4 * minute),
        (False, 5 * minute),
    )
    view = _board(board)
    stuck = {(s["learner"], s["exercise"]): s for s in view["stuck"]}
    mine = {"s1", "s2", "s3", "s4", "s5", "s6"}
    assert {key for key in stuck if key[0] in mine and key[1] == ex} == {
        ("s1", ex),
        ("s4", ex),
    }
    assert stuck[("s1", ex)]["failed_attempts"] == 3
    assert view["rules"] == {"stuck_failures": 3, "stuck_window_s": 600}
    assert view["exercises"][1]["stuck"] >= 2


def test_attendance_counts_learners_who_checked_today(board):
    before = _board(board)["attendance"]
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    board.post_events(board.tokens["attendee"], event("attendee", at=midnight - timedelta(hours=1)))
    assert _board(board)["attendance"]["present"] == before["present"]
    board.post_events(board.tokens["attendee"], event("attendee"))
    after = _board(board)["attendance"]
    assert after["present"] == before["present"] + 1
    assert after["roster"] == len(LEARNERS)
    assert after["rate"] == pytest.approx(after["present"] / len(LEARNERS))


def _read_frame(response: http.client.HTTPResponse) -> tuple[str, dict]:
    name, data = "message", []
    while True:
        line = response.readline().decode()
        if line == "":
            raise EOFError("stream closed")
        line = line.rstrip("\n")
        if line.startswith(":"):
            continue
        if not line:
            if data:
                return name, json.loads("\n".join(data))
            continue
        field, _, value = line.partition(":")
        if field == "event":
            name = value.strip()
        elif field == "data":
            data.append(value.lstrip())


def test_the_stream_pushes_a_fresh_board_within_2_seconds_of_an_event(board):
    connection = http.client.HTTPConnection(*board.host_port, timeout=5)
    try:
        _follow_stream(board, connection)
    finally:
        connection.close()


def _follow_stream(board: BoardServer, connection: http.client.HTTPConnection) -> None:
    connection.request(
        "GET",
        f"/workshop/api/board/{WORKSHOP}/stream",
        headers={"Authorization": f"Bearer {board.tokens['organiser']}"},
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    name, first = _read_frame(response)
    assert name == "board"
    assert _cell(first, "watcher", EXERCISES[0])["state"] == "not-started"
    sent = datetime.now(UTC)
    board.post_events(board.tokens["watcher"], event("watcher", passed=True))
    name, second = _read_frame(response)
    waited = datetime.now(UTC) - sent
    assert name == "board"
    assert _cell(second, "watcher", EXERCISES[0])["state"] == "passed"
    assert waited < timedelta(seconds=2)


def test_the_join_zip_is_the_release_plus_learner_json(board):
    response = board.request("GET", f"/workshop/api/join/{WORKSHOP}", token=board.tokens["alice"])
    assert response.status == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="{WORKSHOP}-alice.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    names = set(archive.namelist())
    assert f"{WORKSHOP}/{NOTEBOOK}.ipynb" in names
    released = {
        f"{WORKSHOP}/{p.relative_to(board.course / 'release' / WORKSHOP).as_posix()}"
        for p in (board.course / "release" / WORKSHOP).rglob("*")
        if p.is_file()
    }
    assert released <= names
    learner = json.loads(archive.read(f"{WORKSHOP}/.workshop/learner.json"))
    assert learner == {
        "board": PUBLIC_URL,
        "learner": "alice",
        "token": board.tokens["alice"],
        "workshop": WORKSHOP,
    }
    notebook = archive.read(f"{WORKSHOP}/{NOTEBOOK}.ipynb").decode()
    assert board.tokens["alice"] not in notebook


def test_join_needs_a_learner_token_and_a_released_workshop(board):
    assert board.request("GET", f"/workshop/api/join/{WORKSHOP}").status == 401
    organiser = board.request(
        "GET", f"/workshop/api/join/{WORKSHOP}", token=board.tokens["organiser"]
    )
    assert organiser.status == 403
    assert (
        board.request("GET", "/workshop/api/join/nope", token=board.tokens["alice"]).status == 404
    )


@pytest.mark.parametrize("page", ["board", "join"])
def test_pages_are_static_and_locked_down_by_csp(board, page):
    response = board.request("GET", f"/workshop/{page}/{WORKSHOP}")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = response.body.decode()
    assert "<script src=" in html and "alice" not in html
    script = board.request("GET", f"/workshop/static/{page}.js")
    assert script.status == 200
    assert "innerHTML" not in script.body.decode()


def test_posts_need_no_xsrf_cookie_from_a_browser_origin(board):
    response = board.request(
        "POST",
        "/workshop/api/events",
        token=board.tokens["alice"],
        body={"events": [event("alice")]},
        headers={"Origin": "http://example.invalid"},
    )
    assert response.status == 200


def test_a_second_server_on_the_same_port_fails_with_one_clear_error(board):
    from conftest import run_cli

    _, port = board.host_port
    result = run_cli("serve", "--port", str(port), "--course", str(board.course), cwd=board.course)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(port) in errors[0] and "--port" in errors[0]
    assert board.request("GET", "/workshop/api/health").status == 200
