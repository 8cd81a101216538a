"""The one rule of what a learner sees (`autograde.learner_view`, `autograde.redact`), on
notebooks built in memory: no kernel, no gradebook."""

import json

import nbfactory
import nbformat

from autograde.learner_view import learner_view, unreadable_view
from autograde.persist import write_autograded
from autograde.redact import HIDDEN_TEXT, find_secrets, redact_notebook, redact_text
from autograde.submissions import Submission
from course.cells import grade_id
from course.settings import Markers

SOLUTION = "return x * x  # the reference"
HIDDEN = 'assert square(-2) == 4, "negative numbers square to positive ones"'
HINT = "Multiply the number by itself."


def source_notebook() -> nbformat.NotebookNode:
    return nbfactory.notebook(
        nbfactory.markdown("# Squares"),
        nbfactory.solution(
            "square",
            f"def square(x):\n    ### BEGIN SOLUTION\n    {SOLUTION}\n    ### END SOLUTION",
        ),
        nbfactory.hint(HINT),
        nbfactory.tests(
            "square_tests",
            f"assert square(3) == 9\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS",
            points=2,
        ),
        nbfactory.tests("square_visible", 'assert square(1) == 1, "one squares to one"'),
    )


def released_notebook() -> nbformat.NotebookNode:
    nb = source_notebook()
    nb.cells = [c for c in nb.cells if "hint" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if grade_id(cell) == "square":
            cell.source = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
        if grade_id(cell) == "square_tests":
            cell.source = "assert square(3) == 9"
    return nb


def graded_notebook(answer: str, printed: str = "") -> nbformat.NotebookNode:
    """The source with *answer* in the solution cell, run: the hidden assertion and the visible
    one failed, and a learner cell printed *printed*."""
    nb = source_notebook()
    nb.cells = [c for c in nb.cells if "hint" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if grade_id(cell) == "square":
            cell.source = answer
        if grade_id(cell) in ("square_tests", "square_visible"):
            message = HIDDEN.split('"')[1] if grade_id(cell) == "square_tests" else "one squares"
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=f"debug: {HIDDEN}\n"),
                nbformat.v4.new_output(
                    "error", ename="AssertionError", evalue=message, traceback=[HIDDEN]
                ),
            ]
    learner = nbfactory.code("print(In)")
    learner.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells.append(learner)
    return nb


def view_of(graded: nbformat.NotebookNode):
    secrets = find_secrets(source_notebook(), released_notebook(), Markers())
    return learner_view("nb", graded, released_notebook(), secrets)


def shown_text(view) -> str:
    return json.dumps(view.notebook, ensure_ascii=False)


def test_a_hidden_test_cell_shows_only_its_points_and_that_it_failed():
    view = view_of(graded_notebook("def square(x):\n    return abs(x)"))
    shown = shown_text(view)
    assert "square(-2)" not in shown and "negative numbers" not in shown
    assert "assert square(3) == 9" not in shown  # no source at all, not even the visible part
    assert "holds hidden tests" in shown and "✗ 0 / 2 points" in shown
    assert "Tests `square_tests` failed" in shown
    hidden = next(e for e in view.exercises if e.exercise == "square_tests")
    assert hidden.hidden_tests and hidden.message is None and not hidden.passed


def test_a_visible_test_cell_keeps_its_source_and_message():
    view = view_of(graded_notebook("def square(x):\n    return abs(x)"))
    visible = next(e for e in view.exercises if e.exercise == "square_visible")
    assert not visible.hidden_tests and visible.message == "AssertionError: one squares"
    shown = shown_text(view)
    assert "one squares to one" in shown and "AssertionError: one squares" in shown
    assert f"debug: {HIDDEN_TEXT}" in shown  # its output, without the hidden line printed


def test_outputs_lose_every_secret_also_when_printed_as_repr():
    printed = f"{[HIDDEN, SOLUTION]!r}\n{json.dumps(HINT)}\nall tests passed\n"
    view = view_of(graded_notebook("def square(x):\n    return abs(x)", printed))
    shown = shown_text(view)
    for secret in (HIDDEN, "negative numbers", SOLUTION, HINT):
        assert secret not in shown and json.dumps(secret)[1:-1] not in shown
    assert "all tests passed" in shown  # an honest output keeps its words


def test_a_line_the_learner_wrote_is_never_hidden_from_them():
    answer = f"def square(x):\n    {SOLUTION}"
    view = view_of(graded_notebook(answer, f"my answer: {SOLUTION}\n"))
    learner_cells = [c for c in view.notebook.cells if c.cell_type == "code"]
    assert learner_cells[0].source == answer
    assert f"my answer: {SOLUTION}" in shown_text(view)


def test_a_short_secret_line_is_hidden_only_where_it_stands_alone():
    secrets = find_secrets(
        nbfactory.notebook(nbfactory.solution("s", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION")),
        nbfactory.notebook(),
        Markers(),
    )
    assert (
        redact_text("x = 1\nx = 12\nbox = 1 ok\n", secrets)
        == f"{HIDDEN_TEXT}\nx = 12\nbox = 1 ok\n"
    )


def test_an_unreadable_notebook_says_so_and_shows_nothing_of_it():
    view = unreadable_view("nb", "nb.ipynb: not a notebook (the file is empty)", source_notebook())
    shown = shown_text(view)
    assert "was not graded" in shown and "the file is empty" in shown
    assert SOLUTION not in shown and HIDDEN not in shown and HINT not in shown
    assert [(e.exercise, e.points) for e in view.exercises] == [
        ("square_tests", 0.0),
        ("square_visible", 0.0),
    ]
    assert sum(m for _, _, m in view.scores) == 3


def test_a_stored_notebook_is_redacted_but_scores_as_it_ran():
    graded = graded_notebook("def square(x):\n    return x * x", f"{HIDDEN}\n")
    tests = next(c for c in graded.cells if grade_id(c) == "square_visible")
    tests.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": HIDDEN})]
    secrets = find_secrets(source_notebook(), released_notebook(), Markers())
    stored = redact_notebook(graded, secrets)
    assert HIDDEN not in "".join(stored.cells[-1].outputs[0].text)
    stored_tests = next(c for c in stored.cells if grade_id(c) == "square_visible")
    assert stored_tests.outputs == tests.outputs


def test_the_autograded_folder_gets_the_data_files_but_no_source_notebook(settings, tmp_path):
    source = tmp_path / "source-ws"
    (source / "data").mkdir(parents=True)
    (source / "data" / "points.csv").write_text("x,y\n")
    nbformat.write(source_notebook(), source / "nb.ipynb")
    nbformat.write(source_notebook(), source / "data" / "extra.ipynb")
    (source / ".ipynb_checkpoints").mkdir()
    (source / "__pycache__").mkdir()
    submission = Submission("ada", "ws", settings.submitted_dir / "ada" / "ws", None, ())
    target = write_autograded(settings, submission, {}, source)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "data",
        "data/points.csv",
    ]
