"""A learner's Check and `workshop grade` agree, given the same code (issue 4, item 1)."""

import json
import shutil
import sqlite3

import nbfactory as f
import nbformat
import pytest
from conftest import run_cli, write_nb
from kernels import learner_kernel

from course.cells import grade_id
from course.score import score_cells
from extensions.check_tests import points_for

ANSWERS = {
    "correct": {
        "square": "def square(x):\n    return x * x",
        "halve": "def halve(x):\n    return x / 2",
        "quiet": "def quiet():\n    return 1",
        "cube": "def cube(x):\n    return x ** 3",
    },
    "wrong": {
        "square": "def square(x):\n    return x + x",
        "halve": "def halve(x):\n    return x // 2",
        "quiet": "import warnings\n\ndef quiet():\n    warnings.warn('careful')\n    return 1",
        "cube": "def cube(x):\n    return x ** 3 if x > 0 else 0",
    },
    "raises": {
        "square": "def square(x):\n    raise ValueError('no idea')",
        "halve": "def halve(x):\n    return undefined_name",
        "quiet": "def quiet():\n    import sys\n    sys.stderr.write('debug\\n')\n    return 1",
        "cube": "def cube(x):\n    raise RuntimeError",
    },
    "blank": {},
}


def agreement_notebook() -> nbformat.NotebookNode:
    """Visible tests only (exact agreement), partial credit, stderr, and one hidden test."""
    return f.notebook(
        f.parameters("n = 3"),
        f.solution(
            "square",
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
        ),
        f.tests(
            "square_tests",
            'assert square(n) == n * n, f"expected {n * n}, got {square(n)}"',
            points=2,
        ),
        f.solution(
            "halve", "def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
        ),
        f.tests(
            "halve_tests",
            "earned = 0\nif halve(4) == 2:\n    earned += 1\nif halve(5) == 2.5:\n    earned += 1\nearned",
            points=2,
        ),
        f.solution(
            "quiet", "def quiet():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
        ),
        f.tests("quiet_tests", "assert quiet() == 1"),
        f.solution(
            "cube", "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION"
        ),
        f.tests(
            "cube_tests",
            "assert cube(2) == 8\n### BEGIN HIDDEN TESTS\nassert cube(-1) == -1\n### END HIDDEN TESTS",
        ),
    )


def fill_in(released: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


@pytest.mark.kernel
@pytest.mark.parametrize("stderr_fails", [False, True], ids=["default", "strict"])
def test_check_and_grading_agree_for_the_same_code(course_dir, tmp_path, stderr_fails):
    """Same points in Check and grading; a warning on stderr costs points only when strict."""
    if stderr_fails:
        with (course_dir / "nbgrader_config.py").open("a") as config:
            config.write("\nc.Workshop.stderr_fails = True\n")
    shutil.rmtree(course_dir / "source" / "ws")
    write_nb(course_dir / "source" / "agree" / "nb.ipynb", agreement_notebook())
    assert run_cli("release", "agree", cwd=course_dir).returncode == 0
    released_folder = course_dir / "release" / "agree"
    released = nbformat.read(released_folder / "nb.ipynb", 4)
    checked: dict[tuple[str, str], dict] = {}
    for learner, answers in ANSWERS.items():
        nb = fill_in(released, answers)
        write_nb(course_dir / "var" / "submitted" / learner / "agree" / "nb.ipynb", nb)
        folder = tmp_path / learner
        shutil.copytree(released_folder, folder)
        with learner_kernel(folder) as kernel:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                if "workshop-check" in cell.metadata.get("tags", []):
                    kernel.run(cell.source)
                    exercise = cell.source.rsplit('check("', 1)[1].rstrip('")')
                    result = kernel.json(f"check({exercise!r}).run().to_json()")
                    checked[learner, exercise] = result
                else:
                    kernel.run(cell.source, allow_errors=True)
    graded = run_cli("grade", "agree", cwd=course_dir)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with sqlite3.connect(course_dir / "var" / "gradebook.db") as db:
        grades = {
            (learner, cell): score
            for learner, cell, score in db.execute(
                "select st.id, bc.name, g.auto_score from grade g "
                "join submitted_notebook sn on g.notebook_id = sn.id "
                "join submitted_assignment sa on sn.assignment_id = sa.id "
                "join student st on sa.student_id = st.id join base_cell bc on g.cell_id = bc.id"
            )
        }
    assert len(checked) == len(ANSWERS) * 4
    for (learner, exercise), result in checked.items():
        grade = grades[learner, exercise]
        if exercise == "cube_tests":
            # hidden tests can only take points away from what the visible ones showed
            assert grade <= result["points"], (learner, exercise)
            continue
        assert result["points"] == grade, (learner, exercise, result)
    # the cases the rule distinguishes all occurred
    assert checked["correct", "halve_tests"]["points"] == 2
    assert checked["wrong", "halve_tests"]["points"] == 1
    for learner in ("wrong", "raises"):  # a warning, a line written to sys.stderr
        quiet = checked[learner, "quiet_tests"]
        assert "careful" in quiet["stderr"] or "debug" in quiet["stderr"]
        assert quiet["points"] == (0 if stderr_fails else 1), (learner, quiet)
        assert bool(quiet["notes"]) == stderr_fails
    assert checked["raises", "square_tests"]["tests"][0]["message"] == (
        "ValueError: no idea (in square, line 2: raise ValueError('no idea'))"
    )
    assert checked["wrong", "square_tests"]["tests"][0]["message"] == "expected 9, got 6"
    assert checked["wrong", "cube_tests"]["passed"] and grades["wrong", "cube_tests"] == 0


def output_cell(*outputs: dict, points: float = 2) -> nbformat.NotebookNode:
    cell = f.tests("t", "pass", points=points)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def stream(name: str) -> dict:
    return {"output_type": "stream", "name": name, "text": "x\n"}


def result(text: str) -> dict:
    return {
        "output_type": "execute_result",
        "data": {"text/plain": text},
        "metadata": {},
        "execution_count": 1,
    }


ERROR = {"output_type": "error", "ename": "E", "evalue": "", "traceback": []}


@pytest.mark.parametrize(
    "outputs",
    [
        [],
        [stream("stdout")],
        [stream("stderr")],
        [ERROR],
        [stream("stdout"), result("1.5")],
        [result("0")],
        [result("2")],
        [result("3")],
        [result("-1")],
        [result("'some text'")],
        [result("np.float64(0.5)")],
        [result("")],
        [stream("stderr"), result("1")],
    ],
)
@pytest.mark.parametrize("stderr_fails", [False, True], ids=["default", "strict"])
def test_points_rule_is_nbgraders(outputs, stderr_fails):
    """`points_for` (no nbgrader in learner kernels) equals nbgrader's determine_grade as the
    grader applies it, for every kind of output a test cell can have."""
    [graded] = score_cells(f.notebook(output_cell(*outputs)), stderr_fails=stderr_fails)
    kinds = [o["output_type"] for o in outputs]
    results = [o["data"]["text/plain"] for o in outputs if o["output_type"] == "execute_result"]
    ours = points_for(
        failed="error" in kinds,
        stderr=stderr_fails and any(o.get("name") == "stderr" for o in outputs),
        result_text=results[0] if results else None,
        max_points=2,
    )
    assert ours == graded.points
