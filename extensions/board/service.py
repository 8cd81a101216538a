"""The board's operations as awaitables, so web handlers stay thin and the loop stays free.

Database work runs off the event loop: writes through the single `EventWriter` (group commit),
reads on a small pool of reader threads. Each method is one thing a handler calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from autograde.semester import SemesterView
from autograde.semester_query import read_semester
from autograde.semester_report import PLOT_NAMES, semester_plot
from course.errors import RequestRejected
from course.gradebook import prepare_database
from course.layout import active_release
from course.settings import Settings
from extensions.board.admission import AdmissionLimits, NotebookChecker, SubmissionGate
from extensions.board.catalogue import Catalogue, CatalogueCache, WorkshopInfo, load_catalogue
from extensions.board.events import check_events, parse_events
from extensions.board.feed import ChangeFeed
from extensions.board.grading_queue import GradingQueue, submissions_view
from extensions.board.intake import Receipt, store_submission
from extensions.board.join import personal_copy
from extensions.board.schema import create_tables, open_engine
from extensions.board.store import WriteResult, read_events
from extensions.board.tokens import Identity, find_token
from extensions.board.views import board_view, local_day_start, progress_view
from extensions.board.writer import EventWriter

__all__ = ["BoardService"]

T = TypeVar("T")
READER_THREADS = 2


class BoardService:
    """Everything the board's handlers need, for one course."""

    def __init__(
        self,
        settings: Settings,
        grading_workers: int = 2,
        admission: AdmissionLimits | None = None,
        grading_budget_s: float | None = None,
    ) -> None:
        admission = admission or AdmissionLimits()
        self.checker = NotebookChecker(admission.validation_workers, admission.validation_queue)
        prepare_database(settings)
        self.settings = settings
        self.engine: Engine = open_engine(settings.db_url)
        create_tables(self.engine)
        self.feed = ChangeFeed()
        self.writer = EventWriter(self.engine, self.feed.notify_threadsafe)
        self.queue = GradingQueue(
            settings, self.engine, grading_workers, self.feed.notify_threadsafe, grading_budget_s
        )
        self.cache = CatalogueCache(lambda: load_catalogue(self.engine, settings))
        self.gate = SubmissionGate(admission)
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="workshop-board-read")
        self.writer.start()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (live updates are delivered there)."""
        self.feed.bind(loop)

    async def close(self) -> None:
        """Release streams, write what is queued, stop threads, close the database."""
        self.feed.close()
        await asyncio.to_thread(self.writer.close)
        await asyncio.to_thread(self.queue.close)
        await asyncio.to_thread(self.checker.close)
        self._readers.shutdown(wait=True)
        self.engine.dispose()

    async def catalogue(self) -> Catalogue:
        current = self.cache.fresh()
        return current if current is not None else await self._read(self.cache.get)

    async def identify(self, token: str) -> Identity | None:
        """Who *token* speaks for, or None; a token issued after the catalogue was read is
        looked up on its own (one primary-key query), so it works at once."""
        identity = (await self.catalogue()).identify(token)
        if identity is None:
            identity = await self._read(lambda: find_token(self.engine, token))
        return identity

    async def workshop(self, name: str) -> WorkshopInfo:
        """A released workshop, or `RequestRejected(404)`."""
        info = (await self.catalogue()).workshops.get(name)
        if info is None:
            info = (await self._refreshed(time.monotonic())).workshops.get(name)
        if info is None:
            raise RequestRejected(404, f"workshop {name!r} is not released")
        return info

    async def ingest(self, body: bytes, identity: Identity) -> WriteResult:
        """Validate and store one request's events (see `parse_events` and `check_events` for
        the refusals); a name the cached catalogue lacks is looked up again before refusing."""
        events = parse_events(body, datetime.now(UTC))
        try:
            checked = check_events(events, identity, await self.catalogue())
        except RequestRejected as error:
            if error.status != 400:
                raise
            checked = check_events(events, identity, await self._refreshed(time.monotonic()))
        return await asyncio.wrap_future(self.writer.submit(checked))

    async def board(self, name: str) -> dict[str, Any]:
        info = await self.workshop(name)
        roster = (await self.catalogue()).roster
        events = await self._read(lambda: read_events(self.engine, name))
        now = datetime.now(UTC)
        return board_view(info, roster, events, now.replace(tzinfo=None), local_day_start(now))

    async def progress(self, name: str, learner: str) -> dict[str, Any]:
        info = await self.workshop(name)
        events = await self._read(lambda: read_events(self.engine, name, learner))
        return progress_view(info, learner, events)

    async def semester(self) -> SemesterView:
        """The organisers' semester view (`autograde.semester`), read on a reader thread."""
        source = self.settings.source_dir
        return await self._read(lambda: read_semester(self.engine, self.settings.course_id, source))

    async def semester_plot(self, name: str) -> bytes:
        """A semester plot as PNG, or `RequestRejected(404)` for an unknown name. Drawn on the
        loop's default executor, so slow drawing never holds up the readers of live boards."""
        if name not in PLOT_NAMES:
            known = ", ".join(PLOT_NAMES)
            raise RequestRejected(404, f"plot {name!r}: no such plot; plots: {known}")
        view = await self.semester()
        return await asyncio.to_thread(semester_plot, view, name)

    async def personal_copy(self, name: str, learner: str, token: str, board_url: str) -> bytes:
        await self.workshop(name)
        return await self._read(
            lambda: personal_copy(self.settings, name, learner, token, board_url)
        )

    async def submit(self, name: str, learner: str, body: bytes, late_policy: str) -> Receipt:
        """Check, keep and queue one submission (see `extensions.board.intake`), admitted by
        `gate` beforehand. A learner's submissions take turns, so each receipt describes the
        bytes stored for it; the notebooks are checked in a worker process."""
        await self.workshop(name)
        folder = active_release(self.settings, name)
        released = await self._read(lambda: frozenset(p.name for p in folder.glob("*.ipynb")))
        async with self.gate.turn(learner):
            notebooks = await self.checker.check(body, released, name)
            receipt = await self._read(
                lambda: store_submission(
                    self.settings, self.engine, learner, name, notebooks, late_policy=late_policy
                )
            )
        self.queue.wake()
        return receipt

    async def submissions(self, name: str, learner: str) -> dict[str, Any]:
        await self.workshop(name)
        return await self._read(lambda: submissions_view(self.engine, name, learner))

    async def feedback(self, name: str, learner: str, notebook: str) -> bytes:
        """The learner's feedback page, written on first request after each grading; rendered
        on the loop's default executor, so rendering never holds up the readers of live boards."""
        await self.workshop(name)
        return await asyncio.to_thread(_feedback_page, self.settings, name, learner, notebook)

    async def _refreshed(self, missed_at: float) -> Catalogue:
        return await self._read(lambda: self.cache.refresh_after_miss(missed_at))

    async def _read(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, work)


def _feedback_page(settings: Settings, workshop: str, learner: str, notebook: str) -> bytes:
    """The page of *notebook* (default: the first of the workshop), a notebook that could not
    be graded included; rewritten when the learner's graded folder is newer than it."""
    from autograde.feedback import write_feedback

    graded = settings.autograded_dir / learner / workshop
    names = sorted(p.stem for p in active_release(settings, workshop).glob("*.ipynb"))
    chosen = notebook or (names[0] if names else "")
    if not graded.is_dir() or chosen not in names:
        raise RequestRejected(404, f"feedback: nothing graded yet for {learner} in {workshop}")
    page = settings.feedback_dir / learner / workshop / f"{chosen}.html"
    if not page.is_file() or page.stat().st_mtime < graded.stat().st_mtime:
        report = write_feedback(settings, workshop, [learner])
        if page not in report.written:
            reason = next((why for _, why in report.skipped), "no page was written")
            raise RequestRejected(404, f"feedback: {reason}")
    return page.read_bytes()
