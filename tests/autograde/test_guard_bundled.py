"""The bundled course's reference solutions keep every automatic point under the rewritten
assertions of `workshop grade` (their tests use NumPy arrays, floats, dicts and lists)."""

import shutil

import pytest
from conftest import REPO

from autograde.executor import open_executor
from autograde.grade import grade_assignment
from course.gradebook import open_gradebook
from course.layout import workshop_names
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel


def test_reference_solutions_score_full_marks_and_are_not_flagged(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    settings = load_settings(root)
    workshops = workshop_names(settings)
    for workshop in workshops:
        release_workshop(settings, workshop, {})
        folder = settings.submitted_dir / "reference" / workshop
        shutil.copytree(settings.source_dir / workshop, folder)
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    engine = open_executor(
        preload=settings.preload_modules, figures=settings.figures, workers=1, scheduler=""
    )
    with engine as sandbox:
        results = {w: grade_assignment(settings, w, sandbox=sandbox).results for w in workshops}
    for workshop, [result] in results.items():
        codes = {f.code for f in result.findings}
        assert result.status == "graded" and codes <= {"edited-test-cell"}, result.findings
        assert result.score == result.max_score - manual_points(settings, workshop), workshop


def manual_points(settings, workshop):
    """Points a person grades (the reflections): no automatic grader awards them."""
    with open_gradebook(settings) as gradebook:
        assignment = gradebook.find_assignment(workshop)
        return sum(
            cell.max_score
            for notebook in assignment.notebooks
            for cell in notebook.grade_cells
            if cell.cell_type == "markdown"
        )
