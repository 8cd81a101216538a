"""Make a cohort of submitted notebooks for a released workshop (benchmarks and demos).

Each simulated learner answers each exercise correctly, leaves it blank, or gets it wrong
(returns nothing), drawn with a seed, so runs are repeatable.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import nbformat

WEIGHTS = {"correct": 0.7, "blank": 0.15, "wrong": 0.15}


def _answer(source_cell: nbformat.NotebookNode, choice: str, stub: str) -> str:
    if choice == "blank":
        return stub
    lines = [line for line in source_cell.source.splitlines() if "SOLUTION" not in line]
    if choice == "wrong":
        head = [line for line in lines if line.lstrip().startswith(("def ", "import ", "from "))]
        indent = "    " if any(line.startswith("def ") for line in head) else ""
        return "\n".join([*head, f"{indent}return None" if indent else "pass"])
    return "\n".join(lines)


def make_cohort(course: Path, workshop: str, learners: int, seed: int = 0) -> list[str]:
    """Write `var/submitted/<learner>/<workshop>/` for *learners* learners; return their ids."""
    rng = random.Random(seed)
    ids = [f"learner{i:03d}" for i in range(learners)]
    for notebook in sorted((course / "release" / workshop).glob("*.ipynb")):
        released = nbformat.read(notebook, 4)
        source = nbformat.read(course / "source" / workshop / notebook.name, 4)
        solutions = {
            c.metadata["nbgrader"]["grade_id"]: c
            for c in source.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
        }
        for learner in ids:
            nb = copy.deepcopy(released)
            for cell in nb.cells:
                key = cell.metadata.get("nbgrader", {}).get("grade_id")
                if key in solutions:
                    choice = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
                    cell.source = _answer(solutions[key], choice, cell.source)
            folder = course / "var" / "submitted" / learner / workshop
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / notebook.name)
            (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    return ids
