"""Cap what one client can hold of the board's HTTP server: connections, and time per connection.

tornado's `HTTPServer` reads headers and bodies with no deadline by default and accepts every
connection it can: a few hundred slow or idle clients then hold the server's file descriptors,
and when the open-file limit is reached its accept loop fails on every turn of the event loop
(`Too many open files`, one traceback each). `LimitedHTTPServer` gives each connection a header
deadline (also the idle time between requests) and a body deadline, answers a connection beyond
`max_connections` with a canned 503 and closes it, pauses accepting briefly when the process is
out of file descriptors, and reports each kind of refusal through a `RefusalLog`: once at once,
then at most once per interval with a count, never once per connection.
"""

from __future__ import annotations

import errno
import json
import logging
import resource
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

__all__ = ["ConnectionLimits", "LimitedHTTPServer", "RefusalLog", "effective_max_connections"]

ACCEPT_BATCH = 128
"""Connections accepted per readiness event (tornado's own backlog figure)."""
ACCEPT_BACKOFF_S = 0.5
"""Pause after the process ran out of file descriptors, before accepting again."""
READ_BUFFER_BYTES = 1 << 20
"""A connection's read buffer at most: bodies are read in chunks, never whole."""
RESERVED_FILES = 128
"""Descriptors kept free of connections for the database, notebooks and worker processes."""
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_BUSY_BODY = json.dumps(
    {"error": "connections: the board has too many open connections; try again shortly"}
).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: "
    + str(len(_BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + _BUSY_BODY
)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    """Open connections at once (streams and long-polls included); more: 503 and closed."""
    header_timeout_s: float
    """Time to send a request's headers, and the longest idle time between requests."""
    body_timeout_s: float
    """Time to send a request's body once its headers arrived."""
    max_body_bytes: int
    """The largest body a route that does not size bodies itself may send (tornado buffers
    those whole before a handler runs); the board's body routes raise it per request, after
    checking the token and the announced size."""
    refusal_log_interval_s: float = 60.0


def effective_max_connections(wanted: int) -> int:
    """*wanted*, lowered so that connections leave `RESERVED_FILES` of the open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))


class RefusalLog:
    """Log a refusal once per cause and interval, with how many there were since the last line.

    *clock* is injectable so the rule can be tested without sleeping.
    """

    def __init__(
        self,
        log: logging.Logger,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.interval_s = interval_s
        self.clock = clock
        self._logged_at: dict[str, float] = {}
        self._unreported: dict[str, int] = {}

    def note(self, cause: str, message: str) -> bool:
        """Count one refusal of *cause*; log *message* if *cause* was not logged within the
        interval. Returns whether it logged."""
        now = self.clock()
        count = self._unreported.get(cause, 0) + 1
        last = self._logged_at.get(cause)
        if last is not None and now - last < self.interval_s:
            self._unreported[cause] = count
            return False
        self._logged_at[cause] = now
        self._unreported[cause] = 0
        self.log.warning("%s (%d since the last report of this kind)", message, count)
        return True


class LimitedHTTPServer(HTTPServer):
    """tornado's HTTP server with `ConnectionLimits` and a resource-aware accept loop."""

    limits: ConnectionLimits
    refusals: RefusalLog
    open_connections: int

    def initialize(  # type: ignore[override]
        self,
        request_callback: Any,
        *,
        limits: ConnectionLimits,
        refusals: RefusalLog,
        **kwargs: Any,
    ) -> None:
        super().initialize(
            request_callback,
            idle_connection_timeout=limits.header_timeout_s,
            body_timeout=limits.body_timeout_s,
            max_body_size=limits.max_body_bytes,
            max_buffer_size=max(limits.max_body_bytes, READ_BUFFER_BYTES),
            **kwargs,
        )
        self.limits = limits
        self.refusals = refusals
        self.open_connections = 0
        self._listening: dict[int, socket.socket] = {}
        self._accepting = False
        self._closed = False

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            self._listening[sock.fileno()] = sock
            if self._accepting:
                self._watch(sock)
        self._resume()

    def stop(self) -> None:
        if not self._closed:
            self._closed = True
            self._pause()
            for sock in self._listening.values():
                sock.close()
            self._listening.clear()
        super().stop()

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        self.open_connections -= 1
        super().on_close(server_conn)

    def _accept(self, sock: socket.socket, fd: int, events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self._accepting:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise
                self._back_off(error)
                return
            if self.open_connections >= self.limits.max_connections:
                self._refuse(connection)
                continue
            stream = IOStream(
                connection,
                max_buffer_size=self.max_buffer_size,
                read_chunk_size=self.read_chunk_size,
            )
            self.handle_stream(stream, address)

    def _refuse(self, connection: socket.socket) -> None:
        try:
            connection.setblocking(False)
            connection.send(_BUSY)
        except OSError:
            pass
        finally:
            connection.close()
        self.refusals.note(
            "connections",
            f"workshop board: refused a connection, {self.open_connections} open "
            f"(c.BoardApp.max_connections = {self.limits.max_connections})",
        )

    def _back_off(self, error: OSError) -> None:
        self._pause()
        if not self._closed:
            IOLoop.current().call_later(ACCEPT_BACKOFF_S, self._resume)
        self.refusals.note(
            "accept",
            f"workshop board: cannot accept connections ({error.strerror}); pausing "
            f"{ACCEPT_BACKOFF_S:g} s, {self.open_connections} open; raise the open-file limit "
            "(ulimit -n) or lower c.BoardApp.max_connections",
        )

    def _pause(self) -> None:
        if self._accepting:
            self._accepting = False
            for fd in self._listening:
                IOLoop.current().remove_handler(fd)

    def _resume(self) -> None:
        if self._accepting or self._closed:
            return
        self._accepting = True
        for sock in self._listening.values():
            self._watch(sock)

    def _watch(self, sock: socket.socket) -> None:
        IOLoop.current().add_handler(sock.fileno(), partial(self._accept, sock), IOLoop.READ)
