"""Gradebooks on either engine for tests: the course's own SQLite file, or a fresh database on
the PostgreSQL server that `make test` starts and names in `WORKSHOP_TEST_POSTGRES_URL`.

Each PostgreSQL gradebook is a database of its own, created for one test (or one module) and
dropped afterwards; its name carries the creating process's id, so the two pytest-xdist
workers, or two runs at once, never collide, and a run that was killed leaves databases that
the next run recognises (their process is gone) and drops.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

URL_VARIABLE = "WORKSHOP_TEST_POSTGRES_URL"
ENGINES = ("sqlite", "postgresql")
_PREFIX = "workshop_test_"


@dataclass(frozen=True)
class PostgresServer:
    """The test server, reached through the database named in its URL (the role's own)."""

    url: URL

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new, empty database; yields its SQLAlchemy URL, drops it on exit."""
        name = f"{_PREFIX}{os.getpid()}_{secrets.token_hex(6)}"
        self._execute("CREATE DATABASE {}", name)
        try:
            yield self.url.set(database=name).render_as_string(hide_password=False)
        finally:
            self._execute("DROP DATABASE {} WITH (FORCE)", name)

    def drop_connections(self, database: str) -> None:
        """End every session on *database*, as a server restart would."""
        with self._connect() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )

    def drop_orphans(self) -> None:
        """Drop the test databases of processes of this machine that no longer run."""
        with self._connect() as connection:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (_PREFIX,)
                )
            ]
        for name in names:
            pid = name.removeprefix(_PREFIX).partition("_")[0]
            if pid.isdigit() and not _running(int(pid)):
                self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def _execute(self, statement: str, name: str) -> None:
        with self._connect() as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        plain = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(plain, autocommit=True, connect_timeout=10)


def connect_server(url: str) -> PostgresServer:
    """The server behind *url*, checked to answer; `OperationalError` when it does not."""
    server = PostgresServer(make_url(url))
    server.drop_orphans()
    return server


def use_gradebook(course_root: Path, db_url: str) -> None:
    """Point the course's `nbgrader_config.py` at *db_url*."""
    with (course_root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(f"c.CourseDirectory.db_url = {db_url!r}\n")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
