"""How long-running library calls report progress without knowing about terminals."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress", "SilentProgress"]


class Progress(Protocol):
    """Told the amount of work up front, then each finished step; the CLI draws a bar."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, description: str) -> None: ...


class SilentProgress:
    """Progress that goes nowhere, for library callers and tests."""

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, description: str) -> None:
        pass
