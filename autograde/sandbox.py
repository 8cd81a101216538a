"""The coordinator's side of the sandbox: a warm template process and the jobs sent to it.

`Sandbox` starts `autograde.template` once (it boots while the caller keeps working), then
runs notebook jobs through it, at most `workers` at a time, each as a forked, isolated process
(see the template's docstring). Each concurrent lane has its own unprivileged uid, claimed
machine-wide (`autograde.lanes`), so two learners graded at the same time, by this sandbox or
another, cannot see each other's files. If the template itself dies,
the jobs in flight are reported as failed and a new template is started for the rest.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from autograde.isolation import Limits
from autograde.lanes import claim_lane

__all__ = ["EXIT_TIMEOUT", "CellSpec", "NotebookJob", "NotebookRun", "Sandbox", "learner_env"]

SANDBOX_UID_BASE = 61000
STOP_TIMEOUT_S = 10
EXIT_TIMEOUT = 124  # supervisor exit code: the notebook ran past its deadline


@dataclass(frozen=True)
class CellSpec:
    index: int
    source: str
    is_test: bool


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to run: its code cells, in a working folder prepared for it."""

    id: str
    workdir: Path
    cells: tuple[CellSpec, ...]
    kernel: str = ""
    """A Jupyter kernel to run the cells in (`autograde.run_kernel`); empty: Python in-process."""


@dataclass(frozen=True)
class NotebookRun:
    """What came back: outputs per cell index, and how the learner process ended."""

    id: str
    cells: Mapping[int, Mapping[str, Any]]
    completed: bool
    exit_code: int
    notes: tuple[str, ...] = ()
    repeated_cells: tuple[int, ...] = field(default_factory=tuple)


def learner_env(workdir: Path) -> dict[str, str]:
    """The whole environment learner code sees: nothing of the grader's own."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "NBGRADER_EXECUTION": "autograde",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class Sandbox:
    """Run notebook jobs in forked, isolated children of one warm template process."""

    def __init__(
        self,
        *,
        preload: Sequence[str],
        workers: int,
        figures: str = "png",
    ) -> None:
        """*workers* lanes run at once, each under a uid no other sandbox on this machine uses
        meanwhile (`autograde.lanes`). *figures* is `c.Workshop.figures`: "png", or "text" to
        skip rendering figures."""
        self.preload = list(preload)
        self.figures = figures
        self.workers = max(1, workers)
        self._lanes = ExitStack()
        self._uids: list[int] = []
        self.isolation: dict[str, bool] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._home = Path(tempfile.mkdtemp(prefix="workshop-sandbox-"))
        self._jobs_root = Path(tempfile.mkdtemp(prefix="workshop-jobs-"))
        self._jobs_root.chmod(0o711)

    def __enter__(self) -> Sandbox:
        self._uids = [SANDBOX_UID_BASE + claim_lane(self._lanes) for _ in range(self.workers)]
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
        self._lanes.close()
        shutil.rmtree(self._jobs_root, ignore_errors=True)
        shutil.rmtree(self._home, ignore_errors=True)

    @property
    def warnings(self) -> list[str]:
        """Isolation this machine cannot give, in words for the grading summary."""
        self._await_ready()
        notes = []
        if not self.isolation.get("namespaces"):
            notes.append(
                "no Linux namespaces here: learner code can reach the network and read the "
                "course folders (run as root on Linux for full isolation)"
            )
        if not self.isolation.get("setuid"):
            notes.append(
                "not running as root: learner code runs with your uid, the process limit "
                "counts all your processes"
            )
        return notes

    def workdir(self, job_id: str) -> Path:
        """A fresh, private working folder for one job (traversable, not listable, by others)."""
        return Path(tempfile.mkdtemp(prefix="job-", dir=self._jobs_root))

    def run(
        self, jobs: Iterable[NotebookJob], *, limits: Limits, hidden_paths: Sequence[str]
    ) -> Iterator[NotebookRun]:
        """Run *jobs* under *limits* with *hidden_paths* covered, yielding each result as soon
        as it is back (not in job order)."""
        self._await_ready()
        pending = iter(jobs)
        in_flight: dict[str, tuple[NotebookJob, int]] = {}
        free_lanes = list(range(self.workers))
        exhausted = False
        while True:
            while not exhausted and free_lanes:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                lane = free_lanes.pop()
                token = secrets.token_hex(16)
                in_flight[token] = (job, lane)
                self._send(job, token, lane, limits, hidden_paths)
            if not in_flight:
                return
            message = self._receive()
            flight = None if message is None else in_flight.pop(str(message.get("id")), None)
            if message is None or flight is None:
                for lost, lane in in_flight.values():
                    free_lanes.append(lane)
                    yield _crashed(lost, "the sandbox process crashed")
                in_flight.clear()
                self._stop()
                self._start()
                self._await_ready()
                continue
            job, lane = flight
            free_lanes.append(lane)
            yield _run_from(message, job)

    def _send(
        self,
        job: NotebookJob,
        token: str,
        lane: int,
        limits: Limits,
        hidden_paths: Sequence[str],
    ) -> None:
        """Send *job* under *token*, a fresh random id: the template tags everything the
        learner process reports with it, and no other learner can guess it."""
        uid = self._uids[lane] if self.isolation.get("setuid") else None
        if uid is not None:
            _chown_tree(job.workdir, uid)
        payload = {
            "id": token,
            "workdir": str(job.workdir),
            "uid": uid,
            "cells": [asdict(cell) for cell in job.cells],
            "kernel": job.kernel,
            "limits": asdict(limits),
            "hide": list(hidden_paths),
            "stash": str(self._home / "stash"),
            "env": learner_env(job.workdir),
        }
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write((json.dumps(payload) + "\n").encode())
        self._process.stdin.flush()

    def _receive(self) -> dict[str, Any] | None:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        return json.loads(line) if line else None

    def _start(self) -> None:
        self._log = (self._home / "template.log").open("ab")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", str(self._home)),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        if "MPLCONFIGDIR" in os.environ:
            env["MPLCONFIGDIR"] = os.environ["MPLCONFIGDIR"]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autograde.template"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=self._home,
            env=env,
        )
        assert self._process.stdin is not None
        hello = {"preload": self.preload, "figures": self.figures}
        self._process.stdin.write((json.dumps(hello) + "\n").encode())
        self._process.stdin.flush()
        self.isolation = {}

    def _await_ready(self) -> None:
        """Wait for the template's hello; it boots while the caller does other work."""
        if self.isolation:
            return
        hello = self._receive()
        if hello is None or not hello.get("ready"):
            raise RuntimeError(f"the sandbox template did not start; see {self._home}/template.log")
        self.isolation = hello["isolation"]

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(Path(folder) / name, uid, uid, follow_symlinks=False)


def _crashed(job: NotebookJob, note: str) -> NotebookRun:
    """A run whose results are lost or cannot be trusted: the grader's failure, graded again
    by the next run, never the learner's."""
    return NotebookRun(job.id, {}, False, -1, (note,))


def _run_from(message: Mapping[str, Any], job: NotebookJob) -> NotebookRun:
    """*job*'s run, if every message in *message* provably came from it: read from its own
    pipe (`foreign` counts the others), tagged with its token, about one of its cells."""
    indices = {cell.index for cell in job.cells}
    reported = message["cells"]
    if message.get("foreign") or any(
        cell.get("job") != message["id"] or cell.get("index") not in indices for cell in reported
    ):
        return _crashed(job, "results that are not this notebook's own run were discarded")
    cells: dict[int, Mapping[str, Any]] = {}
    repeated: list[int] = []
    for cell in reported:
        index = int(cell["index"])
        if index in cells:
            repeated.append(index)
        cells.setdefault(index, cell)
    return NotebookRun(
        id=job.id,
        cells=cells,
        completed=bool(message["completed"]),
        exit_code=int(message["exit_code"]),
        notes=tuple(message.get("notes", [])),
        repeated_cells=tuple(repeated),
    )
