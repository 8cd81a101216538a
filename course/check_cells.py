"""Static checks of a source notebook: the mistakes a presenter makes with the cell toolbar.

Everything here runs without a kernel, so `validate` and `release` both run it first and report
all problems at once instead of failing inside nbgrader on the first one.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode

from course.add_checks import HINT_TAG, hint_cells_without_exercise
from course.cells import (
    WORKSHOP_SCHEMA_VERSION,
    cell_label,
    grade_id,
    is_autograded_test,
    is_solution,
    nbgrader_meta,
    workshop_meta,
)
from course.parameterise import declared_parameters
from course.problems import Problem
from course.settings import Markers

__all__ = ["check_notebook"]


def check_notebook(nb: NotebookNode, label: str, markers: Markers) -> tuple[Problem, ...]:
    """All static problems of *nb*, one `Problem` per finding, in cell order."""
    from nbgrader.nbgraderformat import MetadataValidator

    validator = MetadataValidator()
    problems: list[Problem] = []
    problems += _check_workshop_meta(nb, label)
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        where = cell_label(cell, index)
        problems += [Problem(label, where, m) for m in _cell_problems(cell, markers, validator)]
        key = grade_id(cell)
        if key is None or not _needs_id(cell):
            continue
        if key in seen:
            problems.append(
                Problem(
                    label,
                    f"cell {index + 1}",
                    f"duplicate grade id '{key}' (also cell {seen[key] + 1}); "
                    "give every graded, solution or locked cell its own id",
                )
            )
        else:
            seen[key] = index
    problems += [
        Problem(
            label,
            f"cell {index + 1}",
            "hint with no autograded test cell below it; a hint belongs to the next exercise's "
            "tests, so move it above them",
        )
        for index in hint_cells_without_exercise(nb)
    ]
    return tuple(problems)


def _needs_id(cell: NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade") or meta.get("solution") or meta.get("locked"))


def _cell_problems(cell: NotebookNode, markers: Markers, validator: Any) -> list[str]:
    from nbgrader.nbgraderformat.common import SchemaMismatchError, ValidationError

    problems: list[str] = []
    if cell.cell_type != "markdown" and HINT_TAG in cell.get("metadata", {}).get("tags", []):
        problems.append(
            f"tag '{HINT_TAG}' on a {cell.cell_type} cell; write hints in markdown cells"
        )
    meta = nbgrader_meta(cell)
    if meta:
        try:
            validator.validate_cell(cell)
        except (ValidationError, SchemaMismatchError) as error:
            first_line = str(error).splitlines()[0]
            problems.append(f"invalid nbgrader metadata: {first_line}; fix it in the cell toolbar")
        points = meta.get("points")
        if meta.get("grade") and isinstance(points, int | float) and points <= 0:
            problems.append("graded cell with no points; give it a positive number of points")
    problems += _region_problems(
        cell.source,
        markers.begin_solution,
        markers.end_solution,
        allowed=is_solution(cell),
        what="solution",
        fix="mark the cell as a solution cell ('Autograded answer' or 'Manually graded answer')",
    )
    problems += _region_problems(
        cell.source,
        markers.begin_hidden,
        markers.end_hidden,
        allowed=is_autograded_test(cell),
        what="hidden tests",
        fix="move the hidden tests into an 'Autograder tests' cell",
    )
    return problems


def _region_problems(
    source: str, begin: str, end: str, *, allowed: bool, what: str, fix: str
) -> list[str]:
    """Markers must come in BEGIN/END pairs, unnested, and only in cells of the right kind."""
    problems: list[str] = []
    opened_at: int | None = None
    found = False
    for number, line in enumerate(source.splitlines(), start=1):
        if begin in line:
            found = True
            if opened_at is not None:
                problems.append(
                    f"line {number}: '{begin}' inside the region opened on line {opened_at}; "
                    f"close it with '{end}' first"
                )
            opened_at = number
        elif end in line:
            found = True
            if opened_at is None:
                problems.append(f"line {number}: '{end}' without a '{begin}' before it")
            opened_at = None
    if opened_at is not None:
        problems.append(
            f"line {opened_at}: '{begin}' is never closed; add the line '### {end}' "
            "where the region ends"
        )
    if found and not allowed:
        problems.append(f"{what} markers in a cell that is not graded as such; {fix}")
    return problems


def _check_workshop_meta(nb: NotebookNode, label: str) -> list[Problem]:
    meta = workshop_meta(nb)
    if not meta:
        return []
    problems: list[Problem] = []
    where = "metadata.workshop"
    version = meta.get("schema_version")
    if version != WORKSHOP_SCHEMA_VERSION:
        problems.append(
            Problem(
                label,
                where,
                f"schema_version is {version!r}, this nbworkshop reads "
                f"{WORKSHOP_SCHEMA_VERSION}; set it or upgrade nbworkshop",
            )
        )
    sets = meta.get("parameter_sets", {})
    if not isinstance(sets, dict) or not all(isinstance(v, dict) for v in sets.values()):
        problems.append(
            Problem(label, where, "parameter_sets must map set names to {parameter: value}")
        )
        return problems
    declared = declared_parameters(nb)
    for name, values in sets.items():
        unknown = sorted(set(values) - set(declared))
        if unknown:
            problems.append(
                Problem(
                    label,
                    f"{where}.parameter_sets.{name}",
                    f"undeclared parameter {', '.join(repr(u) for u in unknown)}; "
                    "assign it in the cell tagged 'parameters' or remove it from the set",
                )
            )
    return problems
