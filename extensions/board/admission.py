"""Admit submissions so that one learner can neither crowd out the room nor race themselves.

Three rules, checked from the request's headers before its body is read, so a refused upload
costs the server no memory:
  - per learner, at most `in_flight` submissions at once and `per_minute` in any 60 s
    (429 with `Retry-After`);
  - across learners, at most `buffered_bytes` of submission bodies held at once, and at most
    `validation_queue` waiting for a validation process (503 with `Retry-After`).
Past the gate a learner's submissions take turns (`turn`): each is checked, stored and queued
before the next starts, so every receipt's sha256 describes the bytes stored for it.

Parsing and validating notebooks holds the GIL for seconds on a large notebook, so it runs in
worker processes (`NotebookChecker`), never on the threads that answer events and board reads.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass

from course.errors import RequestRejected
from extensions.board.intake import parse_submission

__all__ = ["AdmissionLimits", "NotebookChecker", "SubmissionGate", "Ticket"]

WINDOW_S = 60.0
BUSY_RETRY_S = 5
WORKER_NICENESS = 10
"""Validation workers yield the CPU to the server's event loop (and to grading)."""


@dataclass(frozen=True)
class AdmissionLimits:
    per_minute: int = 6
    in_flight: int = 2
    validation_workers: int = 2
    validation_queue: int = 16
    buffered_bytes: int = 256 * 1024 * 1024


@dataclass
class Ticket:
    """One admitted submission; `release` it when its request ends (any way it ends)."""

    learner: str
    size: int
    gate: SubmissionGate
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate._leave(self)


class SubmissionGate:
    """Per-learner and overall admission of submissions; used on the event loop only."""

    def __init__(
        self, limits: AdmissionLimits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self.clock = clock
        self._recent: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._turns: dict[str, asyncio.Lock] = {}
        self._buffered = 0

    def enter(self, learner: str, size: int) -> Ticket:
        """Admit a submission of *size* bytes by *learner*, or raise `RequestRejected`."""
        now = self.clock()
        recent = self._recent.setdefault(learner, deque())
        while recent and recent[0] <= now - WINDOW_S:
            recent.popleft()
        if len(recent) >= self.limits.per_minute:
            wait_s = math.ceil(recent[0] + WINDOW_S - now)
            raise RequestRejected(
                429,
                f"submissions: {self.limits.per_minute} in a minute is the limit; "
                f"try again in {wait_s} s",
                retry_after_s=wait_s,
            )
        if self._in_flight.get(learner, 0) >= self.limits.in_flight:
            raise RequestRejected(
                429,
                f"submissions: {self.limits.in_flight} of yours are still being checked; "
                "wait for their receipts",
                retry_after_s=BUSY_RETRY_S,
            )
        if self._buffered + size > self.limits.buffered_bytes:
            raise RequestRejected(
                503,
                "submissions: the board is receiving many submissions; try again shortly",
                retry_after_s=BUSY_RETRY_S,
            )
        recent.append(now)
        self._in_flight[learner] = self._in_flight.get(learner, 0) + 1
        self._buffered += size
        return Ticket(learner, size, self)

    @asynccontextmanager
    async def turn(self, learner: str) -> AsyncIterator[None]:
        """Hold *learner*'s turn: their submissions pass one at a time."""
        lock = self._turns.setdefault(learner, asyncio.Lock())
        async with lock:
            yield

    def _leave(self, ticket: Ticket) -> None:
        self._buffered -= ticket.size
        left = self._in_flight[ticket.learner] - 1
        if left:
            self._in_flight[ticket.learner] = left
        else:
            del self._in_flight[ticket.learner]
            lock = self._turns.get(ticket.learner)
            if lock is not None and not lock.locked():
                del self._turns[ticket.learner]


class NotebookChecker:
    """`parse_submission` in a pool of worker processes, with a bounded queue.

    Where the OS can fork, the workers are forked at once from the server with nbformat
    loaded, so the first submission waits for no interpreter to start, and run at a lower CPU
    priority than the server, so a stream of large notebooks cannot starve its event loop;
    construct the checker
    before the server starts threads (a child forked while another thread holds a lock could
    wait for it forever). A pool that broke (a worker was killed) is replaced on next use.
    """

    def __init__(self, workers: int, queue_limit: int) -> None:
        import nbformat.validator  # noqa: F401 - loaded once, inherited by every worker

        self.workers = workers
        self.queue_limit = queue_limit
        self._pending = 0
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=os.nice,
            initargs=(WORKER_NICENESS,),
        )
        for _ in range(self.workers):
            pool.submit(int)
        return pool

    async def check(self, body: bytes, released: frozenset[str], workshop: str) -> dict[str, str]:
        """The canonical notebook texts of a submission body (see `parse_submission`)."""
        if self._pending >= self.queue_limit:
            raise RequestRejected(
                503,
                "submissions: many submissions are waiting to be checked; try again shortly",
                retry_after_s=BUSY_RETRY_S,
            )
        self._pending += 1
        pool = self._pool
        try:
            return await asyncio.wrap_future(
                pool.submit(parse_submission, body, released, workshop)
            )
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = self._start()
                pool.shutdown(wait=False)
            raise RequestRejected(
                503,
                "submissions: the notebook checker stopped; try again shortly",
                retry_after_s=BUSY_RETRY_S,
            ) from None
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
