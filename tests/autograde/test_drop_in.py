"""`workshop grade` on nbgrader courses it did not make: their kernels, limits and set-up errors.

Each course here is a plain nbgrader course (no `c.Workshop` settings unless a test adds one),
graded through the `workshop` command as an organiser would run it.
"""

import copy
import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import nbfactory as f
import nbformat
import pytest
from conftest import run_cli, write_nb

from autograde.run_kernel import installed_kernels
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

ANSWER = "def slow():\n    return 1"


def nbgrader_course(
    root, *config_lines, kernelspec=None, slow_cell=False, answer=ANSWER, files=None
):
    """An nbgrader-style course (relative SQLite gradebook, nbgrader's defaults) with `ws`
    released and one learner's copy of the release submitted, with *answer* in its solution
    cell and *files* (name -> text) beside it."""
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "\n".join(
            [
                "c = get_config()",
                'c.CourseDirectory.course_id = "peer"',
                'c.CourseDirectory.db_url = "sqlite:///gradebook.db"',
                *config_lines,
                "",
            ]
        )
    )
    nb = f.notebook(
        f.code("import time"),
        f.solution(
            "slow", "def slow():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
        ),
        *([f.code("time.sleep(30)")] if slow_cell else []),
        f.tests("slow_tests", "assert slow() == 1", points=2),
    )
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
        nb.metadata["language_info"] = {"name": kernelspec["language"]}
    write_nb(root / "source" / "ws" / "nb.ipynb", nb)
    settings = load_settings(root)
    release_workshop(settings, "ws", {})
    submitted = copy.deepcopy(nbformat.read(root / "release" / "ws" / "nb.ipynb", 4))
    for cell in submitted.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "slow":
            cell.source = answer
    folder = settings.submitted_dir / "learner" / "ws"
    write_nb(folder / "nb.ipynb", submitted)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return root


def test_a_notebook_of_another_kernel_is_refused_naming_the_kernel(tmp_path):
    kernel = {"name": "ir", "display_name": "R", "language": "R"}
    root = nbgrader_course(tmp_path / "course", kernelspec=kernel)
    graded = run_cli("grade", "ws", cwd=root)
    assert graded.returncode == 1, graded.stdout + graded.stderr
    assert "unsupported-kernel" in graded.stdout
    assert "'ir'" in graded.stdout and "nbgrader autograde" in graded.stdout
    assert "tampered-metadata" not in graded.stdout


def test_nbgraders_cell_limit_and_interrupt_setting_are_honoured(tmp_path):
    root = nbgrader_course(
        tmp_path / "course",
        "c.Execute.timeout = 2",
        "c.Execute.interrupt_on_timeout = False",
        slow_cell=True,
    )
    graded = run_cli("grade", "ws", "--report", "report.json", cwd=root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    nb = nbformat.read(root / "autograded" / "learner" / "ws" / "nb.ipynb", 4)
    sleeping = next(c for c in nb.cells if c.source == "time.sleep(30)")
    assert sleeping.outputs[-1].ename == "CellTimeout"
    assert "2 s" in sleeping.outputs[-1].evalue
    test = nb.cells[-1]
    assert test.outputs[0].ename == "NotRun"  # nbgrader stops at a timeout when not interrupting


def test_a_course_root_that_does_not_exist_is_named_and_nothing_is_written(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    missing = tmp_path / "elsewhere" / "course"
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(missing)!r}\n"
    )
    graded = run_cli("grade", "ws", cwd=root)
    assert graded.returncode == 1
    assert "c.CourseDirectory.root" in graded.stderr and str(missing) in graded.stderr
    assert "Traceback" not in graded.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]
    assert [p.name for p in root.iterdir()] == ["nbgrader_config.py"]


def test_an_unreleased_assignment_names_the_gradebook_and_nbgraders_command(tmp_path):
    root = nbgrader_course(tmp_path / "course")
    graded = run_cli("grade", "other", cwd=root)
    assert graded.returncode == 1
    assert "gradebook.db" in graded.stderr and str(root) in graded.stderr
    assert "nbgrader generate_assignment other" in graded.stderr


def test_an_old_gradebook_schema_asks_for_nbgraders_upgrade(tmp_path):
    root = nbgrader_course(tmp_path / "course")
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '167914646830'")  # nbgrader 0.6
    graded = run_cli("grade", "ws", cwd=root)
    assert graded.returncode == 1
    assert "nbgrader db upgrade" in graded.stderr and "gradebook.db" in graded.stderr
    assert "internal error" not in graded.stderr and "OperationalError" not in graded.stderr


@pytest.mark.parametrize("minor", [2, 4])
def test_older_nbformat_minor_versions_are_graded_and_get_feedback(tmp_path, minor):
    root = nbgrader_course(tmp_path / "course")
    path = root / "submitted" / "learner" / "ws" / "nb.ipynb"
    raw = json.loads(path.read_text())
    raw["nbformat_minor"] = minor
    for cell in raw["cells"]:
        cell.pop("id", None)
    path.write_text(json.dumps(raw))
    assert run_cli("grade", "ws", cwd=root).returncode == 0
    graded = root / "autograded" / "learner" / "ws" / "nb.ipynb"
    nb = nbformat.read(graded, 4)
    nbformat.validate(nb)  # ids were added, so it is a 4.5 notebook
    assert nb.nbformat_minor == 5
    feedback = run_cli("feedback", "ws", cwd=root)
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    assert (root / "feedback" / "learner" / "ws").is_dir()


def test_autograded_notebooks_are_read_only_as_nbgrader_writes_them(tmp_path):
    root = nbgrader_course(tmp_path / "course")
    assert run_cli("grade", "ws", cwd=root).returncode == 0
    folder = root / "autograded" / "learner" / "ws"
    assert stat.S_IMODE((folder / "nb.ipynb").stat().st_mode) == 0o444
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    released = root / "release" / "ws" / "nb.ipynb"
    assert stat.S_IMODE(released.stat().st_mode) == 0o644


def graded_outputs(root):
    nb = nbformat.read(root / "autograded" / "learner" / "ws" / "nb.ipynb", 4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_a_learners_own_helper_module_is_importable(tmp_path):
    root = nbgrader_course(
        tmp_path / "course",
        answer="from my_ke import slow",
        files={"my_ke.py": "def slow():\n    return 1\n"},
    )
    graded = run_cli("grade", "ws", cwd=root)
    assert graded.returncode == 0, graded.stdout
    assert "2/2" in graded.stdout and "shadowing-module" not in graded.stdout


def test_a_module_that_shadows_a_library_is_left_out_and_flagged(tmp_path):
    root = nbgrader_course(
        tmp_path / "course",
        answer="import random\ndef slow():\n    return random.FAKE",
        files={"random.py": "FAKE = 1\n", "json/__init__.py": "", "data/notes.txt": "mine"},
    )
    graded = run_cli("grade", "ws", "--report", "report.json", cwd=root)
    assert graded.returncode == 0, graded.stdout
    (result,) = json.loads((root / "report.json").read_text())["submissions"]
    assert result["score"] == 0
    flagged = sorted(p["message"] for p in result["problems"] if p["code"] == "shadowing-module")
    assert flagged == [
        "json would replace the module 'json'; left out",
        "random.py would replace the module 'random'; left out",
    ]


def test_files_the_course_ignores_never_reach_the_learner_code(tmp_path):
    root = nbgrader_course(
        tmp_path / "course",
        "c.CourseDirectory.ignore = ['*.md', '.ipynb_checkpoints', '__pycache__']",
        answer="import os\nprint(sorted(os.listdir('.')))\ndef slow():\n    return 1",
    )
    (root / "source" / "ws" / "nb.md").write_text("assert slow() == 1  # SECRET hidden twin\n")
    (root / "source" / "ws" / "table.csv").write_text("a,b\n1,2\n")
    assert run_cli("grade", "ws", "--force", cwd=root).returncode == 0
    (listing,) = [o.text for o in graded_outputs(root) if o.output_type == "stream"]
    assert "table.csv" in listing and "nb.md" not in listing


BASH = {"name": "bash", "display_name": "Bash", "language": "bash"}


def bash_course(root, answers):
    """An nbgrader course of one bash notebook, released by nbgrader, one learner per answer."""
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "sh"\n'
        'c.CourseDirectory.db_url = "sqlite:///gradebook.db"\nc.Execute.timeout = 20\n'
        "c.ClearSolutions.code_stub = {'bash': '# YOUR CODE HERE', 'python': '# YOUR CODE HERE'}\n"
    )
    nb = f.notebook(
        f.solution("greet", "greet() {\n### BEGIN SOLUTION\n  echo hello\n### END SOLUTION\n}"),
        f.tests("greet_tests", '[ "$(greet)" = hello ]', points=2),
    )
    nb.metadata["kernelspec"] = BASH
    nb.metadata["language_info"] = {"name": "bash"}
    write_nb(root / "source" / "sh" / "nb.ipynb", nb)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", "sh"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    released = nbformat.read(root / "release" / "sh" / "nb.ipynb", 4)
    for learner, answer in answers.items():
        nb = copy.deepcopy(released)
        nb.cells[0].source = answer
        write_nb(root / "submitted" / learner / "sh" / "nb.ipynb", nb)
    return root


@pytest.mark.skipif("bash" not in installed_kernels(), reason="bash_kernel is not installed")
def test_a_bash_notebook_runs_in_its_own_kernel_inside_the_sandbox(tmp_path):
    root = bash_course(
        tmp_path / "course",
        {"right": "greet() {\n  echo hello\n}", "wrong": "greet() {\n  echo bye\n}"},
    )
    graded = run_cli("grade", "sh", "--report", "report.json", cwd=root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads((root / "report.json").read_text())
    scores = {s["student"]: s["score"] for s in report["submissions"]}
    assert scores == {"right": 2, "wrong": 0}
    assert all(not s["problems"] for s in report["submissions"])
