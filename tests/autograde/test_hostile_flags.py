"""Suspicious submissions are flagged with their documented code; honest ones are not.

One course, one `workshop grade` run (module fixture), one learner per behaviour, as in
test_hostile.py: tests turned into other cell types, edited or deleted read-only cells, files
that shadow modules, signals sent to the grader, and values that claim to equal everything
(the equality attack), beside honest learners whose NumPy, float, dict and warning-writing
answers keep every point.
"""

import copy

import nbfactory as f
import nbformat
import pytest
from conftest import REPO, write_nb

from autograde.findings import CODES
from autograde.grade import grade_assignment
from course.gradebook import open_gradebook
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

SQUARE = "def square(x):\n    return x * x"
STATS = "def stats(xs):\n    return {'mean': float(np.mean(xs)), 'values': [float(x) for x in xs]}"
NOISY = "def noisy(x):\n    return x + 1"
LIAR = "class Liar:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
GRADE_IDS = ("square_tests", "stats_tests", "noisy_tests")
FULL = (2, 2, 1)


def flags_notebook():
    return f.notebook(
        f.parameters("n = 3"),
        f.locked("setup", "import numpy as np\nDATA = np.arange(5.0)"),
        f.solution(
            "square",
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
        ),
        f.tests(
            "square_tests",
            "assert square(n) == n * n, 'square(n) is wrong'\n"
            "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
            points=2,
        ),
        f.solution("stats", f"### BEGIN SOLUTION\n{STATS}\n### END SOLUTION"),
        f.tests(
            "stats_tests",
            "result = stats(DATA)\n"
            "assert result == {'mean': 2.0, 'values': [0.0, 1.0, 2.0, 3.0, 4.0]}\n"
            "assert np.allclose(result['values'], DATA)\n"
            "assert (np.array(result['values']) == DATA).all()\n"
            "assert abs(result['mean'] - 2.0) < 1e-9 and 'mean' in result\n"
            "assert np.isclose(result['mean'], 2.0)\n"
            "assert result['mean'] == 0.1 + 1.9 and 0.1 + 0.2 != 0.3\n"
            "assert result['values'] and not (result['values'] is None)",
            points=2,
        ),
        f.solution("noisy", f"### BEGIN SOLUTION\n{NOISY}\n### END SOLUTION"),
        f.tests("noisy_tests", "assert noisy(1) == 2", points=1),
    )


def answer(released, **sources):
    nb = copy.deepcopy(released)
    chosen = {"square": SQUARE, "stats": STATS, "noisy": NOISY, **sources}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in chosen:
            cell.source = chosen[meta["grade_id"]]
    return nb


def cell_of(nb, key):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == key)


def retyped(released, key, cell_type, **sources):
    nb = answer(released, **sources)
    cell = cell_of(nb, key)
    cell.cell_type = cell_type
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    return nb


def edited_setup(released):
    nb = answer(released)
    cell_of(nb, "setup").source = "import numpy as np\nDATA = np.zeros(5)"
    return nb


def deleted_setup(released):
    nb = answer(released, stats="import numpy as np\n" + STATS)
    nb.cells.remove(cell_of(nb, "setup"))
    return nb


# learner -> (their answers or a notebook builder, (square, stats, noisy) points, codes)
BEHAVIOURS = {
    "honest": ({}, FULL, set()),
    "warns": (
        {
            "noisy": "import sys, warnings\ndef noisy(x):\n    warnings.warn('noisy is deprecated')\n"
            "    print('debug: noisy called', file=sys.stderr)\n    return x + 1"
        },
        FULL,
        set(),
    ),
    "raw_tests": (lambda r: retyped(r, "square_tests", "raw"), FULL, {"changed-cell-type"}),
    "markdown_tests": (
        lambda r: retyped(r, "square_tests", "markdown", square="def square(x):\n    return 0"),
        (0, 2, 1),
        {"changed-cell-type"},
    ),
    "edited_setup": (edited_setup, FULL, {"edited-locked-cell"}),
    "deleted_setup": (deleted_setup, (2, 0, 1), {"deleted-locked-cell"}),
    "shadowing": ({}, FULL, {"shadowing-module", "extra-file"}),
    "extra_files": ({}, FULL, {"extra-file"}),
    "signals": (
        {
            "noisy": "import os, signal\nfor target in (0, -1, os.getppid()):\n"
            "    try:\n        os.kill(target, signal.SIGCONT)\n    except OSError:\n        pass\n"
            + NOISY
        },
        FULL,
        {"signalled-grader"},
    ),
    "kill_program": (
        {"noisy": "import subprocess\nsubprocess.run(['kill', '-CONT', '1'])\n" + NOISY},
        FULL,
        {"signalled-grader"},
    ),
}
# the equality attack: learner -> (the answer that lies, its source); each scores 0 and is flagged
ATTACKS = {
    "eq_liar": ("square", LIAR + "def square(x):\n    return Liar()"),
    "mock_any": ("stats", "from unittest import mock\ndef stats(xs):\n    return mock.ANY"),
    "any_inside": (
        "stats",
        "from unittest import mock\ndef stats(xs):\n"
        "    return {'mean': mock.ANY, 'values': [mock.ANY] * 5}",
    ),
    "truthy_eq": (
        "square",
        "class Yes:\n    def __bool__(self):\n        return True\n"
        "class Num:\n    def __eq__(self, other):\n        return Yes()\n"
        "def square(x):\n    return Num()",
    ),
    "numpy_like": (
        "square",
        "import numpy as np\nclass Arrayish:\n    def __eq__(self, other):\n"
        "        return np.array([True])\ndef square(x):\n    return Arrayish()",
    ),
    "lying_bool": (
        "stats",
        "class Values(list):\n    def __bool__(self):\n        return True\n"
        "    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
        "def stats(xs):\n    return {'mean': 2.0, 'values': Values()}",
    ),
    "swap_checker": (
        "square",
        LIAR + "class Yes:\n    def __getattr__(self, name):\n        return lambda *args: True\n"
        "def square(x):\n    get_ipython().user_ns['__workshop_comparisons__'] = Yes()\n"
        "    return Liar()",
    ),
    "patch_checker": (
        "square",
        LIAR + "import autograde.guard_asserts as guard\n"
        "guard.Comparisons.compare = lambda *args: True\nguard._claims = lambda result: False\n"
        "def square(x):\n    return Liar()",
    ),
}
BEHAVIOURS.update(
    {
        learner: ({cell: source}, (0, 2, 1) if cell == "square" else (2, 0, 1), {"untrusted-value"})
        for learner, (cell, source) in ATTACKS.items()
    }
)
FILES = {
    "shadowing": {"numpy.py": "raise SystemExit('shadowed')\n", "random.py": "", "mylib.py": ""},
    "extra_files": {"mylib.py": "def helper():\n    return 1\n", "notes/data.csv": "a,b\n"},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("flags") / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text())
    write_nb(root / "source" / "hw" / "flags.ipynb", flags_notebook())
    settings = load_settings(root)
    release_workshop(settings, "hw", {})
    released = nbformat.read(root / "release" / "hw" / "flags.ipynb", 4)
    for student, (made, _, _) in BEHAVIOURS.items():
        folder = root / "var" / "submitted" / student / "hw"
        folder.mkdir(parents=True)
        nb = made(released) if callable(made) else answer(released, **made)
        nbformat.write(nb, folder / "flags.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
        for name, text in FILES.get(student, {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    report = grade_assignment(settings, "hw", workers=1)  # flags here; lanes in test_hostile
    return settings, {r.student: r for r in report.results}


def scores(settings, student):
    with open_gradebook(settings) as gradebook:
        [notebook] = gradebook.find_submission("hw", student).notebooks
        by_cell = {grade.cell.name: grade.auto_score for grade in notebook.grades}
    return tuple(by_cell[key] for key in GRADE_IDS)


@pytest.mark.parametrize("student", sorted(BEHAVIOURS))
def test_each_behaviour_is_scored_and_flagged(graded, student):
    settings, results = graded
    _, expected_scores, expected_codes = BEHAVIOURS[student]
    result = results[student]
    found = {finding.code for finding in result.findings}
    assert scores(settings, student) == expected_scores, result.findings
    assert result.status == "graded"
    assert found == expected_codes, [str(finding) for finding in result.findings]


def test_findings_name_what_was_found(graded):
    _, results = graded
    messages = {r.student: " | ".join(str(f) for f in r.findings) for r in results.values()}
    assert "numpy.py would replace the module 'numpy'" in messages["shadowing"]
    assert "random.py would replace the module 'random'" in messages["shadowing"]
    assert "mylib.py" in messages["extra_files"] and "notes/data.csv" in messages["extra_files"]
    assert "would replace" not in messages["extra_files"]
    assert "os.kill(-1, SIGCONT)" in messages["signals"]
    assert "mock._ANY" in messages["mock_any"]
    assert "raw" in messages["raw_tests"] and "'square_tests'" in messages["raw_tests"]
    assert "'setup'" in messages["deleted_setup"]


def test_the_equality_attack_fails_with_a_clear_message(graded):
    settings, _ = graded
    nb = nbformat.read(settings.autograded_dir / "eq_liar" / "hw" / "flags.ipynb", 4)
    [error] = [o for o in cell_of(nb, "square_tests").outputs if o.output_type == "error"]
    assert error.ename == "UntrustedValue"
    assert "cannot be trusted" in error.evalue and "Liar claims to equal anything" in error.evalue


def test_an_honest_failure_keeps_the_test_authors_message(graded):
    settings, _ = graded
    nb = nbformat.read(settings.autograded_dir / "markdown_tests" / "hw" / "flags.ipynb", 4)
    [error] = [o for o in cell_of(nb, "square_tests").outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("AssertionError", "square(n) is wrong")
    assert "square(n) is wrong" in error.traceback[-1]  # no line quoted: test cells stay unread


def test_a_warning_on_stderr_is_kept_and_costs_nothing(graded):
    settings, _ = graded
    nb = nbformat.read(settings.autograded_dir / "warns" / "hw" / "flags.ipynb", 4)
    text = "".join(o.get("text", "") for o in cell_of(nb, "noisy_tests").outputs)
    assert "noisy is deprecated" in text and "debug: noisy called" in text


def test_every_code_is_documented():
    docs = (REPO / "docs" / "grading.md").read_text()
    for code in CODES:
        assert f"| `{code}` |" in docs, code
