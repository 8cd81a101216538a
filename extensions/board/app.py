"""`BoardApp`, the jupyter_server extension behind the live session board.

Loaded by any Jupyter server that enables `extensions.board`, or standalone through
`workshop serve` (`extensions.board.standalone`). Traitlets stay here, at the edge: the
extension reads its `BoardApp.*` settings and the course's settings once, then hands plain
objects to the service and the handlers.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.log import log_request
from jupyter_server.serverapp import ServerApp
from tornado.httpserver import HTTPServer
from tornado.web import RequestHandler
from traitlets import Enum, Float, Integer, Unicode

from course.settings import load_settings
from extensions.board.admission import AdmissionLimits
from extensions.board.connections import (
    ConnectionLimits,
    LimitedHTTPServer,
    RefusalLog,
    effective_max_connections,
)
from extensions.board.handlers import BoardOptions, board_handlers
from extensions.board.service import BoardService

__all__ = ["BoardApp", "BoardServerApp"]


class BoardServerApp(ServerApp):
    """The Jupyter server `workshop serve` runs: its HTTP server is a `LimitedHTTPServer` with
    the board's `ConnectionLimits`, and refused requests (4xx) are logged once per status and
    interval instead of once each, so a hostile client cannot flood the log."""

    _limited_server: LimitedHTTPServer | None = None

    @property
    def http_server(self) -> HTTPServer:
        return self._limited_server if self._limited_server is not None else super().http_server

    def init_httpserver(self) -> None:
        board = next(
            app
            for apps in self.extension_manager.extension_apps.values()
            for app in apps
            if isinstance(app, BoardApp)
        )
        limits = board.connection_limits()
        refusals = RefusalLog(self.log, limits.refusal_log_interval_s)
        self._limited_server = LimitedHTTPServer(
            self.web_app, xheaders=self.trust_xheaders, limits=limits, refusals=refusals
        )
        self.web_app.settings["log_function"] = partial(_log_request, refusals)
        super().init_httpserver()


def _log_request(refusals: RefusalLog, handler: RequestHandler) -> None:
    status = handler.get_status()
    if 400 <= status < 500:
        refusals.note(
            f"http {status}",
            f"workshop board: {status} {handler.request.method} {handler.request.path}",
        )
    else:
        log_request(handler)  # type: ignore[no-untyped-call]


class BoardApp(ExtensionApp):
    """The session board: events API, learners' progress, organiser pages and their JSON twins."""

    name = "workshop_board"
    description = "Live session board for nbworkshop workshops."
    extension_url = "/workshop/api/health"
    load_other_extensions = False
    serverapp_class = BoardServerApp

    course_dir = Unicode(
        "",
        help="Course directory (holding nbgrader_config.py); default: the server's root_dir.",
    ).tag(config=True)
    max_body_bytes = Integer(
        64 * 1024, help="Largest request body the events endpoint accepts (bytes); more: 413."
    ).tag(config=True)
    public_url = Unicode(
        "",
        help="Address learners reach this server at, written into their personal copies "
        "(e.g. behind a proxy); default: the address the join request came to.",
    ).tag(config=True)

    max_submission_bytes = Integer(
        20 * 1024 * 1024, help="Largest submission (all notebooks, bytes) accepted; more: 413."
    ).tag(config=True)
    late_submissions = Enum(
        ["accept", "refuse"],
        "accept",
        help="Past the workshop's due date (nbgrader's duedate): accept and mark late, or refuse.",
    ).tag(config=True)
    grading_workers = Integer(
        os.cpu_count() or 1,
        help="Grading lanes: submissions graded at once when they arrive, each learner in "
        "one lane at a time.",
    ).tag(config=True)
    grading_budget_s = Integer(
        60,
        help="Seconds one submission may run when graded on arrival (each cell and the whole "
        "notebook, at most c.Workshop's own limits); then it is stopped and scored as it is.",
    ).tag(config=True)

    max_connections = Integer(
        1000,
        help="Open connections at once under `workshop serve` (streams and long-polls count); "
        "more: 503. Lowered to leave 128 of the open-file limit (ulimit -n) free.",
    ).tag(config=True)
    header_timeout_s = Float(
        10.0,
        help="Seconds a client may take to send a request's headers, and the longest idle time "
        "between requests on one connection (`workshop serve`); then the connection is closed.",
    ).tag(config=True)
    body_timeout_s = Float(
        60.0,
        help="Seconds a client may take to send a request's body (`workshop serve`); then the "
        "connection is closed.",
    ).tag(config=True)
    submissions_per_minute = Integer(
        6, help="Submissions one learner may make in any 60 s; more: 429 with Retry-After."
    ).tag(config=True)
    submissions_in_flight = Integer(
        2,
        help="Submissions of one learner being checked at once (one more waits its turn); "
        "more: 429 with Retry-After.",
    ).tag(config=True)
    validation_workers = Integer(
        2, help="Processes that parse and validate submitted notebooks, off the event loop."
    ).tag(config=True)
    validation_queue = Integer(
        16, help="Submissions waiting for a validation process at most; more: 503 Retry-After."
    ).tag(config=True)

    service: BoardService | None = None

    @classmethod
    def get_extension_package(cls) -> str:
        """`extensions.board`, not the light `extensions` package (learner kernels import it)."""
        return "extensions.board"

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        root = Path(self.course_dir or self.serverapp.root_dir)
        admission = AdmissionLimits(
            per_minute=self.submissions_per_minute,
            in_flight=self.submissions_in_flight,
            validation_workers=self.validation_workers,
            validation_queue=self.validation_queue,
        )
        self.service = BoardService(
            load_settings(root), self.grading_workers, admission, self.grading_budget_s
        )
        self.log.info("workshop board: course %s, gradebook %s", root, self.service.settings.db_url)

    def initialize_handlers(self) -> None:
        assert self.service is not None
        options = BoardOptions(
            max_body_bytes=self.max_body_bytes,
            public_url=self.public_url,
            max_submission_bytes=self.max_submission_bytes,
            late_submissions=self.late_submissions,
        )
        self.handlers.extend(board_handlers(self.service, options))

    def connection_limits(self) -> ConnectionLimits:
        """The limits `workshop serve` gives its HTTP server (a host Jupyter server keeps its
        own)."""
        allowed = effective_max_connections(self.max_connections)
        if allowed < self.max_connections:
            self.log.warning(
                "workshop board: at most %d connections (c.BoardApp.max_connections = %d), to "
                "stay within the open-file limit; raise it with ulimit -n",
                allowed,
                self.max_connections,
            )
        return ConnectionLimits(
            max_connections=allowed,
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            max_body_bytes=self.max_body_bytes,
        )

    async def _start_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        """jupyter_server's hook once the loop runs: live updates are delivered on it."""
        if self.service is not None:
            self.service.bind(asyncio.get_running_loop())

    async def stop_extension(self) -> None:
        if self.service is not None:
            writer = self.service.writer
            await self.service.close()
            self.log.info(
                "workshop board stopped: %d requests with events stored in %d transactions",
                writer.requests,
                writer.commits,
            )
            self.service = None
