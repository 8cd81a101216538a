"""Run the board on its own (`workshop serve`): a Jupyter server with only this extension.

`c.BoardApp.*` settings come from the course's `nbgrader_config.py`, like nbworkshop's others.

The server's own Jupyter API (kernels, files) is locked with a random token that is never
shown, so a board opened to a room of learners offers nothing but the board.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jupyter_server.serverapp import ServerApp
from tornado.netutil import bind_sockets
from traitlets.config import Config

from course.errors import ServeError
from course.settings import load_settings
from extensions.board.app import BoardApp
from extensions.board.catalogue import load_catalogue
from extensions.board.schema import open_engine

__all__ = ["StandaloneBoard", "open_board_server"]

WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class StandaloneBoard:
    """A board server bound to its port, not yet serving (call `serve`)."""

    server: ServerApp
    url: str
    """Base URL without a trailing slash, e.g. http://127.0.0.1:8765."""
    workshops: tuple[str, ...]

    def page_urls(self, workshop: str) -> tuple[str, str]:
        """The organiser's board page and the learners' join page of *workshop*."""
        name = quote(workshop, safe="")
        return f"{self.url}/workshop/board/{name}", f"{self.url}/workshop/join/{name}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop the server will run on (for signal handlers)."""
        loop: asyncio.AbstractEventLoop = getattr(self.server.io_loop, "asyncio_loop")  # noqa: B009
        return loop

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until `stop` is called (from a signal handler, say); then clean up.

        *on_ready* runs on the loop once the port is listening (the server binds it there).
        """
        self.server.start_app()
        if on_ready is not None:
            self.server.io_loop.add_callback(on_ready)
        self.server.start_ioloop()

    def stop(self) -> None:
        """Stop serving: the board writes what is queued and closes its streams first."""
        self.server.stop()


def open_board_server(course_dir: Path, host: str, port: int) -> StandaloneBoard:
    """Load the course, bind *host*:*port* (0: any free port) and return the server.

    Raises `ServeError` when the address cannot be bound, with what to do about it.
    """
    settings = load_settings(course_dir)
    _check_address(host, port)
    argv = [
        f"--ServerApp.ip={host}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={settings.root}",
        f"--IdentityProvider.token={secrets.token_urlsafe(32)}",
        "--ServerApp.log_level=WARN",
        f"--BoardApp.course_dir={settings.root}",
    ]
    config = Config()
    if "BoardApp" in settings.nbgrader_config:
        config.BoardApp = settings.nbgrader_config.BoardApp
    try:
        server: ServerApp = BoardApp.initialize_server(  # type: ignore[no-untyped-call]
            argv=argv, load_other_extensions=False, config=config
        )
    except SystemExit as error:
        raise ServeError(
            f"the board server did not start on {host}:{port} (see the messages above); "
            "choose another --port or --host"
        ) from error
    shown = socket.gethostname() if host in WILDCARD_HOSTS else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{server.port}{server.base_url.rstrip('/')}"
    engine = open_engine(settings.db_url)
    try:
        workshops = tuple(sorted(load_catalogue(engine, settings).workshops))
    finally:
        engine.dispose()
    return StandaloneBoard(server, url, workshops)


def _check_address(host: str, port: int) -> None:
    try:
        sockets = bind_sockets(port, host or None)
    except OSError as error:
        raise ServeError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port or --host"
        ) from None
    for sock in sockets:
        sock.close()
