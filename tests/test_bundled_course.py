"""The course shipped in this repository: sound, released, and leak-free."""

import json

import pytest
from conftest import REPO

from course.layout import workshop_names
from course.release import check_release
from course.settings import load_settings
from course.validate import validate_workshop

SETTINGS = load_settings(REPO)
WORKSHOPS = workshop_names(SETTINGS)


def test_the_bundled_workshops_are_there():
    assert {"python-numpy-warmup", "linear-regression"} <= set(WORKSHOPS)


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
