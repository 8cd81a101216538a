"""`BoardApp`, the jupyter_server extension behind the live session board.

Loaded by any Jupyter server that enables `extensions.board`, or standalone through
`workshop serve` (`extensions.board.standalone`). Traitlets stay here, at the edge: the
extension reads its `BoardApp.*` settings and the course's settings once, then hands plain
objects to the service and the handlers.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import Enum, Integer, Unicode

from course.settings import load_settings
from extensions.board.handlers import BoardOptions, board_handlers
from extensions.board.service import BoardService

__all__ = ["BoardApp"]


class BoardApp(ExtensionApp):
    """The session board: events API, learners' progress, organiser pages and their JSON twins."""

    name = "workshop_board"
    description = "Live session board for nbworkshop workshops."
    extension_url = "/workshop/api/health"
    load_other_extensions = False

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
        os.cpu_count() or 1, help="Notebooks graded at once when submissions arrive."
    ).tag(config=True)

    service: BoardService | None = None

    @classmethod
    def get_extension_package(cls) -> str:
        """`extensions.board`, not the light `extensions` package (learner kernels import it)."""
        return "extensions.board"

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        root = Path(self.course_dir or self.serverapp.root_dir)
        self.service = BoardService(load_settings(root), self.grading_workers)
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
