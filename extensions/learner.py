"""What a released notebook imports: `check("<grade id>")` shows the Check panel of an exercise.

Released notebooks have a read-only cell `check("...")` under each autograded exercise. The
panel's Check button runs that exercise's visible tests against the learner's current variables
and scores them by the grader's rule (`extensions.check_tests`); Hint reveals the presenter's
hints one at a time, never more than the failed attempts so far. The exercises come from
`.workshop/checks.json` beside the notebook, written by `workshop release`. When the workshop was
released for a session board and the learner's personal copy holds `.workshop/learner.json`
(from the board's join page or `workshop join`), every Check also becomes an event for the
board, delivered in the background (`extensions.events`).

This module is imported in every learner kernel: it imports only the standard library at import
time, ipywidgets when a panel is shown, and never nbgrader, SQLAlchemy or jupyter_server. While
a notebook is being graded (`NBGRADER_EXECUTION` is set) `check` shows nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.workshop_files import CHECKS_FILE, LEARNER_FILE, SPOOL_FOLDER
from extensions.check_tests import CheckResult, run_visible_tests

__all__ = ["CheckPanel", "check", "submit"]


@dataclass
class _Exercise:
    notebook: str
    grade_id: str
    max_points: float
    tests: str
    hints: list[str]
    attempts: int = 0
    failed_attempts: int = 0
    hints_shown: int = 0
    passed: bool = False


@dataclass
class _Session:
    """The workshop folder's exercises and what this kernel has seen of them."""

    folder: Path
    workshop: str
    exercises: dict[tuple[str, str], _Exercise]
    learner: str | None = None
    sender: Any = None
    board: str | None = None
    token: str | None = None
    notice: str = ""
    progress: dict[str, Any] = field(default_factory=dict)


_session: _Session | None = None


def check(exercise: str, notebook: str | None = None) -> CheckPanel | None:
    """Show the Check panel of *exercise* (a grade id), or nothing while being graded.

    *notebook* (the notebook's name without `.ipynb`) is needed only when two notebooks of the
    workshop use the same grade id.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return None
    session = _get_session()
    return CheckPanel(session, _find(session, exercise, notebook))


def _get_session() -> _Session:
    global _session
    if _session is None:
        _session = _open_session(Path.cwd())
    return _session


def submit() -> dict[str, Any] | None:
    """Hand in this workshop's notebooks as last saved (the Submit button does the same).

    Returns the board's receipt; the score appears under the Check panels once graded.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return None
    return _submit(_get_session(), None)


class CheckPanel:
    """One exercise's panel; `run()` is what the Check button does (also usable from code)."""

    def __init__(self, session: _Session, exercise: _Exercise) -> None:
        from extensions.check_view import CheckPanelView, ProgressView

        self.session = session
        self.exercise = exercise
        progress = session.progress.get(exercise.notebook)
        if progress is None:
            total = sum(1 for e in session.exercises.values() if e.notebook == exercise.notebook)
            progress = session.progress[exercise.notebook] = ProgressView(total)
            progress.update(_passed_count(session, exercise.notebook))
            progress.submit_button.on_click(lambda _button: _submit(session, progress))
        self.progress = progress
        self.view = CheckPanelView(exercise.grade_id, exercise.max_points, progress, session.notice)
        self.view.check_button.on_click(lambda _button: self.run())
        self.view.hint_button.on_click(lambda _button: self.hint())
        self.view.show_hints(exercise.hints[: exercise.hints_shown], self._hints_available())
        self.durations_ms: list[float] = []

    def run(self) -> CheckResult:
        """Run the visible tests now, show the outcome, report it to the board.

        `durations_ms` keeps how long each run took in the kernel (for bench/check_latency.py).
        """
        start = time.perf_counter()
        exercise = self.exercise
        shell = _shell()
        namespace = shell.user_ns if shell is not None else {}
        result = run_visible_tests(
            exercise.grade_id, exercise.tests, exercise.max_points, namespace, shell
        )
        exercise.attempts += 1
        exercise.passed = result.passed
        if not result.passed:
            exercise.failed_attempts += 1
        self.view.show_result(result, exercise.attempts)
        self.view.show_hints(exercise.hints[: exercise.hints_shown], self._hints_available())
        self.progress.update(_passed_count(self.session, exercise.notebook))
        self._report(result)
        self.durations_ms.append((time.perf_counter() - start) * 1000)
        return result

    def hint(self) -> str | None:
        """Reveal the next hint, if the failed attempts so far allow one."""
        exercise = self.exercise
        if exercise.hints_shown >= self._hints_available():
            return None
        exercise.hints_shown += 1
        self.view.show_hints(exercise.hints[: exercise.hints_shown], self._hints_available())
        return exercise.hints[exercise.hints_shown - 1]

    def _hints_available(self) -> int:
        return min(len(self.exercise.hints), self.exercise.failed_attempts)

    def _report(self, result: CheckResult) -> None:
        session = self.session
        if session.sender is None or session.learner is None:
            return
        from extensions.events import new_event

        session.sender.send(
            new_event(
                learner=session.learner,
                workshop=session.workshop,
                notebook=self.exercise.notebook,
                exercise=self.exercise.grade_id,
                passed=result.passed,
                points=result.points,
                max_points=result.max_points,
                attempt=self.exercise.attempts,
            )
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view.box)


def _open_session(folder: Path) -> _Session:
    path = folder / CHECKS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        workshop = str(document["workshop"])
        exercises = {
            (notebook, str(e["exercise"])): _Exercise(
                notebook, str(e["exercise"]), float(e["points"]), str(e["tests"]), list(e["hints"])
            )
            for notebook, entries in document["notebooks"].items()
            for e in entries
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RuntimeError(
            f"Check needs {CHECKS_FILE} in the notebook's folder ({error}); open the notebook "
            "from the workshop folder you were given, or ask the presenter for a fresh copy"
        ) from None
    session = _Session(folder, workshop, exercises)
    _connect(session, document.get("board"))
    return session


def _connect(session: _Session, released_board: str | None) -> None:
    """Start reporting Checks when this copy belongs to a learner of a session board."""
    try:
        learner = json.loads((session.folder / LEARNER_FILE).read_text(encoding="utf-8"))
        board, token, learner_id = learner["board"], learner["token"], learner["learner"]
    except (OSError, ValueError, KeyError, TypeError):
        if released_board:
            session.notice = (
                "Not connected to the session board: get your personal copy from "
                f"{released_board}/workshop/join/{session.workshop}"
            )
        return
    from extensions.events import EventSender

    session.learner = str(learner_id)
    session.board, session.token = str(board).rstrip("/"), str(token)
    session.sender = EventSender(session.board, session.token, session.folder / SPOOL_FOLDER)


def _submit(session: _Session, progress: Any) -> dict[str, Any] | None:
    """Upload the saved notebooks, show the receipt, then the score from a background thread."""
    import threading

    from extensions.submit_client import SubmitError, fetch_result, upload

    views = [progress] if progress is not None else list(session.progress.values())

    def show(message: str, result: dict[str, Any] | None = None) -> None:
        for view in views:
            view.show_submission(message, result)

    if session.board is None or session.token is None or session.learner is None:
        show("Submit needs your personal copy of the workshop from the session board.")
        return None
    names = sorted({e.notebook for e in session.exercises.values()})
    notebooks = [session.folder / f"{n}.ipynb" for n in names]
    notebooks = [p for p in notebooks if p.is_file()]
    try:
        receipt = upload(session.board, session.token, session.workshop, notebooks)
    except SubmitError as error:
        show(f"Not submitted: {error}")
        return None
    saved = max(p.stat().st_mtime for p in notebooks)
    late = " (late)" if receipt.get("late") else ""
    message = (
        f"Submitted{late} the version saved at {time.strftime('%H:%M:%S', time.localtime(saved))}"
        f" (save with Ctrl+S first); receipt {receipt['sha256'][:12]}. Grading..."
    )
    show(message)
    board, token, learner = session.board, session.token, session.learner

    def wait_for_score() -> None:
        try:
            result = fetch_result(board, token, session.workshop, learner, receipt["id"], 300)
        except SubmitError as error:
            show(f"{message} {error}")
            return
        show(
            message.replace("Grading...", "Graded.") if result else f"{message} (still queued)",
            result,
        )

    threading.Thread(target=wait_for_score, daemon=True).start()
    return receipt


def _find(session: _Session, exercise: str, notebook: str | None) -> _Exercise:
    matches = [
        e
        for (name, key), e in session.exercises.items()
        if key == exercise and notebook in (None, name)
    ]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted({key for _, key in session.exercises}))
    if not matches:
        raise KeyError(f"no exercise '{exercise}' in this workshop; known: {known}")
    raise KeyError(f"'{exercise}' is in several notebooks; pass notebook='...'")


def _passed_count(session: _Session, notebook: str) -> int:
    return sum(1 for e in session.exercises.values() if e.notebook == notebook and e.passed)


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
