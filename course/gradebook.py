"""Open the course's nbgrader gradebook; create a new one safely and without subprocesses.

nbgrader creates a missing database inside `Gradebook()` and then runs the `alembic` executable
from PATH to stamp its schema version; if that fails, a half-made database is left behind. We
create it the same way (nbgrader's tables plus the alembic head read with alembic's Python API)
in a temporary file renamed into place, so nbgrader always finds a complete gradebook.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from course.settings import Settings

__all__ = ["alembic_head", "open_gradebook", "prepare_database", "submission_count"]

SQLITE_PREFIX = "sqlite:///"


def prepare_database(settings: Settings) -> None:
    """Make sure the course gradebook exists with nbgrader's complete, stamped schema."""
    if not settings.db_url.startswith(SQLITE_PREFIX):
        _create_schema(settings.db_url)
        return
    path = Path(settings.db_url.removeprefix(SQLITE_PREFIX))
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        _create_schema(SQLITE_PREFIX + temp_name)
        Path(temp_name).replace(path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def alembic_head() -> str:
    """The schema revision nbgrader stamps on a new gradebook."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("nbgrader ships no alembic revisions")
    return head


def _create_schema(db_url: str) -> None:
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    try:
        if inspect(engine).get_table_names():
            return
        with engine.begin() as connection:
            Base.metadata.create_all(bind=connection)
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                {"head": alembic_head()},
            )
    finally:
        engine.dispose()


@contextmanager
def open_gradebook(settings: Settings) -> Iterator[Any]:
    """nbgrader's `Gradebook` for this course, closed on exit."""
    from nbgrader.api import Gradebook

    prepare_database(settings)
    with Gradebook(settings.db_url, settings.course_id) as gradebook:
        yield gradebook


def submission_count(settings: Settings, workshop: str) -> int:
    """How many submissions the gradebook holds for *workshop* (0 if it was never released)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(settings) as gradebook:
        try:
            return len(gradebook.find_assignment(workshop).submissions)
        except MissingEntry:
            return 0
