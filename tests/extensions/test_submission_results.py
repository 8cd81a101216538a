"""What a learner sees of their graded submission: hidden tests as pass/fail only, in the board's
answer, the feedback page and the panel (issue 5, item 2); who may read them (item 4)."""

import json

import nbformat
import pytest
from board_server import NOTEBOOK, WORKSHOP, build_course, serve, two_exercise_notebook
from conftest import run_cli

from course.cells import grade_id
from extensions.submit_client import fetch_result

HIDDEN = "assert cube(-1) == -1"
ANSWERS = {
    "square": "def square(x):\n    return x + x",  # fails the visible test
    "cube": "def cube(x):\n    return x ** 3 if x > 0 else 0",  # passes it, fails the hidden one
}


def release_with_a_hidden_test(course) -> nbformat.NotebookNode:
    nb = two_exercise_notebook()
    cube_tests = next(cell for cell in nb.cells if grade_id(cell) == "cube_tests")
    cube_tests.source += f"\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
    nbformat.write(nb, course / "source" / WORKSHOP / f"{NOTEBOOK}.ipynb")
    released = run_cli("release", WORKSHOP, cwd=course)
    assert released.returncode == 0, released.stderr
    learner_nb = nbformat.read(course / "release" / WORKSHOP / f"{NOTEBOOK}.ipynb", 4)
    for cell in learner_nb.cells:
        if grade_id(cell) in ANSWERS:
            cell.source = ANSWERS[grade_id(cell)]
    return learner_nb


@pytest.mark.server
def test_hidden_tests_are_shown_as_pass_or_fail_only(tmp_path):
    course = tmp_path / "course"
    tokens = build_course(course, [{"id": "ada"}, {"id": "bob"}])
    body = {"notebooks": {f"{NOTEBOOK}.ipynb": release_with_a_hidden_test(course)}}
    with serve(course, tokens) as board:
        sent = board.request(
            "POST", f"/workshop/api/submissions/{WORKSHOP}", token=tokens["ada"], body=body
        )
        assert sent.status == 200, sent.body
        result = fetch_result(board.url, tokens["ada"], WORKSHOP, "ada", sent.json()["id"], 120)
        assert result is not None and result["status"] == "graded", result
        exercises = {e["exercise"]: e for e in result["exercises"]}
        square, cube = exercises["square_tests"], exercises["cube_tests"]
        assert square["message"] and not square["hidden_tests"]
        assert cube["points"] == 0 and not cube["passed"]
        assert cube["hidden_tests"] and cube["message"] is None
        assert "cube(-1)" not in json.dumps(result)
        feedback = f"/workshop/api/submissions/{WORKSHOP}/ada/feedback"
        page = board.request("GET", feedback, token=tokens["ada"])
        assert page.status == 200 and b"cube_tests" in page.body and b"cube(-1)" not in page.body
        assert board.request("GET", feedback, token=tokens["organiser"]).status == 200
        assert board.request("GET", feedback, token=tokens["bob"]).status == 403
        assert board.request("GET", feedback).status == 401
    from extensions.check_view import ProgressView

    panel = ProgressView(2, lambda notebook, key: (f"Title of {key}", "failed"))
    panel.show_submission("Submitted.", result)
    shown = panel.submit_status.value
    assert "Score: 0 of 5 points" in shown and "graded later" in shown  # the reflection
    assert "Title of cube_tests" in shown and "some of its tests are hidden" in shown
    assert "cube(-1)" not in panel.submit_status.value
