"""A real session board for tests: a released course with a roster and tokens, `workshop serve`
on a free loopback port, and a small HTTP client (the standard library's, as a learner's kernel
would use)."""

from __future__ import annotations

import http.client
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbfactory
import nbformat

WORKSHOP = "ws"
NOTEBOOK = "nb"
EXERCISES = ("square_tests", "cube_tests")
XSS = "<script>alert(1)</script>"


def two_exercise_notebook() -> nbformat.NotebookNode:
    return nbfactory.notebook(
        nbfactory.markdown("# Powers"),
        nbfactory.parameters("n = 3"),
        nbfactory.solution(
            "square",
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
        ),
        nbfactory.tests("square_tests", "assert square(n) == n * n", points=1),
        nbfactory.solution(
            "cube", "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION"
        ),
        nbfactory.tests("cube_tests", "assert cube(n) == n ** 3", points=2),
        nbfactory.manual("reflection"),
    )


def build_course(
    root: Path, learners: list[dict[str, str]], db_url: str | None = None
) -> dict[str, str]:
    """A course with workshop `ws` released and *learners* on the roster, its gradebook at
    *db_url* (default: SQLite in the course); returns tokens by learner id plus `"organiser"`."""
    from conftest import new_course, run_cli

    from course.settings import load_settings
    from extensions.board.tokens import issue_learner_tokens, issue_organiser_token

    new_course(root, db_url)
    path = root / "source" / WORKSHOP / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(two_exercise_notebook(), str(path))
    released = run_cli("release", WORKSHOP, cwd=root)
    assert released.returncode == 0, released.stderr
    columns = ("id", "first_name", "last_name")
    lines = [",".join(columns)]
    lines += [",".join(_csv(learner.get(c, "")) for c in columns) for learner in learners]
    (root / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    imported = run_cli("roster", "import", "roster.csv", cwd=root)
    assert imported.returncode == 0, imported.stderr
    settings = load_settings(root)
    tokens = {t.subject: t.token for t in issue_learner_tokens(settings).issued}
    tokens["organiser"] = issue_organiser_token(settings, "Olga Organiser").issued[0].token
    return tokens


def _csv(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"<>') else value


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class BoardServer:
    url: str
    course: Path
    tokens: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    """The server's stderr so far, one line each."""

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 10,
    ) -> Response:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(*self.host_port, timeout=timeout_s)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return Response(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def post_events(self, token: str, *events: dict[str, Any]) -> Response:
        return self.request("POST", "/workshop/api/events", token=token, body={"events": events})


def stored(board: BoardServer, sql: str) -> list[tuple[object, ...]]:
    """Rows of *sql* run on the board's gradebook."""
    from sqlalchemy import create_engine, text

    from course.settings import load_settings

    engine = create_engine(load_settings(board.course).db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def event(
    learner: str,
    exercise: str = EXERCISES[0],
    *,
    passed: bool = False,
    key: str | None = None,
    at: datetime | None = None,
    attempt: int = 1,
) -> dict[str, Any]:
    """One Check event as the learner module sends it."""
    global _serial
    _serial += 1
    moment = at or datetime.now(UTC)
    return {
        "key": key or f"{learner}-{exercise}-{_serial}-{time.monotonic_ns()}",
        "learner": learner,
        "workshop": WORKSHOP,
        "notebook": NOTEBOOK,
        "exercise": exercise,
        "passed": passed,
        "points": 1.0 if passed else 0.0,
        "max_points": 1.0,
        "attempt": attempt,
        "time": moment.isoformat(),
    }


_serial = 0


@contextmanager
def serve(course: Path, tokens: dict[str, str], *extra: str) -> Iterator[BoardServer]:
    """`workshop serve --port 0` on *course*; stopped with SIGTERM, which must exit 0."""
    exe = Path(sys.executable).parent / "workshop"
    process = subprocess.Popen(
        [str(exe), "serve", "--port", "0", "--course", str(course), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []

    def pump_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def pump_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            errors.append(line)

    pumps = [threading.Thread(target=pump_stdout), threading.Thread(target=pump_stderr)]
    for pump in pumps:
        pump.start()
    output: list[str] = []
    url = None
    deadline = time.monotonic() + 60
    while url is None:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            process.wait()
            for pump in pumps:
                pump.join()
            raise AssertionError(f"workshop serve did not start: {''.join(errors)[-3000:]}")
        output.append(line)
        if line.startswith("board server: "):
            url = line.split()[2].rstrip("/")
    # the announcement goes on with one indented line per workshop (or "no workshop released")
    announced = lines.get(timeout=30)
    while announced is not None and announced.startswith("  "):
        output.append(announced)
        try:
            announced = lines.get(timeout=0.5)
        except queue.Empty:
            break
    else:
        if announced is not None:
            output.append(announced)
    server = BoardServer(url, course, tokens, process, output, errors)
    assert server.request("GET", "/workshop/api/health").status == 200, "listening once announced"
    while not lines.empty():
        line = lines.get()
        if line is not None:
            output.append(line)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        finally:
            for pump in pumps:
                pump.join(timeout=10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        while not lines.empty():
            line = lines.get()
            if line is not None:
                output.append(line)
        assert process.returncode == 0, "".join(errors)[-3000:]
        assert output[-1].strip() == "board server stopped", output
