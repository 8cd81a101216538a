"""`make demo`'s session: 60 simulated learners on the bundled course, end to end.

In a fresh course copy under `var/demo-session/` (the course's own gradebook is never touched):
roster and tokens, `workshop serve` on a free loopback port, every learner fetches a personal
copy through the join endpoint (`workshop join`'s code) and works through the workshop for
about --minutes, each Check sent to the board by the learner module's event sender; then they
save and submit through the board, which grades each submission on arrival and writes its
feedback; the board's summary and the scores are printed (what the points mean, every folder
written), and the server is shut down (--keep-serving leaves it up to explore; it ends by
saying what to open next that is still there). Tables fit 80 columns, in a terminal or a file.

    python bench/session_demo.py [--workshop python-numpy-warmup] [--learners 60] [--minutes 1]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate import LearnerRun, answer_sets, simulate_learner

from course.release import release_workshop
from course.roster import import_roster
from course.settings import load_settings
from extensions.board.tokens import issue_learner_tokens, issue_organiser_token
from extensions.events import EventSender
from extensions.personal_copy import download_personal_copy
from extensions.submit_client import fetch_result, upload

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def fresh_course(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_board(course: Path, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [str(BIN / "workshop"), "serve", "--course", str(course), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/workshop/api/health", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                sys.exit(f"workshop serve failed: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
    server.kill()
    sys.exit("workshop serve did not answer within 60 s")


def get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class LearnerSession:
    run: LearnerRun
    sender: EventSender
    receipt: dict[str, Any]
    board: str
    token: str


def learner_session(
    board: str, workshop: str, learner: str, token: str, root: Path, seconds: float, seed: int
) -> LearnerSession:
    """Join, work through the workshop checking as they go, save, then press Submit."""
    folder = download_personal_copy(f"{board}/workshop/join/{workshop}", token, root / learner)
    details = json.loads((folder / ".workshop" / "learner.json").read_text())
    sender = EventSender(details["board"], details["token"], folder / ".workshop" / "spool")
    [path] = sorted(folder.glob("*.ipynb"))
    released = nbformat.read(path, 4)
    exercises = sum("workshop-check" in c.metadata.get("tags", []) for c in released.cells)
    pause = seconds / max(2 * exercises, 1)
    run = simulate_learner(
        learner,
        released,
        path.stem,
        workshop,
        answer_sets(REPO, workshop, path.stem),
        sender,
        random.Random(seed),
        (0.2 * pause, pause),
    )
    assert run.notebook is not None
    nbformat.write(run.notebook, path)
    receipt = upload(details["board"], details["token"], workshop, [path])
    return LearnerSession(run, sender, receipt, details["board"], details["token"])


def feedback_page(workshop: str, session: LearnerSession) -> bytes:
    """The learner's feedback page from the board (written there on first request)."""
    url = f"{session.board}/workshop/api/submissions/{workshop}/{session.run.learner}/feedback"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {session.token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return bytes(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workshop", default="python-numpy-warmup")
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--keep-serving", action="store_true", help="leave the board up at the end")
    args = parser.parse_args()
    course = fresh_course(REPO / "var" / "demo-session")
    settings = load_settings(course)
    release_workshop(settings, args.workshop, {})
    ids = [f"learner{i:02d}" for i in range(1, args.learners + 1)]
    roster = course / "roster.csv"
    roster.write_text("id,first_name\n" + "".join(f"{i},Learner {i[-2:]}\n" for i in ids))
    import_roster(settings, roster)
    tokens = {t.subject: t.token for t in issue_learner_tokens(settings).issued}
    organiser = issue_organiser_token(settings, "demo organiser").issued[0].token
    port = free_port()
    board = f"http://127.0.0.1:{port}"
    server = start_board(course, port)
    try:
        print(f"session: {args.learners} learners on {args.workshop}, board {board}")
        started = time.perf_counter()
        streams = sys.stdout, sys.stderr  # learners' threads swap them to silence their code
        with ThreadPoolExecutor(args.learners) as pool:
            futures = [
                pool.submit(
                    learner_session,
                    board,
                    args.workshop,
                    learner,
                    tokens[learner],
                    course / "learners",
                    args.minutes * 60,
                    seed,
                )
                for seed, learner in enumerate(ids)
            ]
            sessions = [f.result() for f in futures]
        sys.stdout, sys.stderr = streams
        delivered = all(x.sender.flush(timeout_s=60) for x in sessions)
        checks = sum(len(x.run.checks) for x in sessions)
        print(
            f"checks: {checks} in {time.perf_counter() - started:.0f} s, "
            f"all delivered to the board: {delivered}"
        )
        view = get_json(f"{board}/workshop/api/board/{args.workshop}", organiser)
        attendance = view["attendance"]
        print(f"attendance: {attendance['present']} of {attendance['roster']} learners present")
        print_exercises(view["exercises"])
        print(f"stuck right now: {len(view['stuck'])} learner-exercise pairs")
        waited = time.perf_counter()
        results = [
            fetch_result(x.board, x.token, args.workshop, x.run.learner, x.receipt["id"], 300)
            for x in sessions
        ]
        graded = [r for r in results if r is not None and r["status"] == "graded"]
        print(
            f"submitted: {len(sessions)}; graded on arrival: {len(graded)} (all scores back "
            f"{time.perf_counter() - waited:.0f} s after the session)"
        )
        print(textwrap.fill(explain_scores(graded), 80, subsequent_indent="  "))
        with ThreadPoolExecutor(4) as pool:  # each learner opens their feedback page on the board
            list(pool.map(lambda x: feedback_page(args.workshop, x), sessions))
        print("semester view (workshop progress):", flush=True)
        subprocess.run([str(BIN / "workshop"), "progress", "--course", str(course)], check=True)
        print_written(course)
        if args.keep_serving:
            print("\nOpen now (the board stays up until Ctrl-C):")
            print(f"  board page    {board}/workshop/board/{args.workshop}")
            print(f"  organiser token  {organiser}")
            print(f"  join page     {board}/workshop/join/{args.workshop}")
            print(f"  semester page {board}/workshop/semester")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print("\nThe board has stopped: `make demo KEEP_SERVING=1` keeps it up to explore.")
    learner = next(iter(sorted((course / "learners").glob(f"*/{args.workshop}"))), None)
    if learner is not None:
        print(f"Open next, a learner's copy (then Run All):\n  jupyter lab {shown(learner)}")


def print_exercises(exercises: list[dict[str, Any]]) -> None:
    """The board's exercise view as a table that fits 80 columns, in a terminal or a file."""
    from rich.console import Console
    from rich.table import Table

    table = Table("exercise", "passed", "attempted", "stuck", "pass rate", title="exercises")
    for e in exercises:
        table.add_row(
            e["exercise"],
            str(e["passed"]),
            str(e["attempted"]),
            str(e["stuck"]),
            f"{e['pass_rate']:.0%}",
        )
    Console(width=80).print(table)


def explain_scores(graded: list[dict[str, Any]]) -> str:
    """The mean score, and why it is out of more points than validation showed: the written
    answers (manually graded) count in the total and are graded later by a person."""
    if not graded:
        return "no submission was graded"
    mean = sum(r["score"] for r in graded) / len(graded)
    total = float(graded[0]["max_score"])
    checked = sum(float(e["max_points"]) for e in graded[0]["exercises"])
    line = f"mean score: {mean:.2f} of {total:g} points"
    if total > checked:
        line += (
            f" ({checked:g} checked by the tests, as in validation; the other {total - checked:g}"
            " are the written reflection, graded later by a person: 0 until then)"
        )
    return line


def print_written(course: Path) -> None:
    """Every folder the demo wrote, from the repository root."""
    print(f"\nwritten under {shown(course)}/ (anew each run; the course's var/ is untouched):")
    folders = [course / "release", course / "learners"]
    folders += sorted(p for p in (course / "var").iterdir() if p.is_dir())
    notes = {
        "release": "the release for this session",
        "learners": "each learner's joined copy, worked in",
        "autograded": "the graded notebooks",
        "feedback": "feedback pages (HTML), per learner",
        "submission-history": "every submission, kept",
        "submitted": "the latest submission per learner",
    }
    for folder in folders:
        print(f"  {shown(folder) + '/':<41} {notes.get(folder.name, '')}".rstrip())


def shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
