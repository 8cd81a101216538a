"""What the board knows about the course: released workshops and their exercises, the roster,
and the token hashes, read from the gradebook in one go and cached briefly.

Every request needs this (to authenticate, to validate an event's workshop and exercise), so it
must not cost a query each time; re-reading it every few seconds, and at once when a request
names something the cache does not know (rate-limited), lets a fresh release, roster import or
rotated token take effect within seconds without restarting the server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, exists, select

from course.settings import Settings
from extensions.board.schema import TOKEN
from extensions.board.tokens import Identity, hash_token

__all__ = [
    "Catalogue",
    "CatalogueCache",
    "Exercise",
    "RosterEntry",
    "WorkshopInfo",
    "load_catalogue",
]

MAX_AGE_S = 4.0
"""Below the documented 5 s in which a replaced token stops working, streams included."""
MIN_RELOAD_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Exercise:
    """An autograded test cell of a released notebook (an nbgrader grade cell that is not a
    solution cell): what a learner's Check reports on."""

    notebook: str
    exercise: str
    max_points: float

    def to_json(self) -> dict[str, object]:
        return {"notebook": self.notebook, "exercise": self.exercise, "max_points": self.max_points}


@dataclass(frozen=True)
class WorkshopInfo:
    name: str
    exercises: tuple[Exercise, ...]
    """In notebook order: notebooks by name, cells as they appear in the source notebook."""

    def exercise(self, notebook: str, exercise: str) -> Exercise | None:
        return next(
            (e for e in self.exercises if e.notebook == notebook and e.exercise == exercise), None
        )

    @property
    def notebooks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.notebook for e in self.exercises))


@dataclass(frozen=True)
class RosterEntry:
    id: str
    first_name: str | None
    last_name: str | None

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) or None


@dataclass(frozen=True)
class Catalogue:
    workshops: Mapping[str, WorkshopInfo]
    roster: Mapping[str, RosterEntry]
    tokens: Mapping[str, Identity] = field(repr=False)
    """sha256 hex of a token -> who it speaks for."""

    def identify(self, token: str) -> Identity | None:
        return self.tokens.get(hash_token(token))


def load_catalogue(engine: Engine, settings: Settings) -> Catalogue:
    """Read workshops (nbgrader's `assignment` rows), exercises, roster and tokens."""
    from nbgrader.api import Assignment, BaseCell, GradeCell, Notebook, SolutionCell, Student

    assignment = Assignment.__table__
    notebook = Notebook.__table__
    base = BaseCell.__table__
    grade = GradeCell.__table__
    solution = SolutionCell.__table__
    # nbgrader stores a cell that is graded and a solution as two rows of `base_cell` with one
    # name (a GradeCell and a SolutionCell); a test cell is a code grade cell with no twin.
    twin = base.alias("solution_base")
    is_solution = exists().where(
        solution.c.id == twin.c.id,
        twin.c.notebook_id == base.c.notebook_id,
        twin.c.name == base.c.name,
    )
    student = Student.__table__
    with engine.connect() as connection:
        names = [row[0] for row in connection.execute(select(assignment.c.name))]
        cells = connection.execute(
            select(assignment.c.name, notebook.c.name, base.c.name, grade.c.max_score)
            .select_from(
                grade.join(base, base.c.id == grade.c.id)
                .join(notebook, notebook.c.id == base.c.notebook_id)
                .join(assignment, assignment.c.id == notebook.c.assignment_id)
            )
            .where(grade.c.cell_type == "code", ~is_solution)
        ).all()
        roster = {
            row.id: RosterEntry(row.id, row.first_name, row.last_name)
            for row in connection.execute(
                select(student.c.id, student.c.first_name, student.c.last_name)
            )
        }
        tokens = {
            row.token_hash: Identity(row.role, row.subject)
            for row in connection.execute(select(TOKEN.c.token_hash, TOKEN.c.role, TOKEN.c.subject))
        }
    found: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for workshop, nb, cell, max_score in cells:
        found[workshop].setdefault(nb, {})[cell] = float(max_score)
    workshops = {
        name: WorkshopInfo(name, _ordered(settings.source_dir / name, notebooks))
        for name, notebooks in found.items()
    }
    return Catalogue(workshops, roster, tokens)


def _ordered(folder: Path, notebooks: dict[str, dict[str, float]]) -> tuple[Exercise, ...]:
    """The gradebook keeps no cell order; take it from the source notebooks (unknown: by name)."""
    exercises = []
    for nb in sorted(notebooks):
        cells = notebooks[nb]
        position = {grade_id: i for i, grade_id in enumerate(_grade_ids(folder / f"{nb}.ipynb"))}
        for name in sorted(cells, key=lambda c: (position.get(c, len(position)), c)):
            exercises.append(Exercise(nb, name, cells[name]))
    return tuple(exercises)


def _grade_ids(path: Path) -> list[str]:
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    ids = []
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.append(meta["grade_id"])
    return ids


class CatalogueCache:
    """The current `Catalogue`, re-read when older than `MAX_AGE_S` or when a lookup misses.

    `get` and `refresh_after_miss` run in worker threads (they may query the database); misses
    re-read at most once per `MIN_RELOAD_INTERVAL_S`, so a stream of requests naming unknown
    workshops cannot hammer the database.
    """

    def __init__(self, load: Callable[[], Catalogue]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._current: Catalogue | None = None
        self._loaded_at = 0.0

    def fresh(self) -> Catalogue | None:
        """The cached catalogue if it is recent enough, without waiting or querying."""
        current = self._current
        if current is not None and time.monotonic() - self._loaded_at <= MAX_AGE_S:
            return current
        return None

    def get(self) -> Catalogue:
        with self._lock:
            if self._current is None or time.monotonic() - self._loaded_at > MAX_AGE_S:
                self._reload()
            assert self._current is not None
            return self._current

    def refresh_after_miss(self, missed_at: float) -> Catalogue:
        """A catalogue read after *missed_at* (`time.monotonic()` when a lookup missed).

        Reloads at most once per `MIN_RELOAD_INTERVAL_S`, waiting out the rest of the interval
        rather than answering from the stale copy, so something released or imported a moment
        ago is always found; concurrent misses share one reload.
        """
        with self._lock:
            if self._current is None or self._loaded_at <= missed_at:
                wait_s = self._loaded_at + MIN_RELOAD_INTERVAL_S - time.monotonic()
                if wait_s > 0:
                    time.sleep(wait_s)
                self._reload()
            assert self._current is not None
            return self._current

    def _reload(self) -> None:
        self._current = self._load()
        self._loaded_at = time.monotonic()
