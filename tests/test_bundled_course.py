"""The course shipped in this repository: sound, released, and leak-free."""

import ast
import json
import sys

import pytest
from conftest import REPO

from course.cells import is_autograded_test, is_solution
from course.layout import source_notebooks, workshop_names
from course.notebook_io import read_notebook
from course.parameterise import declared_parameters, parameter_sets
from course.release import check_release
from course.settings import load_settings
from course.validate import validate_workshop

SETTINGS = load_settings(REPO)
WORKSHOPS = workshop_names(SETTINGS)


SEMESTER = {
    "python-numpy-warmup",
    "linear-regression",
    "knowing-your-neighbours",
    "benfords-law",
    "nlp-rnn-lstm",
    "lagrange-multipliers",
}
DEPENDENCIES = {"numpy", "matplotlib"}
"""What workshop code may import beyond the standard library (declared in pyproject.toml)."""


def test_the_bundled_semester_is_there():
    assert set(WORKSHOPS) >= SEMESTER


@pytest.mark.parametrize("workshop", WORKSHOPS)
def test_each_workshop_is_taught_from_the_notebook_alone(workshop):
    """An introduction, 4 to 6 exercises each with visible and hidden tests, hints and an
    explanation before it, one reflection graded by a person, `small` and `full` parameter
    sets with a seed, and nothing imported beyond NumPy, matplotlib and the standard library."""
    cells, reflections = [], 0
    for path in source_notebooks(SETTINGS, workshop):
        nb = read_notebook(path)
        assert {"small", "full"} <= set(parameter_sets(nb)), path
        assert "seed" in declared_parameters(nb), path
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), path
        reflections += sum(c.cell_type == "markdown" and is_solution(c) for c in nb.cells)
        cells += nb.cells
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert _imported(cell.source) <= DEPENDENCIES | sys.stdlib_module_names, path
    assert reflections == 1
    exercises = [i for i, cell in enumerate(cells) if is_autograded_test(cell)]
    assert 4 <= len(exercises) <= 6
    hidden = SETTINGS.markers.begin_hidden
    for before, index in zip([-1, *exercises], exercises, strict=False):
        visible, _, hidden_part = cells[index].source.partition(hidden)
        assert "assert" in visible and "assert" in hidden_part, index
        between = cells[before + 1 : index]
        tags = [c.metadata.get("tags", []) for c in between]
        assert any("hint" in t for t in tags), f"no hint before cell {index + 1}"
        assert any(
            c.cell_type == "markdown" and "hint" not in t and not is_solution(c)
            for c, t in zip(between, tags, strict=True)
        ), f"no explanation before cell {index + 1}"


def _imported(source: str) -> set[str]:
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.kernel
@pytest.mark.parametrize("workshop", WORKSHOPS)
def test_bundled_workshop_validates_for_every_parameter_set(workshop):
    report = validate_workshop(SETTINGS, workshop)
    assert report.ok, "\n".join(str(p) for p in report.problems)
    assert len({run.parameter_set for run in report.runs}) >= 2


@pytest.mark.parametrize("workshop", WORKSHOPS)
def test_release_folder_is_current(workshop):
    assert check_release(SETTINGS, workshop) == ()


def test_nothing_released_contains_solutions_or_hidden_tests():
    released = [p for p in (REPO / "release").rglob("*") if p.is_file()]
    assert released
    for path in released:
        text = path.read_text(errors="replace")
        assert "BEGIN SOLUTION" not in text, path
        assert "BEGIN HIDDEN TESTS" not in text, path


def test_sources_are_committed_without_outputs():
    """Except the expected text of demonstration cells that nbval checks (`make test` runs the
    sources with `--nbval-lax`: cells tagged `nbval-check-output` must print the same)."""
    for path in (REPO / "source").rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            if "nbval-check-output" in cell["metadata"].get("tags", []):
                assert cell["outputs"] and all(
                    o["output_type"] == "stream" for o in cell["outputs"]
                )
            else:
                assert cell["outputs"] == [] and cell["execution_count"] is None, path
