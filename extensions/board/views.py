"""The board and a learner's progress, computed from stored events (pure: no I/O, no clock).

Definitions, shared by the JSON twins, the page and the docs:

- A cell (learner x exercise) is **passed** once the learner has any passing Check of it,
  **attempted** when they have Checks but none passed, **not-started** otherwise; `attempts`
  counts their Checks of it.
- A learner is **stuck** on an exercise when, at the time the board is computed, (1) their
  latest Check of it failed, (2) they have at least `STUCK_FAILURES` failed Checks of it since
  their last passing one (or ever, if none passed), and (3) none of their Checks of it passed in
  the last `STUCK_WINDOW` (by the time Check was pressed, against the server's clock).
- **Attendance**: roster learners with at least one Check of the workshop pressed since the
  start of the server's local day, out of the roster size.
- **Pass rate** of an exercise: learners who passed it, out of the roster size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from extensions.board.catalogue import Exercise, RosterEntry, WorkshopInfo
from extensions.board.store import EventRow

__all__ = [
    "STUCK_FAILURES",
    "STUCK_WINDOW",
    "board_view",
    "local_day_start",
    "progress_view",
]

STUCK_FAILURES = 3
STUCK_WINDOW = timedelta(minutes=10)


@dataclass
class _Cell:
    attempts: int = 0
    passed: bool = False
    last_time: datetime | None = None
    last_passed: bool = False
    last_pass_time: datetime | None = None
    failures_since_pass: int = 0

    def add(self, event: EventRow) -> None:
        self.attempts += 1
        self.last_time = event.time
        self.last_passed = event.passed
        if event.passed:
            self.passed = True
            self.last_pass_time = event.time
            self.failures_since_pass = 0
        else:
            self.failures_since_pass += 1

    @property
    def state(self) -> str:
        if self.passed:
            return "passed"
        return "attempted" if self.attempts else "not-started"

    def is_stuck(self, now: datetime) -> bool:
        recent_pass = self.last_pass_time is not None and now - self.last_pass_time < STUCK_WINDOW
        return (
            self.attempts > 0
            and not self.last_passed
            and self.failures_since_pass >= STUCK_FAILURES
            and not recent_pass
        )

    def to_json(self, exercise: Exercise) -> dict[str, Any]:
        return {
            "notebook": exercise.notebook,
            "exercise": exercise.exercise,
            "state": self.state,
            "attempts": self.attempts,
            "last_time": _iso(self.last_time),
        }


def local_day_start(now: datetime) -> datetime:
    """Midnight of the server's local day containing *now* (aware), as naive UTC."""
    local = now.astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC).replace(tzinfo=None)


def board_view(
    workshop: WorkshopInfo,
    roster: Mapping[str, RosterEntry],
    events: Iterable[EventRow],
    now: datetime,
    day_start: datetime,
) -> dict[str, Any]:
    """The JSON twin of the board; *now* and *day_start* are naive UTC."""
    cells = _cells(events)
    present = {
        learner
        for (learner, _, _), cell in cells.items()
        if learner in roster and cell.last_time is not None and cell.last_time >= day_start
    }
    learners: list[dict[str, Any]] = []
    stuck: list[dict[str, Any]] = []
    for learner_id in sorted(roster):
        entry = roster[learner_id]
        row = []
        for exercise in workshop.exercises:
            cell = cells.get((learner_id, exercise.notebook, exercise.exercise), _Cell())
            row.append(cell.to_json(exercise))
            if cell.is_stuck(now):
                stuck.append(
                    {
                        "learner": learner_id,
                        "name": entry.name,
                        "notebook": exercise.notebook,
                        "exercise": exercise.exercise,
                        "failed_attempts": cell.failures_since_pass,
                        "last_time": _iso(cell.last_time),
                    }
                )
        learners.append(
            {
                "id": learner_id,
                "name": entry.name,
                "present": learner_id in present,
                "passed": sum(c["state"] == "passed" for c in row),
                "attempted": sum(c["state"] != "not-started" for c in row),
                "cells": row,
            }
        )
    stuck.sort(key=lambda s: (-s["failed_attempts"], s["learner"], s["exercise"]))
    size = len(roster)
    exercises = []
    for exercise in workshop.exercises:
        column = [
            cells.get((learner_id, exercise.notebook, exercise.exercise), _Cell())
            for learner_id in roster
        ]
        passed = sum(c.passed for c in column)
        exercises.append(
            {
                **exercise.to_json(),
                "passed": passed,
                "attempted": sum(c.attempts > 0 for c in column),
                "stuck": sum(c.is_stuck(now) for c in column),
                "pass_rate": passed / size if size else 0.0,
            }
        )
    return {
        "workshop": workshop.name,
        "generated_at": _iso(now),
        "roster": size,
        "exercises": exercises,
        "learners": learners,
        "stuck": stuck,
        "attendance": {
            "since": _iso(day_start),
            "present": len(present),
            "roster": size,
            "rate": len(present) / size if size else 0.0,
        },
        "rules": {
            "stuck_failures": STUCK_FAILURES,
            "stuck_window_s": int(STUCK_WINDOW.total_seconds()),
        },
    }


def progress_view(
    workshop: WorkshopInfo, learner: str, events: Iterable[EventRow]
) -> dict[str, Any]:
    """One learner's progress through *workshop* (the learners' own view)."""
    cells = _cells(e for e in events if e.learner == learner)
    rows = []
    for exercise in workshop.exercises:
        cell = cells.get((learner, exercise.notebook, exercise.exercise), _Cell())
        rows.append(
            {**cell.to_json(exercise), "max_points": exercise.max_points, "passed": cell.passed}
        )
    return {
        "learner": learner,
        "workshop": workshop.name,
        "passed": sum(row["passed"] for row in rows),
        "total": len(rows),
        "exercises": rows,
    }


def _cells(events: Iterable[EventRow]) -> dict[tuple[str, str, str], _Cell]:
    """Fold events (in pressing order) into one cell per (learner, notebook, exercise)."""
    cells: dict[tuple[str, str, str], _Cell] = {}
    for event in events:
        cells.setdefault((event.learner, event.notebook, event.exercise), _Cell()).add(event)
    return cells


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat(timespec="seconds")
