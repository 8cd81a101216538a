"""Grade submissions as they arrive: one background thread, one warm sandbox, same scores.

The queue is the `workshop_submission` table, so a server that stops (or dies) loses nothing:
at start, rows left `grading` go back to `queued`. The thread takes everything queued for a
workshop at once and grades it with `grade_assignment` for those learners, so a rush at the
end of a session runs through the sandbox's workers in parallel instead of one by one, each
score recorded the moment its grades are committed. Only a learner's newest submission is
graded (it is what sits in the submitted folder); older queued ones become `superseded`.
Feedback pages are written when first asked for. The learner's view of each result shows
hidden tests as pass/fail only: a message is shown for a test cell only when the learner saw
all of its code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from course.settings import Settings
from extensions.board.schema import SUBMISSION

__all__ = ["GradingQueue", "submissions_view"]

QUEUED, GRADING, GRADED, FAILED, SUPERSEDED = "queued", "grading", "graded", "failed", "superseded"
IDLE_POLL_S = 5.0

_Outcome = tuple[str, float | None, float | None, dict[str, Any]]
"""status, score, max score, the learner's view of the result"""


class GradingQueue:
    """Grades queued submissions in a daemon thread; `wake()` after queueing one."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        workers: int,
        notify: Callable[[Iterable[str]], None],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.workers = workers
        self.notify = notify
        self.graded = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sandbox: Any = None
        with engine.begin() as connection:
            connection.execute(
                update(SUBMISSION).where(SUBMISSION.c.status == GRADING).values(status=QUEUED)
            )
        self._thread = threading.Thread(target=self._run, name="workshop-grading", daemon=True)
        self._thread.start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop after the batch in progress; what is still queued waits for the next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=300)
        if self._sandbox is not None:
            self._sandbox.__exit__(None, None, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(IDLE_POLL_S)
            self._wake.clear()
            while not self._stop.is_set():
                workshop = self._grade_next_batch()
                if workshop is None:
                    break
                self.notify([workshop])

    def _grade_next_batch(self) -> str | None:
        """Grade the queued submissions of one workshop and return it; None when none is queued.

        Each learner's row is written as soon as their grades are committed, so in a rush the
        first scores come back while the rest are still running.
        """
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(SUBMISSION.c.id, SUBMISSION.c.learner, SUBMISSION.c.workshop)
                .where(SUBMISSION.c.status == QUEUED)
                .order_by(SUBMISSION.c.id)
            ).all()
            if not rows:
                return None
            workshop = str(rows[0].workshop)
            batch = [r for r in rows if r.workshop == workshop]
            connection.execute(
                update(SUBMISSION)
                .where(SUBMISSION.c.id.in_([r.id for r in batch]))
                .values(status=GRADING)
            )
        newest = {r.learner: r.id for r in batch}
        superseded = [r.id for r in batch if newest[r.learner] != r.id]
        self._record(superseded, (SUPERSEDED, None, None, {}))
        done: set[str] = set()

        def record(result: Any) -> None:
            done.add(result.student)
            self._record([newest[result.student]], _outcome(self.settings, workshop, result))
            self.notify([f"submissions/{workshop}"])

        try:
            self._grade(workshop, sorted(newest), record)
        except Exception as error:  # noqa: BLE001 - one bad batch never stops the queue
            message = str(error)
        else:
            message = "submission not found"
        for learner in set(newest) - done:
            self._record([newest[learner]], _failed(message))
        self.graded += len(newest)
        return workshop

    def _record(self, ids: list[int], outcome: _Outcome) -> None:
        if not ids:
            return
        status, score, max_score, view = outcome
        with self.engine.begin() as connection:
            connection.execute(
                update(SUBMISSION)
                .where(SUBMISSION.c.id.in_(ids))
                .values(
                    status=status,
                    score=score,
                    max_score=max_score,
                    result=json.dumps(view),
                    graded_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )

    def _grade(self, workshop: str, learners: list[str], record: Callable[[Any], None]) -> None:
        from autograde.grade import grade_assignment

        grade_assignment(
            self.settings,
            workshop,
            students=learners,
            force=True,
            sandbox=self._warm_sandbox(),
            on_result=record,
        )

    def _warm_sandbox(self) -> Any:
        """The executor graded submissions run in, started once: this machine's sandbox, or
        the Dask cluster of `c.Workshop.dask_scheduler`."""
        if self._sandbox is None:
            from autograde.executor import open_executor

            self._sandbox = open_executor(
                preload=self.settings.preload_modules,
                figures=self.settings.figures,
                workers=self.workers,
                scheduler=self.settings.dask_scheduler,
            ).__enter__()
        return self._sandbox


def _outcome(settings: Settings, workshop: str, result: Any) -> _Outcome:
    view: dict[str, Any] = {
        "exercises": _learner_view(settings, workshop, result.student),
        "problems": [f.to_json() for f in result.findings],
    }
    status = FAILED if result.status == FAILED else GRADED
    return status, result.score, result.max_score, view


def _failed(message: str) -> _Outcome:
    return FAILED, None, None, {"error": message}


def _learner_view(settings: Settings, workshop: str, learner: str) -> list[dict[str, Any]]:
    """Per autograded test cell: points, and the failure message only for fully visible tests."""
    from course.cells import autograded_tests
    from course.errors import NotebookError
    from course.notebook_io import read_notebook
    from course.score import score_cells

    exercises = []
    for path in sorted((settings.autograded_dir / learner / workshop).glob("*.ipynb")):
        try:
            graded = read_notebook(path)
            released = autograded_tests(read_notebook(settings.release_dir / workshop / path.name))
        except NotebookError:
            continue
        cells = autograded_tests(graded)
        for score in score_cells(graded, stderr_fails=settings.stderr_fails):
            if score.grade_id not in cells:
                continue
            visible = released.get(score.grade_id)
            shown = visible is not None and visible.source == cells[score.grade_id].source
            exercises.append(
                {
                    "notebook": path.stem,
                    "exercise": score.grade_id,
                    "points": score.points,
                    "max_points": score.max_points,
                    "passed": score.points == score.max_points,
                    "message": score.failure if shown else None,
                    "hidden_tests": not shown,
                }
            )
    return exercises


def submissions_view(engine: Engine, workshop: str, learner: str) -> dict[str, Any]:
    """A learner's receipts, newest first, and the newest graded result."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(SUBMISSION)
            .where(SUBMISSION.c.workshop == workshop, SUBMISSION.c.learner == learner)
            .order_by(SUBMISSION.c.id.desc())
        ).all()
    receipts = [
        {
            "id": r.id,
            "received_at": r.received_at.replace(tzinfo=UTC).isoformat(),
            "sha256": r.sha256,
            "late": r.late,
            "status": r.status,
            "score": r.score,
            "max_score": r.max_score,
        }
        for r in rows
    ]
    latest = next((r for r in rows if r.status in (GRADED, FAILED)), None)
    result = None
    if latest is not None:
        result = {
            "id": latest.id,
            "status": latest.status,
            "score": latest.score,
            "max_score": latest.max_score,
            **json.loads(latest.result or "{}"),
        }
    return {"workshop": workshop, "learner": learner, "submissions": receipts, "result": result}
