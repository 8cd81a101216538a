"""Turn a submitted notebook into the notebook that will run: grades come from the gradebook.

Every cell is matched by grade id to what the gradebook recorded at release: its nbgrader
metadata is replaced, locked and test cells get their recorded source back (hidden tests
included), deleted graded cells are put back, and every difference is reported as a finding.
This is what nbgrader's `OverwriteCells` and `OverwriteKernelspec` do, with the gradebook read
once per batch instead of once per notebook; cells are rebuilt with nbgrader's own helpers, and
tests/autograde/test_parity.py pins the result to nbgrader's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from autograde.findings import Finding
from course.cells import grade_id, is_autograded_test, nbgrader_meta

__all__ = ["ReferenceCell", "ReferenceNotebook", "load_reference", "prepare_notebook"]

NBGRADER_SCHEMA_VERSION = 3
CELL_IDS_MINOR = 5
"""nbformat 4.5 introduced cell ids: a notebook that gets them is a 4.5 notebook (as nbformat's
own upgrade makes it), or its graded copy would not validate as its declared version."""
COMPARED_FIELDS = ("grade", "solution", "locked", "task", "points")


@dataclass(frozen=True)
class ReferenceCell:
    """A graded, solution, task or locked cell as the gradebook recorded it at release."""

    grade_id: str
    cell_type: str
    grade: bool
    solution: bool
    locked: bool
    task: bool
    points: float | None
    checksum: str | None
    source: str
    released_source: str | None

    @property
    def name(self) -> str:
        """nbgrader's name for the grade id (its cell helpers read `name`)."""
        return self.grade_id

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "grade": self.grade,
            "grade_id": self.grade_id,
            "locked": self.locked,
            "schema_version": NBGRADER_SCHEMA_VERSION,
            "solution": self.solution,
            "task": self.task,
            "cell_type": self.cell_type,
        }
        if self.points is not None:
            meta["points"] = self.points
        if self.checksum is not None:
            meta["checksum"] = self.checksum
        return meta


@dataclass(frozen=True)
class ReferenceNotebook:
    """A notebook of the assignment as released: its cells in order, and its kernelspec."""

    name: str
    cells: Mapping[str, ReferenceCell]
    kernelspec: Mapping[str, Any] | None

    @property
    def max_score(self) -> float:
        return sum(c.points or 0.0 for c in self.cells.values() if c.grade)


def load_reference(
    gradebook: Any, assignment: str, released: Mapping[str, NotebookNode]
) -> dict[str, ReferenceNotebook]:
    """Every notebook of *assignment* as the gradebook recorded it, read once for a batch.

    *released* holds the learner versions by notebook name, when available: what a test cell
    looked like to the learner (without hidden tests), to tell an edited test cell.
    """
    reference: dict[str, ReferenceNotebook] = {}
    for notebook in gradebook.find_assignment(assignment).notebooks:
        graded = {c.name: float(c.max_score) for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        tasks = {c.name for c in notebook.task_cells}
        learner_cells = released[notebook.name].cells if notebook.name in released else []
        learner_view = {grade_id(c): c.source for c in learner_cells}
        cells = {
            cell.name: ReferenceCell(
                grade_id=cell.name,
                cell_type=cell.cell_type,
                grade=cell.name in graded,
                solution=cell.name in solutions,
                locked=bool(cell.locked),
                task=cell.name in tasks,
                points=graded.get(cell.name),
                checksum=cell.checksum,
                source=cell.source or "",
                released_source=learner_view.get(cell.name),
            )
            for cell in notebook.source_cells
        }
        kernelspec = json.loads(notebook.kernelspec) if notebook.kernelspec else None
        reference[notebook.name] = ReferenceNotebook(notebook.name, cells, kernelspec)
    return reference


def prepare_notebook(
    submitted: NotebookNode, reference: ReferenceNotebook
) -> tuple[NotebookNode, list[Finding]]:
    """The restored copy of *submitted* ready to run, and what was wrong with it."""
    from nbgrader.preprocessors import ClearOutput

    nb = copy.deepcopy(submitted)
    findings = _restore_metadata(nb, reference)
    nb, _ = ClearOutput()(nb, {})
    findings += _restore_cells(nb, reference)
    findings += _deleted_locked_cells(nb, reference)
    findings += _add_missing_cells(nb, reference)
    if reference.kernelspec:
        nb.metadata["kernelspec"] = dict(reference.kernelspec)
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:
            cell.id = f"restored-{index}"
    nb.nbformat_minor = max(nb.get("nbformat_minor", 0), CELL_IDS_MINOR)
    return nb, findings


def _restore_metadata(nb: NotebookNode, reference: ReferenceNotebook) -> list[Finding]:
    """Replace nbgrader metadata by the gradebook's; drop unknown and duplicated claims.

    As nbgrader's `DeduplicateIds`, the last cell with a grade id keeps it.
    """
    findings: list[Finding] = []
    name = reference.name
    last = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c) in reference.cells}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta:
            cell.metadata.pop("nbgrader", None)
            continue
        key = grade_id(cell)
        where = f"cell {index + 1}" + (f" ('{key}')" if key else "")
        known = reference.cells.get(key) if key else None
        if known is None or key is None:
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                findings.append(
                    Finding("unknown-cell", f"{where} is not in the release; not graded", name)
                )
            del cell.metadata["nbgrader"]
            continue
        if last[key] != index:
            findings.append(
                Finding("duplicate-grade-id", f"{where} is repeated later; ignored", name)
            )
            del cell.metadata["nbgrader"]
            continue
        expected = known.metadata()
        changed = [f for f in COMPARED_FIELDS if _normal(meta.get(f)) != _normal(expected.get(f))]
        if meta.get("schema_version") != NBGRADER_SCHEMA_VERSION:
            changed.append("schema_version")
        if changed:
            findings.append(
                Finding("tampered-metadata", f"{where}: {', '.join(changed)} changed", name)
            )
        if is_autograded_test(cell) or (known.grade and not known.solution):
            if known.released_source is not None and cell.get("source") != known.released_source:
                findings.append(Finding("edited-test-cell", f"{where} was edited", name))
            if cell.get("outputs"):
                findings.append(Finding("prefilled-output", f"{where} had outputs", name))
        cell.metadata["nbgrader"] = expected
    return findings


def _restore_cells(nb: NotebookNode, reference: ReferenceNotebook) -> list[Finding]:
    """Recorded cell types, and the recorded source of every locked cell that was changed.

    A changed type is reported for every recorded cell (a test turned into a raw or markdown
    cell would silently score as nbgrader's missing output); an edited read-only cell that is
    not a test cell (those are reported as `edited-test-cell`) is compared with what the
    learner was given, so legitimate release-time changes are not reported.
    """
    from nbgrader.preprocessors import OverwriteCells
    from nbgrader.utils import compute_checksum

    helper = OverwriteCells()
    findings = []
    for index, cell in enumerate(nb.cells):
        key = grade_id(cell)
        known = reference.cells.get(key) if key else None
        if known is None:
            continue
        where = f"cell {index + 1} ('{key}')"
        if cell.cell_type != known.cell_type:
            findings.append(
                Finding(
                    "changed-cell-type",
                    f"{where} was a {known.cell_type} cell, submitted as {cell.cell_type}",
                    reference.name,
                )
            )
        helper.update_cell_type(cell, known.cell_type)
        if known.locked and compute_checksum(cell) != known.checksum:
            given = known.source if known.released_source is None else known.released_source
            if not known.grade and cell.get("source") != given:
                findings.append(
                    Finding("edited-locked-cell", f"{where} was edited", reference.name)
                )
            cell.source = known.source
    return findings


def _deleted_locked_cells(nb: NotebookNode, reference: ReferenceNotebook) -> list[Finding]:
    """Read-only cells that are gone (or lost their metadata). nbgrader puts back only graded
    and task cells, so these stay out (`_add_missing_cells`); they are reported here."""
    present = {grade_id(c) for c in nb.cells}
    return [
        Finding("deleted-locked-cell", f"read-only cell '{key}' was deleted", reference.name)
        for key, known in reference.cells.items()
        if known.locked and not (known.grade or known.task) and key not in present
    ]


def _add_missing_cells(nb: NotebookNode, reference: ReferenceNotebook) -> list[Finding]:
    """Put deleted graded and task cells back, as nbgrader's `add_missing_cells` option does:
    a graded cell after the closest earlier cell of the release still present, tasks at the end.
    """
    from nbgrader.preprocessors import OverwriteCells

    helper = OverwriteCells()
    findings = []
    order = list(reference.cells)
    for key, known in reference.cells.items():
        present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        if key in present or not (known.grade or known.task):
            continue
        findings.append(Finding("missing-cell", f"'{key}' was deleted; added back", reference.name))
        if known.task:
            nb.cells.append(helper.missing_cell_transform(known, known.points, is_task=True))
            continue
        cell = helper.missing_cell_transform(known, known.points, is_solution=known.solution)
        earlier = [present[k] for k in order[: order.index(key)] if k in present]
        nb.cells.insert(max(earlier) + 1 if earlier else 0, cell)
    return findings


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | float):
        return float(value)
    return value
