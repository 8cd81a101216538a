"""Give every autograded exercise of a learner version a Check cell, and move hints out of sight.

nbgrader's generate step has already stubbed the solutions and removed the hidden tests; this
step runs after it. Each autograded test cell gets a read-only cell below it calling
`extensions.learner.check("<grade id>")`, and the presenter's hint cells (markdown cells tagged
`hint`) leave the notebook for `.workshop/checks.json`, which the Check widget reads from the
notebook's folder: the visible test code, points and hints of every exercise, and the session
board's address when the release was made for one. The file holds nothing the learner
version does not already show, except the hints, so it can never leak a hidden test.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from course.cells import HINT_TAG, grade_id, is_autograded_test, is_hint, nbgrader_meta
from course.workshop_files import CHECKS_SCHEMA_VERSION

__all__ = [
    "CHECK_TAG",
    "HINT_TAG",
    "Exercise",
    "add_check_cells",
    "checks_document",
    "hint_cells_without_exercise",
]

CHECK_TAG = "workshop-check"


@dataclass(frozen=True)
class Exercise:
    """What the Check widget needs about one autograded test cell."""

    grade_id: str
    points: float
    tests: str
    hints: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.grade_id,
            "points": self.points,
            "tests": self.tests,
            "hints": list(self.hints),
        }


def add_check_cells(nb: NotebookNode) -> tuple[NotebookNode, tuple[Exercise, ...]]:
    """Return a copy of the learner version *nb* with a Check cell after each autograded test
    cell and without hint cells, and the exercises in notebook order.

    A hint cell belongs to the next autograded test cell below it; several hints of one
    exercise are revealed in the order they are written.
    """
    nb = copy.deepcopy(nb)
    cells: list[NotebookNode] = []
    exercises: list[Exercise] = []
    hints: list[str] = []
    for cell in nb.cells:
        if is_hint(cell):
            hints.append(cell.source.strip())
            continue
        cells.append(cell)
        key = grade_id(cell)
        if key is None or not is_autograded_test(cell):
            continue
        points = float(nbgrader_meta(cell).get("points", 0))
        exercises.append(Exercise(key, points, cell.source, tuple(hints)))
        hints = []
        cells.append(_check_cell(key, with_id=nb.nbformat_minor >= 5))
    nb.cells = cells
    return nb, tuple(exercises)


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
