"""Build small nbgrader notebooks for tests: one helper per kind of cell."""

from __future__ import annotations

import itertools
from typing import Any

import nbformat
from nbformat import NotebookNode

_ids = itertools.count()


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None):
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _code(source: str, metadata: dict[str, Any] | None = None) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=metadata or {})
    cell.id = f"c{next(_ids)}"
    return cell


def code(source: str) -> NotebookNode:
    return _code(source)


def markdown(source: str) -> NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = f"m{next(_ids)}"
    return cell


def hint(source: str) -> NotebookNode:
    cell = markdown(source)
    cell.metadata["tags"] = ["hint"]
    return cell


def parameters(source: str) -> NotebookNode:
    return _code(source, {"tags": ["parameters"]})


def solution(grade_id: str, source: str) -> NotebookNode:
    """An autograded answer: a solution cell scored by the tests after it."""
    return _code(source, _meta(grade_id, grade=False, solution=True, locked=False, points=None))


def tests(grade_id: str, source: str, points: float = 1) -> NotebookNode:
    """An autograder tests cell (locked, graded)."""
    return _code(source, _meta(grade_id, grade=True, solution=False, locked=True, points=points))


def locked(grade_id: str, source: str) -> NotebookNode:
    """A read-only cell (setup code the learner must not change), not graded."""
    return _code(source, _meta(grade_id, grade=False, solution=False, locked=True, points=None))


def manual(grade_id: str, source: str = "YOUR ANSWER HERE", points: float = 2) -> NotebookNode:
    """A manually graded markdown answer."""
    cell = markdown(source)
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(*cells: NotebookNode, parameter_sets: dict[str, dict] | None = None) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    if parameter_sets is not None:
        nb.metadata["workshop"] = {"schema_version": 1, "parameter_sets": parameter_sets}
    nb.cells = list(cells)
    return nb


def good_notebook() -> NotebookNode:
    """A sound notebook: parameters, one exercise with visible and hidden tests, a reflection."""
    return notebook(
        markdown("# Squares"),
        parameters("n = 3"),
        solution(
            "square",
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
        ),
        tests(
            "square_tests",
            "assert square(n) == n * n\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
            "### END HIDDEN TESTS",
            points=2,
        ),
        manual("reflection"),
        parameter_sets={"small": {"n": 2}, "full": {"n": 30}},
    )
