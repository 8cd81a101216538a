"""HTTP edge of the semester view: its page, the JSON twin, the plots and the CSV export.

Everything but the page shell needs an organiser token: the view names every learner and their
scores. The page is static HTML that asks for the token (as the board page does), because a
browser cannot send a bearer header when it navigates.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated

from autograde.semester_report import semester_csv
from extensions.board.handlers import PAGE_POLICY, STATIC, BoardHandler

__all__ = ["inert_json", "semester_handlers"]


def inert_json(document: Any) -> str:
    """JSON with `<`, `>` and `&` written as `\\u` escapes: the same data, but no learner's
    name can read as markup to anything that sniffs or embeds the response."""
    text = json.dumps(document)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class SemesterDataHandler(BoardHandler):
    """`GET /workshop/api/semester`: the JSON twin of the semester page."""

    @allow_unauthenticated
    async def get(self) -> None:
        await self.authenticate_organiser()
        view = await self.service.semester()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(inert_json(view.to_json()))


class SemesterCsvHandler(BoardHandler):
    """`GET /workshop/api/semester/export.csv`: one row per learner and workshop."""

    @allow_unauthenticated
    async def get(self) -> None:
        await self.authenticate_organiser()
        view = await self.service.semester()
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="semester.csv"')
        self.finish(semester_csv(view).encode("utf-8"))


class SemesterPlotHandler(BoardHandler):
    """`GET /workshop/api/semester/plots/<name>.png`."""

    @allow_unauthenticated
    async def get(self, name: str) -> None:
        await self.authenticate_organiser()
        png = await self.service.semester_plot(name)
        self.set_header("Content-Type", "image/png")
        self.finish(png)


class SemesterPageHandler(BoardHandler):
    """`GET /workshop/semester`: the page; its data comes by fetch() with the token."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Security-Policy", PAGE_POLICY)

    @allow_unauthenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC / "semester.html").read_bytes())


def semester_handlers(shared: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The semester routes; the API ones must come before the board's `/workshop/api/.*`."""
    return [
        (r"/workshop/api/semester", SemesterDataHandler, shared),
        (r"/workshop/api/semester/export\.csv", SemesterCsvHandler, shared),
        (r"/workshop/api/semester/plots/([^/]+)\.png", SemesterPlotHandler, shared),
        (r"/workshop/semester", SemesterPageHandler, shared),
    ]
