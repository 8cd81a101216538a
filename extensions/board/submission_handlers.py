"""HTTP edge of submissions: a learner uploads, then reads their receipts, score and feedback.

Only learners submit (their own work, with their own token); a learner reads only their own
submissions and feedback, an organiser anyone's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated

from course.errors import RequestRejected
from extensions.board.admission import Ticket
from extensions.board.handlers import REPLACED, TOKEN_RECHECK_S, BoardHandler, LimitedBodyHandler
from extensions.board.tokens import Identity

__all__ = ["submission_handlers"]

LONG_POLL_S = 25.0
FEEDBACK_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)
"""Feedback pages are self-contained HTML (inline styles, embedded images) and run no script."""


class SubmitHandler(LimitedBodyHandler):
    """`POST /workshop/api/submissions/<ws>`: `{"notebooks": {"<name>.ipynb": notebook}}`.

    Admitted (`SubmissionGate`) from the headers, before the body is read."""

    _ticket: Ticket | None = None

    def body_limit(self) -> int:
        return self.board_options.max_submission_bytes

    def allow(self, identity: Identity) -> None:
        if identity.is_organiser:
            raise RequestRejected(403, "Authorization: submissions come from learner tokens")

    def admit(self, identity: Identity, size: int) -> None:
        self._ticket = self.service.gate.enter(identity.subject, size)

    @allow_unauthenticated
    async def post(self, workshop: str) -> None:
        receipt = await self.service.submit(
            workshop, self.identity.subject, self.body(), self.board_options.late_submissions
        )
        self.send_json(receipt.to_json())

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._ticket is not None:
            self._ticket.release()


class SubmissionsHandler(BoardHandler):
    """`GET /workshop/api/submissions/<ws>/<learner>[?after=ID]`: every receipt and the newest
    result. With `after`, the answer waits (up to `LONG_POLL_S`) until submission ID or a newer
    one is graded, so a waiting panel costs the server one request, not a stream of polls; a
    wait whose token is replaced ends with 401."""

    @allow_unauthenticated
    async def get(self, workshop: str, learner: str) -> None:
        _own_or_organiser(await self.authenticate(), learner)
        try:
            after = int(self.get_argument("after", "0"))
        except ValueError:
            raise RequestRejected(400, "after: give a submission id (a number)") from None
        feed, key = self.service.feed, f"submissions/{workshop}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LONG_POLL_S
        seen = feed.version(key)
        view = await self.service.submissions(workshop, learner)
        while after and not _graded_since(view, after) and loop.time() < deadline:
            await feed.wait(key, seen, min(TOKEN_RECHECK_S, deadline - loop.time()))
            if feed.closed:
                break
            if not await self.token_still_works():
                raise RequestRejected(401, REPLACED)
            if feed.version(key) != seen:
                seen = feed.version(key)
                view = await self.service.submissions(workshop, learner)
        self.send_json(view)


def _graded_since(view: dict[str, Any], after: int) -> bool:
    result = view["result"]
    return result is not None and int(result["id"]) >= after


class FeedbackHandler(BoardHandler):
    """`GET /workshop/api/submissions/<ws>/<learner>/feedback[?notebook=NAME]`: the HTML."""

    @allow_unauthenticated
    async def get(self, workshop: str, learner: str) -> None:
        _own_or_organiser(await self.authenticate(), learner)
        page = await self.service.feedback(workshop, learner, self.get_argument("notebook", ""))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", FEEDBACK_POLICY)
        self.finish(page)


def _own_or_organiser(identity: Identity, learner: str) -> None:
    if not identity.is_organiser and identity.subject != learner:
        raise RequestRejected(403, "learner: a learner token may only read its own submissions")


def submission_handlers(shared: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    name = r"([^/]+)"
    return [
        (rf"/workshop/api/submissions/{name}", SubmitHandler, shared),
        (rf"/workshop/api/submissions/{name}/{name}", SubmissionsHandler, shared),
        (rf"/workshop/api/submissions/{name}/{name}/feedback", FeedbackHandler, shared),
    ]
