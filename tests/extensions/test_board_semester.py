"""The semester view on the board: real `workshop serve`, submissions graded by `workshop grade`,
Check events posted through the events API; organiser-only data, escaped learner names."""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Iterator

import nbformat
import pytest
from board_server import EXERCISES, NOTEBOOK, WORKSHOP, XSS, BoardServer, build_course, event, serve
from conftest import run_cli

pytestmark = [pytest.mark.server, pytest.mark.kernel]

LEARNERS = [
    {"id": "alice", "first_name": "Alice"},
    {"id": "bob", "first_name": "=1+2", "last_name": "Bee"},
    {"id": "carol"},
    {"id": "mallory", "first_name": XSS, "last_name": XSS},
    {"id": "dave"},
]
ANSWERS = {
    "alice": {
        "square": "def square(x):\n    return x * x",
        "cube": "def cube(x):\n    return x ** 3",
    },
    "bob": {"square": "def square(x):\n    return x * x"},
    "carol": {},
}
API = "/workshop/api/semester"
PROTECTED = [API, f"{API}/plots/scores.png", f"{API}/plots/attendance.png", f"{API}/export.csv"]


def submit(course, learner: str, answers: dict[str, str]) -> None:
    nb = nbformat.read(course / "release" / WORKSHOP / f"{NOTEBOOK}.ipynb", 4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    folder = course / "var" / "submitted" / learner / WORKSHOP
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{NOTEBOOK}.ipynb"))


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    course = tmp_path_factory.mktemp("semester-board") / "course"
    tokens = build_course(course, LEARNERS)
    for learner, answers in ANSWERS.items():
        submit(course, learner, answers)
    graded = run_cli("grade", WORKSHOP, "--workers", "2", cwd=course)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    square, cube = EXERCISES
    with serve(course, tokens) as server:
        checks = {
            "alice": [event("alice", square, passed=True), event("alice", cube, passed=True)],
            "bob": [event("bob", square, passed=True), event("bob", cube), event("bob", cube)],
            "mallory": [event("mallory", square)],
        }
        for learner, events in checks.items():
            assert server.post_events(server.tokens[learner], *events).status == 200
        yield server


def get(board: BoardServer, path: str, who: str | None = "organiser"):
    return board.request("GET", path, token=None if who is None else board.tokens[who])


@pytest.mark.parametrize("path", PROTECTED)
def test_semester_data_needs_an_organiser_token(board, path):
    anonymous = get(board, path, None)
    assert anonymous.status == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization" in anonymous.json()["error"]
    learner = get(board, path, "alice")
    assert learner.status == 403
    assert "organiser token" in learner.json()["error"]
    assert b"alice" not in learner.body
    assert board.request("GET", path, token="not-a-token").status == 401
    assert get(board, path).status == 200


def test_semester_json_counts_real_grades_and_checks(board):
    response = get(board, API)
    assert response.headers["content-type"].startswith("application/json")
    view = response.json()
    [workshop] = view["workshops"]
    assert {k: workshop[k] for k in ("name", "roster", "present", "submitted", "max_score")} == {
        "name": WORKSHOP,
        "roster": 5,
        "present": 3,
        "submitted": 3,
        "max_score": 5.0,
    }
    assert workshop["completion"] == pytest.approx(0.6)
    assert workshop["mean_score"] == pytest.approx((3 + 1 + 0) / 3)
    assert view["attendance"] == [
        {
            "workshop": WORKSHOP,
            "held_at": workshop["held_at"],
            "present": 3,
            "roster": 5,
            "rate": 0.6,
        }
    ]
    square, cube = view["exercises"]
    assert (square["exercise"], cube["exercise"]) == EXERCISES
    assert (square["difficulty"], cube["difficulty"]) == (
        pytest.approx(2 / 3),
        pytest.approx(1 / 3),
    )
    # alice 1+2, bob 1+0, carol 0+0: rest scores square (2, 0, 0), cube (1, 1, 0); r = 0.5 each.
    assert square["discrimination"] == pytest.approx(0.5)
    assert cube["discrimination"] == pytest.approx(0.5)
    assert (square["passed_in_check"], cube["passed_in_check"]) == (2, 1)
    learners = {learner["id"]: learner for learner in view["learners"]}
    assert list(learners) == ["alice", "bob", "carol", "dave", "mallory"]
    [bob] = learners["bob"]["workshops"]
    assert bob == {
        "workshop": WORKSHOP,
        "attended": True,
        "checks": 3,
        "exercises_passed_in_check": 1,
        "submitted": True,
        "score": 1.0,
        "max_score": 5.0,
    }
    [dave] = learners["dave"]["workshops"]
    assert (dave["attended"], dave["submitted"], dave["score"]) == (False, False, None)


def test_learner_names_are_escaped_in_the_json_twin(board):
    response = get(board, API)
    assert b"<script>" not in response.body and b"\\u003cscript\\u003e" in response.body
    mallory = next(x for x in response.json()["learners"] if x["id"] == "mallory")
    assert (mallory["first_name"], mallory["last_name"]) == (XSS, XSS)


def test_csv_export_is_a_spreadsheet_download(board):
    response = get(board, f"{API}/export.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))
    assert [r["learner"] for r in rows] == ["alice", "bob", "carol", "dave", "mallory"]
    bob = rows[1]
    assert (bob["first_name"], bob["checks"], bob["score"], bob["max_score"]) == (
        "'=1+2",
        "3",
        "1",
        "5",
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", ["scores", "attendance"])
def test_plots_are_png(board, name):
    response = get(board, f"{API}/plots/{name}.png")
    assert response.headers["content-type"] == "image/png"
    width, height = png_size(response.body)
    assert width >= 400 and height >= 300


def test_an_unknown_plot_is_a_json_404(board):
    response = get(board, f"{API}/plots/secrets.png")
    assert response.status == 404
    assert "no such plot" in response.json()["error"]
    assert get(board, f"{API}/plots/secrets.png", "alice").status == 403


def test_the_page_is_a_shell_without_data(board):
    response = board.request("GET", "/workshop/semester")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page = response.body.decode()
    assert '<script src="static/semester.js" defer></script>' in page
    assert "alice" not in page and "<script>alert" not in page
    for asset in ("semester.js", "semester.css"):
        assert board.request("GET", f"/workshop/static/{asset}").status == 200


def open_page(page, board: BoardServer, who: str) -> None:
    page.goto(f"{board.url}/workshop/semester")
    page.fill("#token", board.tokens[who])
    page.click("#login button[type=submit]")


@pytest.mark.browser
def test_the_page_renders_names_as_text_and_shows_the_plots(board, page, tmp_path):
    from playwright.sync_api import expect

    open_page(page, board, "organiser")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    name = page.locator('#learners td[data-learner="mallory"]').nth(1)
    expect(name).to_have_text(f"{XSS} {XSS}")
    expect(page.locator('#exercises td[data-exercise="square_tests"]')).to_be_visible()
    for plot in ("attendance", "scores"):
        assert page.evaluate(f"document.getElementById('plot-{plot}').naturalWidth") >= 400
    assert page.evaluate("document.scripts.length") == 2  # common.js and the page's own
    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / "semester.csv"
    download.value.save_as(path)
    assert path.read_text(encoding="utf-8").startswith("learner,first_name,last_name,workshop")
    assert page.dialogs == [] and page.errors == []


@pytest.mark.browser
def test_the_page_refuses_a_learner_token(board, page):
    from playwright.sync_api import expect

    open_page(page, board, "alice")
    expect(page.locator("#login-error")).to_contain_text("organiser token")
    expect(page.locator("#semester")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
