"""Grade submissions as they arrive, in lanes, so that one runaway notebook never holds the room.

The queue is the `workshop_submission` table, so a server that stops (or dies) loses nothing:
at start, rows left `grading` go back to `queued`. Each lane (a thread with its own warm
sandbox; one per core by default) takes the oldest queued submission of a learner who is not
being graded right now, and grades it with `grade_assignment` within a time budget: a notebook
that loops holds one lane for at most the budget while the other lanes go on. Only a learner's
newest submission is graded (it is what sits in the submitted folder): when a lane takes a
learner's turn, their older queued submissions become `superseded`, so a resubmission replaces
the queued one in its place instead of queueing behind everyone. A lost Dask cluster (or one
that cannot be reached) is the infrastructure's fault, never the learner's: the submission goes
back to the queue and the lane reconnects after `RETRY_S`.
Feedback pages are written when first asked for. The learner's view of each result is
`autograde.learner_view`'s, as on the feedback page: hidden tests as points and pass/fail only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from course.errors import WorkshopError
from course.settings import Settings
from extensions.board.intake import history_folder
from extensions.board.schema import SUBMISSION

__all__ = ["GradingQueue", "submissions_view"]

QUEUED, GRADING, GRADED, FAILED, SUPERSEDED = "queued", "grading", "graded", "failed", "superseded"
IDLE_POLL_S = 5.0
LANE_NICENESS = 10
RETRY_S = 5.0
"""A lane whose cluster was lost waits this long before it tries again."""

_Outcome = tuple[str, float | None, float | None, dict[str, Any]]
"""status, score, max score, the learner's view of the result"""


@dataclass(frozen=True)
class _Turn:
    """One learner's newest queued submission of one workshop, taken by a lane."""

    id: int
    learner: str
    workshop: str
    received_at: datetime


class GradingQueue:
    """Grades queued submissions in *lanes* daemon threads; `wake()` after queueing one.

    *budget_s* bounds the time of one submission (each of its cells and the whole notebook)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        lanes: int,
        notify: Callable[[Iterable[str]], None],
        budget_s: float | None = None,
    ) -> None:
        budget = int(budget_s) if budget_s else settings.notebook_timeout_s
        self.settings = dataclasses.replace(
            settings,
            notebook_timeout_s=min(settings.notebook_timeout_s, budget),
            cell_timeout_s=min(settings.cell_timeout_s, budget),
        )
        self.engine = engine
        self.notify = notify
        self.graded = 0
        self._infrastructure = _infrastructure_errors(settings)
        self._changed = threading.Condition()
        self._generation = 0
        self._stop = threading.Event()
        self._taken: set[tuple[str, str]] = set()
        self._sandboxes: list[Any] = [None] * max(lanes, 1)
        with engine.begin() as connection:
            connection.execute(
                update(SUBMISSION).where(SUBMISSION.c.status == GRADING).values(status=QUEUED)
            )
        self._lanes = [
            threading.Thread(
                target=self._run, args=(lane,), name=f"workshop-grading-{lane}", daemon=True
            )
            for lane in range(len(self._sandboxes))
        ]
        for thread in self._lanes:
            thread.start()

    def wake(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def close(self) -> None:
        """Stop after the submissions in progress; what is still queued waits for the next
        start."""
        self._stop.set()
        self.wake()
        for thread in self._lanes:
            thread.join(timeout=300)
        for sandbox in self._sandboxes:
            if sandbox is not None:
                sandbox.__exit__(None, None, None)

    def _run(self, lane: int) -> None:
        _yield_cpu()
        try:
            self._warm_sandbox(lane)
        except Exception:  # noqa: BLE001 - retried when the first submission needs it
            self._drop_sandbox(lane)
        while not self._stop.is_set():
            generation = self._generation
            turn = self._take()
            if turn is None:
                with self._changed:
                    if generation == self._generation and not self._stop.is_set():
                        self._changed.wait(IDLE_POLL_S)
                continue
            try:
                self._grade_turn(lane, turn)
            finally:
                with self._changed:
                    self._taken.discard((turn.learner, turn.workshop))
            self.notify([turn.workshop])

    def _take(self) -> _Turn | None:
        """The oldest queued submission of a learner no lane is grading, as that learner's
        newest (older ones superseded); None when there is none."""
        with self._changed, self.engine.begin() as connection:
            rows = connection.execute(
                select(
                    SUBMISSION.c.id,
                    SUBMISSION.c.learner,
                    SUBMISSION.c.workshop,
                    SUBMISSION.c.received_at,
                )
                .where(SUBMISSION.c.status == QUEUED)
                .order_by(SUBMISSION.c.id)
            ).all()
            first = next((r for r in rows if (r.learner, r.workshop) not in self._taken), None)
            if first is None:
                return None
            key = (first.learner, first.workshop)
            mine = [r for r in rows if (r.learner, r.workshop) == key]
            ids = [r.id for r in mine]
            newest = max(ids)
            received = next(r.received_at for r in mine if r.id == newest)
            connection.execute(
                update(SUBMISSION).where(SUBMISSION.c.id == newest).values(status=GRADING)
            )
            self._taken.add(key)
        self._record([i for i in ids if i != newest], (SUPERSEDED, None, None, {}))
        return _Turn(newest, str(first.learner), str(first.workshop), received)

    def _grade_turn(self, lane: int, turn: _Turn) -> None:
        done = False

        def record(result: Any) -> None:
            nonlocal done
            done = True
            self._record([turn.id], _outcome(self.settings, turn.workshop, result))
            self.notify([f"submissions/{turn.workshop}"])

        try:
            self._grade(lane, turn, record)
        except self._infrastructure:
            self._drop_sandbox(lane)
            if not done:
                self._requeue(turn.id)
            self._stop.wait(RETRY_S)
            return
        except Exception as error:  # noqa: BLE001 - one bad submission never stops the queue
            message = str(error)
        else:
            message = "submission not found"
        if not done:
            self._record([turn.id], _failed(message))
        self.graded += 1

    def _requeue(self, row_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(SUBMISSION)
                .where(SUBMISSION.c.id == row_id, SUBMISSION.c.status == GRADING)
                .values(status=QUEUED)
            )

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

    def _grade(self, lane: int, turn: _Turn, record: Callable[[Any], None]) -> None:
        from autograde.grade import grade_assignment

        sandbox = self._warm_sandbox(lane)
        with self._own_bytes(turn) as settings:
            grade_assignment(
                settings,
                turn.workshop,
                students=[turn.learner],
                force=True,
                sandbox=sandbox,
                on_result=record,
            )

    @contextmanager
    def _own_bytes(self, turn: _Turn) -> Iterator[Settings]:
        """Settings under which grading reads the notebooks of *turn*'s own receipt (its
        history folder), not whatever the submitted folder holds by the time they are read:
        the learner may have submitted again meanwhile, and each receipt's score must be that
        of its own bytes. The real submitted and history folders stay hidden from the code."""
        kept = history_folder(self.settings, turn.learner, turn.workshop, turn.received_at)
        if not kept.is_dir():
            yield self.settings
            return
        original = self.settings
        parent = original.submitted_dir.parent
        with tempfile.TemporaryDirectory(prefix=".grading-", dir=parent) as root:
            link = Path(root) / turn.learner / turn.workshop
            link.parent.mkdir()
            link.symlink_to(kept, target_is_directory=True)
            yield dataclasses.replace(
                original,
                submitted_dir=Path(root),
                hidden_paths=(
                    *original.hidden_paths,
                    original.submitted_dir,
                    original.submission_history_dir,
                ),
            )

    def _warm_sandbox(self, lane: int) -> Any:
        """The executor a lane's submissions run in, started once (when the lane starts, so
        the first submission does not wait for it): a one-worker sandbox on this machine, or
        the Dask cluster of `c.Workshop.dask_scheduler`."""
        if self._sandboxes[lane] is None:
            from autograde.executor import open_executor

            self._sandboxes[lane] = open_executor(
                preload=self.settings.preload_modules,
                figures=self.settings.figures,
                workers=1,
                scheduler=self.settings.dask_scheduler,
            ).__enter__()
        return self._sandboxes[lane]

    def _drop_sandbox(self, lane: int) -> None:
        sandbox, self._sandboxes[lane] = self._sandboxes[lane], None
        if sandbox is not None:
            try:
                sandbox.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - a lost cluster may fail to say goodbye
                return


def _yield_cpu() -> None:
    """Lower the calling lane thread's CPU priority below the event loop's. On Linux a
    thread's nice value is its own and passes to the processes it starts, so the sandbox a
    lane starts, and every learner's code in it, yields the CPU to the threads that answer the
    room; elsewhere the value would be the whole server's, so it is left alone."""
    if sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LANE_NICENESS)


def _infrastructure_errors(settings: Settings) -> tuple[type[WorkshopError], ...]:
    """What a cluster raises when it is gone (Dask is imported only when one is configured)."""
    if not settings.dask_scheduler:
        return ()
    from autograde.cluster import ClusterLost
    from autograde.executor import ClusterUnreachable

    return (ClusterLost, ClusterUnreachable)


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
    """Per autograded test cell, what `autograde.learner_view` lets the learner know."""
    from autograde.learner_view import learner_views

    return [
        e.to_json() for view in learner_views(settings, workshop, learner) for e in view.exercises
    ]


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
