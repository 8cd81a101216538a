"""Deliver Check events to the session board without ever making the learner wait.

Each event is first written to a spool folder beside the notebook (one small JSON file per
event, named so that sorting them is sending order), then a background thread posts what is
spooled and deletes each file only once the board acknowledged it. The board ignores an
idempotency key it has seen, so a file sent twice (acknowledgement lost, kernel restarted) is
counted once, and a board that is down or slow only delays delivery: the spool keeps the events,
across kernel restarts, until it answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["EventSender", "new_event"]

BATCH_SIZE = 100
REQUEST_TIMEOUT_S = 5.0
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def new_event(
    *,
    learner: str,
    workshop: str,
    notebook: str,
    exercise: str,
    passed: bool,
    points: float,
    max_points: float,
    attempt: int,
) -> dict[str, Any]:
    """One Check, as the board's events endpoint takes it (the key makes resending safe)."""
    return {
        "key": uuid.uuid4().hex,
        "learner": learner,
        "workshop": workshop,
        "notebook": notebook,
        "exercise": exercise,
        "passed": passed,
        "points": points,
        "max_points": max_points,
        "attempt": attempt,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


class EventSender:
    """Spool events to *spool* and post them to *board* with *token* from a daemon thread."""

    def __init__(self, board: str, token: str, spool: Path) -> None:
        self.url = board.rstrip("/") + "/workshop/api/events"
        self.token = token
        self.spool = spool
        self.rejected = spool / "rejected"
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._sequence = 0
        self._thread = threading.Thread(target=self._deliver_forever, daemon=True)
        self._thread.start()
        self._wake.set()

    def send(self, event: dict[str, Any]) -> None:
        """Spool *event* (a fast local write) and let the thread deliver it."""
        self.spool.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}-{event['key']}.json"
        temp = self.spool / f".{name}.tmp"  # not `*.json` until complete: the thread skips it
        temp.write_text(json.dumps(event), encoding="utf-8")
        temp.replace(self.spool / name)
        self._wake.set()

    def pending(self) -> int:
        """Events spooled and not yet acknowledged by the board."""
        return len(list(self.spool.glob("*.json"))) if self.spool.is_dir() else 0

    def flush(self, timeout_s: float) -> bool:
        """Wait up to *timeout_s* for the spool to empty; True when it did."""
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return not self.pending()

    def _deliver_forever(self) -> None:
        failures = 0
        while True:
            self._wake.wait()
            self._wake.clear()
            while self.pending():
                try:
                    delivered = self._deliver_batch()
                except OSError as error:  # the spool folder went away or is unwritable
                    self.last_error = f"spool: {error}"
                    delivered = False
                if delivered:
                    failures = 0
                    continue
                delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
                failures += 1
                self._wake.wait(delay)
                self._wake.clear()

    def _deliver_batch(self) -> bool:
        """Post the oldest spooled events; True when the board settled them."""
        files = sorted(self.spool.glob("*.json"))[:BATCH_SIZE]
        events, readable = [], []
        for path in files:
            try:
                events.append(json.loads(path.read_text(encoding="utf-8")))
                readable.append(path)
            except FileNotFoundError:
                continue  # another kernel of this learner delivered it meanwhile
            except (OSError, ValueError):
                self._set_aside(path)
        if not events:
            return True
        status = self._post({"events": events})
        if status in (400, 413) and len(events) > 1:
            # the board refuses a batch whole: find the bad events one by one
            return all(
                self._settle([path], self._post({"events": [event]}))
                for path, event in zip(readable, events, strict=True)
            )
        return self._settle(readable, status)

    def _settle(self, paths: list[Path], status: int | None) -> bool:
        """Drop acknowledged events, set refused ones aside; False when the board is away."""
        if status == 200:
            for path in paths:
                path.unlink(missing_ok=True)
            self.last_error = None
            return True
        if status in (400, 403, 413):
            for path in paths:
                self._set_aside(path)
            return True
        return False

    def _post(self, body: dict[str, Any]) -> int | None:
        from urllib.error import HTTPError, URLError
        from urllib.request import Request, urlopen

        request = Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                return int(response.status)
        except HTTPError as error:
            self.last_error = f"board answered {error.code}: {error.read()[:200]!r}"
            return error.code
        except (URLError, OSError) as error:
            self.last_error = f"board unreachable: {error}"
            return None

    def _set_aside(self, path: Path) -> None:
        """Keep an event the board refused, for a person to look at, instead of retrying it."""
        self.rejected.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.replace(self.rejected / path.name)
