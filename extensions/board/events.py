"""Read a batch of Check events from a request body, or say exactly which field is wrong.

A batch is accepted whole or refused whole (400 naming the first bad field): the learner's
client sets a refused batch aside for a person to look at, so a half-stored batch would be
harder to reason about than none. Unknown fields are ignored, so a newer client can add some.
Text may not contain NUL, which PostgreSQL cannot store (SQLite would, so both refuse it).
A time must lie within `MAX_AGE` before and `MAX_AHEAD` after the server's clock (a spooled
Check may arrive days late, never from another year or the future). The points stored are the
exercise's own: its `max_points` from the gradebook, earned in full when the Check passed, so a
client can neither inflate a score nor put a number on the board that no exercise has.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from course.errors import RequestRejected
from extensions.board.catalogue import Catalogue
from extensions.board.tokens import Identity

__all__ = ["MAX_AGE", "MAX_AHEAD", "MAX_EVENTS", "Event", "check_events", "parse_events"]

MAX_EVENTS = 100
MAX_ATTEMPT = 2**31 - 1
"""The largest 32-bit integer: the column's range on PostgreSQL."""
MAX_AGE = timedelta(days=366)
MAX_AHEAD = timedelta(days=1)
_TEXT_LIMITS = {"key": 64, "learner": 128, "workshop": 128, "notebook": 128, "exercise": 128}


@dataclass(frozen=True)
class Event:
    """One press of Check; `time` is when it was pressed, as naive UTC."""

    key: str
    learner: str
    workshop: str
    notebook: str
    exercise: str
    passed: bool
    points: float
    max_points: float
    attempt: int
    time: datetime

    def to_row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "key": self.key,
            "learner": self.learner,
            "workshop": self.workshop,
            "notebook": self.notebook,
            "exercise": self.exercise,
            "passed": self.passed,
            "points": self.points,
            "max_points": self.max_points,
            "attempt": self.attempt,
            "time": self.time,
            "received_at": received_at,
        }


def parse_events(body: bytes, now: datetime) -> list[Event]:
    """The events of a `{"events": [...]}` body received at *now* (aware); `RequestRejected(400)`
    for malformed JSON or a bad field, naming it."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise RequestRejected(400, "body: JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestRejected(400, f"body: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise RequestRejected(400, 'body: expected a JSON object {"events": [...]}')
    items = document.get("events")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS:
        raise RequestRejected(400, f"events: expected a list of 1 to {MAX_EVENTS} events")
    utc_now = now.astimezone(UTC).replace(tzinfo=None)
    return [_event(item, f"events[{i}]", utc_now) for i, item in enumerate(items)]


def check_events(events: list[Event], identity: Identity, catalogue: Catalogue) -> list[Event]:
    """*events* with the points of their exercises; refuse events *identity* may not send
    (403: another learner's) or that name something the course does not have (400: learner,
    workshop, notebook or exercise)."""
    return [
        _check_allowed(event, f"events[{i}]", identity, catalogue) for i, event in enumerate(events)
    ]


def _event(item: object, where: str, now: datetime) -> Event:
    if not isinstance(item, Mapping):
        raise RequestRejected(400, f"{where}: expected an object")
    text = {name: _text(item, name, limit, where) for name, limit in _TEXT_LIMITS.items()}
    passed = item.get("passed")
    if not isinstance(passed, bool):
        raise RequestRejected(400, f"{where}.passed: expected true or false")
    points = _number(item, "points", where)
    max_points = _number(item, "max_points", where)
    if points > max_points:
        raise RequestRejected(400, f"{where}.points: {points:g} is more than max_points")
    attempt = item.get("attempt")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= MAX_ATTEMPT:
        raise RequestRejected(400, f"{where}.attempt: expected an integer from 1 to {MAX_ATTEMPT}")
    return Event(
        passed=passed,
        points=points,
        max_points=max_points,
        attempt=attempt,
        time=_time(item.get("time"), where, now),
        **text,
    )


def _text(item: Mapping[str, Any], name: str, limit: int, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or "\0" in value:
        raise RequestRejected(
            400, f"{where}.{name}: expected a string of 1 to {limit} characters, none of them NUL"
        )
    return value


def _number(item: Mapping[str, Any], name: str, where: str) -> float:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestRejected(400, f"{where}.{name}: expected a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise RequestRejected(400, f"{where}.{name}: expected a finite number of at least 0")
    return number


def _time(value: object, where: str, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        utc = None if moment is None or moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise RequestRejected(
            400,
            f"{where}.time: expected an ISO 8601 time with a timezone, "
            "e.g. 2025-05-01T10:00:00+00:00",
        )
    naive = utc.replace(tzinfo=None)
    if not now - MAX_AGE <= naive <= now + MAX_AHEAD:
        raise RequestRejected(
            400,
            f"{where}.time: {naive:%Y-%m-%d %H:%M} UTC is more than {MAX_AGE.days} days before "
            f"or {MAX_AHEAD.days} day after the server's clock ({now:%Y-%m-%d %H:%M} UTC)",
        )
    return naive


def _check_allowed(event: Event, where: str, identity: Identity, catalogue: Catalogue) -> Event:
    if not identity.is_organiser and event.learner != identity.subject:
        raise RequestRejected(
            403, f"{where}.learner: this token may only send events of {identity.subject!r}"
        )
    if event.learner not in catalogue.roster:
        raise RequestRejected(400, f"{where}.learner: {event.learner!r} is not in the roster")
    workshop = catalogue.workshops.get(event.workshop)
    if workshop is None:
        raise RequestRejected(
            400, f"{where}.workshop: {event.workshop!r} is not a released workshop"
        )
    if event.notebook not in workshop.notebooks:
        raise RequestRejected(
            400, f"{where}.notebook: {event.notebook!r} is not a notebook of {event.workshop!r}"
        )
    exercise = workshop.exercise(event.notebook, event.exercise)
    if exercise is None:
        raise RequestRejected(
            400,
            f"{where}.exercise: {event.exercise!r} is not an autograded exercise of "
            f"{event.notebook!r} in {event.workshop!r}",
        )
    earned = exercise.max_points if event.passed else 0.0
    return dataclasses.replace(event, points=earned, max_points=exercise.max_points)
