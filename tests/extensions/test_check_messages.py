"""What the panel and the kernel say about an exercise, in a real kernel (issue 14): a fresh
release run top to bottom, a stub, a failing assert, the learner's exception, a syntax error in
the learner's cell, and after Submit a hidden-only failure and a manual answer."""

import json
import shutil

import nbfactory as f
import nbformat
import pytest
from conftest import run_cli, write_nb
from kernels import learner_kernel

from extensions.check_view import SubmissionStatus

SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
TOKENISE = (
    "def tokenise(text):\n    ### BEGIN SOLUTION\n    return text.split()\n    ### END SOLUTION"
)


@pytest.fixture
def released(course_dir):
    nb = f.notebook(
        f.markdown("# Words and squares"),
        f.parameters("n = 3"),
        f.markdown("## 1. Squares\n\nSome text.\n\n### Exercise 1: square a number"),
        f.solution("square", SQUARE),
        f.tests(
            "square_tests",
            "assert square(n) == n * n, f'square({n}) should be {n * n}'\n"
            "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
            points=2,
        ),
        f.code("squares = [square(k) for k in range(3)]"),
        f.code("print(squares)"),
        f.markdown("### Exercise 2: `tokenise`"),
        f.solution("tokenise", TOKENISE),
        f.tests("tokenise_tests", "assert tokenise('a b') == ['a', 'b']"),
        f.manual("reflection"),
    )
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    done = run_cli("release", "ws", cwd=course_dir)
    assert done.returncode == 0, done.stderr
    return course_dir / "release" / "ws"


def test_release_tags_what_may_raise_and_titles_exercises_by_their_heading(released):
    nb = nbformat.read(released / "nb.ipynb", 4)
    tagged = ["raises-exception" in c.metadata.get("tags", []) for c in nb.cells]
    sources = [c.source for c in nb.cells]
    raising = {s.splitlines()[0] for s, t in zip(sources, tagged, strict=True) if t}
    assert raising == {
        "def square(x):",
        "assert square(n) == n * n, f'square({n}) should be {n * n}'",
        "squares = [square(k) for k in range(3)]",
        "print(squares)",
        "def tokenise(text):",
        "assert tokenise('a b') == ['a', 'b']",
    }
    checks = json.loads((released / ".workshop" / "checks.json").read_text())
    titles = [e["title"] for e in checks["notebooks"]["nb"]]
    assert titles == ["Exercise 1: square a number", "Exercise 2: tokenise"]
    assert "squares" in checks["notebooks"]["nb"][0]["names"]


def run_all(kernel, nb) -> list[str]:
    """Every code cell in order, as Run All does past cells tagged raises-exception."""
    return [kernel.run(c.source, allow_errors=True) for c in nb.cells if c.cell_type == "code"]


@pytest.mark.kernel
def test_run_all_on_a_fresh_release_says_not_attempted_in_one_line_each(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    nb = nbformat.read(folder / "nb.ipynb", 4)
    with learner_kernel(folder) as kernel:
        printed = run_all(kernel, nb)
        kernel.run(PANELS)
        outcomes = kernel.json("[p.view.outcome.value for p in _panels]")
    assert all("Not attempted yet: 0 of" in o for o in outcomes), outcomes
    assert all("Write your solution in the cell above" in o for o in outcomes)
    assert len(outcomes) == 2
    demo, shown = printed[4], printed[5]
    assert demo.strip() == (
        "Needs Exercise 1: square a number, not solved yet: solve it, then run this cell again."
    )
    assert shown.strip().startswith("Needs squares, made once Exercise 1: square a number")
    second_tests = printed[7]
    assert second_tests.strip() == (
        "Exercise 2: tokenise: not attempted yet. Its Check panel below says more."
    )


PANELS = (
    "import gc\nfrom extensions.learner import CheckPanel\n"
    "_panels = sorted((o for o in gc.get_objects() if isinstance(o, CheckPanel)), "
    "key=lambda p: p.exercise.grade_id)"
)


@pytest.mark.kernel
def test_a_failing_assert_shows_its_message_first_and_its_code_on_demand(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    with learner_kernel(folder) as kernel:
        kernel.run("n = 3\ndef square(x):\n    return x + x")
        kernel.run("from extensions.learner import check\np = check('square_tests')")
        result = kernel.json("p.run().to_json()")
        shown = kernel.json("p.view.outcome.value")
        test_cell = nbformat.read(folder / "nb.ipynb", 4).cells[4].source
        quiet = kernel.run(test_cell, allow_errors=True)
    assert result["state"] == "failed" and result["points"] == 0
    assert "Not passed yet: 0 of 2 points" in shown
    assert "<b>square(3) should be 9</b>" in shown
    assert "<summary" in shown and shown.index("square(3) should be 9") < shown.index("<details")
    assert (
        quiet.strip()
        == "Exercise 1: square a number: not passed yet. Its Check panel below says why."
    )


@pytest.mark.kernel
def test_an_exception_in_the_learners_code_names_their_line(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    with learner_kernel(folder) as kernel:
        kernel.run("def tokenise(text):\n    words = text.split()\n    return words[5]")
        kernel.run("from extensions.learner import check\np = check('tokenise_tests')")
        result = kernel.json("p.run().to_json()")
    message = result["tests"][0]["message"]
    assert message.startswith("IndexError: list index out of range")
    assert "in tokenise, line 3: return words[5]" in message
    assert result["state"] == "failed"


@pytest.mark.kernel
def test_a_syntax_error_in_the_learners_cell_is_said_so(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    with learner_kernel(folder) as kernel:
        kernel.run("def tokenise(text):\n    return text.split()")  # an earlier version passes
        kernel.run("def tokenise(text):\n    return text.split(", allow_errors=True)
        kernel.run("from extensions.learner import check\np = check('tokenise_tests')")
        result = kernel.json("p.run().to_json()")
        shown = kernel.json("p.view.outcome.value")
    assert result["points"] == 0 and result["state"] == "failed"
    assert result["summary"].startswith("Your solution cell has a syntax error on line 2")
    assert "syntax error on line 2" in shown


def graded(exercises, score, max_score):
    return {"status": "graded", "score": score, "max_score": max_score, "exercises": exercises}


def exercise(key, points, max_points, message=None, hidden=False):
    return {
        "notebook": "nb",
        "exercise": key,
        "points": points,
        "max_points": max_points,
        "passed": points == max_points,
        "message": message,
        "hidden_tests": hidden,
    }


def test_after_submit_each_exercise_reads_passed_failed_or_not_attempted():
    local = {"a": "passed", "b": "passed", "c": None, "d": "not attempted"}
    status = SubmissionStatus(lambda notebook, key: (f"Exercise {key}", local.get(key)))
    result = graded(
        [
            exercise("a", 2, 2),
            exercise("b", 0, 3, hidden=True),  # visible tests pass here, hidden ones fail
            exercise("c", 0, 1, message="NotImplementedError: "),
            exercise("d", 0, 1, hidden=True),
            exercise("e", 0, 2, message="got 1, expected 2"),
        ],
        2,
        11,
    )
    status.show_submission("Submitted.", result)
    shown = status.box.value
    rows = shown.split("<li>")
    assert "Passed:</span> Exercise a" in rows[1]
    assert "Failed:</span> Exercise b" in rows[2]
    assert "the visible tests pass, the hidden tests do not" in rows[2]
    assert "Not attempted:</span> Exercise c" in rows[3]
    assert "Not attempted:</span> Exercise d" in rows[4]
    assert "got 1, expected 2" in rows[5]
    assert "Score: 2 of 11 points" in shown
    assert "2 points for written answers, graded later" in shown
    assert shown.index("var(--jp-error-color1)") < shown.index("Score:")  # 2 of 9: red


def test_a_full_score_is_green_and_a_manual_answer_is_graded_later():
    status = SubmissionStatus(lambda notebook, key: (key, "passed"))
    status.show_submission("Submitted.", graded([exercise("a", 2, 2)], 2, 4))
    shown = status.box.value
    assert shown.index("var(--jp-success-color1)") < shown.index("Score: 2 of 4 points")
    assert "Written answers: graded later" in shown
