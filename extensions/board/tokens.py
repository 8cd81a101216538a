"""Issue and recognise the board's bearer tokens.

A token is shown once, when it is issued, and stored only as its sha256: a copied database
reveals no usable token, and a lost token is replaced (`rotate`), never recovered. Learner
tokens belong to roster learners (nbgrader's `student` table); an organiser token carries the
organiser's name, which appears nowhere but in the token table.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine, delete, insert, select

from course.errors import RosterError
from course.gradebook import prepare_database
from course.settings import Settings
from extensions.board.schema import TOKEN, create_tables, open_engine

__all__ = [
    "Identity",
    "IssuedToken",
    "TokenIssue",
    "find_token",
    "hash_token",
    "issue_learner_tokens",
    "issue_organiser_token",
]

Role = Literal["learner", "organiser"]
TOKEN_BYTES = 24
MAX_NAME_LENGTH = 128


@dataclass(frozen=True)
class Identity:
    """Who a valid token speaks for."""

    role: Role
    subject: str

    @property
    def is_organiser(self) -> bool:
        return self.role == "organiser"


@dataclass(frozen=True)
class IssuedToken:
    subject: str
    role: Role
    token: str


@dataclass(frozen=True)
class TokenIssue:
    """Tokens made by one call, and the subjects that kept the token they already had."""

    issued: tuple[IssuedToken, ...]
    kept: tuple[str, ...]


def hash_token(token: str) -> str:
    """The stored form of *token*."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_token(engine: Engine, token: str) -> Identity | None:
    """Who *token* speaks for, read from the database, or None."""
    with engine.connect() as connection:
        row = connection.execute(
            select(TOKEN.c.role, TOKEN.c.subject).where(TOKEN.c.token_hash == hash_token(token))
        ).first()
    return None if row is None else Identity(row.role, row.subject)


def issue_learner_tokens(
    settings: Settings, students: Sequence[str] = (), *, rotate: bool = False
) -> TokenIssue:
    """Give each of *students* (default: the whole roster) a learner token.

    Without *rotate* only learners without a token get one (a stored token cannot be shown
    again); with it, their old tokens stop working and new ones are issued. Unknown ids raise
    `RosterError` naming them, before anything is written.
    """
    from nbgrader.api import Student

    prepare_database(settings)
    engine = open_engine(settings.db_url)
    try:
        create_tables(engine)
        with engine.begin() as connection:
            roster = [row[0] for row in connection.execute(select(Student.__table__.c.id))]
            wanted = list(dict.fromkeys(students)) if students else sorted(roster)
            unknown = sorted(set(wanted) - set(roster))
            if unknown:
                raise RosterError(
                    f"not in the roster: {', '.join(unknown)}; add them with "
                    "`workshop roster import FILE.csv` first"
                )
            return _issue(connection, "learner", wanted, rotate=rotate)
    finally:
        engine.dispose()


def issue_organiser_token(settings: Settings, name: str, *, rotate: bool = False) -> TokenIssue:
    """An organiser token for *name* (kept as is if *name* has one, unless *rotate*)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise RosterError(
            f"organiser name {name!r}: give 1 to {MAX_NAME_LENGTH} printable characters"
        )
    prepare_database(settings)
    engine = open_engine(settings.db_url)
    try:
        create_tables(engine)
        with engine.begin() as connection:
            return _issue(connection, "organiser", [name], rotate=rotate)
    finally:
        engine.dispose()


def _issue(connection: Connection, role: Role, subjects: list[str], *, rotate: bool) -> TokenIssue:
    having = {
        row[0]
        for row in connection.execute(
            select(TOKEN.c.subject).where(TOKEN.c.role == role, TOKEN.c.subject.in_(subjects))
        )
    }
    if rotate:
        connection.execute(delete(TOKEN).where(TOKEN.c.role == role, TOKEN.c.subject.in_(subjects)))
        targets, kept = subjects, []
    else:
        targets = [s for s in subjects if s not in having]
        kept = [s for s in subjects if s in having]
    issued = [IssuedToken(s, role, secrets.token_urlsafe(TOKEN_BYTES)) for s in targets]
    now = datetime.now(UTC).replace(tzinfo=None)
    if issued:
        connection.execute(
            insert(TOKEN),
            [
                {
                    "token_hash": hash_token(t.token),
                    "subject": t.subject,
                    "role": role,
                    "created_at": now,
                }
                for t in issued
            ],
        )
    return TokenIssue(tuple(issued), tuple(kept))
