import json
import shutil

import nbfactory as f
import nbformat
import pytest
from conftest import write_nb

from course.errors import ParameterError, ProblemsFound, ReleaseRefused, UnknownWorkshop
from course.gradebook import open_gradebook
from course.release import check_release, release_workshop


def released_text(settings, folder=None):
    return ((folder or settings.release_dir) / "ws" / "nb.ipynb").read_text()


def session_text(settings):
    return released_text(settings, settings.session_release_dir)


def test_release_strips_solutions_and_hidden_tests(settings):
    result = release_workshop(settings, "ws", {})
    assert result.changed and result.notebooks == ("nb.ipynb",)
    text = released_text(settings)
    assert "BEGIN SOLUTION" not in text and "return x * x" not in text
    assert "BEGIN HIDDEN TESTS" not in text and "square(-2)" not in text
    assert "raise NotImplementedError()" in text and "assert square(n) == n * n" in text


def test_release_records_the_workshop_in_the_gradebook(settings):
    release_workshop(settings, "ws", {})
    with open_gradebook(settings) as gradebook:
        notebook = gradebook.find_notebook("nb", "ws")
        assert {c.name: c.max_score for c in notebook.grade_cells} == {
            "square_tests": 2.0,
            "reflection": 2.0,
        }


def test_release_is_idempotent(settings):
    release_workshop(settings, "ws", {})
    first = released_text(settings)
    mtime = (settings.release_dir / "ws" / "nb.ipynb").stat().st_mtime_ns
    again = release_workshop(settings, "ws", {})
    assert not again.changed
    assert released_text(settings) == first
    assert (settings.release_dir / "ws" / "nb.ipynb").stat().st_mtime_ns == mtime
    assert check_release(settings, "ws") == ()
    assert [p.name for p in settings.release_dir.iterdir()] == ["ws"]


def test_release_injects_parameters_after_the_parameters_cell(settings):
    release_workshop(settings, "ws", {"n": 11})
    nb = json.loads(session_text(settings))
    injected = nb["cells"][2]
    assert injected["id"] == "injected-parameters"
    assert "".join(injected["source"]).endswith("n = 11\n")
    assert nb["metadata"]["papermill"]["parameters"] == {"n": 11}


def test_check_reports_a_stale_release(settings, course_dir):
    release_workshop(settings, "ws", {})
    nb = f.good_notebook()
    nb.cells[0].source = "# Squares\n\nRevised introduction."  # same heading: same title
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    [problem] = check_release(settings, "ws")
    assert problem.path == "release/ws/nb.ipynb" and "stale" in problem.message


def test_check_reports_a_missing_release(settings):
    problems = check_release(settings, "ws")
    assert {p.path for p in problems} == {"release/ws/nb.ipynb", "release/ws/.workshop/checks.json"}
    assert all("missing" in p.message for p in problems)


def test_release_adds_a_check_cell_under_each_exercise_and_moves_hints_out(settings, course_dir):
    nb = f.good_notebook()
    nb.cells.insert(3, f.hint("Multiply `x` by **itself**."))
    nb.cells.insert(4, f.hint("`x * x`"))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    release_workshop(settings, "ws", {}, board="http://board.example:8765")
    released = nbformat.read(settings.session_release_dir / "ws" / "nb.ipynb", 4)
    sources = [c.source for c in released.cells]
    assert not any("itself" in s for s in sources)
    test_at = next(i for i, c in enumerate(released.cells) if "square(n)" in c.source)
    check_cell = released.cells[test_at + 1]
    assert check_cell.source.endswith('check("square_tests")')
    assert check_cell.metadata["tags"] == ["workshop-check"]
    assert check_cell.metadata["editable"] is False
    session = settings.session_release_dir / "ws"
    document = json.loads((session / ".workshop" / "checks.json").read_text())
    assert document["board"] == "http://board.example:8765"
    [exercise] = document["notebooks"]["nb"]
    assert exercise["exercise"] == "square_tests" and exercise["points"] == 2
    assert exercise["hints"] == ["Multiply `x` by **itself**.", "`x * x`"]
    assert "square(n) == n * n" in exercise["tests"]
    assert "square(-2)" not in json.dumps(document) and "HIDDEN" not in json.dumps(document)
    assert not (settings.release_dir / "ws").exists()  # a session's release is not committed


def test_hints_must_be_markdown_above_an_exercise(settings, course_dir):
    nb = f.good_notebook()
    nb.cells.append(f.hint("too late"))
    code_hint = f.code("x = 1")
    code_hint.metadata["tags"] = ["hint"]
    nb.cells.insert(1, code_hint)
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    with pytest.raises(ProblemsFound) as raised:
        release_workshop(settings, "ws", {})
    messages = [p.message for p in raised.value.problems]
    assert any("hint with no autograded test cell below it" in m for m in messages)
    assert any("tag 'hint' on a code cell" in m for m in messages)


def test_undeclared_parameter_is_refused_and_nothing_is_written(settings):
    with pytest.raises(ParameterError, match="unknown parameter 'size'"):
        release_workshop(settings, "ws", {"size": 3})
    assert not (settings.release_dir / "ws").exists()


def test_unknown_workshop_lists_the_known_ones(settings):
    with pytest.raises(
        UnknownWorkshop, match=r"unknown workshop 'nope'.*\(workshops in this course: ws\)"
    ):
        release_workshop(settings, "nope", {})


def test_broken_source_leaves_the_previous_release_intact(settings, course_dir):
    release_workshop(settings, "ws", {})
    before = released_text(settings)
    write_nb(
        course_dir / "source" / "ws" / "nb.ipynb",
        f.notebook(f.solution("q1", "### BEGIN SOLUTION\nx = 1")),
    )
    with pytest.raises(ProblemsFound, match="never closed"):
        release_workshop(settings, "ws", {})
    assert released_text(settings) == before
    assert [p.name for p in settings.release_dir.iterdir()] == ["ws"]


def test_changing_a_release_with_submissions_needs_force(settings, course_dir):
    release_workshop(settings, "ws", {})
    submitted = settings.submitted_dir / "ada" / "ws"
    submitted.mkdir(parents=True)
    shutil.copy(settings.release_dir / "ws" / "nb.ipynb", submitted / "nb.ipynb")
    assert not release_workshop(settings, "ws", {}).changed
    nb = f.good_notebook()
    nb.cells[3].source = nb.cells[3].source.replace("square(n) == n * n", "square(n) == n ** 2")
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    with pytest.raises(ReleaseRefused, match="learners have already submitted"):
        release_workshop(settings, "ws", {})
    assert "n ** 2" not in released_text(settings)
    assert release_workshop(settings, "ws", {}, force=True).changed
    assert "n ** 2" in released_text(settings)


def test_a_session_release_never_touches_the_committed_release(settings, course_dir):
    release_workshop(settings, "ws", {})
    committed = released_text(settings)
    submitted = settings.submitted_dir / "ada" / "ws"
    submitted.mkdir(parents=True)
    shutil.copy(settings.release_dir / "ws" / "nb.ipynb", submitted / "nb.ipynb")
    session = release_workshop(settings, "ws", {"n": 5}, board="http://board.example:8765")
    assert session.changed and session.path == settings.session_release_dir / "ws"
    assert "n = 5" in session_text(settings)
    assert released_text(settings) == committed
    assert check_release(settings, "ws") == ()
    again = release_workshop(settings, "ws", {"n": 7}, board="http://board.example:9000")
    assert again.changed  # new values and address are not new exercises: no --force needed


def test_supporting_files_are_released_too(settings, course_dir):
    (course_dir / "source" / "ws" / "data.csv").write_text("x\n1\n")
    release_workshop(settings, "ws", {})
    assert (settings.release_dir / "ws" / "data.csv").read_text() == "x\n1\n"
