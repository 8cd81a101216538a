"""A learner's personal copy of a workshop: its active release (the session's, else
`release/<ws>/`) plus `.workshop/learner.json`.

The copy is all a learner needs to join a session: unzip, open the notebook, press Check. The
token travels only in `.workshop/learner.json`, which the learner module reads when a Check
panel opens, so it never enters a notebook or its saved outputs.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath

from course.errors import RequestRejected
from course.layout import active_release
from course.settings import Settings
from course.workshop_files import LEARNER_FILE, SPOOL_FOLDER

__all__ = ["learner_document", "personal_copy"]

_SKIPPED_PARTS = {".ipynb_checkpoints", "__pycache__"}


def learner_document(board: str, learner: str, token: str, workshop: str) -> str:
    """The text of `.workshop/learner.json` (keys read by `extensions.learner`)."""
    document = {"board": board, "learner": learner, "token": token, "workshop": workshop}
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def personal_copy(settings: Settings, workshop: str, learner: str, token: str, board: str) -> bytes:
    """A zip holding `<ws>/...` (the released files) and `<ws>/.workshop/learner.json`.

    Raises `RequestRejected(404)` when `release/<ws>/` does not exist.
    """
    folder = active_release(settings, workshop)
    if not folder.is_dir():
        raise RequestRejected(404, f"workshop {workshop!r} has no release folder to hand out")
    root = PurePosixPath(workshop)
    personal = {str(LEARNER_FILE), str(SPOOL_FOLDER)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if not path.is_file() or path.is_symlink() or _skipped(relative, personal):
                continue
            archive.write(path, str(root / relative.as_posix()))
        archive.writestr(
            str(root / LEARNER_FILE), learner_document(board, learner, token, workshop)
        )
    return buffer.getvalue()


def _skipped(relative: Path, personal: set[str]) -> bool:
    posix = relative.as_posix()
    return bool(_SKIPPED_PARTS & set(relative.parts)) or any(
        posix == p or posix.startswith(p + "/") for p in personal
    )
