"""Hostile and broken submissions: each costs only its own points, with a reason; the batch ends.

One course, one grading run (module fixture), one learner per behaviour. The assignment has
two notebooks, so a wrecked `hostile` notebook must not cost the learner their `other` one.
"""

import copy
import hashlib
import subprocess

import nbfactory as f
import nbformat
import pytest
from conftest import REPO, write_nb

from autograde.grade import grade_assignment
from course.gradebook import open_gradebook
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

SQUARE = "def square(x):\n    return x * x"
WRONG = "def square(x):\n    return 0"
LIMITS = """
c.Workshop.cell_timeout_s = 8  # a 20 MB cell must compile in time on a busy machine
c.Workshop.notebook_timeout_s = 20  # 10,000 cells or a 20 MB cell must fit on a busy machine
"""


def hostile_notebook():
    return f.notebook(
        f.parameters("n = 3"),
        f.solution(
            "square", f"def square(x):\n    ### BEGIN SOLUTION\n{SQUARE[15:]}\n    ### END SOLUTION"
        ),
        f.tests(
            "square_tests",
            "assert square(n) == n * n, 'square(n)'\n"
            "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
            points=2,
        ),
        f.tests(
            "helper_tests",
            "import math\nimport numpy.testing as npt\n"
            "assert math.isclose(square(1.5), 2.25)\nnpt.assert_allclose(square(2.0), 4.0)",
            points=1,
        ),
        f.solution(
            "after", "def after():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
        ),
        f.tests("after_tests", "assert after() == 1", points=1),
    )


def other_notebook():
    return f.notebook(
        f.solution(
            "double",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        ),
        f.tests("double_tests", "assert double(4) == 8", points=1),
    )


def answer(released, **sources):
    nb = copy.deepcopy(released)
    defaults = {
        "square": SQUARE,
        "after": "def after():\n    return 1",
        "double": "def double(x):\n    return 2 * x",
    }
    defaults.update(sources)
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and key in defaults:
            cell.source = defaults[key]
    return nb


def behaviours(paths):
    snoop = (
        "import os, socket\nseen = []\n"
        f"for p in {paths!r}:\n"
        "    try:\n        seen.append(sorted(os.listdir(p)) if os.path.isdir(p) else open(p, 'rb').read(20))\n"
        "    except OSError as e:\n        seen.append(type(e).__name__)\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n    seen.append('net-open')\n"
        "except OSError as e:\n    seen.append('net-' + type(e).__name__)\n"
        "print('SNOOP', seen)\nprint('ENV', sorted(os.environ))\n" + SQUARE
    )
    writer = (
        "for p in "
        + repr(paths)
        + ":\n    try:\n        open(p + '/x' if not p.endswith('.db') else p, 'a').write('x')\n"
        "    except OSError:\n        pass\n" + SQUARE
    )
    return {
        "honest": SQUARE,
        "loop": "while True:\n    pass",
        "ignore_alarm": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
        "memory": SQUARE + "\nhog = bytearray(10 * 1024 ** 3)",
        "fork_bomb": "import os, time\n"
        + SQUARE
        + "\nfor _ in range(500):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)",
        "sys_exit": "import sys\nsys.exit(3)",
        "os_exit": SQUARE + "\nimport os\nos._exit(0)",
        "kill_self": "import os, signal\n" + SQUARE + "\nos.kill(os.getpid(), signal.SIGKILL)",
        "kill_parent": "import os, signal\nfor t in (os.getppid(), 1, -1):\n    try:\n        os.kill(t, signal.SIGKILL)\n"
        "    except OSError:\n        pass\n" + SQUARE,
        "flood": "print('x' * 100_000_000)\n" + SQUARE,
        "snoop": snoop,
        "writer": writer,
        "lingering": "import subprocess\nsubprocess.Popen(['sleep', '4242'])\n" + SQUARE,
        "fake_result": "def square(x):\n    get_ipython().displayhook(2)\n    return 0",
        "builtins": "import builtins\nbuiltins.AssertionError = type('Fake', (Exception,), {})\n"
        + WRONG,
        "excepthook": "import sys\nsys.excepthook = lambda *a: None\n" + WRONG,
        "showtraceback": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "type(ip).showtraceback = lambda *a, **k: None\ntype(ip)._showtraceback = lambda *a, **k: None\n"
        + WRONG,
        "transformers": "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: ['pass\\n'])\n"
        "ip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n" + WRONG,
        "ast": "import ast\nclass NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
        "        return ast.Pass()\nget_ipython().ast_transformers.append(NoAsserts())\n" + WRONG,
        "run_cell": "ip = get_ipython()\ntype(ip).run_cell = lambda *a, **k: None\n" + WRONG,
        "helpers": "import math\nimport numpy.testing as npt\nmath.isclose = lambda *a, **k: True\n"
        "npt.assert_allclose = lambda *a, **k: None\ndef square(x):\n    return x * x if isinstance(x, int) else 0",
        "thread": "import math, threading\ndef patch():\n    while True:\n        math.isclose = lambda *a, **k: True\n"
        "threading.Thread(target=patch, daemon=True).start()\n"
        "def square(x):\n    return x * x if isinstance(x, int) else 0",
        "numpy_file": WRONG,
        "big_file": SQUARE
        + "\nwith open('big.bin', 'wb') as handle:\n    handle.write(b'x' * 200_000_000)",
    }


# learner -> (square_tests, helper_tests, after_tests, double_tests), codes that must be reported
EXPECTED = {
    "honest": ((2, 1, 1, 1), set()),
    "loop": ((0, 0, 1, 1), {"timeout"}),
    "ignore_alarm": ((0, 0, 0, 1), {"timeout"}),
    "memory": ((2, 1, 1, 1), {"memory-limit"}),
    "fork_bomb": ((2, 1, 1, 1), set()),
    "sys_exit": ((0, 0, 1, 1), set()),
    "os_exit": ((0, 0, 0, 1), {"exited"}),
    "kill_self": ((2, 1, 1, 1), set()),
    "kill_parent": ((2, 1, 1, 1), set()),
    "flood": ((2, 1, 1, 1), {"output-limit"}),
    "snoop": ((2, 1, 1, 1), set()),
    "writer": ((2, 1, 1, 1), set()),
    "lingering": ((2, 1, 1, 1), set()),
    "fake_result": ((0, 0, 1, 1), set()),
    "builtins": ((0, 0, 1, 1), set()),
    "excepthook": ((0, 0, 1, 1), set()),
    "showtraceback": ((0, 0, 1, 1), set()),
    "transformers": ((0, 0, 1, 1), set()),
    "ast": ((0, 0, 1, 1), set()),
    "run_cell": ((0, 0, 1, 1), set()),
    "helpers": ((2, 0, 1, 1), set()),
    "thread": ((2, 0, 1, 1), set()),
    "numpy_file": ((0, 0, 1, 1), {"shadowing-module"}),
    "big_file": ((2, 1, 1, 1), set()),
    "renamed": ((2, 1, 1, 1), {"unknown-cell", "missing-cell"}),
    "symlink": ((0, 0, 0, 1), {"invalid-notebook"}),
    "invalid_json": ((0, 0, 0, 1), {"invalid-notebook"}),
    "empty": ((0, 0, 0, 1), {"invalid-notebook"}),
    "binary": ((0, 0, 0, 1), {"invalid-notebook"}),
    "old_format": ((2, 1, 1, 1), set()),
    "big_cell": ((2, 1, 1, 1), set()),
    "many_cells": ((2, 1, 1, 1), set()),
    "missing": ((0, 0, 0, 1), {"missing-notebook"}),
    "schema": ((2, 1, 1, 1), {"tampered-metadata"}),
}
FAILED = {"symlink", "invalid_json", "empty", "binary"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "course"
    root.mkdir()
    config = (REPO / "nbgrader_config.py").read_text() + LIMITS
    (root / "nbgrader_config.py").write_text(config)
    write_nb(root / "source" / "hw" / "hostile.ipynb", hostile_notebook())
    write_nb(root / "source" / "hw" / "other.ipynb", other_notebook())
    settings = load_settings(root)
    release_workshop(settings, "hw", {})
    released = nbformat.read(root / "release" / "hw" / "hostile.ipynb", 4)
    other = answer(nbformat.read(root / "release" / "hw" / "other.ipynb", 4))
    db_path = root / "var" / "gradebook.db"
    secret_paths = [
        str(root / "source" / "hw"),
        str(root / "var"),
        str(root / "var" / "submitted" / "honest" / "hw"),
        str(db_path),
    ]
    for student, square in behaviours(secret_paths).items():
        write_submission(root, student, answer(released, square=square), other)
    folder = root / "var" / "submitted"
    (folder / "numpy_file" / "hw" / "numpy.py").write_text("import sys\nsys.exit('shadowed')\n")
    make_special_submissions(root, folder, released, other)
    before = file_hashes(folder / "honest")
    report = grade_assignment(settings, "hw", workers=2)
    return settings, report, before


def write_submission(root, student, hostile, other):
    folder = root / "var" / "submitted" / student / "hw"
    folder.mkdir(parents=True, exist_ok=True)
    if hostile is not None:
        nbformat.write(hostile, folder / "hostile.ipynb")
    nbformat.write(other, folder / "other.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    return folder


def make_special_submissions(root, folder, released, other):
    write_submission(root, "symlink", None, other)
    (folder / "symlink" / "hw" / "hostile.ipynb").symlink_to(
        root / "source" / "hw" / "hostile.ipynb"
    )
    write_submission(root, "invalid_json", None, other)
    (folder / "invalid_json" / "hw" / "hostile.ipynb").write_text('{"cells": [')
    write_submission(root, "empty", None, other)
    (folder / "empty" / "hw" / "hostile.ipynb").write_text("")
    write_submission(root, "binary", None, other)
    (folder / "binary" / "hw" / "hostile.ipynb").write_bytes(bytes(range(256)) * 10)
    old = write_submission(root, "old_format", None, other)
    (old / "hostile.ipynb").write_text(nbformat.writes(answer(released), version=3))
    big = answer(released, square=SQUARE + "\n# " + "x" * 20_000_000)
    write_submission(root, "big_cell", big, other)
    many = answer(released)
    many.cells[3:3] = [nbformat.v4.new_code_cell("pass") for _ in range(10_000)]
    write_submission(root, "many_cells", many, other)
    write_submission(root, "missing", None, other)
    schema = answer(released)
    next(
        c for c in schema.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square_tests"
    ).metadata.nbgrader.schema_version = 99
    write_submission(root, "schema", schema, other)
    renamed = answer(released)
    next(
        c for c in renamed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square_tests"
    ).metadata.nbgrader.grade_id = "mine"
    write_submission(root, "renamed", renamed, other)


def file_hashes(folder):
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cell_scores(settings, student):
    with open_gradebook(settings) as gradebook:
        submission = gradebook.find_submission("hw", student)
        scores = {}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                scores[grade.cell.name] = grade.auto_score
    return tuple(scores[k] for k in ("square_tests", "helper_tests", "after_tests", "double_tests"))


def test_the_batch_finishes_and_every_learner_is_accounted_for(graded):
    _, report, _ = graded
    assert {r.student for r in report.results} == set(EXPECTED)
    assert {r.student for r in report.results if r.status == "failed"} == FAILED
    assert not report.ok


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_behaviour_costs_only_its_own_points(graded, student):
    settings, report, _ = graded
    expected_scores, expected_codes = EXPECTED[student]
    result = next(r for r in report.results if r.student == student)
    assert cell_scores(settings, student) == expected_scores, graded_outputs(settings, result)
    assert expected_codes <= {f.code for f in result.findings}


def graded_outputs(settings, result):
    """What to read when a score is off: the findings and every graded cell's outputs."""
    lines = [f"findings: {[f.to_json() for f in result.findings]}"]
    for path in sorted((settings.autograded_dir / result.student / "hw").glob("*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                lines.append(f"{path.name} {cell.metadata.nbgrader.grade_id}: {cell.outputs}")
    return "\n".join(lines)


def test_learner_code_sees_no_course_files_and_no_network(graded):
    settings, _, _ = graded
    nb = nbformat.read(settings.autograded_dir / "snoop" / "hw" / "hostile.ipynb", 4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "SNOOP" in text
    assert "hostile.ipynb" not in text and "SQLite" not in text and "gradebook" not in text
    assert "net-open" not in text
    env = next(line for line in text.splitlines() if line.startswith("ENV"))
    assert "PYTEST_CURRENT_TEST" not in env and "VIRTUAL_ENV" not in env
    assert "'NBGRADER_EXECUTION'" in env


def test_other_learners_and_the_gradebook_are_untouched(graded):
    settings, _, before = graded
    assert file_hashes(settings.submitted_dir / "honest") == before
    assert not list((settings.root / "var").glob("x"))
    assert cell_scores(settings, "honest") == (2, 1, 1, 1)


def test_no_learner_process_outlives_grading(graded):
    found = subprocess.run(["pgrep", "-f", "sleep 4242"], capture_output=True, text=True)
    assert found.stdout.strip() == ""


def test_file_size_limit_stops_the_write(graded):
    settings, _, _ = graded
    nb = nbformat.read(settings.autograded_dir / "big_file" / "hw" / "hostile.ipynb", 4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert any("File too large" in o.evalue for o in errors)


def test_shipped_files_are_not_used(graded):
    settings, _, _ = graded
    assert not (settings.autograded_dir / "numpy_file" / "hw" / "numpy.py").exists()


def test_a_second_run_skips_everything_graded(graded):
    settings, _, _ = graded
    again = grade_assignment(settings, "hw", workers=2, students=["honest", "loop"])
    assert [r.status for r in again.results] == ["skipped", "skipped"]
