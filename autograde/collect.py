"""Between the sandbox and the gradebook: jobs out, executed notebooks and findings back."""

from __future__ import annotations

import copy
import signal
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograde.cell_runner import BACKGROUND_THREAD, OUTPUT_LIMIT_TEXT, CellTimeout
from autograde.findings import Finding, findings_from_notes
from autograde.sandbox import EXIT_TIMEOUT, CellSpec, NotebookJob, NotebookRun
from course.cells import is_autograded_test
from course.settings import Settings

__all__ = ["apply_run", "job_for"]


def job_for(nb: NotebookNode, job_id: str, workdir: Path) -> NotebookJob:
    """The code cells of a prepared notebook as a sandbox job, in the notebook's kernel when
    that is not Python."""
    cells = tuple(
        CellSpec(index, cell.source, is_autograded_test(cell))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    )
    spec = nb.metadata.get("kernelspec") or {}
    language = str(spec.get("language") or "python").lower()
    return NotebookJob(job_id, workdir, cells, "" if language == "python" else str(spec["name"]))


def apply_run(
    nb: NotebookNode, run: NotebookRun, notebook: str, settings: Settings
) -> tuple[NotebookNode, list[Finding]]:
    """Put the sandbox's outputs into *nb*; cells that never ran get an error output.

    Then nbgrader's own post-execution steps run (its stderr `IgnorePattern`, if configured,
    and `LimitOutput`), so outputs are trimmed exactly as `nbgrader autograde` trims them.
    """
    nb = copy.deepcopy(nb)
    findings = _findings(run, notebook)
    reason = findings[-1].message if findings else "the notebook stopped before this cell"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        reported = run.cells.get(index)
        if index in run.repeated_cells or reported is None:
            cell.outputs = [_not_run(reason if reported is None else "results discarded")]
            cell.execution_count = None
            continue
        cell.outputs = [nbformat.from_dict(o) for o in reported["outputs"]]
        cell.execution_count = reported.get("execution_count")
    return _postprocess(nb, settings), findings


def _findings(run: NotebookRun, notebook: str) -> list[Finding]:
    found: list[Finding] = []
    errors = [
        o.get("ename")
        for cell in run.cells.values()
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    texts = [
        str(o.get("text", ""))
        for cell in run.cells.values()
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    if CellTimeout.__name__ in errors:
        found.append(Finding("timeout", "a cell ran past the per-cell time limit", notebook))
    if "MemoryError" in errors:
        found.append(Finding("memory-limit", "learner code ran out of memory", notebook))
    if any(OUTPUT_LIMIT_TEXT in t for t in texts):
        found.append(Finding("output-limit", "output was cut at the output limit", notebook))
    if any(BACKGROUND_THREAD in cell.get("notes", []) for cell in run.cells.values()):
        found.append(
            Finding("background-thread", "a learner thread kept running during tests", notebook)
        )
    found += findings_from_notes(
        (note for cell in run.cells.values() for note in cell.get("notes", [])), notebook
    )
    if run.repeated_cells:
        found.append(
            Finding("tampered-output", f"cells {list(run.repeated_cells)} reported twice", notebook)
        )
    if not run.completed:
        found.append(_ending(run, notebook))
    return found


def _ending(run: NotebookRun, notebook: str) -> Finding:
    code = run.exit_code
    if run.notes and code < 0:
        return Finding("sandbox-crashed", "; ".join(run.notes), notebook)
    if code == EXIT_TIMEOUT:
        return Finding("timeout", "the notebook ran past its time limit and was stopped", notebook)
    if code == 128 + signal.SIGXCPU:
        return Finding("cpu-limit", "learner code used up its CPU time", notebook)
    if code > 128:
        name = signal.Signals(code - 128).name if code - 128 in signal.valid_signals() else code
        return Finding("killed", f"the learner process was killed ({name})", notebook)
    return Finding("exited", f"learner code ended its process (exit code {code})", notebook)


def _not_run(reason: str) -> NotebookNode:
    output: NotebookNode = nbformat.v4.new_output(
        "error", ename="NotRun", evalue=f"not run: {reason}", traceback=[f"not run: {reason}"]
    )
    return output


def _postprocess(nb: NotebookNode, settings: Settings) -> NotebookNode:
    from nbgrader.preprocessors import IgnorePattern, LimitOutput

    config = settings.config_copy()
    resources: dict[str, Any] = {}
    for preprocessor in (IgnorePattern(config=config), LimitOutput(config=config)):
        nb, resources = preprocessor(nb, resources)
    return nb
