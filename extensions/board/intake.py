"""Take in a learner's submission: check it, keep it forever, put it where grading finds it.

A submission is the learner's notebooks of one workshop. Each is stored twice, atomically:
in the history (`Settings.submission_history_dir/<learner>/<ws>/<time>/`, never overwritten,
so nothing submitted is ever lost) and as the current submission in nbgrader's own layout
(`<submitted>/<learner>/<ws>/` with `timestamp.txt`), which `workshop grade`, `nbgrader
autograde` and nbgrader's exchange all use, so the board and the exchange end in one place.
The row in `workshop_submission` is the receipt and the grading queue entry.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from course.errors import RequestRejected
from course.notebook_io import replace_folder
from course.settings import Settings
from extensions.board.schema import SUBMISSION

__all__ = ["LATE_POLICIES", "Receipt", "history_folder", "parse_submission", "store_submission"]

LATE_POLICIES = ("accept", "refuse")
QUEUED = "queued"
_STAMP = "%Y-%m-%d %H:%M:%S.%f UTC"


@dataclass(frozen=True)
class Receipt:
    id: int
    workshop: str
    learner: str
    sha256: str
    received_at: datetime
    late: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workshop": self.workshop,
            "learner": self.learner,
            "sha256": self.sha256,
            "received_at": self.received_at.replace(tzinfo=UTC).isoformat(),
            "late": self.late,
            "status": QUEUED,
        }


def parse_submission(body: bytes, released: frozenset[str], workshop: str) -> dict[str, str]:
    """`{"notebooks": {"<name>.ipynb": <notebook>}}` -> canonical notebook text by file name.

    Every name must be one of *released* (the workshop's notebooks) and every notebook valid
    nbformat 4. Runs in a worker process (it takes seconds on a large notebook): the schema is
    checked first with nbformat's compiled validator, which stops at the first error, because
    `nbformat.validate` spends most of its time on a bad notebook composing a better message.
    """
    try:
        document = json.loads(body)
    except RecursionError:
        raise RequestRejected(400, "body: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestRejected(400, f"body: not JSON ({error})") from None
    notebooks = document.get("notebooks") if isinstance(document, dict) else None
    if not isinstance(notebooks, dict) or not notebooks:
        raise RequestRejected(400, 'notebooks: send {"notebooks": {"<name>.ipynb": notebook}}')
    texts: dict[str, str] = {}
    for name, content in notebooks.items():
        if name not in released:
            raise RequestRejected(
                400,
                f"notebooks.{name}: not a notebook of {workshop} ({', '.join(sorted(released))})",
            )
        texts[name] = _canonical(name, content)
    return texts


def _canonical(name: str, content: object) -> str:
    import nbformat
    from nbformat.validator import get_validator

    version = content.get("nbformat") if isinstance(content, dict) else None
    minor = content.get("nbformat_minor") if isinstance(content, dict) else None
    if version != 4 or isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise RequestRejected(
            400,
            f"notebooks.{name}: not a valid notebook (nbformat {version!r}, nbformat_minor "
            f"{minor!r}; only nbformat 4 notebooks are accepted)",
        )
    try:
        get_validator(4, minor).validate(content)
        nb = nbformat.from_dict(content)
        nbformat.validate(nb)
        text: str = nbformat.writes(nb, version=4)
        return text + "\n"
    except RecursionError:
        raise RequestRejected(400, f"notebooks.{name}: nested too deeply") from None
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for bad input
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RequestRejected(400, f"notebooks.{name}: not a valid notebook ({message})") from None


def store_submission(
    settings: Settings,
    engine: Engine,
    learner: str,
    workshop: str,
    notebooks: dict[str, str],
    *,
    late_policy: str,
    now: datetime | None = None,
) -> Receipt:
    """Keep *notebooks* as *learner*'s newest submission of *workshop* and queue it for grading.

    Past the workshop's due date (nbgrader's `duedate`) it is refused (`late_policy="refuse"`,
    403) or accepted and marked late.
    """
    received = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    due = _due_date(engine, workshop)
    late = due is not None and received > due
    if late and late_policy == "refuse":
        raise RequestRejected(
            403,
            f"workshop: {workshop} was due {due:%Y-%m-%d %H:%M} UTC; late submissions are closed",
        )
    digest = hashlib.sha256()
    for name in sorted(notebooks):
        digest.update(name.encode() + b"\0" + notebooks[name].encode() + b"\0")
    stamp = received.strftime(_STAMP)
    history = history_folder(settings, learner, workshop, received)
    _write_folder(history, notebooks, stamp, replace=False)
    _write_folder(settings.submitted_dir / learner / workshop, notebooks, stamp, replace=True)
    with engine.begin() as connection:
        row_id = connection.execute(
            insert(SUBMISSION).values(
                learner=learner,
                workshop=workshop,
                received_at=received,
                sha256=digest.hexdigest(),
                late=late,
                status=QUEUED,
            )
        ).inserted_primary_key
    assert row_id is not None
    return Receipt(int(row_id[0]), workshop, learner, digest.hexdigest(), received, late)


def history_folder(settings: Settings, learner: str, workshop: str, received: datetime) -> Path:
    """Where the submission of *learner* received at *received* (naive UTC) is kept forever."""
    return (
        settings.submission_history_dir
        / learner
        / workshop
        / received.strftime("%Y%m%dT%H%M%S.%fZ")
    )


def _due_date(engine: Engine, workshop: str) -> datetime | None:
    from sqlalchemy import Column, DateTime, MetaData, String, Table

    assignment = Table(
        "assignment", MetaData(), Column("name", String), Column("duedate", DateTime)
    )
    with engine.connect() as connection:
        return connection.execute(
            select(assignment.c.duedate).where(assignment.c.name == workshop)
        ).scalar()


def _write_folder(target: Path, notebooks: dict[str, str], stamp: str, *, replace: bool) -> None:
    """Write the folder next to *target* first, then move it into place in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, text in notebooks.items():
            (staging / name).write_text(text, encoding="utf-8")
        (staging / "timestamp.txt").write_text(stamp, encoding="utf-8")
        if replace:
            replace_folder(staging, target)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
