"""Grading on an existing Dask cluster: each notebook one task, run in a sandbox on a worker.

`DaskSandbox` has the surface of `Sandbox`, so the coordinator keeps preparing, collecting and
persisting (it stays the one gradebook writer); only running the notebooks moves. A task
carries everything it needs by value: the cells, the limits and the files of its working
folder, since a worker on another machine cannot see the coordinator's disk. Identical folders
(an assignment's data files) travel once, as one task many jobs depend on.

Each worker keeps warm sandboxes for its lifetime (`SandboxPlugin`), one per worker thread
because a sandbox serves one caller at a time; like every sandbox, each claims a lane (a uid)
no other on its machine holds, so learners graded at once never share a uid. When a worker dies,
Dask runs its tasks again elsewhere, and the coordinator receives each task's result once, so
every submission is still persisted exactly once.
"""

from __future__ import annotations

import itertools
import queue
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import TracebackType

from dask.base import tokenize
from distributed import Client, Future, Worker, WorkerPlugin, as_completed, get_worker
from distributed.comm.addressing import get_address_host_port

from autograde.executor import ClusterUnreachable
from autograde.isolation import Limits
from autograde.sandbox import CellSpec, NotebookJob, NotebookRun, Sandbox
from course.errors import WorkshopError

__all__ = ["ClusterLost", "DaskSandbox", "SandboxPlugin"]

TASKS_PER_THREAD = 2
"""Tasks out per worker thread: enough that no thread waits for the coordinator to prepare."""

Files = tuple[tuple[str, bytes | None], ...]
"""A folder's entries by relative path: a file's bytes, or None for a folder."""


class ClusterLost(WorkshopError):
    """The scheduler went away mid-batch; what was graded is saved, a re-run grades the rest."""


@dataclass(frozen=True)
class _WorkerRun:
    run: NotebookRun
    warnings: tuple[str, ...]


class DaskSandbox:
    """Run notebook jobs as tasks on the Dask cluster whose scheduler listens at *address*."""

    def __init__(self, address: str, *, preload: Sequence[str], figures: str = "png") -> None:
        self.address = address
        self.plugin = SandboxPlugin(preload, figures)
        self._client: Client | None = None
        self._warnings: set[str] = set()
        self._root = Path(tempfile.mkdtemp(prefix="workshop-cluster-"))

    def __enter__(self) -> DaskSandbox:
        try:
            get_address_host_port(self.address)  # a client given a malformed one never closes
            self._client = Client(self.address, set_as_default=False)
        except (OSError, ValueError) as error:
            shutil.rmtree(self._root, ignore_errors=True)
            raise ClusterUnreachable(
                f"--cluster / c.Workshop.dask_scheduler: cannot reach a Dask scheduler at "
                f"{self.address} ({error}); start one with `dask scheduler` or fix the address"
            ) from error
        try:
            self._client.register_plugin(self.plugin, name=self.plugin.name)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def warnings(self) -> list[str]:
        """Isolation the workers that ran notebooks could not give."""
        return sorted(self._warnings)

    def workdir(self, job_id: str) -> Path:
        """A local folder for one job's files; they travel with its task."""
        return Path(tempfile.mkdtemp(prefix="job-", dir=self._root))

    def run(
        self, jobs: Iterable[NotebookJob], *, limits: Limits, hidden_paths: Sequence[str]
    ) -> Iterator[NotebookRun]:
        """Submit *jobs* a few per worker thread ahead, yielding each result once, as it comes.

        A task that fails on the worker (or whose workers kept dying) comes back as a crashed
        run, which the caller records as that notebook's `sandbox-crashed` finding.
        """
        client = self._connected()
        serial = itertools.count()
        prefix = f"nbworkshop-grade-{uuid.uuid4().hex[:12]}"
        folders: dict[str, Future[Files]] = {}
        owners: dict[Future[_WorkerRun], str] = {}
        done = as_completed(loop=client.loop)
        pending = iter(jobs)

        def submit_more() -> None:
            capacity = max(2, TASKS_PER_THREAD * sum(client.nthreads().values()))
            while len(owners) < capacity:
                job = next(pending, None)
                if job is None:
                    return
                files = _pack(job.workdir)
                key = f"nbworkshop-files-{tokenize(files)}"
                if key not in folders:
                    folders[key] = client.submit(_folder, files, key=key)
                future = client.submit(
                    _run_on_worker,
                    self.plugin.name,
                    job.id,
                    job.cells,
                    job.kernel,
                    folders[key],
                    limits,
                    tuple(hidden_paths),
                    key=f"{prefix}-{next(serial)}",
                )
                owners[future] = job.id
                done.add(future)

        submit_more()
        for future in done:
            run = self._outcome(future, owners.pop(future))
            submit_more()
            yield run

    def _outcome(self, future: Future[_WorkerRun], job_id: str) -> NotebookRun:
        try:
            outcome = future.result()
        except CancelledError as error:
            raise ClusterLost(
                f"lost the Dask scheduler at {self.address} while grading; the submissions "
                "graded so far are saved, run `workshop grade` again for the rest"
            ) from error
        except Exception as error:  # noqa: BLE001 - a failed task is one crashed notebook
            note = f"the Dask task failed: {type(error).__name__}: {error}"
            return NotebookRun(job_id, {}, False, -1, (note,))
        self._warnings.update(outcome.warnings)
        return outcome.run

    def _connected(self) -> Client:
        if self._client is None:
            raise RuntimeError("enter the DaskSandbox (with ...) before running jobs")
        return self._client


class SandboxPlugin(WorkerPlugin):
    """Warm sandboxes on a worker, one lane per worker thread, for the worker's lifetime."""

    idempotent = True
    """Registering again (the next `workshop grade`) keeps the lanes already warm."""

    _lanes: queue.SimpleQueue[Sandbox]
    _stack: ExitStack

    def __init__(self, preload: Sequence[str], figures: str) -> None:
        self.preload = tuple(preload)
        self.figures = figures
        token = tokenize(version("nbworkshop"), self.preload, figures)
        self.name = f"nbworkshop-sandbox-{token}"

    def setup(self, worker: Worker) -> None:
        self._stack = ExitStack()
        self._lanes = queue.SimpleQueue()
        for _ in range(worker.state.nthreads):
            sandbox = Sandbox(preload=self.preload, workers=1, figures=self.figures)
            self._lanes.put(self._stack.enter_context(sandbox))

    def teardown(self, worker: Worker) -> None:
        self._stack.close()

    def run(
        self,
        job_id: str,
        cells: tuple[CellSpec, ...],
        kernel: str,
        files: Files,
        limits: Limits,
        hidden_paths: Sequence[str],
    ) -> _WorkerRun:
        """Run one job in a free lane (there is one per worker thread, so one is free)."""
        sandbox = self._lanes.get()
        try:
            workdir = sandbox.workdir(job_id)
            try:
                _unpack(files, workdir)
                (run,) = sandbox.run(
                    [NotebookJob(job_id, workdir, cells, kernel)],
                    limits=limits,
                    hidden_paths=hidden_paths,
                )
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            return _WorkerRun(run, tuple(sandbox.warnings))
        finally:
            self._lanes.put(sandbox)


def _run_on_worker(
    plugin_name: str,
    job_id: str,
    cells: tuple[CellSpec, ...],
    kernel: str,
    files: Files,
    limits: Limits,
    hidden_paths: Sequence[str],
) -> _WorkerRun:
    """The task: hand the job to this worker's `SandboxPlugin`."""
    plugin = get_worker().plugins[plugin_name]
    assert isinstance(plugin, SandboxPlugin)
    return plugin.run(job_id, cells, kernel, files, limits, hidden_paths)


def _folder(files: Files) -> Files:
    """The task holding a folder's files: sent to the scheduler once for every job needing it,
    and computed again from the graph if the worker holding it dies."""
    return files


def _pack(folder: Path) -> Files:
    return tuple(
        (path.relative_to(folder).as_posix(), None if path.is_dir() else path.read_bytes())
        for path in sorted(folder.rglob("*"))
    )


def _unpack(files: Files, folder: Path) -> None:
    for name, data in files:
        path = folder / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
