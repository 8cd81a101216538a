"""HTTP edge of the board: parse the request, authenticate, call one `BoardService` method,
render JSON (or a static page, or a server-sent-event stream).

Authentication is the board's own: `Authorization: Bearer <token>` from `workshop roster
tokens`, never Jupyter's login. The handlers are plain tornado handlers whose methods carry
jupyter_server's `allow_unauthenticated` marker, which tells a Jupyter server that they do
their own authentication (so it neither redirects them to its login page nor warns about
them). Tokens never travel in cookies, so cross-site request forgery cannot use them and
tornado's XSRF cookie check is switched off for these handlers only.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http.client import responses
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from sqlalchemy.exc import OperationalError
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPHeaders
from tornado.iostream import StreamClosedError
from tornado.web import HTTPError, RequestHandler, StaticFileHandler, stream_request_body

from course.errors import RequestRejected
from extensions.board.service import BoardService
from extensions.board.tokens import Identity

__all__ = [
    "FRAME_POLICY",
    "PAGE_POLICY",
    "REPLACED",
    "STATIC",
    "TOKEN_RECHECK_S",
    "BoardHandler",
    "BoardOptions",
    "LimitedBodyHandler",
    "board_handlers",
]

STATIC = Path(__file__).parent / "static"
STREAM_REFRESH_S = 15.0
"""A stream re-sends the board at least this often (time-based rules move on their own)."""
STREAM_COALESCE_S = 0.2
"""After a change, wait this long so a burst of events becomes one update."""
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
"""The largest over-limit body read (and dropped) so that its sender sees the 413."""
TOKEN_RECHECK_S = 0.5
"""Streams and long-polls check this often that their token still works (rotation)."""
REPLACED = "Authorization: unknown or replaced token"
FRAME_POLICY = "frame-ancestors 'none'"
"""No board response may be framed by another site; pages add their own, stricter policy."""
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class BoardOptions:
    max_body_bytes: int
    public_url: str
    """Address learners use to reach the server; empty: the address a request came to."""
    max_submission_bytes: int = 20 * 1024 * 1024
    late_submissions: str = "accept"
    """`accept` (marked late) or `refuse` submissions past the workshop's due date."""


class BoardHandler(RequestHandler):
    """JSON errors, security headers and bearer-token authentication for every board route."""

    service: BoardService
    board_options: BoardOptions

    def initialize(self, service: BoardService, options: BoardOptions) -> None:
        self.service = service
        self.board_options = options

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", FRAME_POLICY)
        self.set_header("X-Frame-Options", "DENY")

    def check_xsrf_cookie(self) -> None:
        """No cookie carries credentials here (see the module docstring)."""

    def bearer_token(self) -> str:
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise RequestRejected(
                401, "Authorization: send the header 'Bearer <token>' with your board token"
            )
        return token

    async def authenticate(self) -> Identity:
        identity = await self.service.identify(self.bearer_token())
        if identity is None:
            raise RequestRejected(401, REPLACED)
        return identity

    async def token_still_works(self) -> bool:
        """Whether this request's token is still issued (`roster tokens --rotate` ends it)."""
        return await self.service.identify(self.bearer_token()) is not None

    async def authenticate_organiser(self) -> Identity:
        identity = await self.authenticate()
        if not identity.is_organiser:
            raise RequestRejected(403, "Authorization: this needs an organiser token")
        return identity

    def send_json(self, document: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(document))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, RequestRejected):
            status_code = error.status
        elif isinstance(error, OperationalError):
            status_code = 503
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, RequestRejected):
            message = str(error)
        elif status_code == 503:
            message = "the gradebook database is busy; try again shortly"
        elif isinstance(error, HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        else:
            message = responses.get(status_code, "error")
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="workshop board"')
        if isinstance(error, RequestRejected) and error.retry_after_s is not None:
            self.set_header("Retry-After", str(error.retry_after_s))
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, RequestRejected):
            self.log_refusal(value)
            return
        super().log_exception(typ, value, tb)

    def log_refusal(self, error: RequestRejected) -> None:
        from tornado.log import gen_log

        gen_log.info("%s %s: %d %s", self.request.method, self.request.path, error.status, error)


class HealthHandler(BoardHandler):
    @allow_unauthenticated
    def get(self) -> None:
        self.send_json({"status": "ok"})


@stream_request_body
class LimitedBodyHandler(BoardHandler):
    """A route with a body: the token and the announced size are checked from the headers,
    before a byte of the body is read or buffered (401, 403, 411 and `admit`'s refusals); then
    tornado reads at most `body_limit()` bytes.

    A body announced over the limit is refused with 413; a client with a valid token that sends
    its body before reading the answer (most do) would see a reset instead of the answer if the
    connection closed under it, so up to `DRAIN_LIMIT_BYTES` of such a body are read and
    dropped, never kept, before the 413 goes out (at once with `Expect: 100-continue`).
    """

    identity: Identity
    _chunks: list[bytes]
    _refusal: RequestRejected | None = None

    def body_limit(self) -> int:
        return self.board_options.max_body_bytes

    def allow(self, identity: Identity) -> None:
        """Raise `RequestRejected(403)` if *identity* may not use this route at all."""

    def admit(self, identity: Identity, size: int) -> None:
        """Raise `RequestRejected` if a body of *size* bytes cannot be taken now."""

    async def prepare(self) -> None:
        self._chunks = []
        if self.request.method != "POST":
            return
        self.identity = await self.authenticate()
        self.allow(self.identity)
        limit, headers = self.body_limit(), self.request.headers
        size = announced_size(headers)
        if size > limit:
            refusal = RequestRejected(413, f"body: {size} bytes, more than the {limit} allowed")
            if size > DRAIN_LIMIT_BYTES or headers.get("Expect", "").lower() == "100-continue":
                raise refusal
            self._refusal = refusal
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):
            connection.set_max_body_size(min(size, DRAIN_LIMIT_BYTES))
        if self._refusal is None:
            self.admit(self.identity, size)

    def data_received(self, chunk: bytes) -> None:
        if self._refusal is None:
            self._chunks.append(chunk)

    def body(self) -> bytes:
        """The body, or the 413 its announced size earned."""
        if self._refusal is not None:
            raise self._refusal
        return b"".join(self._chunks)


def announced_size(headers: HTTPHeaders) -> int:
    """The body size a request's `Content-Length` announces: 411 without one (a chunked body
    cannot be sized before it is read), 400 if it is not a number of bytes."""
    length = headers.get("Content-Length")
    if length is None or "Transfer-Encoding" in headers:
        raise RequestRejected(411, "Content-Length: send the body with its size in Content-Length")
    if not length.strip().isdigit():
        raise RequestRejected(400, "Content-Length: not a number of bytes")
    return int(length)


class EventsHandler(LimitedBodyHandler):
    """`POST /workshop/api/events`: a learner's (or organiser's) batch of Check events."""

    @allow_unauthenticated
    async def post(self) -> None:
        result = await self.service.ingest(self.body(), self.identity)
        self.send_json(result.to_json())


class ProgressHandler(BoardHandler):
    """`GET /workshop/api/learners/<id>/progress?workshop=WS`."""

    @allow_unauthenticated
    async def get(self, learner: str) -> None:
        identity = await self.authenticate()
        if not identity.is_organiser and identity.subject != learner:
            raise RequestRejected(403, "learner: a learner token may only read its own progress")
        workshop = self.get_query_argument("workshop", "")
        if not workshop:
            raise RequestRejected(400, "workshop: give the query parameter ?workshop=NAME")
        self.send_json(await self.service.progress(workshop, learner))


class BoardDataHandler(BoardHandler):
    """`GET /workshop/api/board/<ws>`: the JSON twin of the board page."""

    @allow_unauthenticated
    async def get(self, workshop: str) -> None:
        await self.authenticate_organiser()
        self.send_json(await self.service.board(workshop))


class BoardStreamHandler(BoardHandler):
    """`GET /workshop/api/board/<ws>/stream`: the board as server-sent events (`event: board`),
    once at once, then after every change and at least every `STREAM_REFRESH_S`. A stream whose
    token is replaced ends with `event: error` (within `TOKEN_RECHECK_S` of the catalogue
    noticing, at most `catalogue.MAX_AGE_S`)."""

    _gone = False

    @allow_unauthenticated
    async def get(self, workshop: str) -> None:
        await self.authenticate_organiser()
        await self.service.workshop(workshop)
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        feed = self.service.feed
        feed.bind(asyncio.get_running_loop())
        loop = asyncio.get_running_loop()
        seen = feed.version(workshop)
        try:
            await self._push(workshop)
            refresh_at = loop.time() + STREAM_REFRESH_S
            while True:
                wait_s = min(TOKEN_RECHECK_S, max(refresh_at - loop.time(), 0.0))
                changed = await feed.wait(workshop, seen, wait_s)
                if feed.closed or self._gone:
                    break
                if not await self.token_still_works():
                    self.write(f"event: error\ndata: {json.dumps({'error': REPLACED})}\n\n")
                    break
                if changed:
                    await asyncio.sleep(STREAM_COALESCE_S)
                elif loop.time() < refresh_at:
                    continue
                seen = feed.version(workshop)
                await self._push(workshop)
                refresh_at = loop.time() + STREAM_REFRESH_S
        except StreamClosedError:
            return
        if not self._gone:
            self.finish()

    async def _push(self, workshop: str) -> None:
        board = await self.service.board(workshop)
        self.write(f"event: board\ndata: {json.dumps(board)}\n\n")
        await self.flush()

    def on_connection_close(self) -> None:
        self._gone = True


class JoinHandler(BoardHandler):
    """`GET /workshop/api/join/<ws>`: the learner's personal copy, as a zip."""

    @allow_unauthenticated
    async def get(self, workshop: str) -> None:
        identity = await self.authenticate()
        if identity.is_organiser:
            raise RequestRejected(403, "Authorization: joining needs a learner token")
        token = self.request.headers["Authorization"].partition(" ")[2].strip()
        data = await self.service.personal_copy(
            workshop, identity.subject, token, self._board_url()
        )
        self.set_header("Content-Type", "application/zip")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="{_safe(workshop)}-{_safe(identity.subject)}.zip"',
        )
        self.finish(data)

    def _board_url(self) -> str:
        if self.board_options.public_url:
            return self.board_options.public_url.rstrip("/")
        base = str(self.settings.get("base_url", "/")).rstrip("/")
        return f"{self.request.protocol}://{self.request.host}{base}"


class PageHandler(BoardHandler):
    """The organiser's board page and the learners' join page: static HTML, data by fetch()."""

    def initialize(self, service: BoardService, options: BoardOptions, page: str = "") -> None:
        super().initialize(service, options)
        self.page = page

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Security-Policy", PAGE_POLICY)

    @allow_unauthenticated
    async def get(self, workshop: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC / self.page).read_bytes())


class AssetHandler(StaticFileHandler):
    """The pages' scripts and styles (public, like any static file)."""

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", FRAME_POLICY)

    @allow_unauthenticated
    def get(self, path: str, include_body: bool = True) -> Any:
        return super().get(path, include_body)

    @allow_unauthenticated
    def head(self, path: str) -> Any:
        return super().head(path)


class NotFoundHandler(BoardHandler):
    """Any other `/workshop/api/...` path: a JSON 404, like every board error."""

    @allow_unauthenticated
    def get(self) -> None:
        raise RequestRejected(404, f"{self.request.path}: no such board endpoint")

    @allow_unauthenticated
    def post(self) -> None:
        raise RequestRejected(404, f"{self.request.path}: no such board endpoint")


def board_handlers(service: BoardService, options: BoardOptions) -> list[tuple[str, Any, Any]]:
    """The board's routes (relative to the server's base URL), all under `/workshop/`."""
    from extensions.board.semester_handlers import semester_handlers
    from extensions.board.submission_handlers import submission_handlers

    shared = {"service": service, "options": options}
    name = r"([^/]+)"
    return [
        (r"/workshop/api/health", HealthHandler, shared),
        (r"/workshop/api/events", EventsHandler, shared),
        (rf"/workshop/api/learners/{name}/progress", ProgressHandler, shared),
        (rf"/workshop/api/board/{name}", BoardDataHandler, shared),
        (rf"/workshop/api/board/{name}/stream", BoardStreamHandler, shared),
        (rf"/workshop/api/join/{name}", JoinHandler, shared),
        *submission_handlers(shared),
        *semester_handlers(shared),
        (r"/workshop/api/.*", NotFoundHandler, shared),
        (rf"/workshop/board/{name}", PageHandler, {**shared, "page": "board.html"}),
        (rf"/workshop/join/{name}", PageHandler, {**shared, "page": "join.html"}),
        (r"/workshop/static/(.*)", AssetHandler, {"path": str(STATIC)}),
    ]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
