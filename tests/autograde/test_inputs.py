"""No file in place of a submitted notebook stops a batch: each is its learner's
`invalid-notebook`, with a reason naming the file, and every other learner is graded.

The batch runs as the `workshop grade` command. As root, which reads any file whatever its
mode, it runs without the capabilities that bypass file permissions, so an unreadable file is
unreadable to the grader too.
"""

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbfactory as f
import nbformat
import pytest
from conftest import REPO, write_nb

from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

ROOT = os.geteuid() == 0
NO_PERMISSION_BYPASS = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
LIMIT_KB = 1000  # c.CourseDirectory.max_file_size: 1 MB


def exercise(name, answer, points):
    return f.notebook(
        f.solution(
            name, f"def {name}(x):\n    ### BEGIN SOLUTION\n    {answer}\n    ### END SOLUTION"
        ),
        f.tests(
            f"{name}_tests",
            f"assert {name}(3) == {eval('lambda x: ' + answer[7:])(3)}",
            points=points,
        ),
    )


def answered(released, answer):
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = cell.source.split("\n")[0] + "\n    " + answer
    return nb


def deep_json(path):
    path.write_text("[" * 200_000 + "]" * 200_000)


def deep_metadata(path, released):
    nb = nbformat.v4.writes(released)
    nested = "[" * 900 + "]" * 900
    path.write_text(nb.replace('"metadata": {', f'"metadata": {{"deep": {nested},', 1))


def oversized(path, released):
    big = copy.deepcopy(released)
    big.cells.append(nbformat.v4.new_markdown_cell("x" * (2 * LIMIT_KB * 1000)))
    path.write_text(nbformat.writes(big))


def device(path):
    """Like /dev/zero (endless bytes); a symbolic link to a device stands in without root."""
    if ROOT:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    else:
        path.symlink_to("/dev/zero")


def unreadable(path, released):
    path.write_text(nbformat.writes(released))
    path.chmod(0)


SPECIAL = {
    "deep_json": lambda path, released: deep_json(path),
    "deep_metadata": deep_metadata,
    "directory": lambda path, released: path.mkdir(),
    "fifo": lambda path, released: os.mkfifo(path),
    "device": lambda path, released: device(path),
    "oversized": oversized,
    "unreadable": unreadable,
}
REASONS = {
    "deep_json": "nested more than",
    "deep_metadata": "nested more than",
    "directory": "it is a directory",
    "fifo": "it is a named pipe",
    "device": "it is a device" if ROOT else "it is a symbolic link",
    "oversized": "too large",
    "unreadable": "Permission denied",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if ROOT and shutil.which("setpriv") is None:
        pytest.skip("running as root needs util-linux's setpriv to drop the permission bypass")
    root = tmp_path_factory.mktemp("inputs") / "course"
    root.mkdir()
    config = (REPO / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(
        config + f"\nc.CourseDirectory.max_file_size = {LIMIT_KB}\n"
    )
    write_nb(root / "source" / "hw" / "a.ipynb", exercise("triple", "return 3 * x", 2))
    write_nb(root / "source" / "hw" / "b.ipynb", exercise("double", "return 2 * x", 1))
    release_workshop(load_settings(root), "hw", {})
    released = {n: nbformat.read(root / "release" / "hw" / f"{n}.ipynb", 4) for n in "ab"}
    submitted = root / "var" / "submitted"
    for learner in ["honest", *SPECIAL]:
        folder = submitted / learner / "hw"
        folder.mkdir(parents=True)
        write_nb(folder / "b.ipynb", answered(released["b"], "return 2 * x"))
        if learner == "honest":
            write_nb(folder / "a.ipynb", answered(released["a"], "return 3 * x"))
    for learner, make in SPECIAL.items():
        make(submitted / learner / "hw" / "a.ipynb", released["a"])
    report = root / "report.json"
    exe = Path(sys.executable).parent / "workshop"
    done = subprocess.run(
        [*(NO_PERMISSION_BYPASS if ROOT else []), str(exe), "grade", "hw", "--report", str(report)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (submitted / "unreadable" / "hw" / "a.ipynb").chmod(0o600)  # so pytest can clean up
    return done, json.loads(report.read_text()) if report.exists() else None


def test_the_batch_ends_with_exit_status_1_and_every_learner_graded(graded):
    done, report = graded
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    statuses = {s["student"]: s["status"] for s in report["submissions"]}
    assert statuses == {"honest": "graded", **{learner: "failed" for learner in SPECIAL}}
    honest = next(s for s in report["submissions"] if s["student"] == "honest")
    assert honest["score"] == 3 and honest["problems"] == []


@pytest.mark.parametrize("learner", sorted(SPECIAL))
def test_each_input_is_its_learners_invalid_notebook_with_a_reason(graded, learner):
    _, report = graded
    result = next(s for s in report["submissions"] if s["student"] == learner)
    [problem] = [p for p in result["problems"] if p["notebook"] == "a"]
    assert problem["code"] == "invalid-notebook"
    assert problem["message"].startswith(f"var/submitted/{learner}/hw/a.ipynb: ")
    assert REASONS[learner] in problem["message"]
    assert {n["notebook"]: n["score"] for n in result["notebooks"]} == {"a": 0, "b": 1}
