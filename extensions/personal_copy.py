"""`workshop join`: fetch a learner's personal copy of a workshop from the session board.

The board's join endpoint answers a learner's token with a zip of the released workshop plus
`.workshop/learner.json` (board address and token); unpacked, it is ready for Check. A folder
that already exists is never overwritten: it may hold the learner's work.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from course.errors import WorkshopError

__all__ = ["download_personal_copy"]

MAX_COPY_BYTES = 200 * 1024 * 1024


def download_personal_copy(join_url: str, token: str, into: Path) -> Path:
    """Unpack the copy behind *join_url* (`<board>/workshop/join/<ws>`) into `into/<ws>`."""
    board, workshop = _parse_join_url(join_url)
    target = into / workshop
    if target.exists():
        raise WorkshopError(
            f"{target} already exists (your work may be in it); pass another --into folder"
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
        try:
            reason = str(json.loads(error.read())["error"])
        except (ValueError, KeyError, TypeError, OSError):
            reason = "no reason given"
        raise WorkshopError(f"{url}: the board answered {error.code}: {reason}") from None
    except (URLError, OSError) as error:
        raise WorkshopError(f"{url}: cannot reach the board ({error})") from None
