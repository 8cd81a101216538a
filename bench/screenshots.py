"""Screenshots of the Check panel's states, taken from a real JupyterLab, for README and docs.

A fresh course copy under `var/screenshots/` with one learner; `workshop serve` for the board;
the learner's personal copy through the join endpoint; `jupyter lab` on it, driven by Debian's
chromium through Playwright: Run All, then the first exercise not attempted, failing, with a
hint shown, passed, and after Submit (light theme), and after Submit again in the dark theme.
The PNGs go to docs/screenshots/ (`make screenshots`).

    python bench/screenshots.py [--workshop python-numpy-warmup]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from session_demo import BIN, REPO, free_port, fresh_course, start_board

from course.release import release_workshop
from course.roster import import_roster
from course.settings import load_settings
from extensions.board.tokens import issue_learner_tokens
from extensions.personal_copy import download_personal_copy

LAB_TOKEN = "screenshots"
WRONG = "def squares_of_evens(numbers): return [n * 2 for n in numbers if n % 2 == 0]"
RIGHT = "def squares_of_evens(numbers): return [n ** 2 for n in numbers if n % 2 == 0]"
SHOTS = REPO / "docs" / "screenshots"


@contextmanager
def jupyter_lab(root: Path, home: Path) -> Iterator[str]:
    """`jupyter lab` on *root* with every cell kept in the page (no windowing) and no news."""
    user_settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in (
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("apputils-extension/notification", {"fetchNews": "false"}),
    ):
        path = user_settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    env |= {f"JUPYTER_{k}_DIR": str(home / k.lower()) for k in ("CONFIG", "DATA", "RUNTIME")}
    lab = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={LAB_TOKEN}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("jupyter lab did not answer within 90 s")
                time.sleep(0.3)
        yield url
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=30)


def retype(page: Any, starting: str, text: str) -> None:
    editor = page.locator(".jp-CodeCell .cm-content").filter(has_text=starting)
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    page.keyboard.press("Shift+Enter")


def take(panel: Any, name: str) -> Path:
    path = SHOTS / f"panel-{name}.png"
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(path))
    print(f"wrote {path.relative_to(REPO)}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workshop", default="python-numpy-warmup")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    course = fresh_course(REPO / "var" / "screenshots")
    settings = load_settings(course)
    release_workshop(settings, args.workshop, {})
    (course / "roster.csv").write_text("id,first_name\nada,Ada\n")
    import_roster(settings, course / "roster.csv")
    token = issue_learner_tokens(settings).issued[0].token
    port = free_port()
    board = f"http://127.0.0.1:{port}"
    server = start_board(course, port)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        learner = course / "learner"
        download_personal_copy(f"{board}/workshop/join/{args.workshop}", token, learner)
        with (
            jupyter_lab(learner, course / "lab") as url,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(
                f"{url}/lab/tree/{args.workshop}/{args.workshop}.ipynb?reset&token={LAB_TOKEN}"
            )
            expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=90_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            last = page.locator(".jp-CodeCell .jp-InputPrompt").last
            expect(last).to_have_text(re.compile(r"\[\d+\]:"), timeout=150_000)
            panel = page.locator(".workshop-check").first
            expect(panel).to_contain_text("Not attempted yet")
            take(panel, "not-attempted")
            retype(page, "def squares_of_evens", WRONG)
            panel.get_by_role("button", name="Check").click()
            expect(panel).to_contain_text("Not passed yet")
            take(panel, "failing")
            panel.get_by_role("button", name="Hint (").click()
            expect(panel).to_contain_text("Hint 1.")
            take(panel, "hint")
            retype(page, "def squares_of_evens", RIGHT)
            panel.get_by_role("button", name="Check").click()
            expect(panel).to_contain_text("Passed:")
            take(panel, "passed")
            panel.get_by_role("button", name="Submit").click()
            expect(panel).to_contain_text("Score:", timeout=180_000)
            take(panel, "submitted")
            themes = course / "lab" / "config" / "lab" / "user-settings" / "@jupyterlab"
            (themes / "apputils-extension" / "themes.jupyterlab-settings").write_text(
                json.dumps({"theme": "JupyterLab Dark"})
            )
            page = browser.new_page(viewport={"width": 1100, "height": 900})  # reads settings
            page.goto(f"{url}/lab/tree/{args.workshop}/{args.workshop}.ipynb?token={LAB_TOKEN}")
            expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
            panel = page.locator(".workshop-check").first  # its widgets, from the live kernel
            expect(panel).to_contain_text("Score:", timeout=60_000)
            take(panel, "submitted-dark")
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
