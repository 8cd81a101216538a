"""Where graded notebooks run: this machine's sandbox by default, a Dask cluster when configured.

Both offer one surface (`Executor`), so `grade_assignment` prepares, collects and persists the
same way whichever of them runs the notebooks (DESIGN invariant 7); only this choice differs.
This module stays light: Dask is imported only when a scheduler address is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from autograde.isolation import Limits
from autograde.sandbox import NotebookJob, NotebookRun, Sandbox
from course.errors import WorkshopError

__all__ = ["ClusterUnreachable", "Executor", "open_executor"]


class ClusterUnreachable(WorkshopError):
    """No Dask scheduler answers at the address given; `workshop grade` exits 2 (wrong usage)."""


class Executor(Protocol):
    """Runs prepared notebook jobs; enter it before use, leave it to stop what it started."""

    @property
    def warnings(self) -> list[str]:
        """Isolation the machines running the notebooks cannot give, for the grading summary."""
        ...

    def workdir(self, job_id: str) -> Path:
        """A fresh local folder for one job's files, filled by the caller before `run`."""
        ...

    def run(
        self, jobs: Iterable[NotebookJob], *, limits: Limits, hidden_paths: Sequence[str]
    ) -> Iterator[NotebookRun]:
        """Each job's result as soon as it is back, in any order, exactly once."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_executor(
    *, preload: Sequence[str], workers: int, scheduler: str, figures: str = "png"
) -> Executor:
    """The Dask cluster at *scheduler* when one is given, else a local sandbox of *workers*
    lanes; not entered yet (entering starts the template, or connects to the scheduler)."""
    if not scheduler:
        return Sandbox(preload=preload, workers=workers, figures=figures)
    from autograde.cluster import DaskSandbox

    return DaskSandbox(scheduler, preload=preload, figures=figures)
