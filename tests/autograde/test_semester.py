"""The semester view on a hand-checkable cohort, written through nbgrader's own Gradebook API
into a gradebook on SQLite and on PostgreSQL.

Workshop `regression` (Checks on 3 March, not first by name) has four exercises and two cells
that are not exercises (a manual essay and a graded solution cell):

    learner  mean_tests(1) slope_tests(2) fit_tests(1) plot_tests(1) essay(2)  raw  penalty
    s1            1             2             1            1           2       7
    s2            1             1             0            1           2       5      1
    s3            0        0 auto, 2 manual   0            1           1       4
    s4            0             0             0            1           0       1
    s5        (no submission; one passing Check)

Difficulty (full points / 4): mean 2/4, slope 2/4, fit 1/4, plot 4/4. Discrimination is the
correlation of the cell's fraction with the rest of the raw score (hand-computed):
mean 2.5/sqrt(12.75), slope 1.5/sqrt(6.875), fit 2/sqrt(10.5), plot None (no variance).
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import nbfactory
import nbformat
import pytest
from conftest import gradebook_url, new_course, run_cli

from autograde.semester import SemesterView, item_rest_correlation
from autograde.semester_query import load_semester
from autograde.semester_report import (
    CSV_COLUMNS,
    PLOT_NAMES,
    defuse_formula,
    semester_csv,
    semester_plot,
    semester_tables,
    write_plots,
)
from course.gradebook import open_gradebook
from course.settings import Settings, load_settings

XSS = "<script>alert(1)</script>"
LEARNERS = {
    "s1": ("Ada", "Lovelace"),
    "s2": ('=HYPERLINK("http://evil.invalid","x")', "Smith"),
    "s3": (XSS, "<b>x</b>"),
    "s4": ("+Plus", "@At"),
    "s5": ("-Minus", None),
}
EXERCISES = ("mean_tests", "slope_tests", "fit_tests", "plot_tests")
SCORES = {
    "s1": (1, 2, 1, 1, 2),
    "s2": (1, 1, 0, 1, 2),
    "s3": (0, 0, 0, 1, 1),
    "s4": (0, 0, 0, 1, 0),
}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour)


def write_source(root: Path) -> None:
    """The source notebook gives the cell order (not alphabetical: mean, slope, fit, plot)."""
    path = root / "source" / "regression" / "nb.ipynb"
    path.parent.mkdir(parents=True)
    cells = [nbfactory.tests(name, "assert True") for name in EXERCISES]
    nbformat.write(nbfactory.notebook(*cells, nbfactory.manual("essay")), str(path))


def add_submission(gb, workshop: str, learner: str, timestamp: str) -> None:
    """nbgrader's `add_submission`; without autoflush, SQLAlchemy warns as nbgrader builds it."""
    with gb.db.no_autoflush:
        gb.add_submission(workshop, learner, timestamp=timestamp)


def build_gradebook(settings: Settings) -> None:
    with open_gradebook(settings) as gb:
        for name, (first, last) in LEARNERS.items():
            gb.add_student(name, first_name=first, last_name=last)
        gb.add_assignment("regression")
        gb.add_assignment("projects", duedate="2025-03-05 12:00:00 UTC")
        gb.add_assignment("numpy")
        gb.add_assignment("advanced")
        for workshop in ("regression", "projects", "numpy", "advanced"):
            gb.add_notebook("nb", workshop)
        for name, points in zip(EXERCISES, (1, 2, 1, 1), strict=True):
            gb.add_grade_cell(name, "nb", "regression", max_score=points, cell_type="code")
        gb.add_grade_cell("essay", "nb", "regression", max_score=2, cell_type="markdown")
        gb.add_solution_cell("essay", "nb", "regression")
        gb.add_grade_cell("graded_answer", "nb", "regression", max_score=1, cell_type="code")
        gb.add_solution_cell("graded_answer", "nb", "regression")
        gb.add_grade_cell("power_tests", "nb", "numpy", max_score=1, cell_type="code")
        gb.add_grade_cell("task_tests", "nb", "projects", max_score=3, cell_type="code")

        for learner, scores in SCORES.items():
            add_submission(gb, "regression", learner, "2025-03-03 12:00:00 UTC")
            for cell, score in zip((*EXERCISES, "essay"), scores, strict=True):
                grade = gb.find_grade(cell, "nb", "regression", learner)
                if cell == "essay":
                    grade.manual_score = score
                else:
                    grade.auto_score = score
        gb.find_grade("slope_tests", "nb", "regression", "s3").manual_score = 2
        gb.find_submission_notebook("nb", "regression", "s2").late_submission_penalty = 1
        for learner, score in (("s1", 1), ("s2", 0)):
            add_submission(gb, "numpy", learner, "2025-03-10 12:00:00 UTC")
            gb.find_grade("power_tests", "nb", "numpy", learner).auto_score = score
        gb.db.commit()


def store_checks(settings: Settings) -> None:
    from extensions.board.schema import EVENT, create_tables, open_engine

    rows = [
        ("s1", "regression", "mean_tests", False, at(3)),
        ("s1", "regression", "mean_tests", True, at(3, 11)),
        ("s1", "regression", "slope_tests", True, at(3, 11)),
        ("s1", "regression", "retired_tests", True, at(3, 11)),
        ("s2", "regression", "mean_tests", False, at(3)),
        ("s2", "regression", "mean_tests", False, at(3, 11)),
        ("s5", "regression", "fit_tests", True, at(3)),
        ("s1", "numpy", "power_tests", True, at(10)),
        ("ghost", "numpy", "power_tests", True, at(10)),
    ]
    engine = open_engine(settings.db_url)
    try:
        create_tables(engine)
        with engine.begin() as connection:
            connection.execute(
                EVENT.insert(),
                [
                    {
                        "key": f"k{i}",
                        "learner": learner,
                        "workshop": workshop,
                        "notebook": "nb",
                        "exercise": exercise,
                        "passed": passed,
                        "points": float(passed),
                        "max_points": 1.0,
                        "attempt": 1,
                        "time": time,
                        "received_at": time,
                    }
                    for i, (learner, workshop, exercise, passed, time) in enumerate(rows)
                ],
            )
    finally:
        engine.dispose()


pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture(scope="module")
def course(
    tmp_path_factory: pytest.TempPathFactory, database: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    with gradebook_url(database, request) as url:
        root = new_course(tmp_path_factory.mktemp("semester") / "course", url)
        write_source(root)
        settings = load_settings(root)
        build_gradebook(settings)
        store_checks(settings)
        yield root


@pytest.fixture(scope="module")
def view(course: Path) -> SemesterView:
    return load_semester(load_settings(course))


def by_name(items, attribute="name"):
    return {getattr(item, attribute): item for item in items}


def test_workshops_are_in_the_order_they_were_held_not_by_name(view):
    assert [w.name for w in view.workshops] == ["regression", "projects", "numpy", "advanced"]
    regression, projects, numpy, advanced = view.workshops
    assert regression.held_at == at(3)
    assert projects.held_at == projects.duedate == datetime(2025, 3, 5, 12)
    assert numpy.held_at == at(10)
    assert advanced.held_at is None


def test_completion_and_mean_score_per_workshop(view):
    w = by_name(view.workshops)
    regression = w["regression"]
    assert (regression.roster, regression.submitted, regression.present) == (5, 4, 3)
    assert regression.completion == pytest.approx(4 / 5)
    assert regression.max_score == 8
    assert regression.mean_score == pytest.approx((7 + 4 + 4 + 1) / 4), "s2 loses 1 to lateness"
    assert regression.exercises == 4
    numpy = w["numpy"]
    assert (numpy.submitted, numpy.present, numpy.mean_score) == (2, 1, 0.5)
    assert w["advanced"].mean_score is None and w["advanced"].completion == 0


def test_difficulty_and_discrimination_per_exercise(view):
    stats = [e for e in view.exercises if e.workshop == "regression"]
    assert [e.exercise for e in stats] == list(EXERCISES), "cells in source order"
    e = by_name(stats, "exercise")
    assert {name: e[name].difficulty for name in EXERCISES} == {
        "mean_tests": 0.5,
        "slope_tests": 0.5,
        "fit_tests": 0.25,
        "plot_tests": 1.0,
    }
    assert e["mean_tests"].discrimination == pytest.approx(2.5 / math.sqrt(12.75))
    assert e["mean_tests"].discrimination == pytest.approx(0.700140, abs=1e-6)
    assert e["slope_tests"].discrimination == pytest.approx(0.572078, abs=1e-6)
    assert e["fit_tests"].discrimination == pytest.approx(0.617213, abs=1e-6)
    assert e["plot_tests"].discrimination is None, "everyone earned it: no variance"
    assert all(s.submitted == 4 for s in stats)
    assert [e[name].passed_in_check for name in EXERCISES] == [1, 1, 1, 0]
    assert "essay" not in e and "graded_answer" not in e, "only autograded test cells"


def test_discrimination_needs_three_learners(view):
    [power] = [e for e in view.exercises if e.workshop == "numpy"]
    assert (power.submitted, power.difficulty, power.discrimination) == (2, 0.5, None)


def test_item_rest_correlation_is_pearson_and_none_when_undefined():
    assert item_rest_correlation([1, 0, 1, 0], [3, 1, 2, 2]) == pytest.approx(0.7071068)
    assert item_rest_correlation([1, 0, 1, 0], [3, 1, 3, 1]) == pytest.approx(1.0)
    assert item_rest_correlation([0, 1, 0, 1], [3, 1, 3, 1]) == pytest.approx(-1.0)
    assert item_rest_correlation([1, 0], [2, 1]) is None
    assert item_rest_correlation([1, 1, 1], [2, 1, 0]) is None
    assert item_rest_correlation([1, 0, 1], [2, 2, 2]) is None


def test_each_learner_has_one_row_across_the_semester(view):
    learners = by_name(view.learners, "id")
    assert list(learners) == ["s1", "s2", "s3", "s4", "s5"]
    s1 = by_name(learners["s1"].workshops, "workshop")
    regression = s1["regression"]
    assert (regression.attended, regression.checks, regression.exercises_passed_in_check) == (
        True,
        4,
        2,
    ), "a Check of a retired exercise counts as a Check, not as an exercise passed"
    assert (regression.submitted, regression.score, regression.max_score) == (True, 7, 8)
    assert (s1["numpy"].attended, s1["numpy"].score) == (True, 1)
    assert (s1["projects"].attended, s1["projects"].submitted, s1["projects"].score) == (
        False,
        False,
        None,
    )
    s5 = by_name(learners["s5"].workshops, "workshop")["regression"]
    assert (s5.attended, s5.checks, s5.exercises_passed_in_check, s5.submitted) == (
        True,
        1,
        1,
        False,
    )
    assert by_name(learners["s2"].workshops, "workshop")["regression"].score == 4
    assert learners["s1"].to_json()["attended"] == 2
    assert learners["s1"].to_json()["score"] == 8


def test_attendance_over_the_weeks(view):
    assert [(a.workshop, a.present, a.roster) for a in view.attendance] == [
        ("regression", 3, 5),
        ("projects", 0, 5),
        ("numpy", 1, 5),
        ("advanced", 0, 5),
    ], "the unknown learner 'ghost' is not counted"


def test_json_twin_is_plain_json(view):
    document = json.loads(json.dumps(view.to_json()))
    assert set(document) == {
        "course",
        "roster",
        "workshops",
        "attendance",
        "exercises",
        "learners",
        "rules",
    }
    assert document["workshops"][0]["held_at"] == "2025-03-03T10:00:00+00:00"
    assert document["learners"][2]["first_name"] == XSS


def test_a_course_without_the_board_table_has_no_checks(settings):
    build_gradebook(settings)
    view = load_semester(settings)
    assert all(w.present == 0 for w in view.workshops)
    assert by_name(view.workshops)["regression"].submitted == 4


def test_csv_has_one_row_per_learner_and_workshop(view):
    text = semester_csv(view)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 5 * 4
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    s1 = next(r for r in table if r["learner"] == "s1" and r["workshop"] == "regression")
    assert s1 == {
        "learner": "s1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "workshop": "regression",
        "attended": "1",
        "checks": "4",
        "exercises_passed_in_check": "2",
        "submitted": "1",
        "score": "7",
        "max_score": "8",
    }
    s5 = next(r for r in table if r["learner"] == "s5" and r["workshop"] == "regression")
    assert (s5["attended"], s5["submitted"], s5["score"], s5["last_name"]) == ("1", "0", "", "")
    assert "\r\n" in text and text.encode("utf-8").decode("utf-8") == text


def test_csv_defuses_formulas_in_names(view):
    rows = list(csv.DictReader(io.StringIO(semester_csv(view))))
    s2 = next(r for r in rows if r["learner"] == "s2")
    assert s2["first_name"] == "'" + LEARNERS["s2"][0]
    s4 = next(r for r in rows if r["learner"] == "s4")
    assert (s4["first_name"], s4["last_name"]) == ("'+Plus", "'@At")
    assert next(r for r in rows if r["learner"] == "s5")["first_name"] == "'-Minus"
    s3 = next(r for r in rows if r["learner"] == "s3")
    assert s3["first_name"] == XSS
    assert not any(value.startswith(("=", "+", "-", "@")) for r in rows for value in r.values())
    assert defuse_formula("\t=1") == "'\t=1" and defuse_formula("Ada") == "Ada"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plots_are_png_images(view, tmp_path):
    for name in PLOT_NAMES:
        width, height = png_size(semester_plot(view, name))
        assert width >= 400 and height >= 300
    written = write_plots(view, tmp_path / "plots")
    assert [p.name for p in written] == ["scores.png", "attendance.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "attendance.png",
        "scores.png",
    ]
    with pytest.raises(ValueError, match="unknown plot"):
        semester_plot(view, "nope")


def test_plots_of_an_empty_course(settings):
    view = load_semester(settings)
    assert view.workshops == () and view.learners == ()
    for name in PLOT_NAMES:
        png_size(semester_plot(view, name))


def test_tables_print_names_as_text(view):
    from rich.console import Console

    console = Console(record=True, width=250)
    console.print(*semester_tables(view))
    text = console.export_text()
    assert XSS in text and "<b>x</b>" in text
    assert "+0.70" in text and "+0.57" in text and "+0.62" in text


def test_progress_command_prints_json_csv_and_table(course, tmp_path):
    as_json = run_cli("progress", "--course", str(course), "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["workshops"][0]["name"] == "regression"

    plots = tmp_path / "plots"
    as_csv = run_cli(
        "progress", "--course", str(course), "--format", "csv", "--plots", str(plots), cwd=tmp_path
    )
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 21
    for name in PLOT_NAMES:
        png_size((plots / f"{name}.png").read_bytes())
    assert f"plot: {plots / 'scores.png'}" in as_csv.stderr

    as_table = run_cli("progress", "--format", "table", cwd=course)
    assert as_table.returncode == 0, as_table.stderr
    assert "regression" in as_table.stdout and XSS in as_table.stdout

    wrong = run_cli("progress", "--format", "xlsx", cwd=course)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    missing = run_cli("progress", "--course", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
