"""Write and read Check events: one transaction per group of requests, duplicates skipped.

Idempotency keys make delivery safe to repeat: an event whose (learner, key) is already stored,
or appears earlier in the same group, is counted as a duplicate and never stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from extensions.board.events import Event
from extensions.board.schema import EVENT

__all__ = ["EventRow", "WriteResult", "read_events", "store_events"]

_KEYS_PER_QUERY = 400


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int

    def to_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


@dataclass(frozen=True)
class EventRow:
    """A stored event, as the views read it (naive UTC times)."""

    id: int
    learner: str
    notebook: str
    exercise: str
    passed: bool
    time: datetime


def store_events(
    engine: Engine, requests: Sequence[Sequence[Event]], received_at: datetime
) -> list[WriteResult]:
    """Store the events of several requests in one transaction; one result per request.

    Another process writing the same keys at the same moment (two servers on one gradebook)
    makes the insert fail on the unique constraint; the group is then retried once, and the
    retry sees those rows as duplicates.
    """
    try:
        with engine.begin() as connection:
            return _store(connection, requests, received_at)
    except IntegrityError:
        with engine.begin() as connection:
            return _store(connection, requests, received_at)


def _store(
    connection: Connection, requests: Sequence[Sequence[Event]], received_at: datetime
) -> list[WriteResult]:
    seen = _stored_keys(connection, {(e.learner, e.key) for events in requests for e in events})
    rows, results = [], []
    for events in requests:
        accepted = 0
        for event in events:
            identity = (event.learner, event.key)
            if identity in seen:
                continue
            seen.add(identity)
            rows.append(event.to_row(received_at))
            accepted += 1
        results.append(WriteResult(accepted, len(events) - accepted))
    if rows:
        connection.execute(insert(EVENT), rows)
    return results


def _stored_keys(connection: Connection, wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        chunk = ordered[start : start + _KEYS_PER_QUERY]
        rows = connection.execute(
            select(EVENT.c.learner, EVENT.c.key).where(
                tuple_(EVENT.c.learner, EVENT.c.key).in_(chunk)
            )
        )
        found.update((learner, key) for learner, key in rows)
    return found


def read_events(engine: Engine, workshop: str, learner: str | None = None) -> list[EventRow]:
    """Events of *workshop* (of one *learner* if given) in the order they were pressed."""
    query = (
        select(
            EVENT.c.id,
            EVENT.c.learner,
            EVENT.c.notebook,
            EVENT.c.exercise,
            EVENT.c.passed,
            EVENT.c.time,
        )
        .where(EVENT.c.workshop == workshop)
        .order_by(EVENT.c.time, EVENT.c.id)
    )
    if learner is not None:
        query = query.where(EVENT.c.learner == learner)
    with engine.connect() as connection:
        return [EventRow(*row) for row in connection.execute(query)]
