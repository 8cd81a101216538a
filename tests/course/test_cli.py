"""The `workshop` command as users meet it: exit codes, one clear line, never a traceback."""

import nbfactory as f
import pytest
from conftest import run_cli, write_nb


def assert_one_clear_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]


def test_version_and_help(tmp_path):
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("nbworkshop ")
    for command in (
        [],
        ["validate"],
        ["release"],
        ["roster", "import"],
        ["roster", "list"],
        ["demo"],
    ):
        helped = run_cli(*command, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "usage: workshop" in helped.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run_cli(cwd=tmp_path).returncode == 2
    assert run_cli("frobnicate", cwd=tmp_path).returncode == 2
    assert run_cli("release", cwd=tmp_path).returncode == 2
    assert run_cli("roster", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize(
    ("item", "said"),
    [("n", "expected NAME=VALUE"), ("n=hundred", "not a Python literal"), ("n=[1,2", "-p 'n=")],
)
def test_a_bad_parameter_is_a_usage_error_naming_it(course_dir, item, said):
    result = run_cli("release", "ws", "-p", item, cwd=course_dir)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert not (course_dir / "release").exists()


def test_outside_a_course_says_so(tmp_path):
    assert_one_clear_error(
        run_cli("release", "ws", cwd=tmp_path), "no nbgrader_config.py", "--course"
    )


def test_unknown_workshop(course_dir):
    assert_one_clear_error(run_cli("release", "nope", cwd=course_dir), "unknown workshop 'nope'")


def test_undeclared_parameter(course_dir):
    result = run_cli("release", "ws", "-p", "size=3", cwd=course_dir)
    assert_one_clear_error(result, "source/ws/nb.ipynb", "unknown parameter 'size'")
    assert not (course_dir / "release").exists()


def test_malformed_notebook_names_the_file(course_dir):
    (course_dir / "source" / "ws" / "nb.ipynb").write_text('{"cells": [')
    result = run_cli("release", "ws", "--course", str(course_dir), cwd=course_dir.parent)
    assert_one_clear_error(result, "source/ws/nb.ipynb", "invalid JSON at line 1")


def test_duplicate_roster_id_names_the_line(course_dir):
    (course_dir / "roster.csv").write_text("id\nada\nada\n")
    result = run_cli("roster", "import", "roster.csv", cwd=course_dir)
    assert_one_clear_error(result, "roster.csv: line 3: duplicate id 'ada'")
    listed = run_cli("roster", "list", "--json", cwd=course_dir)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"


@pytest.mark.kernel
def test_validate_exits_1_naming_a_test_that_passes_on_the_stub(course_dir):
    nb = f.good_notebook()
    nb.metadata.workshop.parameter_sets = {"small": {"n": 2}}
    nb.cells.append(f.tests("free_points", "assert True", points=1))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    result = run_cli("validate", "ws", cwd=course_dir)
    assert_one_clear_error(result, "source/ws/nb.ipynb: grade id 'free_points'", "stub")


def test_validate_with_only_static_problems_prints_them_and_no_empty_table(course_dir):
    nb = f.notebook(f.solution("q", "### BEGIN SOLUTION\nx = 1"), f.tests("q_tests", "assert x"))
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    result = run_cli("validate", "ws", cwd=course_dir)
    assert_one_clear_error(result, "grade id 'q'", "'### END SOLUTION'")
    assert "validation" not in result.stdout and "┃" not in result.stdout
    assert "found before running anything" in result.stdout


@pytest.mark.kernel
def test_release_then_check_round_trip(course_dir):
    released = run_cli("release", "ws", cwd=course_dir)
    assert released.returncode == 0 and "released: release/ws" in released.stdout
    checked = run_cli("release", "ws", "--check", cwd=course_dir)
    assert checked.returncode == 0, checked.stderr
    (course_dir / "release" / "ws" / "nb.ipynb").write_text("{}")
    stale = run_cli("release", "ws", "--check", cwd=course_dir)
    assert_one_clear_error(stale, "release/ws/nb.ipynb", "stale")


@pytest.mark.kernel
def test_grade_reports_and_exits_by_outcome(course_dir):
    import json

    import nbformat

    assert run_cli("release", "ws", cwd=course_dir).returncode == 0
    released = nbformat.read(course_dir / "release" / "ws" / "nb.ipynb", 4)
    good = course_dir / "var" / "submitted" / "ada" / "ws"
    good.mkdir(parents=True)
    nbformat.write(released, good / "nb.ipynb")
    graded = run_cli("grade", "ws", "--report", "report.json", cwd=course_dir)
    assert graded.returncode == 0, graded.stderr
    assert "1 graded" in graded.stdout
    report = json.loads((course_dir / "report.json").read_text())
    assert report["submissions"][0]["student"] == "ada"
    assert report["submissions"][0]["score"] == 0.0
    broken = course_dir / "var" / "submitted" / "bob" / "ws"
    broken.mkdir(parents=True)
    (broken / "nb.ipynb").write_text("{not json")
    failed = run_cli("grade", "ws", "--report", "report.json", cwd=course_dir)
    assert failed.returncode == 1
    assert "invalid-notebook" in failed.stdout
    report = json.loads((course_dir / "report.json").read_text())
    statuses = {s["student"]: s["status"] for s in report["submissions"]}
    assert statuses == {"ada": "skipped", "bob": "failed"}
    assert report["submissions"][1]["problems"][0]["code"] == "invalid-notebook"
    assert report["submissions"][0]["assignment"] == "ws"
    assert_one_clear_error(run_cli("grade", "nope", cwd=course_dir), "unknown assignment 'nope'")


@pytest.mark.kernel
def test_grade_several_assignments_in_one_call(course_dir):
    import json
    import shutil

    import nbformat

    shutil.copytree(course_dir / "source" / "ws", course_dir / "source" / "ws2")
    for workshop in ("ws", "ws2"):
        assert run_cli("release", workshop, cwd=course_dir).returncode == 0
        released = nbformat.read(course_dir / "release" / workshop / "nb.ipynb", 4)
        folder = course_dir / "var" / "submitted" / "ada" / workshop
        folder.mkdir(parents=True)
        nbformat.write(released, folder / "nb.ipynb")
    unknown = run_cli("grade", "ws", "nope", "--report", "report.json", cwd=course_dir)
    assert_one_clear_error(unknown, "unknown assignment 'nope'")
    assert not (course_dir / "report.json").exists()
    assert not (course_dir / "var" / "autograded").exists()
    graded = run_cli("grade", "ws", "ws2", "ws", "--report", "report.json", cwd=course_dir)
    assert graded.returncode == 0, graded.stderr
    assert graded.stdout.count("1 graded") == 2
    report = json.loads((course_dir / "report.json").read_text())
    assert report["assignments"] == ["ws", "ws2"]
    assert [(s["assignment"], s["status"]) for s in report["submissions"]] == [
        ("ws", "graded"),
        ("ws2", "graded"),
    ]


@pytest.mark.kernel
def test_after_a_session_release_check_and_demo_stay_green(course_dir):
    assert run_cli("release", "ws", cwd=course_dir).returncode == 0
    session = run_cli(
        "release", "ws", "-p", "n=4", "--board", "http://127.0.0.1:8765", cwd=course_dir
    )
    assert session.returncode == 0, session.stderr
    assert "released: var/session-release/ws" in session.stdout
    submitted = course_dir / "var" / "submitted" / "ada" / "ws"
    submitted.mkdir(parents=True)
    (submitted / "nb.ipynb").write_bytes(
        (course_dir / "var" / "session-release" / "ws" / "nb.ipynb").read_bytes()
    )
    checked = run_cli("release", "ws", "--check", cwd=course_dir)
    assert checked.returncode == 0, checked.stderr
    demo = run_cli("demo", cwd=course_dir)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    refused = run_cli("release", "ws", "--check", "-p", "n=4", cwd=course_dir)
    assert refused.returncode == 2 and "plain release" in refused.stderr
