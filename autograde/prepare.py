"""Turn a submitted notebook into the notebook that will run: grades come from the gradebook.

First every cell's nbgrader metadata is replaced by what the gradebook recorded at release
(matched by grade id), and every difference is reported as a finding; then nbgrader's own
sanitising preprocessors run (clear outputs, de-duplicate ids, restore the kernelspec and the
locked and test cells, re-add deleted graded cells). nbgrader's metadata check is not needed
afterwards: every nbgrader metadata left is the gradebook's own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from autograde.findings import Finding
from course.cells import grade_id, is_autograded_test, nbgrader_meta
from course.settings import Settings

__all__ = ["ReferenceCell", "load_reference", "prepare_notebook"]

NBGRADER_SCHEMA_VERSION = 3
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
    released_source: str | None

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


def load_reference(
    gradebook: Any, assignment: str, released: Mapping[str, NotebookNode]
) -> dict[str, dict[str, ReferenceCell]]:
    """Per notebook name, the reference cells by grade id, read once for a whole batch.

    *released* holds the learner versions by notebook name, when available: what a test cell
    looked like to the learner (without hidden tests), to tell an edited test cell.
    """
    reference: dict[str, dict[str, ReferenceCell]] = {}
    for notebook in gradebook.find_assignment(assignment).notebooks:
        learner_cells = released[notebook.name].cells if notebook.name in released else []
        learner_view = {grade_id(c): c.source for c in learner_cells}
        graded = {c.name: float(c.max_score) for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        tasks = {c.name for c in notebook.task_cells}
        reference[notebook.name] = {
            cell.name: ReferenceCell(
                grade_id=cell.name,
                cell_type=cell.cell_type,
                grade=cell.name in graded,
                solution=cell.name in solutions,
                locked=bool(cell.locked),
                task=cell.name in tasks,
                points=graded.get(cell.name),
                checksum=cell.checksum,
                released_source=learner_view.get(cell.name),
            )
            for cell in notebook.source_cells
        }
    return reference


def prepare_notebook(
    submitted: NotebookNode,
    reference: Mapping[str, ReferenceCell],
    *,
    settings: Settings,
    assignment: str,
    student: str,
    notebook: str,
) -> tuple[NotebookNode, list[Finding]]:
    """The sanitised copy of *submitted* ready to run, and what was wrong with it."""
    nb, findings = _restore_metadata(submitted, reference, notebook)
    resources = {
        "nbgrader": {
            "notebook": notebook,
            "assignment": assignment,
            "student": student,
            "db_url": settings.db_url,
        }
    }
    for preprocessor in _sanitizers(settings):
        nb, resources = preprocessor(nb, resources)
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:
            cell.id = f"restored-{index}"
    return nb, findings


def _sanitizers(settings: Settings) -> list[Any]:
    from nbgrader.preprocessors import (
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    config = settings.config_copy()
    config.OverwriteCells.add_missing_cells = True
    steps = (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells)
    return [cls(config=config) for cls in steps]


def _restore_metadata(
    submitted: NotebookNode, reference: Mapping[str, ReferenceCell], notebook: str
) -> tuple[NotebookNode, list[Finding]]:
    nb = copy.deepcopy(submitted)
    findings: list[Finding] = []
    seen: set[str] = set()
    last = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c) in reference}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta:
            cell.metadata.pop("nbgrader", None)
            continue
        key = grade_id(cell)
        where = f"cell {index + 1}" + (f" ('{key}')" if key else "")
        known = reference.get(key) if key else None
        if known is None:
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                findings.append(
                    Finding("unknown-cell", f"{where} is not in the release; not graded", notebook)
                )
            del cell.metadata["nbgrader"]
            continue
        assert key is not None
        seen.add(key)
        if last[key] != index:
            findings.append(
                Finding("duplicate-grade-id", f"{where} is repeated later; ignored", notebook)
            )
            del cell.metadata["nbgrader"]
            continue
        changed = [
            f for f in COMPARED_FIELDS if _normal(meta.get(f)) != _normal(known.metadata().get(f))
        ]
        if meta.get("schema_version") != NBGRADER_SCHEMA_VERSION:
            changed.append("schema_version")
        if changed:
            findings.append(
                Finding("tampered-metadata", f"{where}: {', '.join(changed)} changed", notebook)
            )
        if is_autograded_test(cell) or (known.grade and not known.solution):
            if known.released_source is not None and cell.get("source") != known.released_source:
                findings.append(Finding("edited-test-cell", f"{where} was edited", notebook))
            if cell.get("outputs"):
                findings.append(Finding("prefilled-output", f"{where} had outputs", notebook))
        cell.metadata["nbgrader"] = known.metadata()
    for key, known in reference.items():
        if known.grade and key not in seen:
            findings.append(Finding("missing-cell", f"'{key}' was deleted; added back", notebook))
    return nb, findings


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | float):
        return float(value)
    return value
