"""Open the course's nbgrader gradebook; create a new one safely and without subprocesses.

nbgrader creates a missing database inside `Gradebook()` and then runs the `alembic` executable
from PATH to stamp its schema version; if that fails, a half-made database is left behind. We
create it the same way (nbgrader's tables, the alembic head read with alembic's Python API and
the course's row) in one transaction, so nbgrader always finds a complete gradebook. A new
SQLite file is written under a temporary name and linked into place, which fails if another
process got there first; on a server (PostgreSQL) creators take turns on a schema lock. Either
way several processes may open a new gradebook at once: two `workshop grade` runs and the board.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course.errors import ConfigError
from course.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, MetaData

__all__ = [
    "alembic_head",
    "create_tables",
    "gradebook_label",
    "open_gradebook",
    "prepare_database",
    "submission_count",
]

SQLITE_PREFIX = "sqlite:///"
SCHEMA_LOCK = 0x6E627773
"""PostgreSQL advisory lock key held while a process changes the gradebook's schema."""


def prepare_database(settings: Settings) -> None:
    """Make sure the course gradebook exists with nbgrader's complete, stamped schema."""
    if not settings.db_url.startswith(SQLITE_PREFIX):
        _create_schema(settings.db_url, settings.course_id)
        return
    path = Path(settings.db_url.removeprefix(SQLITE_PREFIX))
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        _create_schema(SQLITE_PREFIX + temp_name, settings.course_id)
        os.link(temp_name, path)
    except FileExistsError:
        pass  # another process created it meanwhile: theirs is as complete as ours
    finally:
        Path(temp_name).unlink(missing_ok=True)


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the tables of *metadata* that the gradebook behind *engine* lacks.

    Safe when several processes start on one gradebook at once (concurrent `CREATE TABLE`s of
    one name fail): each takes the schema lock first and then sees what the one before created.
    """
    with engine.begin() as connection:
        _lock_schema(connection)
        metadata.create_all(connection, checkfirst=True)


@functools.cache
def alembic_head() -> str:
    """The schema revision nbgrader stamps on a new gradebook (read once per process)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("nbgrader ships no alembic revisions")
    return head


def _create_schema(db_url: str, course_id: str) -> None:
    """nbgrader's schema, stamped, with the course's row (which nbgrader would otherwise add
    on first open, racing other first opens), unless the database already has tables."""
    from nbgrader.api import Base, Course
    from sqlalchemy import create_engine, insert, inspect, text

    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            _lock_schema(connection)
            if inspect(connection).get_table_names():
                return
            Base.metadata.create_all(bind=connection)
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                {"head": alembic_head()},
            )
            if course_id:
                connection.execute(insert(Course.__table__).values(id=course_id))
    finally:
        engine.dispose()


def _lock_schema(connection: Connection) -> None:
    """Hold the gradebook's schema lock until *connection*'s transaction ends: an advisory
    lock on PostgreSQL, SQLite's write lock taken up front (its driver begins a transaction
    only at the first data change, after the checks of `create_all`)."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def open_gradebook(settings: Settings) -> Iterator[Any]:
    """nbgrader's `Gradebook` for this course, closed on exit.

    A gradebook made by an older nbgrader lacks columns this one queries; it is refused with
    the command that upgrades it instead of failing on the first query.
    """
    from nbgrader.api import Gradebook

    prepare_database(settings)
    with Gradebook(settings.db_url, settings.course_id) as gradebook:
        _require_current_schema(gradebook, settings)
        yield gradebook


def _require_current_schema(gradebook: Any, settings: Settings) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        stamped = gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        gradebook.db.rollback()
        stamped = None
    head = alembic_head()
    if stamped != head:
        raise ConfigError(
            f"gradebook {gradebook_label(settings)}: schema version {stamped or 'unknown'}, "
            f"this nbgrader needs {head}; run `nbgrader db upgrade` in {settings.root}"
        )


def gradebook_label(settings: Settings) -> str:
    """The gradebook as a person would name it: a SQLite file's path, or the URL sans password."""
    if settings.db_url.startswith(SQLITE_PREFIX):
        return settings.relative(Path(settings.db_url.removeprefix(SQLITE_PREFIX)))
    from sqlalchemy.engine import make_url

    return make_url(settings.db_url).render_as_string(hide_password=True)


def submission_count(settings: Settings, workshop: str) -> int:
    """How many submissions the gradebook holds for *workshop* (0 if it was never released)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(settings) as gradebook:
        try:
            return len(gradebook.find_assignment(workshop).submissions)
        except MissingEntry:
            return 0
