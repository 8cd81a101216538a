import nbfactory as f
import pytest

from course.check_cells import check_notebook
from course.settings import Markers


def problems(nb):
    return [str(p) for p in check_notebook(nb, "nb.ipynb", Markers())]


def test_sound_notebook_has_no_problems():
    assert problems(f.good_notebook()) == []


def test_duplicate_grade_id_names_both_cells():
    nb = f.notebook(f.solution("q1", "x = 1"), f.tests("q1", "assert x == 1"))
    [message] = problems(nb)
    assert "cell 2" in message and "duplicate grade id 'q1'" in message and "cell 1" in message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "### BEGIN SOLUTION\nx = 1",
            "line 1: 'BEGIN SOLUTION' is never closed; add the line '### END SOLUTION'",
        ),
        ("x = 1\n### END SOLUTION", "line 2: 'END SOLUTION' without a 'BEGIN SOLUTION'"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
            "line 2: 'BEGIN SOLUTION' inside the region opened on line 1",
        ),
    ],
)
def test_unbalanced_solution_markers_are_reported_by_line(source, expected):
    [message] = problems(f.notebook(f.solution("q1", source)))
    assert message.startswith("nb.ipynb: grade id 'q1': ")
    assert expected in message


def test_hidden_tests_outside_a_test_cell_are_reported():
    nb = f.notebook(f.code("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"))
    [message] = problems(nb)
    assert "cell 1" in message and "hidden tests markers" in message


def test_solution_markers_outside_a_solution_cell_are_reported():
    nb = f.notebook(f.code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    [message] = problems(nb)
    assert "solution markers in a cell that is not graded as such" in message


def test_graded_cell_without_points_is_reported():
    cell = f.tests("q1_tests", "assert True")
    del cell.metadata.nbgrader["points"]
    [message] = problems(f.notebook(cell))
    assert "grade id 'q1_tests'" in message and "does not have points" in message


def test_graded_cell_with_zero_points_is_reported():
    [message] = problems(f.notebook(f.tests("q1_tests", "assert True", points=0)))
    assert "positive number of points" in message


def test_parameter_set_naming_an_undeclared_parameter_is_reported():
    nb = f.good_notebook()
    nb.metadata.workshop.parameter_sets["small"]["size"] = 3
    [message] = problems(nb)
    assert "metadata.workshop.parameter_sets.small" in message and "'size'" in message


def test_unknown_workshop_schema_version_is_reported():
    nb = f.good_notebook()
    nb.metadata.workshop.schema_version = 99
    [message] = problems(nb)
    assert "schema_version is 99" in message


def test_default_markers_are_nbgraders():
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    solutions, hidden = ClearSolutions(), ClearHiddenTests()
    assert Markers() == Markers(
        solutions.begin_solution_delimeter,
        solutions.end_solution_delimeter,
        hidden.begin_test_delimeter,
        hidden.end_test_delimeter,
    )
