"""The warm template process: imports once, then forks one sandboxed child per notebook.

Started by `autograde.sandbox.Sandbox` as `python -m autograde.template`. It loads IPython and
the course's heavy modules, builds one IPython shell, and then serves jobs read as JSON lines
on stdin. For each job it forks a supervisor, which enters fresh namespaces and forks the
learner process (PID 1 of its own PID namespace, so everything it starts dies with it). The
learner process hides the course's private folders, drops to an unprivileged uid, applies
resource limits and runs the cells, reporting each cell's outputs on a pipe. Results go back on
stdout as one JSON line per job. The template stays single-threaded so forking it is safe.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.jsonutil import json_default

from autograde.cell_runner import CellToRun, OutputSink, Pristine, make_shell, run_cells
from autograde.isolation import (
    Limits,
    apply_limits,
    die_with_parent,
    drop_privileges,
    enter_namespaces,
    expose_paths,
    hide_paths,
)
from autograde.sandbox import EXIT_TIMEOUT

__all__ = ["main"]

STATUS_DONE = "done"
STATUS_GRADER_FAILED = "grader-failed"


@dataclass(frozen=True)
class _Warm:
    """What every child inherits ready-made: the shell, its output sink and its snapshot."""

    shell: Any
    sink: OutputSink
    pristine: Pristine
    isolation: dict[str, bool]


@dataclass
class _Running:
    """One job in flight: its learner pipe, and what the learner process reported on it."""

    job: dict[str, Any]
    pid: int
    pipe: int
    buffer: bytes = b""
    cells: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    notes: list[str] = field(default_factory=list)
    foreign: int = 0
    eof: bool = False
    grader_failed: bool = False


def main() -> None:
    protocol_out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    hello = json.loads(sys.stdin.readline())
    for name in hello.get("preload", []):
        try:
            importlib.import_module(name)
        except ImportError as error:
            print(f"template: cannot preload {name}: {error}", file=sys.stderr)
    _warm_up()
    sink = OutputSink(1 << 20)
    shell = make_shell(sink, png_figures=hello.get("figures", "png") == "png")
    _warm_up_tracebacks(shell, sink)
    warm = _Warm(shell, sink, Pristine(shell, sink), _probe_isolation())
    gc.freeze()
    protocol_out.write(json.dumps({"ready": True, "isolation": warm.isolation}) + "\n")
    _serve(protocol_out, warm)


def _warm_up() -> None:
    """Render one small figure so every child starts with matplotlib's fonts and caches loaded."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    import io

    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [0, 1, 4], label="line")
    axes.scatter([0, 1, 2], [2, 1, 0], s=8)
    axes.set_title("warm-up")
    axes.legend()
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)


def _warm_up_tracebacks(shell: Any, sink: OutputSink) -> None:
    """Show one failing assertion, so IPython's traceback formatter (and the syntax highlighter
    it loads) is ready in every child: most graded cells that fail show a traceback."""
    shell.run_cell("def _warm_up():\n    assert 1 == 2, 'warm-up'\n_warm_up()", store_history=False)
    shell.user_ns.pop("_warm_up", None)
    sink.reset()


def _probe_isolation() -> dict[str, bool]:
    """Whether this machine lets a child enter namespaces and change uid (root on Linux)."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces()
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    namespaces = os.waitstatus_to_exitcode(status) == 0
    return {"namespaces": namespaces, "setuid": os.geteuid() == 0}


def _serve(out: Any, warm: _Warm) -> None:
    """Start jobs as they arrive on stdin; collect each learner's reports from its own pipe.

    A run stays in *running* until its supervisor is reaped, but is reachable by its pipe's fd
    number (*pipes*) only while that pipe is open: the number is free for the next job's pipe
    the moment it is closed (STYLE rule 15).
    """
    running: list[_Running] = []
    pipes: dict[int, _Running] = {}
    stdin_open = True
    stdin_buffer = b""
    while stdin_open or running:
        readable = [*pipes, 0] if stdin_open else list(pipes)
        ready, _, _ = select.select(readable, [], [], 0.05)
        for fd in ready:
            if fd != 0:
                _read_cells(pipes[fd], pipes)
        if 0 in ready:  # after the pipes: a new job's pipe may take a number closed just now
            chunk = os.read(0, 65536)
            stdin_open = bool(chunk)
            stdin_buffer += chunk
            while b"\n" in stdin_buffer:
                line, stdin_buffer = stdin_buffer.split(b"\n", 1)
                run = _start(json.loads(line), warm)
                running.append(run)
                pipes[run.pipe] = run
        _reap(running, pipes, out)


def _read_cells(run: _Running, pipes: dict[int, _Running]) -> None:
    """Read what *run*'s learner process wrote; only messages tagged with its job id count."""
    chunk = os.read(run.pipe, 1 << 20)
    if not chunk:
        run.eof = True
        del pipes[run.pipe]
        os.close(run.pipe)
        return
    run.buffer += chunk
    while b"\n" in run.buffer:
        line, run.buffer = run.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            run.notes.append("unreadable message from the learner process")
            continue
        if not isinstance(message, dict) or message.get("job") != run.job["id"]:
            run.foreign += 1
        elif message.get("status") == STATUS_DONE:
            run.done = True
        elif message.get("status") == STATUS_GRADER_FAILED:
            run.notes.append(str(message.get("reason")))
            run.grader_failed = True
        elif "index" in message:
            run.cells.append(message)


def _reap(running: list[_Running], pipes: dict[int, _Running], out: Any) -> None:
    """Report each run whose supervisor has ended, and forget it.

    Its learner process is gone then, but without a PID namespace something it started may
    still hold the pipe open: what is in the pipe is read and the pipe closed, so such a
    process cannot keep its notebook, and the batch, waiting.
    """
    for run in list(running):
        finished, status = os.waitpid(run.pid, os.WNOHANG)
        if finished == 0:
            continue
        if not run.eof:
            _drain(run, pipes)
        running.remove(run)
        out.write(
            json.dumps(
                {
                    "id": run.job["id"],
                    "cells": run.cells,
                    "completed": run.done and not run.grader_failed,
                    "exit_code": -1 if run.grader_failed else os.waitstatus_to_exitcode(status),
                    "notes": run.notes,
                    "foreign": run.foreign,
                }
            )
            + "\n"
        )


def _drain(run: _Running, pipes: dict[int, _Running]) -> None:
    """Read what is left in *run*'s pipe without waiting for its end, then close it."""
    os.set_blocking(run.pipe, False)
    try:
        while not run.eof:
            _read_cells(run, pipes)
    except BlockingIOError:
        run.eof = True
        del pipes[run.pipe]
        os.close(run.pipe)


def _start(job: dict[str, Any], warm: _Warm) -> _Running:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 1
        try:
            code = _supervise(job, write_end, warm)
        finally:
            os._exit(code)
    os.close(write_end)
    return _Running(job=job, pid=pid, pipe=read_end)


def _supervise(job: dict[str, Any], pipe: int, warm: _Warm) -> int:
    """In the supervisor: isolate, start the learner process, enforce the notebook deadline."""
    limits = Limits(**job["limits"])
    if warm.isolation["namespaces"]:
        enter_namespaces()
        hide_paths(job["hide"])
        if warm.isolation["setuid"]:
            expose_paths([*sys.path, sys.prefix, sys.base_prefix, sys.executable], job["stash"])
    child = os.fork()
    if child == 0:
        code = 1
        try:
            code = _learner(job, limits, pipe, warm)
        finally:
            os._exit(code)
    os.close(pipe)
    deadline = time.monotonic() + limits.notebook_timeout_s
    while True:
        finished, status = os.waitpid(child, os.WNOHANG)
        if finished:
            return _encode(os.waitstatus_to_exitcode(status))
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return EXIT_TIMEOUT
        time.sleep(0.005)


def _encode(code: int) -> int:
    """Exit code of the supervisor: the learner's code, or 128 + signal when it was killed."""
    return 128 - code if code < 0 else min(code, 123)


def _learner(job: dict[str, Any], limits: Limits, pipe: int, warm: _Warm) -> int:
    """PID 1 of the job's namespace: become the learner, run the cells, report each one."""
    os.setsid()
    os.chdir(job["workdir"])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, pipe)
    os.closerange(pipe + 1, 1 << 16)
    os.environ.clear()
    os.environ.update(job["env"])
    os.umask(0o077)
    sys.path[0:0] = [""]
    if warm.isolation["setuid"] and job.get("uid") is not None:
        drop_privileges(int(job["uid"]))
    die_with_parent(signal.SIGKILL)
    apply_limits(limits)
    warm.sink.start(limits.output_mb * 1024 * 1024)
    cells = [CellToRun(c["index"], c["source"], c["is_test"]) for c in job["cells"]]

    def report(message: dict[str, Any]) -> None:
        data = _encode_message({**message, "job": job["id"]})
        while data:
            data = data[os.write(pipe, data) :]

    if job.get("kernel"):
        from autograde.run_kernel import run_in_kernel

        run_in_kernel(
            job["kernel"],
            cells,
            limits.cell_timeout_s,
            report,
            cwd=Path(job["workdir"]),
            stop_on_timeout=limits.stop_on_timeout,
        )
    else:
        run_cells(
            warm.shell,
            warm.sink,
            warm.pristine,
            cells,
            limits.cell_timeout_s,
            report,
            stop_on_timeout=limits.stop_on_timeout,
        )
    report({"status": STATUS_DONE})
    return 0


def _encode_message(message: dict[str, Any]) -> bytes:
    """One protocol line, every value encoded as a Jupyter kernel encodes it.

    IPython's formatters return raw bytes for binary MIME types (a PIL image's `image/png` and
    `image/jpeg`); jupyter_client sends those base64-encoded, and so do we, for any MIME type
    and display path. A value the kernel protocol could not carry either is the grader's
    failure, reported as such (the notebook is `sandbox-crashed`), never the learner's.
    """
    try:
        return (json.dumps(message, default=json_default) + "\n").encode()
    except (TypeError, ValueError, RecursionError) as error:
        reason = f"the grader could not record the outputs of cell {message.get('index')}: {error}"
        failed = {"status": STATUS_GRADER_FAILED, "reason": reason, "job": message.get("job")}
        return (json.dumps(failed) + "\n").encode()


if __name__ == "__main__":
    main()
