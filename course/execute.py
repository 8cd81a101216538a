"""Run notebooks in real Jupyter kernels with nbclient, the way nbgrader's autograder does.

Errors are recorded as outputs and execution goes on (`allow_errors`), a cell that runs past its
time limit is interrupted and the next cell runs, and several notebooks may run at once, each
in its own kernel and working directory. Kernels talk over IPC sockets in a private folder,
not TCP ports.
"""

from __future__ import annotations

import asyncio
import copy
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

__all__ = ["ExecutionJob", "ExecutionResult", "execute_notebooks"]


@dataclass(frozen=True)
class ExecutionJob:
    """One notebook to run in a fresh kernel, started in *cwd* with NBGRADER_EXECUTION=*mode*."""

    nb: NotebookNode
    cwd: Path
    mode: str = "validate"


@dataclass(frozen=True)
class ExecutionResult:
    """The executed copy, or why the run could not finish (the kernel died, say)."""

    nb: NotebookNode
    failure: str | None = None


def execute_notebooks(
    jobs: Sequence[ExecutionJob],
    *,
    kernel_name: str,
    cell_timeout_s: int,
    parallel: int = 2,
    on_done: Callable[[int], None] | None = None,
) -> list[ExecutionResult]:
    """Run *jobs*, at most *parallel* at a time, and return their results in job order.

    *on_done* is called with a job's index as soon as that job finishes.
    """
    return asyncio.run(_run_all(jobs, kernel_name, cell_timeout_s, max(1, parallel), on_done))


async def _run_all(
    jobs: Sequence[ExecutionJob],
    kernel_name: str,
    cell_timeout_s: int,
    parallel: int,
    on_done: Callable[[int], None] | None,
) -> list[ExecutionResult]:
    gate = asyncio.Semaphore(parallel)

    async def run(index: int, job: ExecutionJob) -> ExecutionResult:
        async with gate:
            result = await _run_one(job, kernel_name, cell_timeout_s)
        if on_done is not None:
            on_done(index)
        return result

    return list(await asyncio.gather(*(run(i, job) for i, job in enumerate(jobs))))


async def _run_one(job: ExecutionJob, kernel_name: str, cell_timeout_s: int) -> ExecutionResult:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    from traitlets.config import Config

    nb = copy.deepcopy(job.nb)
    env = {**os.environ, "NBGRADER_EXECUTION": job.mode}
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        transport = {"transport": "ipc", "ip": str(Path(sockets) / "ipc")}
        client = NotebookClient(
            nb,
            config=Config({"KernelManager": transport}),
            timeout=cell_timeout_s,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=True,
            record_timing=False,
        )
        try:
            await client.async_execute(cwd=str(job.cwd), env=env)
        except (DeadKernelError, CellExecutionError, RuntimeError, TimeoutError) as error:
            return ExecutionResult(nb, failure=f"{type(error).__name__}: {error}".splitlines()[0])
    return ExecutionResult(nb)
