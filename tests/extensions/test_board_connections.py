"""The board's HTTP server when the process runs out of file descriptors, and the rule that
logs a refusal once per cause and interval (issue 13)."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

from tornado.web import Application, RequestHandler

from extensions.board.connections import ConnectionLimits, LimitedHTTPServer, RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_refusal_is_logged_once_per_cause_and_interval_with_a_count(caplog):
    clock = Clock()
    refusals = RefusalLog(logging.getLogger("test-refusals"), 60.0, clock)
    with caplog.at_level(logging.WARNING, "test-refusals"):
        logged = [refusals.note("connections", "refused") for _ in range(1000)]
        assert refusals.note("accept", "out of files")
        clock.now = 61.0
        assert refusals.note("connections", "refused")
    assert logged.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "refused (1 since the last report of this kind)",
        "out of files (1 since the last report of this kind)",
        "refused (1000 since the last report of this kind)",
    ]


class OutOfFiles(socket.socket):
    """A listening socket whose accept fails as it does at the open-file limit."""

    attempts = 0

    def accept(self):  # type: ignore[override]
        type(self).attempts += 1
        raise OSError(errno.EMFILE, "Too many open files")


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("hello")


def test_out_of_file_descriptors_pauses_accepting_and_logs_once(caplog):
    async def scenario() -> None:
        limits = ConnectionLimits(10, 5.0, 5.0, 1024)
        refusals = RefusalLog(logging.getLogger("test-emfile"), 60.0)
        server = LimitedHTTPServer(Application([("/", Hello)]), limits=limits, refusals=refusals)
        exhausted = OutOfFiles(socket.AF_INET, socket.SOCK_STREAM)
        exhausted.setblocking(False)
        exhausted.bind(("127.0.0.1", 0))
        exhausted.listen(8)
        server.add_sockets([exhausted])
        client = socket.create_connection(exhausted.getsockname())
        try:
            await asyncio.sleep(2.0)
        finally:
            client.close()
            server.stop()

    with caplog.at_level(logging.WARNING, "test-emfile"):
        asyncio.run(scenario())
    messages = [r.getMessage() for r in caplog.records if r.name == "test-emfile"]
    assert len(messages) == 1 and "Too many open files" in messages[0]
    # tornado's own accept loop would have tried (and logged) on every turn of the loop
    assert 2 <= OutOfFiles.attempts <= 10
