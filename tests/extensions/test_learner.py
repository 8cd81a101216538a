"""The learner's Check panel in a real kernel: tests, hints, progress, light imports."""

import json
import os
import shutil
import subprocess
import sys

import nbfactory as f
import pytest
from conftest import run_cli, write_nb
from kernels import learner_kernel


def test_importing_the_learner_module_loads_no_heavy_package():
    code = (
        "import sys, extensions.learner\n"
        "heavy = ('nbgrader', 'sqlalchemy', 'jupyter_server', 'tornado', 'nbformat', 'ipywidgets')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_check_shows_nothing_while_graded(tmp_path):
    code = "from extensions.learner import check; print(check('anything'))"
    env = {**os.environ, "NBGRADER_EXECUTION": "autograde"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.stdout.strip() == "None", done.stderr


def test_a_copy_released_for_a_board_but_not_joined_says_where_to_join(course_dir, tmp_path):
    board = "http://board.example:8765/"
    done = run_cli("release", "ws", "--board", board, cwd=course_dir)
    assert done.returncode == 0, done.stderr
    shutil.copytree(course_dir / "var" / "session-release" / "ws", tmp_path / "copy")
    code = (
        "from extensions.learner import check; progress = check('square_tests').progress\n"
        "print(progress.note.value, progress.submit_button.layout.display)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path / "copy", env=env
    )
    assert "get your personal copy from http://board.example:8765/workshop/join/ws" in shown.stdout
    assert shown.stdout.rstrip().endswith("none")  # no Submit button where it cannot work
    assert run_cli("release", "ws", "--board", "board:8765", cwd=course_dir).returncode == 2


@pytest.fixture
def released(course_dir):
    nb = f.good_notebook()
    double = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
    nb.cells[3:3] = [f.hint("Multiply `x` by itself."), f.hint("`return x * x`")]
    nb.cells[6:6] = [
        f.solution("double", double),
        f.tests("double_tests", "assert double(2) == 4\nassert double(-1) == -2"),
    ]
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    assert run_cli("release", "ws", cwd=course_dir).returncode == 0
    return course_dir / "release" / "ws"


@pytest.mark.kernel
def test_check_panel_runs_tests_reveals_hints_and_counts_progress(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    with learner_kernel(folder) as kernel:
        kernel.run("from extensions.learner import check\nn = 3")
        kernel.run("def square(x):\n    return x + x\ndef double(x):\n    return x * 3")
        kernel.run("square_panel = check('square_tests'); double_panel = check('double_tests')")
        assert kernel.json("square_panel.hint()") is None  # no failed attempt yet
        first = kernel.json("square_panel.run().to_json()")
        assert not first["passed"] and first["points"] == 0
        assert first["tests"] == [
            {
                "source": "assert square(n) == n * n",
                "status": "failed",
                "message": "got 6, expected 9",
                "condition": "",
            }
        ]
        assert kernel.json("square_panel.hint()") == "Multiply `x` by itself."
        assert kernel.json("square_panel.hint()") is None  # one hint per failed attempt
        kernel.run("square_panel.run()")
        assert kernel.json("square_panel.hint()") == "`return x * x`"
        assert "Hint 2." in kernel.json("square_panel.view.hints.value")
        double = kernel.json("double_panel.run().to_json()")
        assert [t["status"] for t in double["tests"]] == ["failed", "not run"]
        kernel.run("def square(x):\n    return x * x")
        kernel.run("square_panel.view.check_button.click()")  # what a click does
        assert "Passed: 2 of 2 points" in kernel.json("square_panel.view.outcome.value")
        assert kernel.json("square_panel.progress.bar.value") == 1
        assert "<b>1</b> of 2 exercises passed" in kernel.json("double_panel.progress.label.value")
        assert "(Check 3)" in kernel.json("square_panel.view.outcome.value")


@pytest.mark.kernel
def test_check_escapes_learner_strings_and_never_shows_hidden_tests(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    with learner_kernel(folder) as kernel:
        kernel.run("from extensions.learner import check\nn = 3")
        kernel.run("def square(x):\n    raise ValueError('<script>alert(1)</script>')")
        html = kernel.json("(p := check('square_tests')).run() and p.view.outcome.value")
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "square(-2)" not in json.dumps(kernel.json("p.run().to_json()"))


@pytest.mark.kernel
def test_a_missing_checks_file_is_explained(tmp_path):
    with learner_kernel(tmp_path) as kernel:
        printed = kernel.run(
            "from extensions.learner import check\n"
            "try:\n    check('x')\nexcept RuntimeError as e:\n    print(e)"
        )
    assert "Check needs .workshop/checks.json" in printed
