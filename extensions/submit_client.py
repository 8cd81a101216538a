"""Send a learner's saved notebooks to the session board and wait for their score.

Standard library only: this runs in learner kernels. What is sent is the notebook as saved on
disk (what a learner would hand in with nbgrader's exchange too); `extensions.submit_save` has
JupyterLab save it first.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["SubmitError", "fetch_result", "upload"]

TIMEOUT_S = 30.0


class SubmitError(Exception):
    """The board refused or could not be reached; the message says which and why."""


def upload(board: str, token: str, workshop: str, notebooks: list[Path]) -> dict[str, Any]:
    """POST the notebooks as one submission; return the board's receipt."""
    body: dict[str, Any] = {"notebooks": {}}
    for path in notebooks:
        try:
            body["notebooks"][path.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SubmitError(f"could not read {path.name} ({error})") from None
    return _request(f"{board}/workshop/api/submissions/{workshop}", token, body)


def fetch_result(
    board: str, token: str, workshop: str, learner: str, receipt_id: int, wait_s: float
) -> dict[str, Any] | None:
    """The graded result of submission *receipt_id* (or a newer one), waiting up to *wait_s*
    (the board holds each request until the result is ready or its own wait ends)."""
    deadline = time.monotonic() + wait_s
    url = f"{board}/workshop/api/submissions/{workshop}/{learner}?after={receipt_id}"
    while True:
        result = _request(url, token, None).get("result")
        if result is not None and int(result["id"]) >= receipt_id:
            return dict(result)
        if time.monotonic() > deadline:
            return None


def _request(url: str, token: str, body: dict[str, Any] | None) -> dict[str, Any]:
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    request = Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urlopen(request, timeout=TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except HTTPError as error:
        try:
            reason = str(json.loads(error.read())["error"])
        except (ValueError, KeyError, TypeError, OSError):
            reason = f"status {error.code}"
        raise SubmitError(f"the board refused: {reason}") from None
    except (URLError, OSError) as error:
        raise SubmitError(f"the board is unreachable ({error}); try again in a moment") from None
