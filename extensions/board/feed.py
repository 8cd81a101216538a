"""Tell open board streams that a workshop changed, without polling the database.

Each workshop has a version number, bumped on the event loop after a commit stored new events;
a stream remembers the version it last rendered and sleeps until it moves (or a timeout, when it
re-renders anyway so time-based parts such as the stuck rule stay current).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

__all__ = ["ChangeFeed"]


class ChangeFeed:
    """Per-workshop change counters with waiters; all methods but `notify_threadsafe` run on
    the event loop."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the loop that `notify_threadsafe` hands changes to."""
        self._loop = loop

    def version(self, workshop: str) -> int:
        return self._versions.get(workshop, 0)

    def notify(self, workshops: Iterable[str]) -> None:
        for workshop in workshops:
            self._versions[workshop] = self.version(workshop) + 1
        self._wake()

    def notify_threadsafe(self, workshops: Iterable[str]) -> None:
        """`notify` from another thread (the writer); dropped if no loop runs any more."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.notify, frozenset(workshops))
        except RuntimeError:
            return

    async def wait(self, workshop: str, seen: int, timeout_s: float) -> bool:
        """Wait until *workshop* moves past version *seen*; False on timeout or close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.closed and self.version(workshop) == seen:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return not self.closed

    def close(self) -> None:
        """Release every waiter: the server is stopping."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
