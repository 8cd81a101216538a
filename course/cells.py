"""Read the metadata nbgrader and nbworkshop keep on cells and notebooks.

nbgrader marks cells under `metadata.nbgrader`; nbworkshop keeps its notebook-level data under
one versioned namespace, `metadata.workshop` (`schema_version`, `parameter_sets`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "HINT_TAG",
    "WORKSHOP_SCHEMA_VERSION",
    "autograded_tests",
    "cell_label",
    "grade_id",
    "is_autograded_test",
    "is_hint",
    "is_solution",
    "nbgrader_meta",
    "workshop_meta",
]

WORKSHOP_SCHEMA_VERSION = 1
HINT_TAG = "hint"


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_autograded_test(cell: NotebookNode) -> bool:
    """A code cell nbgrader scores from its outputs (graded, not a solution)."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_hint(cell: NotebookNode) -> bool:
    """A presenter's hint: a markdown cell tagged `hint` (released into the Check panel only)."""
    return cell.cell_type == "markdown" and HINT_TAG in cell.get("metadata", {}).get("tags", [])


def autograded_tests(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograded test cells of *nb* by grade id (the first one wins on duplicates)."""
    tests: dict[str, NotebookNode] = {}
    for cell in nb.cells:
        key = grade_id(cell)
        if key is not None and is_autograded_test(cell):
            tests.setdefault(key, cell)
    return tests


def cell_label(cell: NotebookNode, index: int) -> str:
    """How reports name a cell: by grade id when it has one, else by position (1-based)."""
    key = grade_id(cell)
    return f"grade id '{key}'" if key else f"cell {index + 1}"


def workshop_meta(nb: NotebookNode) -> dict[str, Any]:
    meta = nb.metadata.get("workshop", {})
    return meta if isinstance(meta, dict) else {}
