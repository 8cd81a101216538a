"""Read and write notebooks: the one place where notebooks touch the disk.

Reads turn every way a file can fail to be a notebook into one `NotebookError` naming the file;
writes go to a temporary file beside the target and are renamed into place, so a crash never
leaves half a notebook behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.errors import NotebookError

__all__ = ["read_notebook", "replace_folder", "write_notebook", "write_text_atomic"]

NBFORMAT_VERSION = 4


def read_notebook(path: Path, label: str | None = None) -> NotebookNode:
    """Read *path* as an nbformat 4 notebook; *label* is how messages name the file."""
    name = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise NotebookError(f"{name}: file not found") from error
    except UnicodeDecodeError as error:
        raise NotebookError(f"{name}: not a notebook (not UTF-8 text)") from error
    if not text.strip():
        raise NotebookError(f"{name}: not a notebook (the file is empty)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{name}: not a notebook (invalid JSON at line {error.lineno}, column {error.colno}: "
            f"{error.msg}); fix the file or restore it from version control"
        ) from error
    if not isinstance(raw, dict) or ("cells" not in raw and "worksheets" not in raw):
        raise NotebookError(f"{name}: not a notebook (JSON without a 'cells' list)")
    invalid: dict[str, nbformat.ValidationError] = {}
    try:
        nb: NotebookNode = nbformat.reads(
            text, as_version=NBFORMAT_VERSION, capture_validation_error=invalid
        )
    except Exception as error:
        raise NotebookError(f"{name}: not a readable notebook ({error})") from error
    if "ValidationError" in invalid:
        raise NotebookError(f"{name}: invalid notebook: {invalid['ValidationError'].message}")
    return nb


def write_notebook(nb: NotebookNode, path: Path, *, validate: bool = True) -> None:
    """Write *nb* to *path* atomically, in nbformat's canonical JSON.

    `validate=False` skips nbformat's schema check (it only logs), for notebooks this program
    built from validated ones: the grader writes hundreds.
    """
    if validate:
        text: str = nbformat.writes(nb, version=NBFORMAT_VERSION)
    else:
        text = nbformat.v4.writes(nb)
    write_text_atomic(path, text + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def replace_folder(fresh: Path, target: Path) -> None:
    """Put the folder *fresh* in place of *target* (same file system), old contents removed.

    Readers see the old folder or the new one, never a mix, apart from the instant between
    the two renames. The old folder moves to a fresh name of its own, so two replacements at
    once (of different targets in one folder) never collide.
    """
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
