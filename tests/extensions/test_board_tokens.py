"""Board tokens: issued once, stored hashed, rotated on request; `workshop roster tokens`; on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import stat

import pytest
from conftest import run_cli
from sqlalchemy import MetaData, select

from course.errors import RosterError
from course.roster import import_roster
from extensions.board.schema import open_engine
from extensions.board.tokens import (
    Identity,
    find_token,
    hash_token,
    issue_learner_tokens,
    issue_organiser_token,
)

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture
def roster(course_dir, settings):
    (course_dir / "roster.csv").write_text("id,first_name\nalice,Alice\nbob,Bob\ncarol,\n")
    import_roster(settings, course_dir / "roster.csv")
    return settings


def identity(settings, token):
    engine = open_engine(settings.db_url)
    try:
        return find_token(engine, token)
    finally:
        engine.dispose()


def everything_stored(settings, database) -> bytes:
    """The SQLite file with its write-ahead log, or every row of every PostgreSQL table."""
    if database == "sqlite":
        return b"".join(p.read_bytes() for p in (settings.root / "var").glob("gradebook.db*"))
    engine = open_engine(settings.db_url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as connection:
            rows = [row for t in tables.sorted_tables for row in connection.execute(select(t))]
    finally:
        engine.dispose()
    return repr(rows).encode()


def test_tokens_are_random_and_stored_only_as_sha256(roster, database):
    issued = issue_learner_tokens(roster).issued
    assert [t.subject for t in issued] == ["alice", "bob", "carol"]
    assert len({t.token for t in issued}) == 3
    assert all(len(t.token) >= 32 for t in issued)
    stored = everything_stored(roster, database)
    assert hash_token(issued[0].token).encode() in stored
    for t in issued:
        assert t.token.encode() not in stored
    assert identity(roster, issued[0].token) == Identity("learner", "alice")
    assert len(hash_token(issued[0].token)) == 64


def test_issuing_again_only_covers_learners_without_a_token(roster):
    first = issue_learner_tokens(roster, ["alice"])
    again = issue_learner_tokens(roster)
    assert [t.subject for t in again.issued] == ["bob", "carol"]
    assert again.kept == ("alice",)
    assert identity(roster, first.issued[0].token) == Identity("learner", "alice")


def test_rotating_replaces_the_old_token(roster):
    old = issue_learner_tokens(roster, ["bob"]).issued[0].token
    new = issue_learner_tokens(roster, ["bob"], rotate=True)
    assert [t.subject for t in new.issued] == ["bob"] and new.kept == ()
    assert identity(roster, old) is None
    assert identity(roster, new.issued[0].token) == Identity("learner", "bob")


def test_tokens_only_for_roster_learners(roster):
    with pytest.raises(RosterError, match="not in the roster: mallory"):
        issue_learner_tokens(roster, ["alice", "mallory"])
    assert issue_learner_tokens(roster, ["alice"]).issued


def test_an_organiser_token_carries_the_name(roster):
    token = issue_organiser_token(roster, "Olga").issued[0].token
    assert identity(roster, token) == Identity("organiser", "Olga")
    assert issue_organiser_token(roster, "Olga").kept == ("Olga",)
    with pytest.raises(RosterError, match="organiser name"):
        issue_organiser_token(roster, "  ")


def test_cli_prints_learner_token_csv_once(course_dir, roster):
    result = run_cli("roster", "tokens", "--student", "alice", "--student", "bob", cwd=course_dir)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["learner", "token"]
    assert [r[0] for r in rows[1:]] == ["alice", "bob"]
    assert identity(roster, rows[1][1]) == Identity("learner", "alice")
    assert "2 issued" in result.stderr
    again = run_cli("roster", "tokens", cwd=course_dir)
    assert [r[0] for r in csv.reader(io.StringIO(again.stdout))] == ["learner", "carol"]
    assert "2 kept" in again.stderr and "--rotate" in again.stderr


def test_cli_writes_a_private_file_and_rotates(course_dir, roster):
    out = course_dir / "tokens.csv"
    first = run_cli("roster", "tokens", "--out", str(out), cwd=course_dir)
    assert first.returncode == 0 and first.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    old = dict(csv.reader(io.StringIO(out.read_text())))
    rotated = run_cli("roster", "tokens", "--rotate", "--student", "carol", cwd=course_dir)
    new = dict(csv.reader(io.StringIO(rotated.stdout)))
    assert identity(roster, old["carol"]) is None
    assert identity(roster, new["carol"]) == Identity("learner", "carol")
    assert identity(roster, old["alice"]) == Identity("learner", "alice")


def test_cli_organiser_token(course_dir, roster):
    result = run_cli("roster", "tokens", "--organiser", "Olga", cwd=course_dir)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["organiser", "token"] and rows[1][0] == "Olga"
    assert identity(roster, rows[1][1]) == Identity("organiser", "Olga")


def test_cli_unknown_student_is_one_clear_error(course_dir, roster):
    result = run_cli("roster", "tokens", "--student", "nobody", cwd=course_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: not in the roster: nobody; add them with `workshop roster import FILE.csv` first"
    ]


def test_cli_help_of_the_board_commands(tmp_path):
    for command in (["serve"], ["roster", "tokens"]):
        helped = run_cli(*command, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "usage: workshop" in helped.stdout
