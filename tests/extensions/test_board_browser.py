"""The board and join pages in a real browser: Debian's chromium driven by Playwright (no
browser download; `make test` installs chromium with apt)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from board_server import EXERCISES, WORKSHOP, XSS, BoardServer, build_course, event, serve

pytestmark = [pytest.mark.server, pytest.mark.browser]

LIVE_UPDATE_MS = 2000


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    course = tmp_path_factory.mktemp("browser") / "course"
    learners = [
        {"id": "alice", "first_name": "Alice"},
        {"id": "mallory", "first_name": XSS, "last_name": "<img src=x onerror=alert(2)>"},
    ]
    tokens = build_course(course, learners)
    with serve(course, tokens) as server:
        yield server


def open_board(page, board: BoardServer, token: str) -> None:
    page.goto(f"{board.url}/workshop/board/{WORKSHOP}")
    page.fill("#token", token)
    page.click("#login button[type=submit]")


def test_the_board_grid_changes_without_a_reload(board, page):
    from playwright.sync_api import expect

    open_board(page, board, board.tokens["organiser"])
    cell = page.locator(f'td[data-learner="alice"][data-exercise="{EXERCISES[0]}"]')
    expect(cell).to_have_attribute("data-state", "not-started")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    page.evaluate("window.loadedOnce = true")

    assert board.post_events(board.tokens["alice"], event("alice")).status == 200
    expect(cell).to_have_attribute("data-state", "attempted", timeout=LIVE_UPDATE_MS)
    assert board.post_events(board.tokens["alice"], event("alice", passed=True)).status == 200
    expect(cell).to_have_attribute("data-state", "passed", timeout=LIVE_UPDATE_MS)
    expect(cell).to_have_attribute("data-attempts", "2")
    expect(page.locator(f'tfoot td[data-exercise="{EXERCISES[0]}"]')).to_have_text("50%")
    assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"
    assert page.errors == [] and page.dialogs == []


def test_learner_supplied_names_render_as_text(board, page):
    from playwright.sync_api import expect

    failures = [event("mallory", EXERCISES[1]) for _ in range(3)]
    assert board.post_events(board.tokens["mallory"], *failures).status == 200
    open_board(page, board, board.tokens["organiser"])
    name = f"{XSS} <img src=x onerror=alert(2)> (mallory)"
    expect(page.locator('tr[data-learner="mallory"] td.learner')).to_have_text(name)
    expect(page.locator('#stuck li[data-learner="mallory"]')).to_contain_text(XSS)
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 2  # common.js and the page's own
    page.wait_for_timeout(300)
    assert page.dialogs == [] and page.errors == []


def test_a_learner_token_is_refused_and_the_form_asks_again(board, page):
    from playwright.sync_api import expect

    open_board(page, board, board.tokens["alice"])
    expect(page.locator("#login-error")).to_contain_text("organiser token")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_organiser_token_is_asked_once_per_browser_session(board, page):
    from playwright.sync_api import expect

    open_board(page, board, board.tokens["organiser"])
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(page.locator("#login")).to_be_hidden()
    assert board.tokens["organiser"] not in page.url


def test_the_join_page_downloads_the_personal_copy(board, page, tmp_path):
    from playwright.sync_api import expect

    page.goto(f"{board.url}/workshop/join/{WORKSHOP}")
    page.fill("#token", board.tokens["alice"])
    with page.expect_download() as download:
        page.click("#join button[type=submit]")
    path = tmp_path / "copy.zip"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"{WORKSHOP}-alice.zip"
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    learner = json.loads(archive.read(f"{WORKSHOP}/.workshop/learner.json"))
    assert learner["learner"] == "alice" and learner["board"] == board.url
    expect(page.locator("#steps")).to_be_visible()
    page.fill("#token", "wrong")
    page.click("#join button[type=submit]")
    expect(page.locator("#message")).to_contain_text("This token was not accepted")
