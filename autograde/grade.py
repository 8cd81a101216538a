"""`workshop grade`: autograde every submission of an assignment, sandboxed and in parallel.

The stages, each in its own module: find the submissions (`submissions`), restore what the
gradebook says each notebook must contain (`prepare`), run them in the sandbox (`sandbox`),
put the outputs back and trim them as nbgrader does (`collect`), then write each submission
once (`persist`). Only this coordinator touches the gradebook; learner code never can.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograde.collect import apply_run, job_for
from autograde.executor import Executor, open_executor
from autograde.findings import Finding
from autograde.inspect_files import inspect_files
from autograde.isolation import Limits
from autograde.learner_view import source_secrets
from autograde.persist import (
    GradedNotebook,
    graded_fingerprints,
    save_grades,
    write_autograded,
)
from autograde.prepare import ReferenceNotebook, load_reference, prepare_notebook
from autograde.redact import Secrets, redact_notebook
from autograde.sandbox import NotebookJob
from autograde.stage_files import stage_files
from autograde.submissions import Submission, find_submissions
from course.errors import NotebookError, WorkshopError
from course.gradebook import gradebook_label, open_gradebook
from course.layout import active_release
from course.notebook_io import read_notebook
from course.progress import Progress, SilentProgress
from course.score import CellScore, score_cells
from course.settings import Settings

__all__ = [
    "GradeReport",
    "NotebookScore",
    "SubmissionResult",
    "grade_assignment",
    "merged_report",
    "require_assignments",
]

GRADED, SKIPPED, FAILED = "graded", "skipped", "failed"
UNGRADABLE = frozenset({"invalid-notebook", "sandbox-crashed", "unsupported-kernel"})


@dataclass(frozen=True)
class NotebookScore:
    """A notebook's total, and the cell scores it is the sum of (none if it was not graded)."""

    notebook: str
    score: float
    max_score: float
    cells: tuple[CellScore, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "score": self.score, "max_score": self.max_score}


@dataclass(frozen=True)
class SubmissionResult:
    student: str
    status: str
    notebooks: tuple[NotebookScore, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def score(self) -> float:
        return sum(n.score for n in self.notebooks)

    @property
    def max_score(self) -> float:
        return sum(n.max_score for n in self.notebooks)

    def to_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "notebooks": [n.to_json() for n in self.notebooks],
            "problems": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True)
class GradeReport:
    assignment: str
    results: tuple[SubmissionResult, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.status != FAILED for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return merged_report([self])


def merged_report(reports: Sequence[GradeReport]) -> dict[str, Any]:
    """One JSON document for the reports of one `workshop grade` call, however many assignments."""
    return {
        "assignments": [r.assignment for r in reports],
        "ok": all(r.ok for r in reports),
        "warnings": sorted({w for r in reports for w in r.warnings}),
        "submissions": [
            {"assignment": r.assignment, **result.to_json()}
            for r in reports
            for result in r.results
        ],
    }


def require_assignments(settings: Settings, assignments: Sequence[str]) -> None:
    """Fail before any grading when one of *assignments* was never released into the gradebook."""
    with open_gradebook(settings) as gradebook:
        known = {a.name for a in gradebook.assignments}
    for assignment in assignments:
        if assignment not in known:
            raise _unknown_assignment(settings, assignment)


def _unknown_assignment(settings: Settings, assignment: str) -> WorkshopError:
    return WorkshopError(
        f"unknown assignment '{assignment}': it is not in the gradebook "
        f"{gradebook_label(settings)} of the course at {settings.root}; release it first "
        f"(`workshop release {assignment}`, or `nbgrader generate_assignment {assignment}` "
        "on an nbgrader course)"
    )


@dataclass
class _Pending:
    """A submission whose notebooks are out in the sandbox."""

    submission: Submission
    fingerprint: str
    waiting: set[str]
    executed: dict[str, NotebookNode] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    planned: bool = False


def grade_assignment(
    settings: Settings,
    assignment: str,
    *,
    students: Sequence[str] = (),
    workers: int = 2,
    cell_timeout_s: float | None = None,
    force: bool = False,
    progress: Progress | None = None,
    sandbox: Executor | None = None,
    on_result: Callable[[SubmissionResult], None] | None = None,
) -> GradeReport:
    """Grade the submissions of *assignment*; unchanged, already graded ones are skipped.

    Notebooks run where `c.Workshop.dask_scheduler` says (a Dask cluster, or this machine's
    sandbox with *workers* lanes); pass a *sandbox* entered earlier (see `open_executor`) to let
    it boot while settings load.
    *on_result* hears of each submission as soon as its grades are committed.
    """
    from nbgrader.api import MissingEntry

    progress = progress or SilentProgress()
    released = _released_notebooks(settings, assignment)
    with open_gradebook(settings) as gradebook:
        try:
            reference = load_reference(gradebook, assignment, released)
        except MissingEntry as error:
            raise _unknown_assignment(settings, assignment) from error
        done = graded_fingerprints(gradebook, assignment)
        secrets = {n: source_secrets(settings, assignment, n, released.get(n)) for n in reference}
        results: list[SubmissionResult] = []
        todo: list[tuple[Submission, str]] = []
        for submission in find_submissions(settings, assignment, students):
            fingerprint = submission.fingerprint(settings.max_file_bytes)
            if not force and done.get(submission.student) == fingerprint:
                results.append(SubmissionResult(submission.student, SKIPPED))
            else:
                todo.append((submission, fingerprint))
        if not todo:
            return GradeReport(assignment, tuple(sorted(results, key=lambda r: r.student)))
        with ExitStack() as stack:
            if sandbox is None:
                sandbox = stack.enter_context(
                    open_executor(
                        preload=settings.preload_modules,
                        figures=settings.figures,
                        workers=workers,
                        scheduler=settings.dask_scheduler,
                    )
                )
            progress.start(sum(len(s.notebooks) for s, _ in todo), f"grade {assignment}")
            pending: dict[str, _Pending] = {}
            owners: dict[str, tuple[str, str, Path]] = {}

            def finish(state: _Pending) -> None:
                results.append(_finish(settings, gradebook, state, reference, secrets))
                del pending[state.submission.student]
                if on_result is not None:
                    on_result(results[-1])

            def jobs() -> Iterator[NotebookJob]:
                """Prepared lazily, so preparing one notebook overlaps running others."""
                for submission, fingerprint in todo:
                    state = _Pending(submission, fingerprint, set())
                    pending[submission.student] = state
                    for name, job in _prepare(settings, sandbox, state, reference):
                        owners[job.id] = (submission.student, name, job.workdir)
                        yield job
                    state.planned = True
                    for _ in range(len(submission.notebooks) - len(state.executed)):
                        progress.advance(submission.student)
                    if not state.waiting:
                        finish(state)

            limits, hidden = _limits(settings, cell_timeout_s), _hidden_paths(settings)
            for run in sandbox.run(jobs(), limits=limits, hidden_paths=hidden):
                student, name, workdir = owners.pop(run.id)
                state = pending[student]
                executed, found = apply_run(state.executed[name], run, name, settings)
                state.executed[name] = executed
                state.findings += found
                state.waiting.discard(name)
                shutil.rmtree(workdir, ignore_errors=True)
                progress.advance(f"{student}/{name}")
                if state.planned and not state.waiting:
                    finish(state)
            warnings = tuple(sandbox.warnings)
    results.sort(key=lambda r: r.student)
    return GradeReport(assignment, tuple(results), warnings)


def _prepare(
    settings: Settings,
    sandbox: Executor,
    state: _Pending,
    reference: dict[str, ReferenceNotebook],
) -> Iterator[tuple[str, NotebookJob]]:
    """The sandbox jobs of one submission; problems found on the way go into *state*."""
    submission = state.submission
    submitted = {path.stem: path for path in submission.notebooks}
    for name in sorted(set(reference) - set(submitted)):
        state.findings.append(Finding("missing-notebook", f"{name}.ipynb not submitted", name))
    state.findings += inspect_files(submission.folder, settings.release_dir / submission.assignment)
    for name, path in sorted(submitted.items()):
        if name not in reference:
            state.findings.append(
                Finding("unknown-notebook", f"{path.name} is not part of the assignment", name)
            )
            continue
        unsupported = _unsupported_kernel(reference[name])
        if unsupported:
            state.findings.append(Finding("unsupported-kernel", unsupported, name))
            continue
        nb = _read_submitted(path, settings, state, name)
        if nb is None:
            continue
        try:
            prepared, found = prepare_notebook(nb, reference[name])
        except Exception as error:  # noqa: BLE001 - one bad notebook never stops the batch
            message = f"{path.name} could not be prepared: {type(error).__name__}: {error}"
            state.findings.append(Finding("invalid-notebook", message, name))
            continue
        state.findings += found
        state.executed[name] = prepared
        state.waiting.add(name)
        workdir = sandbox.workdir(f"{submission.student}-{name}")
        source = settings.source_dir / submission.assignment
        for finding in stage_files(settings, submission.folder, source, workdir):
            if finding not in state.findings:
                state.findings.append(finding)
        yield name, job_for(prepared, f"{submission.student}/{name}", workdir)


def _unsupported_kernel(reference: ReferenceNotebook) -> str:
    """Why this notebook's kernel cannot run here (empty when it can).

    Python runs in the warm sandbox; another kernel (bash, R, Julia) runs through nbclient in
    the same sandbox when it is installed here, and is refused naming it when it is not: its
    cells run as Python would score 0 everywhere.
    """
    from autograde.run_kernel import installed_kernels

    spec = reference.kernelspec or {}
    language = str(spec.get("language") or "python").lower()
    name = str(spec.get("name") or "python3")
    if language == "python" or name in installed_kernels():
        return ""
    label = spec.get("display_name") or name
    return (
        f"the notebook's kernel '{name}' ({label}, language {language}) is not installed where "
        "workshop grade runs; install it (`jupyter kernelspec list` shows what is) or grade this "
        "assignment with `nbgrader autograde` where it is"
    )


def _read_submitted(
    path: Path, settings: Settings, state: _Pending, name: str
) -> NotebookNode | None:
    """The submitted notebook, or None with that learner's `invalid-notebook` finding: whatever
    stands at *path* (a link, a folder, a FIFO, a device, a huge or unreadable file)."""
    try:
        return read_notebook(
            path,
            settings.relative(path),
            max_bytes=settings.max_file_bytes,
            follow_symlinks=False,
        )
    except NotebookError as error:
        state.findings.append(Finding("invalid-notebook", str(error), name))
        return None


def _finish(
    settings: Settings,
    gradebook: Any,
    state: _Pending,
    reference: dict[str, ReferenceNotebook],
    secrets: dict[str, Secrets],
) -> SubmissionResult:
    submission = state.submission
    failed = any(f.code in UNGRADABLE for f in state.findings)
    graded = {
        name: GradedNotebook(nb, score_cells(nb, stderr_fails=settings.stderr_fails))  # once
        for name, nb in state.executed.items()
        if not any(f.code in UNGRADABLE and f.notebook == name for f in state.findings)
    }
    stored = {
        name: GradedNotebook(redact_notebook(done.notebook, secrets[name]), done.scores)
        for name, done in graded.items()
    }
    write_autograded(settings, submission, stored, settings.source_dir / submission.assignment)
    save_grades(gradebook, settings, submission, graded, state.fingerprint, mark_graded=not failed)
    scores = tuple(
        _notebook_score(graded.get(name), notebook) for name, notebook in reference.items()
    )
    return SubmissionResult(
        submission.student, FAILED if failed else GRADED, scores, tuple(state.findings)
    )


def _notebook_score(graded: GradedNotebook | None, reference: ReferenceNotebook) -> NotebookScore:
    cells = () if graded is None else graded.scores
    earned = sum(s.points or 0.0 for s in cells)
    return NotebookScore(reference.name, earned, reference.max_score, cells)


def _limits(settings: Settings, cell_timeout_s: float | None) -> Limits:
    return Limits(
        cell_timeout_s=float(cell_timeout_s or settings.cell_timeout_s),
        notebook_timeout_s=float(settings.notebook_timeout_s),
        cpu_time_s=int(settings.notebook_timeout_s),
        memory_mb=settings.memory_mb,
        processes=settings.max_processes,
        file_size_mb=settings.file_size_mb,
        output_mb=settings.output_mb,
        stop_on_timeout=not settings.interrupt_on_timeout,
    )


def _hidden_paths(settings: Settings) -> list[str]:
    """Course folders graded code must not see: sources, every learner's work, the gradebook."""
    paths = [
        settings.source_dir,
        settings.submitted_dir,
        settings.submission_history_dir,
        settings.autograded_dir,
        settings.feedback_dir,
        settings.root / ".git",
        *settings.hidden_paths,
    ]
    if settings.db_url.startswith("sqlite:///"):
        paths.append(Path(settings.db_url.removeprefix("sqlite:///")).parent)
    exchange = settings.nbgrader_config.get("Exchange", {}).get("root", "/srv/nbgrader/exchange")
    paths.append(Path(exchange))
    return [str(p) for p in paths if p.is_dir()]


def _released_notebooks(settings: Settings, assignment: str) -> dict[str, NotebookNode]:
    released = {}
    for path in sorted(active_release(settings, assignment).glob("*.ipynb")):
        try:
            released[path.stem] = read_notebook(path)
        except NotebookError:
            continue
    return released
