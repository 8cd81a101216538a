"""One writer thread with group commit: every request waiting is written in one transaction.

When 200 learners press Check at once, committing each request on its own would serialise 200
commits; here the writer takes everything queued while the previous transaction ran and
commits it together, so the cost of a burst is a few commits. Web handlers never touch the
database themselves: they `submit` and await the returned future, and the event loop stays free.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from extensions.board.events import Event
from extensions.board.store import WriteResult, store_events

__all__ = ["EventWriter"]

MAX_EVENTS_PER_COMMIT = 5000


@dataclass(frozen=True)
class _Job:
    events: Sequence[Event]
    future: Future[WriteResult]


class EventWriter:
    """Stores submitted events from its own thread; *on_commit* gets the workshops changed.

    *on_commit* runs in the writer thread after each commit that stored new events; it must
    only hand the news over (e.g. `loop.call_soon_threadsafe`).
    """

    def __init__(self, engine: Engine, on_commit: Callable[[frozenset[str]], None]) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="workshop-board-writer", daemon=True)
        self._closed = False
        self.commits = 0
        """Transactions committed so far."""
        self.requests = 0
        """Requests written so far (`requests / commits` tells how well they were grouped)."""

    def start(self) -> None:
        self._thread.start()

    def submit(self, events: Sequence[Event]) -> Future[WriteResult]:
        """Queue *events* (one request's) for the next transaction."""
        future: Future[WriteResult] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the board is shutting down"))
            return future
        self._queue.put(_Job(events, future))
        return future

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                break
            jobs, count = [job], len(job.events)
            while count < MAX_EVENTS_PER_COMMIT:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
                count += len(more.events)
            self._write(jobs)

    def _write(self, jobs: list[_Job]) -> None:
        try:
            results = store_events(
                self._engine, [job.events for job in jobs], datetime.now(UTC).replace(tzinfo=None)
            )
        except Exception as error:  # noqa: BLE001 - every waiting request must hear of it
            for job in jobs:
                job.future.set_exception(error)
            return
        self.commits += 1
        self.requests += len(jobs)
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)
        changed = frozenset(
            event.workshop
            for job, result in zip(jobs, results, strict=True)
            if result.accepted
            for event in job.events
        )
        if changed:
            self._on_commit(changed)
