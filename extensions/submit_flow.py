"""One press of Submit: save in JupyterLab, upload the saved notebooks, then show the score.

All of it after the save request runs on a background thread: a widget callback must return
before the kernel hears from the front end again, and the save, the upload and the grading take
seconds. What was handed in is always named: a fresh save, or the version on disk and why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from extensions.submit_client import SubmitError, fetch_result, upload
from extensions.submit_save import FrontEnd, SaveOutcome

__all__ = ["Submission", "SubmissionDisplay", "SubmitTarget"]

RESULT_WAIT_S = 300.0


@dataclass(frozen=True)
class SubmitTarget:
    """Who submits where: every notebook in `notebooks` is uploaded once each of `watched` (the
    notebooks this kernel belongs to) has been saved, or the save has failed."""

    board: str
    token: str
    learner: str
    workshop: str
    notebooks: tuple[Path, ...]
    watched: tuple[Path, ...]


class SubmissionDisplay(Protocol):
    def show_submission(self, message: str, result: dict[str, Any] | None = None) -> None: ...


class Submission:
    """What `submit()` returns: in a cell it shows as the submission's status line, `wait()`
    gives the board's receipt. The Submit buttons are disabled until the upload is done."""

    def __init__(
        self, views: list[SubmissionDisplay], buttons: list[Any], shown: Any = None
    ) -> None:
        self.views, self.buttons, self.shown = views, buttons, shown
        self.message = ""
        self.receipt: dict[str, Any] | None = None
        self._uploaded = threading.Event()
        self._superseded = False

    @property
    def uploading(self) -> bool:
        return not self._uploaded.is_set()

    def show(self, message: str, result: dict[str, Any] | None = None) -> None:
        self.message = message
        if self._superseded:
            return
        for view in self.views:
            view.show_submission(message, result)

    def supersede(self) -> None:
        """Leave the panels to a newer submission (this one may still be waiting for a score)."""
        self._superseded = True

    def refuse(self, message: str) -> Submission:
        """End before anything is sent, saying why."""
        self.show(message)
        self._uploaded.set()
        return self

    def start(self, target: SubmitTarget, frontend: FrontEnd) -> Submission:
        """Ask for the save and return at once; the rest happens on a background thread."""
        for button in self.buttons:
            button.disabled = True
        self.show("Saving the notebook...")
        threading.Thread(target=self._run, args=(target, frontend), daemon=True).start()
        return self

    def wait(self, timeout_s: float = 60.0) -> dict[str, Any] | None:
        """The board's receipt once uploaded; None if refused, unreachable or still saving."""
        self._uploaded.wait(timeout_s)
        return self.receipt

    def _run(self, target: SubmitTarget, frontend: FrontEnd) -> None:
        try:
            outcome = frontend.save(list(target.watched))
            self.show(
                "Saved. Uploading..."
                if outcome.saved
                else f"Could not save first ({outcome.reason}); uploading the version on disk..."
            )
            try:
                notebooks = list(target.notebooks)
                receipt = upload(target.board, target.token, target.workshop, notebooks)
            except SubmitError as error:
                self.show(f"Not submitted: {error}")
                return
            self.receipt = receipt
        finally:
            for button in self.buttons:
                button.disabled = False
            self._uploaded.set()
        message = _describe(outcome, receipt, target.notebooks)
        self.show(f"{message} Grading...")
        try:
            result = fetch_result(
                target.board,
                target.token,
                target.workshop,
                target.learner,
                receipt["id"],
                RESULT_WAIT_S,
            )
        except SubmitError as error:
            self.show(f"{message} {error}")
            return
        self.show(f"{message} Graded." if result else f"{message} Still queued.", result)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.shown is not None:
            display(self.shown)


def _describe(outcome: SaveOutcome, receipt: dict[str, Any], notebooks: tuple[Path, ...]) -> str:
    late = " (late)" if receipt.get("late") else ""
    sha = str(receipt["sha256"])[:12]
    if outcome.saved:
        return f"Saved and submitted{late} at {_clock(time.time())}; receipt {sha}."
    saved_at = max(path.stat().st_mtime for path in notebooks)
    return (
        f"Could not save first ({outcome.reason}), so this submitted{late} the version saved at "
        f"{_clock(saved_at)}: if that lacks recent work, save with Ctrl+S and submit again. "
        f"Receipt {sha}."
    )


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp))
