"""Simulated learners for any released workshop: Check sequences and submitted notebooks.

Every exercise (solution cell) has a set of answers: the reference solution (`correct`), the
presenter's `partly` correct answer and common `mistakes` from `bench/answers/<workshop>.json`
(a plain wrong answer when the file has none), one that `raises`, one that `loops` forever, and
the untouched stub (`blank`). A learner has a skill drawn with a seed. Working through the
notebook, they write an answer to each exercise, press Check, and try again while it fails,
until it passes or they give up; their code runs cell by cell in a namespace of their own, as
in a kernel, and each Check goes through the learner module's own test runner (and event
sender, when given one), so a board receives what real kernels send. Answers that loop are
never run here (a learner would interrupt them): they only end up in submitted notebooks.

    python bench/simulate.py WORKSHOP [--course .] [--learners 60] [--seed 0] [--loops 0.02]

writes `var/submitted/<learner>/<workshop>/` for each learner and `checks.jsonl` (every Check:
learner, exercise, attempt, answer kind, passed) under --out.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from extensions.check_tests import run_visible_tests
from extensions.events import EventSender, new_event

__all__ = ["LearnerRun", "answer_sets", "make_cohort", "simulate_learner"]

ANSWERS = Path(__file__).resolve().parent / "answers"
"""Per workshop, per solution grade id: `{"partly": code, "mistakes": [code, ...]}`."""
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"


def answer_sets(course: Path, workshop: str, notebook: str) -> dict[str, dict[str, Any]]:
    """Every kind of answer for each solution cell of *notebook* (see the module docstring)."""
    source = nbformat.read(course / "source" / workshop / f"{notebook}.ipynb", 4)
    released = nbformat.read(course / "release" / workshop / f"{notebook}.ipynb", 4)
    stubs = {_grade_id(c): c.source for c in released.cells if _grade_id(c)}
    written = ANSWERS / f"{workshop}.json"
    extra = json.loads(written.read_text()) if written.is_file() else {}
    sets: dict[str, dict[str, Any]] = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("solution") and cell.cell_type == "code"):
            continue
        key = meta["grade_id"]
        lines = [line for line in cell.source.splitlines() if "SOLUTION" not in line]
        head = [line for line in lines if line.lstrip().startswith(("def ", "import ", "from "))]
        body = "    " if any(line.startswith("def ") for line in head) else ""
        wrong = "\n".join([*head, f"{body}return None" if body else "pass"])
        given = extra.get(key, {})
        sets[key] = {
            "correct": "\n".join(lines),
            "partly": given.get("partly", wrong),
            "mistakes": given.get("mistakes") or [wrong],
            "raises": "\n".join([*head, f"{body}raise ValueError('not sure yet')"]),
            "loops": "\n".join([*head, f"{body}while True:", f"{body}    pass"]),
            "blank": stubs.get(key, cell.source),
        }
    return sets


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
    checks: list[dict[str, Any]] = field(default_factory=list)
    notebook: nbformat.NotebookNode | None = None


def simulate_learner(
    learner: str,
    released: nbformat.NotebookNode,
    notebook: str,
    workshop: str,
    answers: dict[str, dict[str, Any]],
    sender: EventSender | None,
    rng: random.Random,
    pause_s: tuple[float, float] = (0.0, 0.0),
    loops: float = 0.0,
) -> LearnerRun:
    """Work through *released* like a learner; return their Checks and final notebook.

    With probability *loops* an exercise's final answer is one that never returns.
    """
    context = _Context(workshop, notebook, sender, rng, rng.uniform(0.3, 0.95), pause_s)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    final = copy.deepcopy(released)
    run = LearnerRun(learner, notebook=final)
    pending: str | None = None
    for cell in final.cells:
        if cell.cell_type != "code":
            continue
        key = _grade_id(cell)
        if key in answers:
            pending = key
            continue
        tests = cell.metadata.get("nbgrader", {}).get("grade")
        if tests or "workshop-check" in cell.metadata.get("tags", []):
            if tests and pending is not None:
                code = _work_on(cell, answers[pending], namespace, run, context)
                if rng.random() < loops:
                    code = answers[pending]["loops"]
                _solution_cell(final, pending).source = code
                pending = None
            continue
        _execute(cell.source, namespace)
    return run


def make_cohort(
    course: Path, workshop: str, learners: int, seed: int = 0, loops: float = 0.0
) -> list[str]:
    """Write `var/submitted/<learner>/<workshop>/` for *learners* simulated learners; return
    their ids (the Checks they made are in each run, see `simulate_learner`)."""
    return [run.learner for run in _cohort_runs(course, workshop, learners, seed, loops)]


def _cohort_runs(
    course: Path, workshop: str, learners: int, seed: int, loops: float
) -> list[LearnerRun]:
    rng = random.Random(seed)
    ids = [f"learner{i:03d}" for i in range(learners)]
    runs = []
    for path in sorted((course / "release" / workshop).glob("*.ipynb")):
        released = nbformat.read(path, 4)
        answers = answer_sets(course, workshop, path.stem)
        for learner in ids:
            run = simulate_learner(
                learner, released, path.stem, workshop, answers, None, rng, loops=loops
            )
            folder = course / "var" / "submitted" / learner / workshop
            folder.mkdir(parents=True, exist_ok=True)
            assert run.notebook is not None
            nbformat.write(run.notebook, folder / path.name)
            (folder / "timestamp.txt").write_text(TIMESTAMP)
            runs.append(run)
    return runs


def _work_on(
    test_cell: nbformat.NotebookNode,
    answers: dict[str, Any],
    namespace: dict[str, Any],
    run: LearnerRun,
    context: _Context,
) -> str:
    """Try one exercise until it passes or the learner gives up; return their last answer."""
    exercise = test_cell.metadata["nbgrader"]["grade_id"]
    points = float(test_cell.metadata["nbgrader"]["points"])
    rng = context.rng
    wrong = [("partly", answers["partly"]), ("raises", answers["raises"])]
    wrong += [("mistake", code) for code in answers["mistakes"]]
    if rng.random() > context.skill:
        return str(answers["blank"])  # skipped this one
    code = str(answers["correct"])
    for attempt in range(1, 6):
        kind, code = ("correct", answers["correct"])
        if rng.random() > context.skill:
            kind, code = rng.choice(wrong)
        _execute(code, namespace)
        time.sleep(rng.uniform(*context.pause_s))
        result = run_visible_tests(exercise, test_cell.source, points, namespace)
        run.checks.append(
            {"exercise": exercise, "attempt": attempt, "answer": kind, "passed": result.passed}
        )
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
        if result.passed or rng.random() > context.skill + 0.2:
            break  # done, or gives up for now
    return str(code)


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    key = cell.metadata.get("nbgrader", {}).get("grade_id")
    return str(key) if key else None


def _solution_cell(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if _grade_id(c) == key)


def _execute(code: str, namespace: dict[str, Any]) -> None:
    """Run one cell's code as a kernel would, output discarded, errors shown nowhere."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.suppress(Exception),  # a failing cell does not stop the notebook
    ):
        exec(compile("\n".join(lines), "<cell>", "exec"), namespace)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workshop")
    parser.add_argument("--course", type=Path, default=Path(), help="released course (default .)")
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loops", type=float, default=0.02, help="share of answers that hang")
    parser.add_argument("--out", type=Path, default=None, help="checks.jsonl folder (default var)")
    args = parser.parse_args()
    if not (args.course / "release" / args.workshop).is_dir():
        sys.exit(f"error: {args.course / 'release' / args.workshop} not found; release it first")
    runs = _cohort_runs(args.course, args.workshop, args.learners, args.seed, args.loops)
    out = args.out or args.course / "var"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "checks.jsonl").open("w") as log:
        for run in runs:
            for check in run.checks:
                log.write(json.dumps({"learner": run.learner, **check}) + "\n")
    checks = sum(len(r.checks) for r in runs)
    print(
        f"{args.learners} learners of {args.workshop}: submissions in "
        f"{args.course / 'var' / 'submitted'}, {checks} Checks in {out / 'checks.jsonl'}"
    )


if __name__ == "__main__":
    main()
