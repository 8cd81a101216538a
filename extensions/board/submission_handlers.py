"""HTTP edge of submissions: a learner uploads, then reads their receipts, score and feedback.

Only learners submit (their own work, with their own token); a learner reads only their own
submissions and feedback, an organiser anyone's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated

from course.errors import RequestRejected
from extensions.board.handlers import BoardHandler, LimitedBodyHandler
from extensions.board.tokens import Identity

__all__ = ["submission_handlers"]

LONG_POLL_S = 25.0
FEEDBACK_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Feedback pages are self-contained HTML (inline styles, embedded images) and run no script."""


class SubmitHandler(LimitedBodyHandler):
    """`POST /workshop/api/submissions/<ws>`: `{"notebooks": {"<name>.ipynb": notebook}}`."""

    def body_limit(self) -> int:
        return self.board_options.max_submission_bytes

    @allow_unauthenticated
    async def post(self, workshop: str) -> None:
        identity = await self.authenticate()
        if identity.is_organiser:
            raise RequestRejected(403, "Authorization: submissions come from learner tokens")
        receipt = await self.service.submit(
            workshop, identity.subject, self.body(), self.board_options.late_submissions
        )
        self.send_json(receipt.to_json())


class SubmissionsHandler(BoardHandler):
    """`GET /workshop/api/submissions/<ws>/<learner>[?after=ID]`: every receipt and the newest
    result. With `after`, the answer waits (up to `LONG_POLL_S`) until submission ID or a newer
    one is graded, so a waiting panel costs the server one request, not a stream of polls."""

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
        while True:
            seen = feed.version(key)
            view = await self.service.submissions(workshop, learner)
            result = view["result"]
            if not after or (result is not None and result["id"] >= after):
                break
            if not await feed.wait(key, seen, deadline - loop.time()):
                break
        self.send_json(view)


class FeedbackHandler(BoardHandler):
    """`GET /workshop/api/submissions/<ws>/<learner>/feedback[?notebook=NAME]`: the HTML."""

    @allow_unauthenticated
    async def get(self, workshop: str, learner: str) -> None:
        _own_or_organiser(await self.authenticate(), learner)
        page = await self.service.feedback(workshop, learner, self.get_argument("notebook", ""))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        )
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
