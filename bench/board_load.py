"""Load on the session board: many learners pressing Check, with "everyone, try it now" bursts.

Builds a temporary copy of the bundled course (a released workshop, N learners on the roster,
a token each), starts a real `workshop serve` on loopback, and for `--seconds` runs:
  - steady work: every learner presses Check every 20-40 s (random), one event per request;
  - bursts: every `--burst-every` seconds all learners press Check at the same moment;
  - redelivery: about 5% of requests are sent again with the same idempotency keys, as the
    learner's client does when an acknowledgement is lost.
A request that fails is retried (like the learner's spool) until it is acknowledged. Reports
p50/p99/max ingest latency (request sent -> acknowledgement), steady and burst separately, and
checks the database: every distinct event stored exactly once, nothing lost.

With `--hostile` the hostile clients of `bench/board_hostile.py` run at the same time (idle,
slow and unauthenticated-upload connections, large invalid notebooks, a runaway submission),
the server runs with an open-file limit of `--nofile` (1024, a common default), and the run
also reports the board JSON p99, the server's memory and an honest learner's time to score,
against the targets of issue 13 (events p99 < 250 ms, board p99 < 500 ms, memory < 400 MiB,
score within 10 s). Only 127.0.0.1 is targeted; the run stops by itself after `--seconds`.

    python bench/board_load.py [--learners 200] [--seconds 60] [--burst-every 15] [--hostile]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from board_hostile import Hostile, probe, run_attack
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKSHOP = "python-numpy-warmup"
MAX_ATTEMPTS = 20


@dataclass
class Tally:
    steady_ms: list[float] = field(default_factory=list)
    burst_ms: list[float] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    requests: int = 0
    retries: int = 0
    duplicates_acknowledged: int = 0
    failed: int = 0


def run(command: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{command} failed:\n{done.stderr[-3000:]}")
    return done.stdout


HOSTILE_LEARNERS = ["hostile0", "hostile1", "runaway", "honest"]


def build_course(root: Path, learners: int) -> dict[str, str]:
    """The course with *learners* learners and the hostile bench's; tokens by learner id, and
    an organiser's under `"organiser"`."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / WORKSHOP, root / "source" / WORKSHOP)
    run([str(BIN / "workshop"), "release", WORKSHOP], root)
    ids = [f"learner{i:03d}" for i in range(learners)] + HOSTILE_LEARNERS
    (root / "roster.csv").write_text("id\n" + "\n".join(ids) + "\n")
    run([str(BIN / "workshop"), "roster", "import", "roster.csv"], root)
    out = run([str(BIN / "workshop"), "roster", "tokens"], root)
    tokens = dict(list(csv.reader(out.splitlines()))[1:])
    out = run([str(BIN / "workshop"), "roster", "tokens", "--organiser", "bench"], root)
    tokens["organiser"] = list(csv.reader(out.splitlines()))[1][1]
    return tokens


def exercises(root: Path) -> list[tuple[str, float]]:
    nb = json.loads((root / "source" / WORKSHOP / f"{WORKSHOP}.ipynb").read_text())
    found = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            found.append((meta["grade_id"], float(meta.get("points", 0))))
    return found


def start_server(root: Path, log: Path, nofile: int) -> tuple[subprocess.Popen[str], str]:
    """`workshop serve` on 127.0.0.1 with an open-file limit of *nofile* (0: inherited)."""

    def limit_files() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    process = subprocess.Popen(
        [str(BIN / "workshop"), "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        preexec_fn=limit_files,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("board server: "):
            return process, line.split()[2].rstrip("/")
    sys.exit("workshop serve did not start")


class Learner:
    def __init__(self, learner: str, token: str, catalogue: list[tuple[str, float]]) -> None:
        self.id = learner
        self.token = token
        self.catalogue = catalogue
        self.attempts: dict[str, int] = {}

    def check(self) -> dict[str, object]:
        exercise, points = random.choice(self.catalogue)
        attempt = self.attempts.get(exercise, 0) + 1
        self.attempts[exercise] = attempt
        passed = random.random() < min(0.2 + 0.25 * attempt, 0.95)
        return {
            "key": uuid.uuid4().hex,
            "learner": self.id,
            "workshop": WORKSHOP,
            "notebook": WORKSHOP,
            "exercise": exercise,
            "passed": passed,
            "points": points if passed else 0.0,
            "max_points": points,
            "attempt": attempt,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }


async def post(
    client: AsyncHTTPClient,
    url: str,
    learner: Learner,
    events: list[dict[str, object]],
    tally: Tally,
    burst: bool,
) -> None:
    body = json.dumps({"events": events})
    for attempt in range(MAX_ATTEMPTS):
        start = time.perf_counter()
        tally.requests += 1
        try:
            response = await client.fetch(
                HTTPRequest(
                    f"{url}/workshop/api/events",
                    method="POST",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {learner.token}",
                        "Content-Type": "application/json",
                    },
                    request_timeout=30,
                )
            )
        except (HTTPClientError, OSError) as error:
            code = getattr(error, "code", None)
            if code in (400, 401, 403, 413):
                sys.exit(f"board refused an event: {error}")
            tally.retries += 1
            await asyncio.sleep(min(0.1 * 2**attempt, 2))
            continue
        elapsed_ms = (time.perf_counter() - start) * 1000
        (tally.burst_ms if burst else tally.steady_ms).append(elapsed_ms)
        result = json.loads(response.body)
        tally.duplicates_acknowledged += result["duplicates"]
        tally.keys.update(str(e["key"]) for e in events)
        return
    tally.failed += len(events)


async def steady(
    client: AsyncHTTPClient, url: str, learner: Learner, tally: Tally, until: float
) -> None:
    await pause(random.uniform(0, 30), until)
    while time.monotonic() < until:
        events = [learner.check()]
        await post(client, url, learner, events, tally, burst=False)
        if random.random() < 0.05:
            await post(client, url, learner, events, tally, burst=False)
        await pause(random.uniform(20, 40), until)


async def pause(seconds: float, until: float) -> None:
    """Sleep *seconds*, or until the run ends if that comes first."""
    await asyncio.sleep(max(min(seconds, until - time.monotonic()), 0))


async def bursts(
    client: AsyncHTTPClient,
    url: str,
    learners: list[Learner],
    tally: Tally,
    until: float,
    every_s: float,
) -> int:
    count = 0
    await pause(every_s, until)
    while time.monotonic() < until:
        await asyncio.gather(
            *(
                post(client, url, learner, [learner.check()], tally, burst=True)
                for learner in learners
            )
        )
        count += 1
        await pause(every_s, until)
    return count


async def simulate(
    url: str,
    learners: list[Learner],
    seconds: float,
    every_s: float,
    hostile: dict[str, Any] | None,
) -> tuple[Tally, int, float, Hostile | None]:
    """The load for *seconds*; with *hostile* (keyword arguments of `hostile_load` but the
    deadline) the hostile clients run alongside."""
    client = AsyncHTTPClient(max_clients=len(learners) * 2)
    tally = Tally()
    start = time.monotonic()
    until = start + seconds
    attacker, answers = None, None
    probes: Any = asyncio.sleep(0)
    if hostile:
        probes.close()
        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        attacker = context.Process(
            target=run_attack,
            args=(url, hostile["tokens"], hostile["released"], until, answers),
        )
        attacker.start()
        probes = probe(url, until=until, **hostile)
    results = await asyncio.gather(
        bursts(client, url, learners, tally, until, every_s),
        probes,
        *(steady(client, url, learner, tally, until) for learner in learners),
    )
    client.close()
    seen = results[1]
    if attacker is not None and answers is not None:
        seen.statuses.update(await asyncio.to_thread(answers.get, timeout=180))
        attacker.join(30)
    return tally, results[0], time.monotonic() - start, seen


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no requests"
    return (
        f"{name}: {len(values)} requests, p50 {statistics.median(values):.1f} ms, "
        f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
    )


def report_hostile(tally: Tally, seen: Hostile, server_log: str) -> bool:
    """Print what the room felt under the hostile clients; whether every target was met."""
    events_p99 = percentile(tally.steady_ms + tally.burst_ms, 0.99) if tally.requests else 0.0
    board_p99 = percentile(seen.board_ms, 0.99) if seen.board_ms else float("inf")
    memory = max(seen.rss_mib, default=0.0)
    score = max(seen.score_s, default=float("inf"))
    print(describe("board JSON", seen.board_ms))
    print(
        f"server memory: max {memory:.0f} MiB (with its child processes "
        f"{max(seen.tree_mib, default=0.0):.0f} MiB)"
    )
    scores = ", ".join(f"{s:.1f}" for s in seen.score_s)
    print(f"honest time to score: [{scores}] s, {seen.unscored} not scored within 60 s")
    print("hostile answers: " + ", ".join(f"{k}: {n}" for k, n in sorted(seen.statuses.items())))
    lines = server_log.splitlines()
    print(
        f"server log: {len(lines)} lines, {len(server_log) / 1024:.0f} KiB, "
        f"{sum('Too many open files' in line for line in lines)} mention 'Too many open files'"
    )
    targets = {
        f"events p99 {events_p99:.0f} ms < 250": events_p99 < 250,
        f"board p99 {board_p99:.0f} ms < 500": board_p99 < 500,
        f"memory {memory:.0f} MiB < 400": memory < 400,
        f"score within {score:.1f} s <= 10": score <= 10 and not seen.unscored,
    }
    for target, met in targets.items():
        print(("met:    " if met else "MISSED: ") + target)
    return all(targets.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--burst-every", type=float, default=15, metavar="S")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--hostile", action="store_true", help="run the hostile clients too")
    parser.add_argument("--nofile", type=int, default=1024, help="server's open-file limit")
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="board-load-") as temp:
        root = Path(temp) / "course"
        print(f"building a course with {args.learners} learners ...", flush=True)
        tokens = build_course(root, args.learners)
        catalogue = exercises(root)
        learners = [
            Learner(i, t, catalogue) for i, t in sorted(tokens.items()) if i.startswith("learner")
        ]
        log = Path(temp) / "serve.log"
        process, url = start_server(root, log, args.nofile if args.hostile else 0)
        hostile = None
        if args.hostile:
            hostile = {
                "pid": process.pid,
                "tokens": tokens,
                "released": root / "release" / WORKSHOP / f"{WORKSHOP}.ipynb",
                "organiser": tokens["organiser"],
            }
        try:
            print(f"board at {url}; {args.seconds:g} s of load ...", flush=True)
            tally, burst_count, elapsed, seen = asyncio.run(
                simulate(url, learners, args.seconds, args.burst_every, hostile)
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                print("the server did not stop within 180 s of SIGTERM; killed", flush=True)
                process.kill()
                code = process.wait()
        with sqlite3.connect(root / "var" / "gradebook.db") as db:
            stored, distinct = db.execute(
                "select count(*), count(distinct learner || ' ' || key) from workshop_event "
                "where workshop = ?",
                (WORKSHOP,),
            ).fetchone()
            stored_keys = {k for (k,) in db.execute("select key from workshop_event")}
        server_log = log.read_text()
        grouping = [line for line in server_log.splitlines() if "transactions" in line]
    lost = len(tally.keys - stored_keys)
    print(f"learners {args.learners}, {elapsed:.0f} s, {burst_count} bursts of {args.learners}")
    print(
        f"requests {tally.requests} (retries {tally.retries}), distinct events "
        f"{len(tally.keys)}, redelivered duplicates acknowledged {tally.duplicates_acknowledged}"
    )
    print(describe("steady", tally.steady_ms))
    print(describe("burst ", tally.burst_ms))
    print(describe("all   ", tally.steady_ms + tally.burst_ms))
    print(
        f"database: {stored} rows, {distinct} distinct (learner, key); lost {lost}, "
        f"stored twice {stored - distinct}, never acknowledged {tally.failed}"
    )
    print(f"server exit status after SIGTERM: {code}")
    for line in grouping:
        print("server: " + line.split("] ", 1)[-1])
    ok = lost == 0 and stored == distinct == len(tally.keys) and tally.failed == 0 and code == 0
    print("OK: no event lost, none stored twice" if ok else "FAILED")
    if seen is not None:
        ok = report_hostile(tally, seen, server_log) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
