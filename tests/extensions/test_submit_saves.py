"""Submit saves the notebook first (issue 5, item 1): in a real JupyterLab driven by chromium,
an edit never saved reaches the board; when JupyterLab cannot save, or there is no JupyterLab,
the version on disk is handed in and the learner is told so."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, BoardServer, build_course, serve
from conftest import run_cli
from jupyter_process import LAB_TOKEN, jupyter_lab
from kernels import learner_kernel

from course.cells import grade_id

pytestmark = [pytest.mark.server, pytest.mark.kernel]

TYPED = "def square(x): return x * x  # typed, never saved"
GRADING_MS = 120_000


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[BoardServer, Path]]:
    """A board with learner `ada`, and her personal copy (joined) in `tmp_path / "ada"`."""
    course = tmp_path / "course"
    tokens = build_course(course, [{"id": "ada"}])
    with serve(course, tokens) as board:
        join_url = f"{board.url}/workshop/join/{WORKSHOP}"
        into = tmp_path / "ada"
        joined = run_cli(
            "join", join_url, "--token", tokens["ada"], "--into", str(into), cwd=tmp_path
        )
        assert joined.returncode == 0, joined.stderr
        yield board, into


def newest_submission(board: BoardServer) -> str:
    """The notebook of ada's latest submission, as the board stored it."""
    history = board.course / "var" / "submission-history" / "ada" / WORKSHOP
    latest = max(history.iterdir(), key=lambda folder: folder.name)
    return (latest / f"{NOTEBOOK}.ipynb").read_text(encoding="utf-8")


def cell_editor(page, text: str):
    return page.locator(".jp-CodeCell .cm-content").filter(has_text=text)


@pytest.mark.browser
def test_submit_saves_the_edits_in_jupyterlab_before_uploading(session, page, tmp_path):
    from playwright.sync_api import expect

    board, copy = session
    on_disk = copy / WORKSHOP / f"{NOTEBOOK}.ipynb"
    with jupyter_lab(copy, tmp_path / "lab") as url:
        page.goto(f"{url}/lab/tree/{WORKSHOP}/{NOTEBOOK}.ipynb?token={LAB_TOKEN}")
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=90_000)
        editor = cell_editor(page, "def square")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type(TYPED)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # runs past the failing test of the next exercise to its Check panel
        expect(page.locator(".workshop-check")).to_have_count(2, timeout=120_000)
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=60_000)
        expect(editor).to_contain_text(TYPED)
        assert "typed, never saved" not in on_disk.read_text(encoding="utf-8")

        submit = page.get_by_role("button", name="Submit").first
        submit.click()
        status = page.locator(".widget-html").filter(has_text="receipt").first
        expect(status).to_contain_text("Saved and submitted", timeout=30_000)
        assert "typed, never saved" in on_disk.read_text(encoding="utf-8")
        assert TYPED in json.dumps(json.loads(newest_submission(board)))
        expect(status).to_contain_text("Score: 1 of", timeout=GRADING_MS)  # square now passes

        # JupyterLab that will not save (the file changed on disk behind its back: it asks
        # the learner what to do) makes Submit hand in the file on disk, and say so
        changed = nbformat.read(on_disk, 4)
        for cell in changed.cells:
            if grade_id(cell) == "cube":
                cell.source = "def cube(x):\n    return x ** 3  # changed on disk"
        time.sleep(1)  # JupyterLab calls a file changed when it is 0.5 s newer than its save
        nbformat.write(changed, on_disk)
        editor = cell_editor(page, "def cube")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type("def cube(x): return 0  # typed before a conflict")
        submit.click()
        expect(page.locator(".jp-Dialog")).to_contain_text("File Changed", timeout=30_000)
        status = page.locator(".widget-html").filter(has_text="Receipt").first
        expect(status).to_contain_text(
            "Could not save first (JupyterLab did not save within 10 s), so this submitted the "
            "version saved at",
            timeout=30_000,
        )
        submitted = newest_submission(board)
        assert "changed on disk" in submitted and "typed before a conflict" not in submitted
        expect(status).to_contain_text("Score: 3 of", timeout=GRADING_MS)


def test_submit_without_jupyterlab_uploads_the_saved_file_and_says_so(session):
    board, copy = session
    folder = copy / WORKSHOP
    saved = nbformat.read(folder / f"{NOTEBOOK}.ipynb", 4)
    for cell in saved.cells:
        if grade_id(cell) == "square":
            cell.source = "def square(x):\n    return x * x  # saved by hand"
    nbformat.write(saved, folder / f"{NOTEBOOK}.ipynb")
    with learner_kernel(folder) as kernel:
        kernel.run("from extensions.learner import submit\nsubmission = submit()")
        started = time.monotonic()
        receipt = kernel.json("submission.wait(60)")
        waited_s = time.monotonic() - started
        message = kernel.json("submission.message")
        shown = kernel.json("submission.shown.value")
    assert receipt["learner"] == "ada"
    assert message.startswith(
        "Could not save first (no JupyterLab with the ipylab extension is attached to this "
        "kernel), so this submitted the version saved at "
    )
    assert "Could not save first" in shown
    assert "saved by hand" in newest_submission(board)
    assert waited_s < 15, f"waited {waited_s:.1f} s for a JupyterLab that is not there"
