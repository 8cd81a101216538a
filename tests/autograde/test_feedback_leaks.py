"""Nothing secret reaches a learner (issue 11, Must show): a cohort graded with the real
`workshop grade` and `workshop feedback`, and through the board, then every file and answer a
learner can read is searched for the source's solutions, hidden tests, their messages and hints.

The cohort: partly right answers, a notebook submitted under another name, an empty one, one
that is not JSON, and learner code that hunts for the tests calling it (the caller's frame and
code object, `inspect.stack()`, the line cache, `In`/`_ih`, `gc.get_referents`).
"""

import html
import json
import re
from pathlib import Path

import nbfactory
import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, build_course, serve
from conftest import run_cli

from course.cells import grade_id
from course.settings import load_settings
from extensions.submit_client import fetch_result

pytestmark = [pytest.mark.kernel, pytest.mark.server]

REFERENCE_ADD = "total = a + b  # reference solution of add"
REFERENCE_MUL = "return a * b  # reference solution of mul"
HIDDEN_LINE = 'assert add(40, 2) == 42, "hidden message: forty-two"'
HIDDEN_MESSAGE = "hidden message: forty-two"
HINT = "Try the plus sign (secret hint phrase)"
SECRETS = (
    REFERENCE_ADD,
    "reference solution",
    REFERENCE_MUL,
    HIDDEN_LINE,
    "add(40, 2)",
    HIDDEN_MESSAGE,
    "forty-two",
    "BEGIN HIDDEN TESTS",
    "BEGIN SOLUTION",
    HINT,
    "secret hint",
)

SNOOP = """import gc, inspect, linecache, sys
SEEN = []
WALK = []
def walk():
    # what IPython keeps of the running and the last cell (the frames of the runner itself
    # still hold the cells: a known limit, docs/grading.md)
    needles = ("forty" + "-two", "add(4" + "0")
    shell, places = get_ipython(), []
    if shell.displayhook.exec_result is not None:
        places += [("exec_result", vars(shell.displayhook.exec_result.info))]
    places += [("last_result", vars(shell.last_execution_result.info))]
    return [where for where, value in places if any(n in repr(value) for n in needles)]


def add(a, b):
    caller = sys._getframe(1)
    SEEN.append(caller)
    WALK.append(walk())
    probes = {
        "consts": lambda: caller.f_code.co_consts,
        "source": lambda: inspect.getsource(caller),
        "stack": lambda: [f.code_context for f in inspect.stack()],
        "referents": lambda: gc.get_referents(caller),
        "linecache": lambda: [v[2] for v in linecache.cache.values()],
        "history": lambda: (list(In), list(_ih), _i, _ii),
    }
    for name, probe in probes.items():
        try:
            print("probe", name, probe())
        except Exception as error:
            print("refused", name, type(error).__name__)
    return a + b"""

LATER = """print("walk found", WALK, walk())
print("last error", getattr(sys, "last_value", None))
for frame in SEEN:
    try:
        print("later consts", frame.f_code.co_consts)
    except Exception as error:
        print("refused later", type(error).__name__)
print("history", In, _ih, _i, _ii, _iii)
print("cache", [v[2] for v in linecache.cache.values()])
print("namespace", {k: v for k, v in globals().items() if k.startswith("_i")})"""

ANSWERS = {
    "ada": {"add": "def add(a, b):\n    return b + a", "mul": "def mul(a, b):\n    return a + b"},
    "bob": {
        "add": "def add(a, b):\n    return a + b if a < 10 else 0",
        "mul": "def mul(a, b):\n    return b * a",
    },
    "cat": {"add": SNOOP, "mul": "def mul(a, b):\n    return b * a"},
}


def secret_notebook() -> nbformat.NotebookNode:
    return nbfactory.notebook(
        nbfactory.markdown("# Sums and products"),
        nbfactory.solution(
            "add",
            f"def add(a, b):\n    ### BEGIN SOLUTION\n    {REFERENCE_ADD}\n    return total\n"
            "    ### END SOLUTION",
        ),
        nbfactory.hint(HINT),
        nbfactory.tests(
            "add_tests",
            'assert add(1, 1) == 2, "visible message: add"\n### BEGIN HIDDEN TESTS\n'
            f"{HIDDEN_LINE}\n### END HIDDEN TESTS",
            points=2,
        ),
        nbfactory.solution(
            "mul",
            f"def mul(a, b):\n    ### BEGIN SOLUTION\n    {REFERENCE_MUL}\n    ### END SOLUTION",
        ),
        nbfactory.tests("mul_tests", 'assert mul(2, 3) == 6, "visible message: mul"', points=1),
    )


def answered(released: nbformat.NotebookNode, answers: dict[str, str], extra: str = ""):
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    if extra:
        nb.cells.append(nbfactory.code(extra))
    return nb


def readable_text(path: Path) -> str:
    """A file as its reader sees it: a page without tags, unescaped; a graded notebook's
    outputs (all cells) and sources of every cell but its test cells (those are the
    organiser's: nbgrader keeps hidden tests there, and no learner is shown them)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        return text + "\n" + html.unescape(re.sub(r"<[^>]+>", "", text))
    if path.suffix == ".ipynb":
        nb = nbformat.reads(text, 4)
        parts = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not (meta.get("grade") and not meta.get("solution")):
                parts.append(cell.source)
            parts += [json.dumps(o) for o in cell.get("outputs", [])]
        return "\n".join(parts)
    return text


def leaks(text: str, written: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text and secret not in written]


def test_no_learner_readable_file_holds_a_secret_the_learner_did_not_write(tmp_path):
    course = tmp_path / "course"
    learners = ["ada", "bob", "cat", "dan", "eve", "fay", "gus"]
    tokens = build_course(course, [{"id": name} for name in learners])
    nbformat.write(secret_notebook(), course / "source" / WORKSHOP / f"{NOTEBOOK}.ipynb")
    released_run = run_cli("release", WORKSHOP, cwd=course)
    assert released_run.returncode == 0, released_run.stderr
    released = nbformat.read(course / "release" / WORKSHOP / f"{NOTEBOOK}.ipynb", 4)
    settings = load_settings(course)
    submitted = settings.submitted_dir
    written: dict[str, str] = {}
    for name, answers in ANSWERS.items():
        nb = answered(released, answers, LATER if name == "cat" else "")
        (submitted / name / WORKSHOP).mkdir(parents=True)
        nbformat.write(nb, submitted / name / WORKSHOP / f"{NOTEBOOK}.ipynb")
        written[name] = "\n".join(c.source for c in nb.cells)
    (submitted / "dan" / WORKSHOP).mkdir(parents=True)
    nbformat.write(
        answered(released, ANSWERS["ada"]), submitted / "dan" / WORKSHOP / "nb (1).ipynb"
    )
    for name, content in (("eve", ""), ("fay", '{"cells": [ not json')):
        (submitted / name / WORKSHOP).mkdir(parents=True)
        (submitted / name / WORKSHOP / f"{NOTEBOOK}.ipynb").write_text(content)

    graded = run_cli("grade", WORKSHOP, cwd=course)
    assert "Traceback" not in graded.stderr, graded.stderr
    feedback = run_cli("feedback", WORKSHOP, cwd=course)
    assert feedback.returncode == 0 and "Traceback" not in feedback.stderr, feedback.stderr
    assert "6 page(s)" in feedback.stdout, feedback.stdout

    pages = {
        name: (settings.feedback_dir / name / WORKSHOP / f"{NOTEBOOK}.html").read_text()
        for name in learners[:-1]
    }
    text = {name: html.unescape(re.sub(r"<[^>]+>", "", page)) for name, page in pages.items()}
    assert "visible message: mul" in text["ada"]  # a visible test keeps its message
    assert "✓ 2 / 2 points" in text["ada"] and "✗ 0 / 1 points" in text["ada"]
    assert "✗ 0 / 2 points" in text["bob"] and "holds hidden tests" in text["bob"]
    assert "walk found [[], []] []" in text["cat"] and "last error None" in text["cat"]
    assert "refused later PermissionError" in text["cat"]  # the test's code stayed out of reach
    assert "Score: 3 / 3" in text["cat"]
    assert "no file nb.ipynb was submitted" in text["dan"] and "nb (1).ipynb" in text["dan"]
    assert "the file is empty" in text["eve"]
    assert "invalid JSON" in text["fay"]
    for name in ("dan", "eve", "fay"):
        assert not (settings.autograded_dir / name / WORKSHOP / f"{NOTEBOOK}.ipynb").exists()
        assert "Score: 0 / 3" in text[name]

    with serve(course, tokens) as board:
        body = {"notebooks": {f"{NOTEBOOK}.ipynb": answered(released, ANSWERS["cat"], LATER)}}
        sent = board.request(
            "POST", f"/workshop/api/submissions/{WORKSHOP}", token=tokens["gus"], body=body
        )
        assert sent.status == 200, sent.body
        result = fetch_result(board.url, tokens["gus"], WORKSHOP, "gus", sent.json()["id"], 120)
        assert result is not None and result["status"] == "graded", result
        written["gus"] = "\n".join(c.source for c in body["notebooks"][f"{NOTEBOOK}.ipynb"].cells)
        answers_seen = {}
        for name in learners:
            own = f"/workshop/api/submissions/{WORKSHOP}/{name}"
            answers_seen[f"{name} result"] = board.request("GET", own, token=tokens[name]).body
            page = board.request("GET", own + "/feedback", token=tokens[name])
            assert page.status == 200, (name, page.body[:300])
            answers_seen[f"{name} page"] = page.body
        exercises = {e["exercise"]: e for e in result["exercises"]}
        assert exercises["add_tests"]["hidden_tests"] and exercises["add_tests"]["message"] is None
        assert b"refused later PermissionError" in answers_seen["gus page"]
    from extensions.check_view import ProgressView

    panel = ProgressView(2, lambda notebook, key: (key, None))
    panel.show_submission("Submitted.", result)

    found = []
    for root in (settings.feedback_dir, settings.autograded_dir):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            learner = path.relative_to(root).parts[0]
            found += [(str(path), s) for s in leaks(readable_text(path), written.get(learner, ""))]
    for label, raw in answers_seen.items():
        learner = label.split()[0]
        page = raw.decode()
        page += html.unescape(re.sub(r"<[^>]+>", "", page))
        found += [(label, s) for s in leaks(page, written.get(learner, ""))]
    found += [("panel", s) for s in leaks(panel.submit_status.value, "")]
    assert not found
