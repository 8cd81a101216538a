"""Find the submissions of an assignment in an nbgrader course's submitted folder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from course.errors import NotebookError, WorkshopError
from course.notebook_io import read_file_bytes
from course.settings import Settings

__all__ = ["Submission", "find_submissions"]

TIMESTAMP_FILE = "timestamp.txt"


@dataclass(frozen=True)
class Submission:
    """One learner's submitted folder for one assignment."""

    student: str
    assignment: str
    folder: Path
    timestamp: datetime | None
    notebooks: tuple[Path, ...]

    def fingerprint(self, max_bytes: int = 0) -> str:
        """Changes whenever a submitted notebook or the timestamp changes; what cannot be read
        as a notebook file (see `read_file_bytes`) counts by the reason it cannot."""
        digest = hashlib.sha256(str(self.timestamp).encode())
        for path in self.notebooks:
            digest.update(path.name.encode() + b"\0")
            try:
                digest.update(
                    read_file_bytes(path, path.name, max_bytes=max_bytes, follow_symlinks=False)
                )
            except NotebookError as error:
                digest.update(str(error).encode())
        return digest.hexdigest()


def find_submissions(
    settings: Settings, assignment: str, students: Sequence[str] = ()
) -> list[Submission]:
    """Every submission of *assignment* (or only *students*'), sorted by student id."""
    from nbgrader.utils import parse_utc

    root = settings.submitted_dir
    if students:
        missing = [s for s in students if not (root / s / assignment).is_dir()]
        if missing:
            raise WorkshopError(
                f"{settings.relative(root)}: no submission of '{assignment}' for "
                f"{', '.join(missing)}"
            )
        folders = [root / s / assignment for s in students]
    else:
        folders = (
            sorted(p / assignment for p in root.iterdir() if (p / assignment).is_dir())
            if root.is_dir()
            else []
        )
    found = []
    for folder in folders:
        stamp_file = folder / TIMESTAMP_FILE
        timestamp = None
        if stamp_file.is_file():
            try:
                timestamp = parse_utc(stamp_file.read_text().strip())
            except (ValueError, OverflowError):
                timestamp = None
        notebooks = tuple(sorted(folder.glob("*.ipynb")))
        found.append(Submission(folder.parent.name, assignment, folder, timestamp, notebooks))
    return found
