"""Run a notebook's cells through a real Jupyter kernel: the path for kernels other than Python.

The warm template runs Python in-process; a notebook written for another installed kernel (bash,
R, Julia) runs here instead, through nbclient, as `nbgrader autograde` runs every notebook. It
is called inside the sandbox's learner process, so the kernel it starts inherits the same uid,
resource limits and namespaces. The kernel is reached over IPC sockets in the working folder:
the sandbox's network namespace has no usable loopback. Each cell is reported as soon as it
ran, in the same shape as `cell_runner.run_cells` reports, so collect and scoring do not care
which path ran a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograde.cell_runner import CellTimeout, CellToRun

__all__ = ["installed_kernels", "run_in_kernel"]


def installed_kernels() -> frozenset[str]:
    """Names of the Jupyter kernels installed where the grader runs."""
    from jupyter_client.kernelspec import KernelSpecManager

    return frozenset(KernelSpecManager().find_kernel_specs())


def run_in_kernel(
    kernel_name: str,
    cells: Sequence[CellToRun],
    cell_timeout_s: float,
    report: Callable[[dict[str, Any]], None],
    *,
    cwd: Path,
    stop_on_timeout: bool = False,
) -> None:
    """Run *cells* in order in a new *kernel_name* kernel started in *cwd*; after each, *report*
    gets its outputs and execution count. A kernel that dies ends the run (the cells after it
    are not reported, so they read as not run)."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name}
    nb.cells = [nbformat.v4.new_code_cell(cell.source) for cell in cells]
    message = f"the cell ran longer than {cell_timeout_s:g} s and was interrupted"
    replies: dict[int, dict[str, Any]] = {}

    def keep_reply(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        replies[cell_index] = execute_reply.get("content", {})

    client = NotebookClient(
        nb,
        km=AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=str(cwd / "kernel")),
        timeout=max(1, round(cell_timeout_s)),
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": CellTimeout.__name__,
            "evalue": message,
            "traceback": [f"{CellTimeout.__name__}: {message}"],
        },
        allow_errors=True,
        on_cell_executed=keep_reply,
        resources={"metadata": {"path": str(cwd)}},
    )
    with client.setup_kernel(cwd=str(cwd)):
        for number, (cell, spec) in enumerate(zip(nb.cells, cells, strict=True)):
            try:
                client.execute_cell(cell, number)
            except DeadKernelError:
                return
            outputs = [dict(output) for output in cell.outputs]
            reply = replies.get(number, {})
            timed_out = reply.get("ename") == CellTimeout.__name__
            failed = reply.get("status") == "error"
            if timed_out or (failed and not any(o["output_type"] == "error" for o in outputs)):
                outputs.append(  # the reply said error and no output did: as nbgrader records it
                    {
                        "output_type": "error",
                        "ename": reply.get("ename", "Error"),
                        "evalue": reply.get("evalue", ""),
                        "traceback": list(reply.get("traceback", [])),
                    }
                )
            report(
                {
                    "index": spec.index,
                    "execution_count": cell.get("execution_count"),
                    "outputs": outputs,
                    "notes": [],
                }
            )
            if stop_on_timeout and timed_out:
                return
