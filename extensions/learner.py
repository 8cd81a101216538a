"""What a released notebook imports: `check("<grade id>")` shows the Check panel of an exercise.

Released notebooks have a read-only cell `check("...")` under each autograded exercise. The
panel's Check button runs that exercise's visible tests against the learner's current variables
and scores them by the grader's rule (`extensions.check_tests`); Hint reveals the presenter's
hints one at a time, never more than the failed attempts so far. The exercises come from
`.workshop/checks.json` beside the notebook, written by `workshop release`. When the workshop was
released for a session board and the learner's personal copy holds `.workshop/learner.json`
(from the board's join page or `workshop join`), every Check also becomes an event for the
board, delivered in the background (`extensions.events`), and Submit saves the notebook in
JupyterLab and hands it in to the board (`extensions.submit_flow`).

This module is imported in every learner kernel: it imports only the standard library at import
time, ipywidgets and ipylab when a panel is shown, and never nbgrader, SQLAlchemy or
jupyter_server. While a notebook is being graded (`NBGRADER_EXECUTION` is set) `check` shows
nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course.workshop_files import CHECKS_FILE, LEARNER_FILE, SPOOL_FOLDER
from extensions.check_tests import CheckResult, Solution, run_visible_tests
from extensions.explain_errors import ExerciseNames, explain_in_cells

if TYPE_CHECKING:
    from extensions.check_view import SubmissionStatus
    from extensions.submit_flow import Submission
    from extensions.submit_save import FrontEnd

__all__ = ["CheckPanel", "check", "submit"]


@dataclass
class _Exercise:
    notebook: str
    grade_id: str
    max_points: float
    tests: str
    hints: list[str]
    title: str
    solution: Solution
    names: tuple[str, ...]
    attempts: int = 0
    failed_attempts: int = 0
    hints_shown: int = 0
    last: CheckResult | None = None

    @property
    def passed(self) -> bool:
        return self.last is not None and self.last.passed


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
    how_to_submit: str = (
        "To submit, get your personal copy of this workshop from the session board (ask your "
        "presenter for its join address)."
    )
    explaining: bool = False
    progress: dict[str, Any] = field(default_factory=dict)
    frontend: FrontEnd | None = None
    submission: Submission | None = None
    stderr_fails: bool = False


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


def submit() -> Submission | None:
    """Save this notebook in JupyterLab and hand in the workshop (the Submit button does the same).

    Returns at once, leaving the kernel free to hear from JupyterLab; shown in a cell, the
    result is a status line that ends with the score, and its `wait()` gives the board's receipt.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return None
    from extensions.check_view import SubmissionStatus

    session = _get_session()
    status = SubmissionStatus(lambda notebook, key: _describe(session, notebook, key))
    return _submit(session, status)


class CheckPanel:
    """One exercise's panel; `run()` is what the Check button does (also usable from code).

    A new panel shows the exercise's state at once (typically "not attempted yet" after Run
    All) by running the visible tests without counting an attempt: no event, no hint.
    """

    def __init__(self, session: _Session, exercise: _Exercise) -> None:
        from extensions.check_view import CheckPanelView, ProgressView

        self.session = session
        self.exercise = exercise
        shell = _shell()
        if not session.explaining:
            explain_in_cells(shell, _error_names(session))
            session.explaining = True
        progress = session.progress.get(exercise.notebook)
        if progress is None:
            total = sum(1 for e in session.exercises.values() if e.notebook == exercise.notebook)
            progress = session.progress[exercise.notebook] = ProgressView(
                total,
                lambda notebook, key: _describe(session, notebook, key),
                "" if session.token else session.how_to_submit,
            )
            progress.submit_button.on_click(lambda _button: _submit(session, None))
            _frontend(session)
        self.progress = progress
        self.view = CheckPanelView(exercise.title, exercise.max_points, progress)
        self.view.check_button.on_click(lambda _button: self.run())
        self.view.hint_button.on_click(lambda _button: self.hint())
        self.durations_ms: list[float] = []
        self._show(self._test(shell), counted=False)

    def run(self) -> CheckResult:
        """Run the visible tests now, show the outcome, report it to the board.

        `durations_ms` keeps how long each run took in the kernel (for bench/check_latency.py).
        """
        start = time.perf_counter()
        result = self._test(_shell())
        self._show(result, counted=True)
        self._report(result)
        self.durations_ms.append((time.perf_counter() - start) * 1000)
        return result

    def _test(self, shell: Any) -> CheckResult:
        exercise = self.exercise
        namespace = shell.user_ns if shell is not None else {}
        return run_visible_tests(
            exercise.grade_id,
            exercise.tests,
            exercise.max_points,
            namespace,
            shell,
            exercise.solution,
            stderr_fails=self.session.stderr_fails,
        )

    def _show(self, result: CheckResult, *, counted: bool) -> None:
        exercise = self.exercise
        exercise.last = result
        if counted:
            exercise.attempts += 1
            exercise.failed_attempts += not result.passed
        self.view.show_result(result, exercise.attempts if counted else 0)
        self.view.show_hints(exercise.hints[: exercise.hints_shown], self._hints_available())
        self.progress.update(_passed_count(self.session, exercise.notebook))

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
                notebook,
                str(e["exercise"]),
                float(e["points"]),
                str(e["tests"]),
                list(e["hints"]),
                str(e.get("title") or e["exercise"]),
                Solution(tuple(e.get("defines", ())), tuple(e.get("stubs", ()))),
                tuple(e.get("names", ())),
            )
            for notebook, entries in document["notebooks"].items()
            for e in entries
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RuntimeError(
            f"Check needs {CHECKS_FILE} in the notebook's folder ({error}); open the notebook "
            "from the workshop folder you were given, or ask the presenter for a fresh copy"
        ) from None
    session = _Session(
        folder, workshop, exercises, stderr_fails=document.get("stderr_fails") is True
    )
    _connect(session, document.get("board"))
    return session


def _connect(session: _Session, released_board: str | None) -> None:
    """Start reporting Checks when this copy belongs to a learner of a session board."""
    try:
        learner = json.loads((session.folder / LEARNER_FILE).read_text(encoding="utf-8"))
        board, token, learner_id = learner["board"], learner["token"], learner["learner"]
    except (OSError, ValueError, KeyError, TypeError):
        if released_board:
            session.how_to_submit = (
                "To submit (and to show on the session board), get your personal copy from "
                f"{released_board.rstrip('/')}/workshop/join/{session.workshop}"
            )
        return
    from extensions.events import EventSender

    session.learner = str(learner_id)
    session.board, session.token = str(board).rstrip("/"), str(token)
    session.sender = EventSender(session.board, session.token, session.folder / SPOOL_FOLDER)


def _frontend(session: _Session) -> FrontEnd:
    if session.frontend is None:
        from extensions.submit_save import FrontEnd

        session.frontend = FrontEnd()
    return session.frontend


def _submit(session: _Session, status: SubmissionStatus | None) -> Submission:
    """Start a submission, or return the one still saving or uploading."""
    from extensions.submit_flow import Submission, SubmitTarget

    if session.submission is not None:
        if session.submission.uploading:
            return session.submission
        session.submission.supersede()
    views: list[Any] = [*session.progress.values(), *([status] if status else [])]
    buttons = [view.submit_button for view in session.progress.values()]
    submission = Submission(views, buttons, status.box if status else None)
    if session.board is None or session.token is None or session.learner is None:
        return submission.refuse(session.how_to_submit)
    names = sorted({e.notebook for e in session.exercises.values()})
    notebooks = tuple(p for n in names if (p := session.folder / f"{n}.ipynb").is_file())
    target = SubmitTarget(
        session.board,
        session.token,
        session.learner,
        session.workshop,
        notebooks,
        _watched(session, notebooks),
    )
    session.submission = submission.start(target, _frontend(session))
    return submission


def _watched(session: _Session, notebooks: tuple[Path, ...]) -> tuple[Path, ...]:
    """The notebooks this kernel belongs to: the one Jupyter started it for (`JPY_SESSION_NAME`,
    set by jupyter_server) and those whose panels it shows; all of them if it cannot tell."""
    started_for = Path(os.environ.get("JPY_SESSION_NAME", "")).name
    own = tuple(p for p in notebooks if p.name == started_for or p.stem in session.progress)
    return own or notebooks


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


def _describe(session: _Session, notebook: str, key: str) -> tuple[str, str | None]:
    """An exercise's title and the state of its last Check, for the summary after Submit."""
    exercise = session.exercises.get((notebook, key)) or next(
        (e for (_, k), e in session.exercises.items() if k == key), None
    )
    if exercise is None:
        return key, None
    return exercise.title, exercise.last.state if exercise.last else None


def _error_names(session: _Session) -> list[ExerciseNames]:
    return [ExerciseNames(e.title, e.tests, frozenset(e.names)) for e in session.exercises.values()]


def _passed_count(session: _Session, notebook: str) -> int:
    return sum(1 for e in session.exercises.values() if e.notebook == notebook and e.passed)


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
