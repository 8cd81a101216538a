"""Board storage without a web server, on SQLite and PostgreSQL: group commit, idempotency,
WAL, the stuck rule, the catalogue read from a real released gradebook."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from board_server import two_exercise_notebook
from conftest import run_cli, write_nb
from sqlalchemy import func, select, text

from course.gradebook import prepare_database
from extensions.board.catalogue import Exercise as BoardExercise
from extensions.board.catalogue import RosterEntry, WorkshopInfo, load_catalogue
from extensions.board.events import Event
from extensions.board.schema import EVENT, create_tables, open_engine
from extensions.board.store import EventRow, store_events
from extensions.board.views import board_view, progress_view
from extensions.board.writer import EventWriter

pytestmark = pytest.mark.databases("sqlite", "postgresql")

NOW = datetime(2025, 5, 1, 12, 0, 0)


def make_event(key: str, learner: str = "alice", workshop: str = "ws", **changes) -> Event:
    fields = {
        "key": key,
        "learner": learner,
        "workshop": workshop,
        "notebook": "nb",
        "exercise": "square_tests",
        "passed": False,
        "points": 0.0,
        "max_points": 1.0,
        "attempt": 1,
        "time": NOW,
    }
    return Event(**(fields | changes))


@pytest.fixture
def engine(settings):
    prepare_database(settings)
    engine = open_engine(settings.db_url)
    create_tables(engine)
    yield engine
    engine.dispose()


def count_events(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(EVENT)).scalar_one()


@pytest.mark.databases("sqlite")
def test_the_gradebook_runs_in_wal_mode(engine, settings):
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    import sqlite3

    path = settings.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_writer_commits_every_waiting_request_in_one_transaction(engine):
    changed: list[frozenset[str]] = []
    writer = EventWriter(engine, changed.append)
    futures = [writer.submit([make_event(f"k{i}", workshop=f"ws{i % 2}")]) for i in range(200)]
    writer.start()
    results = [future.result(timeout=30) for future in futures]
    writer.close()
    assert (writer.commits, writer.requests) == (1, 200)
    assert all((r.accepted, r.duplicates) == (1, 0) for r in results)
    assert changed == [frozenset({"ws0", "ws1"})]
    assert count_events(engine) == 200


def test_duplicates_are_counted_within_and_across_groups_and_stored_once(engine):
    first = store_events(engine, [[make_event("a"), make_event("a")], [make_event("a")]], NOW)
    assert [(r.accepted, r.duplicates) for r in first] == [(1, 1), (0, 1)]
    again = store_events(engine, [[make_event("a"), make_event("b")]], NOW)
    assert [(r.accepted, r.duplicates) for r in again] == [(1, 1)]
    other_learner = store_events(engine, [[make_event("a", learner="bob")]], NOW)
    assert [(r.accepted, r.duplicates) for r in other_learner] == [(1, 0)]
    assert count_events(engine) == 3


@pytest.mark.databases("postgresql")
def test_the_board_reconnects_after_the_server_dropped_its_connections(engine, postgres_server):
    assert store_events(engine, [[make_event("before")]], NOW)[0].accepted == 1
    postgres_server.drop_connections(engine.url.database)
    assert store_events(engine, [[make_event("after")]], NOW)[0].accepted == 1
    assert count_events(engine) == 2


def test_closing_the_writer_stores_what_is_queued(engine):
    writer = EventWriter(engine, lambda _: None)
    writer.start()
    futures = [writer.submit([make_event(f"q{i}")]) for i in range(50)]
    writer.close()
    assert all(f.done() for f in futures)
    assert count_events(engine) == 50
    refused = writer.submit([make_event("late")])
    with pytest.raises(RuntimeError, match="shutting down"):
        refused.result(timeout=1)


def test_a_failed_transaction_fails_every_request_in_it_and_the_writer_goes_on(engine):
    writer = EventWriter(engine, lambda _: None)
    bad = make_event("x" * 10, exercise=None)  # NOT NULL column: the insert fails
    futures = [writer.submit([make_event("ok1")]), writer.submit([bad])]
    writer.start()
    for future in futures:
        with pytest.raises(Exception, match=r"(?i)not.null"):
            future.result(timeout=30)
    assert writer.submit([make_event("ok2")]).result(timeout=30).accepted == 1
    writer.close()
    assert count_events(engine) == 1


WORKSHOP = WorkshopInfo("ws", (BoardExercise("nb", "square_tests", 1.0),))
ROSTER = {"alice": RosterEntry("alice", "Alice", None)}


def rows(*outcomes: tuple[bool, timedelta]) -> list[EventRow]:
    return [
        EventRow(i, "alice", "nb", "square_tests", passed, NOW - ago)
        for i, (passed, ago) in enumerate(outcomes)
    ]


def stuck(events: list[EventRow]) -> bool:
    view = board_view(WORKSHOP, ROSTER, events, NOW, NOW - timedelta(hours=12))
    return bool(view["stuck"])


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([(False, timedelta(minutes=m)) for m in (3, 2, 1)], True),
        ([(False, timedelta(minutes=m)) for m in (2, 1)], False),
        (
            [(False, timedelta(minutes=m)) for m in (4, 3, 2)] + [(True, timedelta(minutes=1))],
            False,
        ),
        (
            [(True, timedelta(minutes=9, seconds=59))]
            + [(False, timedelta(seconds=s)) for s in (3, 2, 1)],
            False,
        ),
        (
            [(True, timedelta(minutes=10, seconds=1))]
            + [(False, timedelta(seconds=s)) for s in (3, 2, 1)],
            True,
        ),
        (
            [(False, timedelta(minutes=m)) for m in (50, 40)]
            + [(True, timedelta(minutes=30))]
            + [(False, timedelta(minutes=m)) for m in (20, 15)],
            False,
        ),
    ],
    ids=[
        "3-failures",
        "2-failures",
        "passed-last",
        "pass-9m59s-ago",
        "pass-10m01s-ago",
        "failures-before-pass",
    ],
)
def test_stuck_rule_boundaries(outcomes, expected):
    assert stuck(rows(*outcomes)) is expected


def test_a_learner_stays_passed_after_a_later_failure_but_progress_counts_every_check():
    events = rows((True, timedelta(minutes=2)), (False, timedelta(minutes=1)))
    view = board_view(WORKSHOP, ROSTER, events, NOW, NOW - timedelta(hours=1))
    assert view["learners"][0]["cells"][0]["state"] == "passed"
    progress = progress_view(WORKSHOP, "alice", events)
    assert progress["exercises"][0] | {"last_time": None} == {
        "notebook": "nb",
        "exercise": "square_tests",
        "state": "passed",
        "passed": True,
        "attempts": 2,
        "max_points": 1.0,
        "last_time": None,
    }
    assert progress["exercises"][0]["last_time"] == "2025-05-01T11:59:00+00:00"


def test_the_catalogue_lists_autograded_test_cells_in_notebook_order(course_dir, settings):
    nb = two_exercise_notebook()
    for cell in nb.cells:  # make name order and notebook order disagree
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "square_tests":
            meta["grade_id"] = "zz_square_tests"
    write_nb(course_dir / "source" / "ws" / "nb.ipynb", nb)
    assert run_cli("release", "ws", cwd=course_dir).returncode == 0
    engine = open_engine(settings.db_url)
    try:
        create_tables(engine)
        catalogue = load_catalogue(engine, settings)
    finally:
        engine.dispose()
    assert [
        (e.notebook, e.exercise, e.max_points) for e in catalogue.workshops["ws"].exercises
    ] == [
        ("nb", "zz_square_tests", 1.0),
        ("nb", "cube_tests", 2.0),
    ]


def test_importing_the_board_package_stays_light():
    code = (
        "import sys, extensions, extensions.board\n"
        "heavy = [m for m in ('jupyter_server', 'tornado', 'sqlalchemy', 'nbgrader') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "points = extensions.board._jupyter_server_extension_points()\n"
        "assert points[0]['app'].__name__ == 'BoardApp', points\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_board_setting_is_documented():
    from pathlib import Path

    from extensions.board.app import BoardApp

    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name in BoardApp.class_own_traits(config=True):
        assert f"c.BoardApp.{name}" in docs, name
