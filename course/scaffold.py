"""`workshop new`: start a workshop from a small template that validates and releases as it is.

A first-time presenter copies what they see. The template holds one of everything a workshop
needs, each cell saying what it is for: a title with learning goals, a `parameters` cell with
two declared parameter sets, one exercise (solution region, a visible and a hidden test, a
hint) and one reflection answered in words and graded by a person.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.errors import UsageError, WorkshopError
from course.notebook_io import write_notebook
from course.settings import Settings

__all__ = ["WORKSHOP_NAME", "scaffold_workshop"]

WORKSHOP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""Workshop names are folder names and URL parts: lower case, digits, '-' and '_'."""

NBGRADER_SCHEMA = 3


def scaffold_workshop(settings: Settings, name: str, title: str | None = None) -> Path:
    """Write `source/<name>/<name>.ipynb` from the template and return its path.

    Refused when the name is not a plain folder name or the workshop exists: nothing of a
    presenter's work is ever overwritten.
    """
    if not WORKSHOP_NAME.fullmatch(name):
        raise UsageError(
            f"workshop name {name!r}: use lower-case letters, digits, '-' and '_' "
            "(it becomes a folder and part of the board's addresses)"
        )
    folder = settings.source_dir / name
    if folder.exists():
        raise WorkshopError(
            f"{settings.relative(folder)} already exists; choose another name or edit it"
        )
    path = folder / f"{name}.ipynb"
    write_notebook(template(title or name.replace("-", " ").replace("_", " ").capitalize()), path)
    return path


def template(title: str) -> NotebookNode:
    """The scaffold notebook, titled *title*."""
    v4 = nbformat.v4
    nb: NotebookNode = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["workshop"] = {
        "schema_version": 1,
        "parameter_sets": {"small": {"n": 10, "seed": 0}, "full": {"n": 1000, "seed": 1}},
    }
    nb.cells = [
        v4.new_markdown_cell(
            f"# {title}\n\n"
            "By the end of this workshop you will be able to:\n\n"
            "1. *first learning goal*\n"
            "2. *second learning goal*\n\n"
            "Fill in the cells marked `# YOUR CODE HERE` and press **Check** under each "
            "exercise."
        ),
        v4.new_code_cell(
            "# The size of the data. `workshop validate` runs the notebook with every set in "
            "the\n# notebook's metadata (workshop.parameter_sets); `workshop release -p n=50` "
            "overrides one.\nn = 10\nseed = 0",
            metadata={"tags": ["parameters"]},
        ),
        v4.new_code_cell(
            "import random\n\nrng = random.Random(seed)\n"
            "numbers = [rng.randint(-9, 9) for _ in range(n)]"
        ),
        v4.new_markdown_cell(
            "## Exercise 1: positive numbers\n\n"
            "Write `positives(values)`, returning the values greater than zero, in order."
        ),
        v4.new_code_cell(
            "def positives(values):\n"
            '    """The values greater than zero, in their order."""\n'
            "    ### BEGIN SOLUTION\n"
            "    return [v for v in values if v > 0]\n"
            "    ### END SOLUTION",
            metadata=_nbgrader("positives", solution=True),
        ),
        v4.new_markdown_cell(
            "A list comprehension can filter: `[v for v in values if ...]`.",
            metadata={"tags": ["hint"]},
        ),
        v4.new_code_cell(
            "# Visible tests: learners see them, and their messages, in the Check panel.\n"
            "result = positives([3, -1, 0, 2])\n"
            'assert result == [3, 2], f"positives([3, -1, 0, 2]): expected [3, 2], got {result}"\n'
            "### BEGIN HIDDEN TESTS\n"
            "# Hidden tests run only when grading; learners see just pass or fail.\n"
            "assert positives(numbers) == [v for v in numbers if v > 0]\n"
            "assert positives([]) == []\n"
            "### END HIDDEN TESTS",
            metadata=_nbgrader("positives_tests", grade=True, locked=True, points=2),
        ),
        v4.new_markdown_cell(
            "## Reflection\n\nIn two or three sentences: when would you rather write a loop "
            "than a comprehension?"
        ),
        v4.new_markdown_cell(
            "YOUR ANSWER HERE",
            metadata=_nbgrader("reflection", grade=True, solution=True, points=1),
        ),
    ]
    return nb


def _nbgrader(
    grade_id: str,
    *,
    grade: bool = False,
    solution: bool = False,
    locked: bool = False,
    points: int | None = None,
) -> dict[str, object]:
    meta: dict[str, object] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": NBGRADER_SCHEMA,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}
