"""The board's two tables, kept in the course gradebook next to nbgrader's, and the engine.

Keeping them in the gradebook means one database to back up and one `db_url` to point at
PostgreSQL when a course outgrows SQLite. On SQLite the engine switches the file to WAL mode so
`workshop grade` and formgrader can read while the board writes, with `synchronous=NORMAL`
(durable at each checkpoint, and a commit costs no fsync of its own in WAL mode).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    make_url,
)

from course.gradebook import create_tables as create_missing

__all__ = ["EVENT", "ROLES", "SUBMISSION", "TOKEN", "create_tables", "open_engine"]

ROLES = ("learner", "organiser")

metadata = MetaData()

TOKEN = Table(
    "workshop_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_workshop_token_subject", "role", "subject"),
)
"""sha256 (hex) of each token; `subject` is the learner id or the organiser's name."""

EVENT = Table(
    "workshop_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("learner", String(128), nullable=False),
    Column("workshop", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("exercise", String(128), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("points", Float, nullable=False),
    Column("max_points", Float, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("time", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    UniqueConstraint("learner", "key", name="uq_workshop_event_learner_key"),
    Index("ix_workshop_event_workshop_learner", "workshop", "learner"),
)
"""One row per Check. `key` is the client's idempotency key, unique per learner (so one learner
can never shadow another's events by reusing a key); times are naive UTC, `time` when the
learner pressed Check, `received_at` when the board stored it."""

SUBMISSION = Table(
    "workshop_submission",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner", String(128), nullable=False),
    Column("workshop", String(128), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("score", Float),
    Column("max_score", Float),
    Column("result", String),
    Column("graded_at", DateTime),
    Index("ix_workshop_submission_status", "status"),
    Index("ix_workshop_submission_learner", "workshop", "learner"),
)
"""Every submission received through the board, oldest first; also the grading queue.
`status`: queued, grading, graded, failed or superseded (a newer one was graded instead);
`result` is the learner's view of the grading as JSON (hidden tests as pass/fail only)."""


def open_engine(db_url: str) -> Engine:
    """An engine on the gradebook; on SQLite every connection runs in WAL mode.

    A database server (PostgreSQL) may restart or drop idle connections while the board runs
    for hours; each connection is checked as it is taken from the pool, so such a loss costs a
    reconnect instead of failing the requests of a group commit.
    """
    if make_url(db_url).get_backend_name() == "sqlite":
        engine = create_engine(db_url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(db_url, pool_pre_ping=True)


def create_tables(engine: Engine) -> None:
    """Create the board's tables if they are missing; nbgrader's tables are left alone."""
    create_missing(engine, metadata)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()
