"""Simulated learners working through a released workshop: Checks, then a submission.

Each learner has a skill drawn with a seed. For every exercise they write an answer, press
Check, and while it fails try again (a wrong answer, one that raises, then the reference
solution) until it passes or they give up. Their code runs in a namespace of its own, cell by
cell in notebook order, as in a kernel; Checks go through the learner module's own test runner
and event sender, so the board receives exactly what real learners' kernels would send.
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
import time
from dataclasses import dataclass, field
from typing import Any

import nbformat

from extensions.check_tests import run_visible_tests
from extensions.events import EventSender, new_event

__all__ = ["LearnerRun", "answers", "simulate_learner"]

MISTAKES = ("wrong", "raises")


def answers(source: nbformat.NotebookNode) -> dict[str, dict[str, str]]:
    """For each solution cell: its correct, wrong (returns nothing) and raising versions."""
    variants: dict[str, dict[str, str]] = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("solution") and cell.cell_type == "code"):
            continue
        lines = [line for line in cell.source.splitlines() if "SOLUTION" not in line]
        head = [line for line in lines if line.lstrip().startswith(("def ", "import ", "from "))]
        body = "    " if any(line.startswith("def ") for line in head) else ""
        variants[meta["grade_id"]] = {
            "correct": "\n".join(lines),
            "wrong": "\n".join([*head, f"{body}return None" if body else "pass"]),
            "raises": "\n".join([*head, f"{body}raise ValueError('not sure yet')"]),
        }
    return variants


@dataclass(frozen=True)
class _Context:
    workshop: str
    notebook: str
    sender: EventSender | None
    rng: random.Random
    skill: float
    pause_s: tuple[float, float]


@dataclass
class LearnerRun:
    learner: str
    checks: int = 0
    passed: set[str] = field(default_factory=set)
    notebook: nbformat.NotebookNode | None = None


def simulate_learner(
    learner: str,
    released: nbformat.NotebookNode,
    notebook: str,
    workshop: str,
    variants: dict[str, dict[str, str]],
    sender: EventSender | None,
    rng: random.Random,
    pause_s: tuple[float, float] = (0.0, 0.0),
) -> LearnerRun:
    """Work through *released* like a learner; return what they did and their final notebook."""
    context = _Context(workshop, notebook, sender, rng, rng.uniform(0.3, 0.95), pause_s)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    final = copy.deepcopy(released)
    run = LearnerRun(learner, notebook=final)
    pending: str | None = None
    for cell in final.cells:
        if cell.cell_type != "code":
            continue
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if key in variants:
            pending = key
            continue
        tests = cell.metadata.get("nbgrader", {}).get("grade")
        if tests or "workshop-check" in cell.metadata.get("tags", []):
            if tests and pending is not None:
                choice = _work_on(cell, variants[pending], namespace, run, context)
                _solution_cell(final, pending).source = variants[pending][choice]
                pending = None
            continue
        _execute(cell.source, namespace)
    return run


def _work_on(
    test_cell: nbformat.NotebookNode,
    variants: dict[str, str],
    namespace: dict[str, Any],
    run: LearnerRun,
    context: _Context,
) -> str:
    """Try one exercise until it passes or the learner gives up; return their last answer."""
    exercise = test_cell.metadata["nbgrader"]["grade_id"]
    points = float(test_cell.metadata["nbgrader"]["points"])
    rng = context.rng
    choice = "correct"
    for attempt in range(1, 6):
        choice = "correct" if rng.random() < context.skill else rng.choice(MISTAKES)
        _execute(variants[choice], namespace)
        time.sleep(rng.uniform(*context.pause_s))
        result = run_visible_tests(exercise, test_cell.source, points, namespace)
        run.checks += 1
        if context.sender is not None:
            context.sender.send(
                new_event(
                    learner=run.learner,
                    workshop=context.workshop,
                    notebook=context.notebook,
                    exercise=exercise,
                    passed=result.passed,
                    points=result.points,
                    max_points=result.max_points,
                    attempt=attempt,
                )
            )
        if result.passed:
            run.passed.add(exercise)
            break
        if rng.random() > context.skill + 0.2:
            break  # gives up for now
    return choice


def _solution_cell(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == key)


def _execute(code: str, namespace: dict[str, Any]) -> None:
    """Run one cell's code as a kernel would, output discarded, errors shown nowhere."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile("\n".join(lines), "<cell>", "exec"), namespace)
        except Exception:  # noqa: BLE001 - a learner's failing cell does not stop the notebook
            return
