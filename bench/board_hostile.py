"""Hostile clients for `bench/board_load.py --hostile` (issue 13), and the probes that measure
what the room feels meanwhile. Every client connects to the loopback address it is given and
stops at the deadline `until` (a `time.monotonic()` value).

  - idle connections that never send a byte, re-opened when the server closes them;
  - slow connections that send one header line a second;
  - unauthenticated clients announcing and sending 20 MiB bodies;
  - learners posting large invalid notebooks (20,000 cells, one bad output) in a loop;
  - a learner resubmitting a notebook that loops forever;
  - probes: an honest learner's submission (time to score), the organiser's board JSON, and
    the server's memory (its own and with its child processes).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

__all__ = ["Hostile", "attack", "invalid_notebook", "probe", "run_attack", "with_square"]

LOOPBACK = "127.0.0.1"


@dataclass
class Hostile:
    """What the hostile clients and the probes saw."""

    statuses: Counter[str] = field(default_factory=Counter)
    board_ms: list[float] = field(default_factory=list)
    score_s: list[float] = field(default_factory=list)
    unscored: int = 0
    rss_mib: list[float] = field(default_factory=list)
    tree_mib: list[float] = field(default_factory=list)


def invalid_notebook(name: str, cells: int) -> bytes:
    """A submission of *name* with *cells* code cells, the last with an invalid output."""
    code = {"cell_type": "code", "metadata": {}, "source": "x = 1\n" * 3, "outputs": []}
    body = [{**code, "id": f"c{i}", "execution_count": None} for i in range(cells)]
    body[-1]["outputs"] = [{"output_type": "bogus"}]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": body}
    return json.dumps({"notebooks": {name: nb}}).encode()


def with_square(released: Path, source: str) -> bytes:
    """A submission of the released notebook with its first solution cell set to *source*."""
    nb = json.loads(released.read_text())
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    cell["source"] = source
    return json.dumps({"notebooks": {released.name: nb}}).encode()


async def _hold(port: int, until: float, opening: bytes, drip: bytes, every_s: float) -> None:
    """Keep one connection open: send *opening*, then *drip* every *every_s*; re-open it a
    second after the server closes it (a persistent client, not a flood of new ones)."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        try:
            writer.write(opening)
            while time.monotonic() < until and not reader.at_eof():
                if drip:
                    writer.write(drip)
                    await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(65536), every_s)
                except TimeoutError:
                    continue
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(1)


async def _post(
    client: AsyncHTTPClient, url: str, token: str, body: bytes, timeout_s: float = 120
) -> tuple[int, bytes, dict[str, str]]:
    request = HTTPRequest(
        url,
        method="POST",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        request_timeout=timeout_s,
    )
    try:
        response = await client.fetch(request)
    except HTTPClientError as error:
        if error.response is None:
            return error.code, b"", {}
        return error.code, error.response.body, dict(error.response.headers)
    except OSError:
        return 0, b"", {}
    return response.code, response.body, dict(response.headers)


async def _get(client: AsyncHTTPClient, url: str, token: str) -> tuple[int, bytes]:
    request = HTTPRequest(url, headers={"Authorization": f"Bearer {token}"}, request_timeout=60)
    try:
        response = await client.fetch(request)
    except HTTPClientError as error:
        return error.code, b""
    except OSError:
        return 0, b""
    return response.code, response.body


async def _loop_submissions(
    client: AsyncHTTPClient, url: str, token: str, body: bytes, until: float, seen: Counter[str]
) -> None:
    while time.monotonic() < until:
        status, _, _ = await _post(
            client, url, token, body, timeout_s=max(until - time.monotonic(), 1)
        )
        seen[f"invalid notebook {status}"] += 1
        await asyncio.sleep(0.1)


async def _runaway(
    client: AsyncHTTPClient, url: str, token: str, body: bytes, until: float, seen: Counter[str]
) -> None:
    while time.monotonic() < until:
        status, _, _ = await _post(client, url, token, body)
        seen[f"runaway {status}"] += 1
        await asyncio.sleep(15)


async def _honest(
    client: AsyncHTTPClient,
    base: str,
    learner: str,
    token: str,
    body: bytes,
    until: float,
    tally: Hostile,
) -> None:
    """Submit every 20 s and wait (at most 60 s) for the score; record the time it took."""
    url = f"{base}/{learner}"
    await asyncio.sleep(5)
    while time.monotonic() < until:
        started = time.monotonic()
        status, answer, _ = await _post(client, base, token, body)
        if status != 200:
            tally.statuses[f"honest submission {status}"] += 1
            await asyncio.sleep(2)
            continue
        receipt = json.loads(answer)["id"]
        scored = False
        while time.monotonic() < started + 60:
            code, view = await _get(client, url, token)
            result = json.loads(view)["result"] if code == 200 else None
            if result is not None and result["id"] >= receipt:
                tally.score_s.append(time.monotonic() - started)
                scored = True
                break
            await asyncio.sleep(0.25)
        tally.unscored += not scored
        await asyncio.sleep(max(started + 20 - time.monotonic(), 0))


async def _board(
    client: AsyncHTTPClient, url: str, token: str, until: float, tally: Hostile
) -> None:
    while time.monotonic() < until:
        started = time.perf_counter()
        code, _ = await _get(client, url, token)
        if code == 200:
            tally.board_ms.append((time.perf_counter() - started) * 1000)
        else:
            tally.statuses[f"board read {code}"] += 1
        await asyncio.sleep(0.5)


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [g for c in found for g in _children(c)]


async def _memory(pid: int, until: float, tally: Hostile) -> None:
    while time.monotonic() < until:
        own = _rss_mib(pid)
        tally.rss_mib.append(own)
        tally.tree_mib.append(own + sum(_rss_mib(c) for c in _children(pid)))
        await asyncio.sleep(1)


def run_attack(url: str, tokens: dict[str, str], released: Path, until: float, answers) -> None:
    """The hostile clients, in a process of their own (so the bench's own event loop, which
    measures the room, is not the bottleneck), at a lower CPU priority: on a real network
    the attackers' CPU is not the server's; their answers' tally goes on *answers*."""
    os.nice(10)
    answers.put(dict(asyncio.run(attack(url, tokens, released, until))))


async def attack(
    url: str,
    tokens: dict[str, str],
    released: Path,
    until: float,
    *,
    idle: int = 400,
    slow: int = 100,
    unauthenticated: int = 25,
) -> Counter[str]:
    """Run every hostile client until *until*; *tokens* must hold the learners `hostile0`,
    `hostile1` and `runaway`."""
    host, _, port_text = url.split("//", 1)[1].partition(":")
    assert host == LOOPBACK, "the bench only targets the loopback address"
    port = int(port_text.split("/")[0])
    seen: Counter[str] = Counter()
    client = AsyncHTTPClient(force_instance=True, max_clients=16)
    submit = f"{url}/workshop/api/submissions/{released.parent.name}"
    invalid = invalid_notebook(released.name, 20_000)
    huge = invalid_notebook(released.name, 90_000)
    slow_head = b"GET /workshop/api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    big_head = (
        f"POST /workshop/api/submissions/{released.parent.name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {20 * 1024 * 1024}\r\n\r\n"
    ).encode()
    runaway = with_square(released, "while True:\n    pass")
    await asyncio.gather(
        *(_hold(port, until, b"", b"", 5) for _ in range(idle)),
        *(_hold(port, until, slow_head, b"X-Slow: 1\r\n", 1) for _ in range(slow)),
        *(_hold(port, until, big_head, b"\0" * 65536, 0.01) for _ in range(unauthenticated)),
        *(
            _loop_submissions(client, submit, tokens[f"hostile{i % 2}"], invalid, until, seen)
            for i in range(4)
        ),
        _loop_submissions(client, submit, tokens["hostile1"], huge, until, seen),
        _runaway(client, submit, tokens["runaway"], runaway, until, seen),
    )
    client.close()
    return seen


async def probe(
    url: str, pid: int, tokens: dict[str, str], released: Path, organiser: str, until: float
) -> Hostile:
    """What the room feels until *until*: an honest learner's time to score, the organiser's
    board JSON, the server's memory."""
    tally = Hostile()
    client = AsyncHTTPClient(force_instance=True, max_clients=4)
    submit = f"{url}/workshop/api/submissions/{released.parent.name}"
    await asyncio.gather(
        _honest(client, submit, "honest", tokens["honest"], _honest_body(released), until, tally),
        _board(client, f"{url}/workshop/api/board/{released.parent.name}", organiser, until, tally),
        _memory(pid, until, tally),
    )
    client.close()
    return tally


def _honest_body(released: Path) -> bytes:
    """The source notebook (every solution in place) under the released name."""
    course = released.parent.parent.parent
    source = course / "source" / released.parent.name / released.name
    nb = json.loads(source.read_text())
    return json.dumps({"notebooks": {released.name: nb}}).encode()
