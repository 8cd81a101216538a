"""Give every autograded exercise of a learner version a Check cell, and move hints out of sight.

nbgrader's generate step has already stubbed the solutions and removed the hidden tests; this
step runs after it. Each autograded test cell gets a read-only cell below it calling
`extensions.learner.check("<grade id>")`, and the presenter's hint cells (markdown cells tagged
`hint`) leave the notebook for `.workshop/checks.json`, which the Check widget reads from the
notebook's folder: the visible test code, points and hints of every exercise, and the session
board's address when the release was made for one, and each exercise's title (the heading above
it) and the names its solution makes. The file holds nothing the learner version does not
already show, except the hints, so it can never leak a hidden test. Cells that may raise before
anything is solved are tagged for Run All (`course.cell_names`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from course.cell_names import defined_names, exercise_title, names_needing
from course.cells import HINT_TAG, grade_id, is_autograded_test, is_hint, is_solution, nbgrader_meta
from course.workshop_files import CHECKS_SCHEMA_VERSION

__all__ = [
    "CHECK_TAG",
    "HINT_TAG",
    "RAISES_TAG",
    "Exercise",
    "add_check_cells",
    "checks_document",
    "hint_cells_without_exercise",
]

CHECK_TAG = "workshop-check"
RAISES_TAG = "raises-exception"
"""Jupyter's own tag: JupyterLab's Run All (and nbclient) go on past an error in such a cell."""


@dataclass(frozen=True)
class Exercise:
    """What the Check widget needs about one autograded test cell."""

    grade_id: str
    points: float
    tests: str
    hints: tuple[str, ...]
    title: str
    stubs: tuple[str, ...] = ()
    """The released solution cells: a kernel whose functions still come from them has not
    attempted the exercise yet."""
    defines: tuple[str, ...] = ()
    """What the solution cells define."""
    names: tuple[str, ...] = ()
    """Names that exist only once this exercise is solved (its functions and what is made
    from them), so the kernel can say which exercise a failing cell waits for."""

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.grade_id,
            "points": self.points,
            "tests": self.tests,
            "hints": list(self.hints),
            "title": self.title,
            "stubs": list(self.stubs),
            "defines": list(self.defines),
            "names": list(self.names),
        }


def add_check_cells(nb: NotebookNode) -> tuple[NotebookNode, tuple[Exercise, ...]]:
    """Return a copy of the learner version *nb* ready for Run All, and its exercises in order.

    A Check cell follows each autograded test cell; hint cells leave (a hint belongs to the
    next autograded test cell below it, several are revealed in the order written). Solution
    cells, test cells and every cell that needs an exercise solved get Jupyter's
    `raises-exception` tag, so JupyterLab's Run All goes on past their errors to every Check.
    """
    nb = copy.deepcopy(nb)
    kept: list[NotebookNode] = []
    hints: dict[int, tuple[str, ...]] = {}
    waiting: list[str] = []
    for cell in nb.cells:
        if is_hint(cell):
            waiting.append(cell.source.strip())
            continue
        if is_autograded_test(cell):
            hints[len(kept)] = tuple(waiting)
            waiting = []
        kept.append(cell)
    found = _find_exercises(kept, hints)
    needing, readers = names_needing(
        kept, {name: e.grade_id for e in found.values() for name in e.defines}
    )
    cells: list[NotebookNode] = []
    exercises: list[Exercise] = []
    for index, cell in enumerate(kept):
        if index in readers or index in found or (cell.cell_type == "code" and is_solution(cell)):
            _add_tag(cell, RAISES_TAG)
        cells.append(cell)
        exercise = found.get(index)
        if exercise is not None:
            names = tuple(sorted(n for n, key in needing.items() if key == exercise.grade_id))
            exercises.append(dataclasses.replace(exercise, names=names))
            cells.append(_check_cell(exercise.grade_id, with_id=nb.nbformat_minor >= 5))
    nb.cells = cells
    return nb, tuple(exercises)


def _find_exercises(
    cells: list[NotebookNode], hints: dict[int, tuple[str, ...]]
) -> dict[int, Exercise]:
    """Each autograded test cell's exercise by the cell's index: its title (the heading above
    its solution) and the names its solution cells define (those since the previous test)."""
    found: dict[int, Exercise] = {}
    start = 0
    for index, cell in enumerate(cells):
        key = grade_id(cell)
        if key is None or not is_autograded_test(cell):
            continue
        solutions = [
            i for i in range(start, index) if cells[i].cell_type == "code" and is_solution(cells[i])
        ]
        names: frozenset[str] = frozenset().union(
            *(defined_names(cells[i].source) for i in solutions)
        )
        title = exercise_title(cells, start, solutions[0] if solutions else index) or key
        points = float(nbgrader_meta(cell).get("points", 0))
        stubs = tuple(cells[i].source for i in solutions)
        found[index] = Exercise(
            key, points, cell.source, hints[index], title, stubs, tuple(sorted(names)), ()
        )
        start = index + 1
    return found


def hint_cells_without_exercise(nb: NotebookNode) -> list[int]:
    """Indexes of hint cells with no autograded test cell below them (a presenter's mistake)."""
    waiting: list[int] = []
    for index, cell in enumerate(nb.cells):
        if is_hint(cell):
            waiting.append(index)
        elif is_autograded_test(cell):
            waiting = []
    return waiting


def checks_document(
    workshop: str,
    notebooks: dict[str, tuple[Exercise, ...]],
    board: str | None,
    *,
    stderr_fails: bool,
) -> str:
    """The text of `.workshop/checks.json` (stable: same input, same bytes).

    `stderr_fails` is written only when set, so the default release stays byte-identical.
    """
    document = {
        "schema_version": CHECKS_SCHEMA_VERSION,
        "workshop": workshop,
        "board": board,
        "notebooks": {
            name: [e.to_json() for e in exercises] for name, exercises in sorted(notebooks.items())
        },
    }
    if stderr_fails:
        document["stderr_fails"] = True
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _add_tag(cell: NotebookNode, tag: str) -> None:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def _check_cell(key: str, *, with_id: bool) -> NotebookNode:
    """A read-only cell showing the Check panel (a stable id keeps releases byte-identical)."""
    cell: NotebookNode = new_code_cell(
        f"from extensions.learner import check\n\ncheck({json.dumps(key)})"
    )
    if with_id:
        cell.id = "check-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)[:58]
    else:
        del cell["id"]
    cell.metadata = {"tags": [CHECK_TAG], "editable": False, "deletable": False}
    return cell
