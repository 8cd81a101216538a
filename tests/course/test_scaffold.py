"""`workshop new`: a first-time presenter's starting point validates and releases as it is."""

import nbformat
import pytest
from conftest import run_cli

from course.cells import grade_id


@pytest.fixture
def empty_course(tmp_path, course_dir):
    (course_dir / "source" / "ws" / "nb.ipynb").unlink()
    return course_dir


@pytest.mark.kernel
def test_new_then_validate_then_release_in_a_fresh_course(empty_course):
    created = run_cli("new", "intro-python", "--title", "Intro to Python", cwd=empty_course)
    assert created.returncode == 0, created.stderr
    assert "created source/intro-python/intro-python.ipynb" in created.stdout
    path = empty_course / "source" / "intro-python" / "intro-python.ipynb"
    nb = nbformat.read(path, 4)
    assert nb.cells[0].source.startswith("# Intro to Python")
    assert [grade_id(c) for c in nb.cells if grade_id(c)] == [
        "positives",
        "positives_tests",
        "reflection",
    ]
    assert any("hint" in c.metadata.get("tags", []) for c in nb.cells)
    assert set(nb.metadata.workshop.parameter_sets) == {"small", "full"}
    validated = run_cli("validate", "intro-python", cwd=empty_course)
    assert validated.returncode == 0, validated.stderr
    assert "intro-python: sound" in validated.stdout
    released = run_cli("release", "intro-python", cwd=empty_course)
    assert released.returncode == 0, released.stderr
    learner = nbformat.read(empty_course / "release" / "intro-python" / "intro-python.ipynb", 4)
    assert "BEGIN HIDDEN TESTS" not in nbformat.writes(learner)


def test_new_never_overwrites_a_workshop(empty_course):
    assert run_cli("new", "week-1", cwd=empty_course).returncode == 0
    again = run_cli("new", "week-1", cwd=empty_course)
    assert again.returncode == 1
    assert "error: source/week-1 already exists" in again.stderr


@pytest.mark.parametrize("name", ["Week 1", "../escape", "_x", "a/b"])
def test_a_name_that_is_not_a_folder_name_is_a_usage_error(empty_course, name):
    refused = run_cli("new", name, cwd=empty_course)
    assert refused.returncode == 2, refused.stderr
    assert "use lower-case letters" in refused.stderr
    assert sorted(p.name for p in (empty_course / "source").iterdir()) == ["ws"]
