"""What is stored of a graded notebook is bounded, says what was cut, and never moves a score."""

import copy
import json
import shutil

import nbfactory as f
import nbformat
import pytest
from conftest import write_nb

from autograde.feedback import write_feedback
from autograde.grade import grade_assignment
from autograde.trim import trim_outputs
from course.release import release_workshop
from course.score import score_cells
from course.settings import load_settings

pytestmark = pytest.mark.kernel

MIB = 1024 * 1024
FLOOD = "print('x' * (20 * 1024 * 1024))\n"
ANSWERS = {
    "right": FLOOD + "def square(x):\n    return x * x",
    "wrong": FLOOD + "def square(x):\n    return x + x",
    "loud_test": "def square(x):\n    print('y' * (3 * 1024 * 1024))\n    return x * x",
    "failing_test": "def square(x):\n    raise ValueError('z' * (20 * 1024 * 1024))",
}


def course(root, stored_output_mb):
    root.mkdir(parents=True)
    config = (root.parent.parent / "config.py").read_text()
    (root / "nbgrader_config.py").write_text(
        config + f"\nc.Workshop.stored_output_mb = {stored_output_mb}\n"
    )
    write_nb(root / "source" / "ws" / "nb.ipynb", f.good_notebook())
    settings = load_settings(root)
    release_workshop(settings, "ws", {})
    released = nbformat.read(settings.release_dir / "ws" / "nb.ipynb", 4)
    for learner, source in ANSWERS.items():
        nb = copy.deepcopy(released)
        next(
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square"
        ).source = source
        write_nb(settings.submitted_dir / learner / "ws" / "nb.ipynb", nb)
    return settings


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from conftest import REPO

    top = tmp_path_factory.mktemp("stored")
    shutil.copy(REPO / "nbgrader_config.py", top / "config.py")
    bounded, whole = course(top / "a" / "bounded", 2), course(top / "b" / "whole", 100)
    return (bounded, grade_assignment(bounded, "ws")), (whole, grade_assignment(whole, "ws"))


def test_scores_are_the_same_whether_outputs_are_cut_or_not(graded):
    (_, bounded), (_, whole) = graded
    assert [r.to_json() for r in bounded.results] == [r.to_json() for r in whole.results]
    totals = {r.student: r.score for r in bounded.results}
    assert totals == {"right": 2, "wrong": 0, "loud_test": 2, "failing_test": 0}


@pytest.mark.parametrize("learner", sorted(ANSWERS))
def test_an_autograded_notebook_stays_under_the_bound_and_says_it_was_cut(graded, learner):
    (settings, report), (whole_settings, _) = graded
    path = settings.autograded_dir / learner / "ws" / "nb.ipynb"
    assert path.stat().st_size <= 2 * MIB
    assert "output cut for storage" in path.read_text()
    assert (whole_settings.autograded_dir / learner / "ws" / "nb.ipynb").stat().st_size > 5 * MIB
    stored = {s.grade_id: s.points for s in score_cells(nbformat.read(path, 4), stderr_fails=False)}
    result = next(r for r in report.results if r.student == learner)
    assert stored == {s.grade_id: s.points for n in result.notebooks for s in n.cells}


def test_feedback_pages_stay_near_the_bound(graded):
    (settings, _), _ = graded
    for page in write_feedback(settings, "ws").written:
        assert page.stat().st_size <= 3 * MIB, page


def test_small_outputs_are_kept_whole_and_large_ones_share_the_rest():
    nb = f.notebook(f.code("print(1)"), f.code("print(2)"))
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="small\n")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stderr", text="L" * 100_000)]
    assert trim_outputs(nb, 1_000_000) is nb
    cut = trim_outputs(nb, 20_000)
    assert cut.cells[0].outputs == nb.cells[0].outputs
    [output] = cut.cells[1].outputs
    assert output.name == "stderr" and 10_000 < len(output.text) < 20_000
    assert "100,0" in output.text and "output cut for storage" in output.text
    assert len(nb.cells[1].outputs[0].text) == 100_000  # the input is not changed


def test_a_cut_counts_the_escapes_json_adds():
    nb = f.notebook(f.code("print(1)"))
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text='\x00"é\n' * 200_000)
    ]
    [output] = trim_outputs(nb, 100_000).cells[0].outputs
    assert len(json.dumps(output, ensure_ascii=False).encode()) <= 100_000
