"""A learner's first ten minutes in a real JupyterLab driven by chromium (issue 14): every
bundled workshop runs top to bottom with Run All, every Check panel shows "not attempted yet";
then a wrong token on the join page, a wrong answer, a hint, a right answer and Submit to a real
session board."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.request import Request, urlopen

import nbfactory as f
import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, build_course, serve
from conftest import run_cli
from jupyter_process import LAB_TOKEN, jupyter_lab

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())
RUN_ALL_MS = 150_000


def open_notebook(page, url: str, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/lab/tree/{path}?reset&token={LAB_TOKEN}")  # no other tabs
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=90_000)


def run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def shut_down_kernels(url: str) -> None:
    """Leave the two cores to the next notebook."""
    headers = {"Authorization": f"token {LAB_TOKEN}"}
    with urlopen(Request(f"{url}/api/kernels", headers=headers), timeout=10) as response:
        kernels = json.loads(response.read())
    for kernel in kernels:
        request = Request(f"{url}/api/kernels/{kernel['id']}", headers=headers, method="DELETE")
        urlopen(request, timeout=30).close()


def test_run_all_reaches_every_check_panel_of_every_bundled_workshop(page, tmp_path):
    from playwright.sync_api import expect

    root = tmp_path / "learner"
    for workshop in BUNDLED:
        shutil.copytree(REPO / "release" / workshop, root / workshop)
    with jupyter_lab(root, tmp_path / "lab") as url:
        for workshop in BUNDLED:
            checks = json.loads((root / workshop / ".workshop" / "checks.json").read_text())
            exercises = sum(len(e) for e in checks["notebooks"].values())
            page = page.context.new_page()  # a fresh tab: the last one has unsaved changes
            open_notebook(page, url, f"{workshop}/{workshop}.ipynb")
            run_all(page)
            last_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").last
            expect(last_prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=RUN_ALL_MS)
            panels = page.locator(".workshop-check")
            expect(panels).to_have_count(exercises, timeout=30_000)
            expect(panels.filter(has_text="Not attempted yet")).to_have_count(exercises)
            first_title = checks["notebooks"][workshop][0]["title"]
            expect(panels.first).to_contain_text(first_title)
            prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
            assert all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), (workshop, prompts)
            shut_down_kernels(url)
            page.close()


def with_hint_and_headings(course: Path) -> None:
    """The board's two-exercise workshop with a heading per exercise and a hint for the first."""
    path = course / "source" / WORKSHOP / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, 4)
    nb.cells.insert(2, f.markdown("### Exercise 1: square a number"))
    nb.cells.insert(4, f.hint("Multiply `x` by itself."))
    nb.cells.insert(6, f.markdown("### Exercise 2: cube a number"))
    nbformat.write(nb, path)
    released = run_cli("release", WORKSHOP, cwd=course)
    assert released.returncode == 0, released.stderr


def retype(page, starting: str, text: str) -> None:
    """Replace the code of the cell that starts with *starting* and run it (Shift+Enter)."""
    editor = page.locator(".jp-CodeCell .cm-content").filter(has_text=starting)
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    page.keyboard.press("Shift+Enter")


def test_a_wrong_answer_a_hint_a_right_answer_and_submit(page, tmp_path):
    from playwright.sync_api import expect

    course = tmp_path / "course"
    tokens = build_course(course, [{"id": "ada"}])
    with_hint_and_headings(course)
    with serve(course, tokens) as board:
        into = tmp_path / "ada"
        join_url = f"{board.url}/workshop/join/{WORKSHOP}"
        page.goto(join_url)
        page.fill("#token", "not-my-token")
        page.get_by_role("button", name="Download my copy").click()
        expect(page.locator("#message")).to_have_text(re.compile("^This token was not accepted"))
        expect(page.locator("#message")).to_have_class("error")
        joined = run_cli(
            "join", join_url, "--token", tokens["ada"], "--into", str(into), cwd=tmp_path
        )
        assert joined.returncode == 0, joined.stderr
        with jupyter_lab(into, tmp_path / "lab") as url:
            open_notebook(page, url, f"{WORKSHOP}/{NOTEBOOK}.ipynb")
            run_all(page)
            panels = page.locator(".workshop-check")
            expect(panels.filter(has_text="Not attempted yet")).to_have_count(2, timeout=60_000)
            square = panels.first
            expect(square).to_contain_text("Exercise 1: square a number · 1 point")

            retype(page, "def square", "def square(x): return x + x")
            square.get_by_role("button", name="Check").click()
            expect(square).to_contain_text("Not passed yet: 0 of 1 point")
            expect(square).to_contain_text("got 6, expected 9")
            expect(square.locator("details")).not_to_have_attribute("open", "")

            square.get_by_role("button", name="Hint (1)").click()
            expect(square).to_contain_text("Hint 1. Multiply x by itself.")

            retype(page, "def square", "def square(x): return x * x")
            square.get_by_role("button", name="Check").click()
            expect(square).to_contain_text("Passed: 1 of 1 point")
            expect(square).to_contain_text("1 of 2 exercises passed")

            square.get_by_role("button", name="Submit").click()
            expect(square).to_contain_text("Saved and submitted", timeout=30_000)
            expect(square).to_contain_text("Score: 1 of 5 points", timeout=120_000)
            expect(square).to_contain_text("Passed: Exercise 1: square a number")
            expect(square).to_contain_text("Not attempted: Exercise 2: cube a number")
            expect(square).to_contain_text("Written answers: graded later")
