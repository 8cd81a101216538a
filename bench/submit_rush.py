"""Submit to score: one submission on an idle board, then a rush of 60 at the end of a session.

For each bundled workshop, on a temporary copy of the course with `workshop serve` on loopback:
  - cold:  the first submission of the session (the grading sandbox starts with it);
  - idle:  one more submission once the queue is empty (the usual case during a session);
  - rush:  every learner submits at the same moment; time until all are graded, and each
           learner's wait (submit to score) as p50 / max.
Submissions are a simulated cohort's notebooks (bench/simulate.py). Targets (issue 5): idle under
5 s, the whole rush of 60 under 60 s, on 2 cores. `--figures png|text` overrides
the course's `c.Workshop.figures` (the bundled course: text; see docs/operations.md).

    python bench/submit_rush.py [--learners 60] [--workshop NAME] [--figures png|text]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from session_demo import free_port, start_board
from simulate import make_cohort

from course.roster import import_roster
from course.settings import load_settings
from extensions.board.tokens import issue_learner_tokens
from extensions.submit_client import fetch_result

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def call(url: str, token: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def submit_and_wait(board: str, workshop: str, learner: str, token: str, body: Any) -> float:
    """Seconds from sending the submission to its score being readable."""
    start = time.perf_counter()
    receipt = call(f"{board}/workshop/api/submissions/{workshop}", token, body)
    result = fetch_result(board, token, workshop, learner, receipt["id"], 600)
    assert result is not None and result["status"] == "graded", result
    return time.perf_counter() - start


def bench_workshop(workshop: str, learners: int, root: Path, figures: str | None) -> dict[str, Any]:
    course = root / workshop
    course.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    if figures is not None:
        with (course / "nbgrader_config.py").open("a") as config:
            config.write(f"\nc.Workshop.figures = {figures!r}\n")
    shutil.copytree(REPO / "source", course / "source")
    shutil.copytree(REPO / "release", course / "release")
    ids = make_cohort(course, workshop, learners + 2, seed=7)
    bodies = {}
    for learner in ids:
        folder = course / "var" / "submitted" / learner / workshop
        bodies[learner] = {
            "notebooks": {p.name: json.loads(p.read_text()) for p in folder.glob("*.ipynb")}
        }
    shutil.rmtree(course / "var" / "submitted")
    settings = load_settings(course)
    from course.release import release_workshop

    release_workshop(settings, workshop, {})
    roster = course / "roster.csv"
    roster.write_text("id\n" + "".join(f"{i}\n" for i in ids))
    import_roster(settings, roster)
    tokens = {t.subject: t.token for t in issue_learner_tokens(settings).issued}
    port = free_port()
    board = f"http://127.0.0.1:{port}"
    server = start_board(course, port)
    try:
        first, second, *rushing = ids
        cold = submit_and_wait(board, workshop, first, tokens[first], bodies[first])
        idle = submit_and_wait(board, workshop, second, tokens[second], bodies[second])
        started = time.perf_counter()
        with ThreadPoolExecutor(len(rushing)) as pool:
            waits = list(
                pool.map(
                    lambda learner: submit_and_wait(
                        board, workshop, learner, tokens[learner], bodies[learner]
                    ),
                    rushing,
                )
            )
        rush = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"cold": cold, "idle": idle, "rush": rush, "waits": waits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=60, help="submissions in the rush")
    parser.add_argument("--workshop", action="append", help="default: every bundled workshop")
    parser.add_argument(
        "--figures", choices=("png", "text"), help="default: the course's c.Workshop.figures"
    )
    args = parser.parse_args()
    workshops = args.workshop or sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as temp:
        for workshop in workshops:
            timings = bench_workshop(workshop, args.learners, Path(temp), args.figures)
            waits = timings["waits"]
            print(
                f"{workshop} (figures {args.figures or 'as configured'}): "
                f"first submission {timings['cold']:.1f} s "
                "(sandbox starting), "
                f"idle {timings['idle']:.1f} s; rush of {len(waits)}: all graded in "
                f"{timings['rush']:.1f} s, wait p50 {statistics.median(waits):.1f} s, "
                f"max {max(waits):.1f} s"
            )
            met = timings["idle"] < 5 and timings["rush"] < 60
            print(f"  target (idle < 5 s, rush < 60 s): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
