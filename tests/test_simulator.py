"""The learner simulator (bench/simulate.py): one command, a repeatable cohort, honest answers."""

import json
import subprocess
import sys
import warnings

import nbformat
import pytest
from conftest import REPO, run_cli

sys.path.insert(0, str(REPO / "bench"))

from simulate import answer_sets

from extensions.check_tests import run_visible_tests

SIMULATE = REPO / "bench" / "simulate.py"
WORKSHOPS = sorted(p.stem for p in (REPO / "bench" / "answers").glob("*.json"))


def test_one_command_makes_a_repeatable_cohort(course_dir):
    assert run_cli("release", "ws", cwd=course_dir).returncode == 0
    logs = []
    for out in ("first", "second"):
        done = subprocess.run(
            [sys.executable, str(SIMULATE), "ws", "--learners", "5", "--seed", "3", "--out", out],
            cwd=course_dir,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        logs.append((course_dir / out / "checks.jsonl").read_text())
    assert logs[0] == logs[1] and logs[0]
    checks = [json.loads(line) for line in logs[0].splitlines()]
    assert {c["learner"] for c in checks} <= {f"learner{i:03d}" for i in range(5)}
    assert {"exercise", "attempt", "answer", "passed"} <= set(checks[0])
    submitted = sorted((course_dir / "var" / "submitted").glob("*/ws/nb.ipynb"))
    assert len(submitted) == 5
    nbformat.validate(nbformat.read(submitted[0], 4))
    missing = subprocess.run(
        [sys.executable, str(SIMULATE), "nope"], cwd=course_dir, capture_output=True, text=True
    )
    assert missing.returncode == 1 and "release it first" in missing.stderr


@pytest.mark.parametrize("workshop", WORKSHOPS)
def test_every_simulated_mistake_fails_a_visible_test_and_the_solution_passes(workshop):
    """Run each notebook as a learner would, trying every answer kind on each exercise before
    moving on with the reference solution. Warnings are shown, as in a kernel (not errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        _try_every_answer(workshop)


def _try_every_answer(workshop: str) -> None:
    for path in sorted((REPO / "release" / workshop).glob("*.ipynb")):
        answers = answer_sets(REPO, workshop, path.stem)
        namespace: dict = {"__name__": "__main__"}
        pending = None
        for cell in nbformat.read(path, 4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or "workshop-check" in cell.metadata.get("tags", []):
                continue
            if meta.get("grade_id") in answers:
                pending = meta["grade_id"]
            elif meta.get("grade") and pending is not None:
                kinds = {"partly": answers[pending]["partly"], "raises": answers[pending]["raises"]}
                kinds |= {f"mistake {i}": m for i, m in enumerate(answers[pending]["mistakes"])}
                for kind, code in kinds.items():
                    exec(code, namespace)
                    result = run_visible_tests(meta["grade_id"], cell.source, 1, namespace)
                    assert not result.passed, f"{workshop} {pending}: the {kind} answer passes"
                exec(answers[pending]["correct"], namespace)
                result = run_visible_tests(meta["grade_id"], cell.source, 1, namespace)
                assert result.passed, f"{workshop} {pending}: the solution fails {result.tests}"
                pending = None
            else:
                exec(cell.source, namespace)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
