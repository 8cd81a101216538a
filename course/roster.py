"""The course roster: learners read from a CSV file into nbgrader's gradebook.

The whole file is checked before anything is written, and all learners are written in one
transaction, so a bad file leaves the gradebook exactly as it was.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from course.errors import RosterError
from course.gradebook import open_gradebook
from course.settings import Settings

__all__ = ["COLUMNS", "Learner", "RosterImport", "import_roster", "list_roster", "read_roster"]

COLUMNS = ("id", "first_name", "last_name", "email")
MAX_LENGTH = 128
"""nbgrader's column size; PostgreSQL refuses longer values, SQLite would keep them."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


@dataclass(frozen=True)
class Learner:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class RosterImport:
    added: tuple[str, ...]
    updated: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "updated": list(self.updated)}


def read_roster(path: Path) -> tuple[Learner, ...]:
    """Parse a roster CSV (header `id,first_name,last_name,email`; only `id` is required).

    Raises `RosterError` listing every bad line: empty or invalid ids, duplicates, rows with
    too many or too few fields, unknown columns, values the gradebook cannot hold.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise RosterError(f"{path}: file not found") from error
    except UnicodeDecodeError as error:
        raise RosterError(f"{path}: not a UTF-8 text file") from error
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterError(f"{path}: line 1: empty file; expected a header 'id,first_name,...'")
    header = [name.strip() for name in rows[0]]
    problems = _header_problems(header)
    if problems:
        raise RosterError("\n".join(f"{path}: line 1: {p}" for p in problems))
    learners: list[Learner] = []
    first_seen: dict[str, int] = {}
    errors: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        problem = _row_problem(row, header, first_seen)
        if problem:
            errors.append(f"{path}: line {number}: {problem}")
            continue
        values = dict(zip(header, (cell.strip() for cell in row), strict=True))
        first_seen[values["id"]] = number
        learners.append(
            Learner(
                id=values["id"],
                first_name=values.get("first_name") or None,
                last_name=values.get("last_name") or None,
                email=values.get("email") or None,
            )
        )
    if errors:
        raise RosterError("\n".join(errors))
    return tuple(learners)


def import_roster(settings: Settings, path: Path) -> RosterImport:
    """Add or update every learner of *path* in the gradebook, all or nothing."""
    from nbgrader.api import Student

    learners = read_roster(path)
    added, updated = [], []
    with open_gradebook(settings) as gradebook:
        session = gradebook.db
        try:
            for learner in learners:
                student = session.get(Student, learner.id)
                if student is None:
                    session.add(Student(**learner.to_json()))
                    added.append(learner.id)
                else:
                    for name, value in learner.to_json().items():
                        if value is not None:
                            setattr(student, name, value)
                    updated.append(learner.id)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return RosterImport(tuple(added), tuple(updated))


def list_roster(settings: Settings) -> tuple[Learner, ...]:
    """Every learner in the gradebook, ordered by id."""
    with open_gradebook(settings) as gradebook:
        return tuple(
            Learner(s.id, s.first_name, s.last_name, s.email)
            for s in sorted(gradebook.students, key=lambda s: s.id)
        )


def _header_problems(header: list[str]) -> list[str]:
    problems = []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"allowed: {', '.join(COLUMNS)}"
        )
    if "id" not in header:
        problems.append("no 'id' column; the header must name it")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        problems.append(f"column(s) named twice: {', '.join(repeated)}")
    return problems


def _row_problem(row: list[str], header: list[str], first_seen: dict[str, int]) -> str | None:
    if len(row) != len(header):
        return f"{len(row)} fields where the header has {len(header)}; check commas and quotes"
    values = dict(zip(header, (cell.strip() for cell in row), strict=True))
    learner_id = values["id"]
    if not learner_id:
        return "empty id"
    if not _ID.fullmatch(learner_id):
        return (
            f"invalid id {learner_id!r}: use letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit"
        )
    if learner_id in first_seen:
        return f"duplicate id {learner_id!r} (first on line {first_seen[learner_id]})"
    for column, value in values.items():
        if len(value) > MAX_LENGTH or "\0" in value:
            return f"{column} of {learner_id!r}: at most {MAX_LENGTH} characters, none of them NUL"
    email = values.get("email")
    if email and "@" not in email:
        return f"invalid email {email!r} for {learner_id!r}"
    return None
