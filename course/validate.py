"""Prove a source workshop is sound before learners see it.

For every notebook: the cell metadata is well formed; for every declared parameter set, the
reference solution earns full marks on every autograded test and the learner's stub (with the
full tests, hidden ones included, as grading will run them) earns nothing; and the learner
version leaks neither solution nor hidden test text.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from course.cells import autograded_tests, grade_id, is_solution
from course.check_cells import check_notebook
from course.errors import NotebookError
from course.execute import ExecutionJob, ExecutionResult, execute_notebooks
from course.layout import source_notebooks
from course.notebook_io import read_notebook
from course.parameterise import parameter_sets, parameterise
from course.problems import Problem
from course.progress import Progress, SilentProgress
from course.release import generate_learner_version
from course.restore_tests import restore_tests
from course.score import score_cells
from course.settings import Markers, Settings

__all__ = ["Run", "ValidationReport", "validate_workshop"]

DEFAULT_SET = "defaults"
SOLUTION, STUB = "solution", "stub"


@dataclass(frozen=True)
class Run:
    """One execution: a notebook's solution or stub, with one parameter set."""

    notebook: str
    parameter_set: str
    version: str
    points: float
    max_points: float

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class ValidationReport:
    workshop: str
    notebooks: tuple[str, ...]
    runs: tuple[Run, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "workshop": self.workshop,
            "ok": self.ok,
            "notebooks": list(self.notebooks),
            "runs": [run.to_json() for run in self.runs],
            "problems": [problem.to_json() for problem in self.problems],
        }


@dataclass(frozen=True)
class _Plan:
    label: str
    parameter_set: str
    version: str
    source: NotebookNode


def validate_workshop(
    settings: Settings, workshop: str, progress: Progress | None = None
) -> ValidationReport:
    """Check *workshop* statically, then run it; every problem found is in the report."""
    progress = progress or SilentProgress()
    paths = source_notebooks(settings, workshop)
    labels = tuple(settings.relative(p) for p in paths)
    sources: dict[str, NotebookNode] = {}
    problems: list[Problem] = []
    for path, label in zip(paths, labels, strict=True):
        try:
            sources[label] = read_notebook(path, label)
        except NotebookError as error:
            problems.append(Problem(label, "", str(error).removeprefix(f"{label}: ")))
            continue
        problems += check_notebook(sources[label], label, settings.markers)
    if problems:
        return ValidationReport(workshop, labels, problems=tuple(problems))

    with tempfile.TemporaryDirectory(prefix="workshop-validate-") as temp:
        released = generate_learner_version(settings, workshop, {}, Path(temp), database=False)
        stubs = {label: read_notebook(released / Path(label).name, label) for label in sources}
        for label, source in sources.items():
            problems += _leaks(source, stubs[label], label, settings.markers)
        plans, jobs = _plan_runs(settings, workshop, sources, stubs, released, Path(temp))
        progress.start(len(jobs), f"validate {workshop}")
        results = execute_notebooks(
            jobs,
            kernel_name=settings.kernel_name,
            cell_timeout_s=settings.cell_timeout_s,
            on_done=lambda i: progress.advance(f"{plans[i].label} [{plans[i].parameter_set}]"),
        )
    runs = []
    for plan, result in zip(plans, results, strict=True):
        run, found = _judge(plan, result, stderr_fails=settings.stderr_fails)
        runs.append(run)
        problems += found
    return ValidationReport(workshop, labels, tuple(runs), tuple(problems))


def _plan_runs(
    settings: Settings,
    workshop: str,
    sources: Mapping[str, NotebookNode],
    stubs: Mapping[str, NotebookNode],
    released: Path,
    temp: Path,
) -> tuple[list[_Plan], list[ExecutionJob]]:
    plans: list[_Plan] = []
    jobs: list[ExecutionJob] = []
    for label, source in sources.items():
        graded_stub = restore_tests(stubs[label], source)
        sets = parameter_sets(source) or {DEFAULT_SET: {}}
        for set_name, values in sets.items():
            for version, nb, folder in (
                (SOLUTION, source, settings.source_dir / workshop),
                (STUB, graded_stub, released),
            ):
                cwd = temp / f"run-{len(jobs)}"
                shutil.copytree(folder, cwd, ignore=shutil.ignore_patterns("*.ipynb"))
                plans.append(_Plan(label, set_name, version, source))
                jobs.append(ExecutionJob(parameterise(nb, values) if values else nb, cwd))
    return plans, jobs


def _judge(
    plan: _Plan, result: ExecutionResult, *, stderr_fails: bool
) -> tuple[Run, list[Problem]]:
    scores = {s.grade_id: s for s in score_cells(result.nb, stderr_fails=stderr_fails)}
    tests = autograded_tests(plan.source)
    completed = result.failure is None
    earned = sum(scores[k].points or 0.0 for k in tests if k in scores and completed)
    possible = sum(float(cell.metadata.nbgrader["points"]) for cell in tests.values())
    run = Run(plan.label, plan.parameter_set, plan.version, earned, possible)
    context = f"with parameter set '{plan.parameter_set}'"
    if result.failure is not None:
        where = "" if plan.version == SOLUTION else "learner version"
        message = f"the {plan.version} could not run {context}: {result.failure}"
        return run, [Problem(plan.label, where, message)]
    problems = _solution_errors(plan, result.nb, context) if plan.version == SOLUTION else []
    for key in tests:
        score = scores.get(key)
        if score is None:
            continue
        where = f"grade id '{key}'"
        if plan.version == SOLUTION and score.points != score.max_points:
            reason = score.failure or f"earned {score.points:g} of {score.max_points:g} points"
            problems.append(
                Problem(
                    plan.label,
                    where,
                    f"the reference solution fails this test {context} ({reason}); "
                    "fix the solution or the test",
                )
            )
        elif plan.version == STUB and (score.points or 0) > 0:
            problems.append(
                Problem(
                    plan.label,
                    where,
                    f"this test passes on the learner's stub {context} "
                    f"({score.points:g} of {score.max_points:g} points); "
                    "make it fail unless the exercise is solved",
                )
            )
    return run, problems


def _solution_errors(plan: _Plan, executed: NotebookNode, context: str) -> list[Problem]:
    """Errors raised by the reference solution's own cells, named by cell and line: the test
    below would only report the `NameError` they cause."""
    numbers = {grade_id(c): n for n, c in enumerate(plan.source.cells, start=1) if grade_id(c)}
    problems = []
    for cell in executed.cells:
        if cell.cell_type != "code" or not is_solution(cell):
            continue
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            key, line = grade_id(cell), _error_line(output)
            where = f"cell {numbers.get(key, '?')} (grade id '{key}')"
            where += f", line {line}" if line else ""
            problems.append(
                Problem(
                    plan.label,
                    where,
                    f"the reference solution raises {output.ename}: {output.evalue} {context}; "
                    "fix the solution",
                )
            )
    return problems


def _error_line(output: NotebookNode) -> int | None:
    """The line of the cell an error output points at (IPython writes `Cell In[n], line L`)."""
    text = "\n".join(output.get("traceback", []))
    found = re.findall(r"(?:Cell In\[\d+\]|<ipython-input-[^>]*>), line (\d+)", _plain(text))
    found = found or re.findall(r"line (\d+)", str(output.get("evalue", "")))
    return int(found[-1]) if found else None


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _leaks(source: NotebookNode, stub: NotebookNode, label: str, markers: Markers) -> list[Problem]:
    """Solution or hidden-test lines of *source* that appear anywhere in the learner version
    *stub*: in the cell they came from, or pasted into any other cell, markdown included.

    A line the source's code also shows outside every region (an `import` a setup cell makes
    too) is not secret, nor is one with fewer than three letters or digits (a lone `)`); text
    cells never make a line public: a solution pasted into an explanation is a leak.
    """
    problems = []
    for marker in (markers.begin_solution, markers.begin_hidden):
        if any(marker in cell.source for cell in stub.cells):
            problems.append(
                Problem(label, "learner version", f"still contains '{marker}'; check the markers")
            )
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in source.cells:
        cell_inside, cell_outside = _split_regions(cell.source, markers)
        inside |= cell_inside
        if cell.cell_type == "code":
            outside |= cell_outside
    secret = {line for line in inside - outside if len(re.sub(r"\W", "", line)) >= 3}
    numbers = {c.get("id"): n for n, c in enumerate(source.cells, start=1)}
    for number, cell in enumerate(stub.cells, start=1):
        leaked = secret & _lines(cell.source)
        if leaked:
            key = grade_id(cell)
            where = (
                f"cell {numbers[cell.get('id')]}"
                if cell.get("id") in numbers
                else f"learner version cell {number}"
            ) + (f" (grade id '{key}')" if key else "")
            example = sorted(leaked)[0]
            problems.append(
                Problem(
                    label,
                    where,
                    f"the learner version still shows {len(leaked)} solution or hidden test "
                    f"line(s), e.g. {example!r}; put them between the markers",
                )
            )
    return problems


def _split_regions(source: str, markers: Markers) -> tuple[set[str], set[str]]:
    inside: set[str] = set()
    outside: set[str] = set()
    depth = 0
    for line in source.splitlines():
        if markers.begin_solution in line or markers.begin_hidden in line:
            depth += 1
        elif markers.end_solution in line or markers.end_hidden in line:
            depth = max(0, depth - 1)
        elif line.strip():
            (inside if depth else outside).add(line.strip())
    return inside, outside


def _lines(source: str) -> set[str]:
    return {line.strip() for line in source.splitlines() if line.strip()}
