import nbfactory as f
import pytest
from conftest import write_nb

from course.validate import validate_workshop

pytestmark = pytest.mark.kernel


def test_sound_workshop_passes_for_every_parameter_set(settings):
    report = validate_workshop(settings, "ws")
    assert report.ok, report.problems
    assert {(r.parameter_set, r.version, r.points, r.max_points) for r in report.runs} == {
        ("small", "solution", 2.0, 2.0),
        ("small", "stub", 0.0, 2.0),
        ("full", "solution", 2.0, 2.0),
        ("full", "stub", 0.0, 2.0),
    }


def test_test_passing_on_the_stub_is_named_by_grade_id(settings, course_dir):
    nb = f.good_notebook()
    nb.cells.append(f.tests("free_points", "assert 1 + 1 == 2", points=1))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    report = validate_workshop(settings, "ws")
    messages = [str(p) for p in report.problems]
    assert len(messages) == 2  # once per parameter set
    assert all(m.startswith("source/ws/nb.ipynb: grade id 'free_points': ") for m in messages)
    assert all("passes on the learner's stub" in m for m in messages)


def test_reference_solution_failing_a_hidden_test_is_reported(settings, course_dir):
    nb = f.good_notebook()
    nb.cells[
        3
    ].source += "\n### BEGIN HIDDEN TESTS\nassert square(3) == 10, 'wrong'\n### END HIDDEN TESTS"
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    report = validate_workshop(settings, "ws")
    [first, *_] = report.problems
    assert first.where == "grade id 'square_tests'"
    assert "reference solution fails this test" in first.message
    assert "AssertionError: wrong" in first.message


def test_parameter_set_breaking_the_solution_is_reported(settings, course_dir):
    nb = f.good_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("return x * x", "return x * x if x < 10 else 0")
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    [problem] = validate_workshop(settings, "ws").problems
    assert "with parameter set 'full'" in problem.message


def test_static_problems_are_reported_without_running(settings, course_dir):
    nb = f.notebook(f.solution("q", "### BEGIN SOLUTION\nx = 1"), f.tests("q", "assert x"))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    report = validate_workshop(settings, "ws")
    assert report.runs == ()
    assert len(report.problems) == 2


def test_malformed_notebook_is_one_problem_naming_the_file(settings, course_dir):
    (course_dir / "source" / "ws" / "broken.ipynb").write_text("{not json")
    report = validate_workshop(settings, "ws")
    [problem] = report.problems
    assert problem.path == "source/ws/broken.ipynb" and "invalid JSON" in problem.message


def test_a_syntax_error_in_the_solution_is_named_with_its_cell_and_line(settings, course_dir):
    nb = f.good_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("return x * x", "return x *")
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    report = validate_workshop(settings, "ws")
    first = str(report.problems[0])
    assert first.startswith("source/ws/nb.ipynb: cell 3 (grade id 'square'), line 3: ")
    assert "the reference solution raises SyntaxError" in first


def test_a_solution_line_pasted_into_another_cell_is_a_leak(settings, course_dir):
    nb = f.good_notebook()
    nb.cells.insert(4, f.markdown("The trick, in one line:\n\n    return x * x"))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    report = validate_workshop(settings, "ws")
    leaks = [str(p) for p in report.problems if "still shows" in p.message]
    assert leaks == [
        "source/ws/nb.ipynb: cell 5: the learner version still shows 1 solution or hidden test "
        "line(s), e.g. 'return x * x'; put them between the markers"
    ]
