"""`workshop join`: fetch a learner's personal copy of a workshop from the session board.

The board's join endpoint answers a learner's token with a zip of the released workshop plus
`.workshop/learner.json` (board address and token); unpacked, it is ready for Check. A folder
that already exists is never overwritten: it may hold the learner's work.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from course.errors import WorkshopError

__all__ = ["REFUSED", "download_personal_copy", "read_token"]

MAX_COPY_BYTES = 200 * 1024 * 1024
REFUSED = {
    401: "the board did not accept this token: check it for typing mistakes, or ask the "
    "presenter for your token (a new one replaces the old)",
    403: "this is not a learner's token: use the token the presenter gave you for this session",
    404: "the board has no such workshop: check the join address with the presenter",
}
"""What a refusal means for the learner (the join page says the same)."""


def download_personal_copy(join_url: str, token: str, into: Path) -> Path:
    """Unpack the copy behind *join_url* (`<board>/workshop/join/<ws>`) into `into/<ws>`."""
    board, workshop = _parse_join_url(join_url)
    target = into / workshop
    if target.exists():
        raise WorkshopError(
            f"{target} already exists and may hold your work, so nothing was downloaded: open "
            "it in JupyterLab to go on, or join into another folder with --into FOLDER"
        )
    data = _fetch(f"{board}/workshop/api/join/{workshop}", token)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except zipfile.BadZipFile as error:
        raise WorkshopError(f"{join_url}: the board sent no workshop copy ({error})") from None
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != (workshop,):
            raise WorkshopError(f"{join_url}: the copy holds an unexpected path {name!r}")
    into.mkdir(parents=True, exist_ok=True)
    archive.extractall(into)
    return target


def read_token(given: str | None, environ: Mapping[str, str], stdin: TextIO) -> str:
    """The learner's token: from --token, from WORKSHOP_TOKEN, or typed at a terminal."""
    token = given or environ.get("WORKSHOP_TOKEN")
    if not token and stdin.isatty():
        import getpass

        try:
            token = getpass.getpass("your token (from the presenter): ")
        except EOFError:
            token = ""
    if not token or not token.strip():
        raise WorkshopError(
            "no token: pass the one the presenter gave you with --token TOKEN (or set "
            "WORKSHOP_TOKEN), or run `workshop join` in a terminal to type it"
        )
    return token.strip()


def _parse_join_url(join_url: str) -> tuple[str, str]:
    parts = urlsplit(join_url)
    path = PurePosixPath(parts.path)
    if parts.scheme not in ("http", "https") or path.parent.parts[-2:] != ("workshop", "join"):
        raise WorkshopError(
            f"'{join_url}' is not a join address; it looks like http://host:port/workshop/join/WS"
        )
    base = str(path.parent.parent.parent).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, base, "", "")), path.name


def _fetch(url: str, token: str) -> bytes:
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    request = Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urlopen(request, timeout=30) as response:
            return bytes(response.read(MAX_COPY_BYTES))
    except HTTPError as error:
        if error.code in REFUSED:
            raise WorkshopError(REFUSED[error.code]) from None
        try:
            reason = str(json.loads(error.read())["error"])
        except (ValueError, KeyError, TypeError, OSError):
            reason = "no reason given"
        raise WorkshopError(f"{url}: the board answered {error.code}: {reason}") from None
    except (URLError, OSError) as error:
        raise WorkshopError(f"{url}: cannot reach the board ({error})") from None
