"""Read and write notebooks: the one place where notebooks touch the disk.

Reads turn every way a file can fail to be a notebook into one `NotebookError` naming the file;
writes go to a temporary file beside the target and are renamed into place, so a crash never
leaves half a notebook behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.errors import NotebookError

__all__ = [
    "MAX_DEPTH",
    "notebook_text",
    "read_file_bytes",
    "read_notebook",
    "replace_folder",
    "write_notebook",
    "write_text_atomic",
]

NBFORMAT_VERSION = 4
MAX_DEPTH = 64
"""Lists and objects nested deeper than this are no notebook (real ones nest about ten deep);
deeper ones would exhaust the recursion of the JSON, validation and copy steps after reading."""
_SUBMIT_FILE = "submit the notebook file itself"
_TOO_DEEP = f"not a notebook (JSON nested more than {MAX_DEPTH} levels deep)"


def read_notebook(
    path: Path, label: str | None = None, *, max_bytes: int = 0, follow_symlinks: bool = True
) -> NotebookNode:
    """Read *path* as an nbformat 4 notebook; *label* is how messages name the file.

    Only a regular file is read (see `read_file_bytes`), at most *max_bytes* of it if given; a
    notebook nested deeper than `MAX_DEPTH` is refused before anything walks it recursively.
    """
    name = label or str(path)
    data = read_file_bytes(path, name, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    try:
        text = data.decode("utf-8")
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
    except RecursionError as error:
        raise NotebookError(f"{name}: {_TOO_DEEP}") from error
    if not isinstance(raw, dict) or ("cells" not in raw and "worksheets" not in raw):
        raise NotebookError(f"{name}: not a notebook (JSON without a 'cells' list)")
    if _depth_exceeds(raw, MAX_DEPTH):
        raise NotebookError(f"{name}: {_TOO_DEEP}")
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


def read_file_bytes(
    path: Path, label: str, *, max_bytes: int = 0, follow_symlinks: bool = True
) -> bytes:
    """The bytes of the regular file *path* (at most *max_bytes* if given), or a `NotebookError`
    naming *label*: a directory, FIFO, device, socket, unreadable or oversized file (and a
    symbolic link unless *follow_symlinks*) is refused without reading it; nothing here waits
    on a FIFO or reads a device."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        kind = _special_kind(path.stat(follow_symlinks=follow_symlinks).st_mode)
        if kind:
            raise NotebookError(f"{label}: not a notebook file (it is {kind}); {_SUBMIT_FILE}")
        fd = os.open(path, flags)
    except FileNotFoundError as error:
        raise NotebookError(f"{label}: file not found") from error
    except OSError as error:
        raise NotebookError(f"{label}: cannot be read ({error.strerror})") from error
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        kind = _special_kind(status.st_mode)
        if kind:
            raise NotebookError(f"{label}: not a notebook file (it is {kind}); {_SUBMIT_FILE}")
        if max_bytes and status.st_size > max_bytes:
            raise NotebookError(
                f"{label}: too large ({status.st_size / 1e6:.1f} MB, the limit is "
                f"{max_bytes / 1e6:g} MB: c.CourseDirectory.max_file_size)"
            )
        try:
            data = handle.read(max_bytes + 1) if max_bytes else handle.read()
        except OSError as error:
            raise NotebookError(f"{label}: cannot be read ({error.strerror})") from error
    if max_bytes and len(data) > max_bytes:
        raise NotebookError(f"{label}: too large (it grew past the limit while being read)")
    return data


def _special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words; empty for a regular file."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((words for test, words in kinds if test(mode)), "")


def _depth_exceeds(value: object, limit: int) -> bool:
    """Whether JSON *value* nests lists and objects more than *limit* deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def write_notebook(nb: NotebookNode, path: Path, *, validate: bool = True) -> None:
    """Write *nb* to *path* atomically, in nbformat's canonical JSON (see `notebook_text`)."""
    write_text_atomic(path, notebook_text(nb, validate=validate))


def notebook_text(nb: NotebookNode, *, validate: bool = True) -> str:
    """*nb* as nbformat's canonical JSON text, as `write_notebook` writes it.

    `validate=False` skips nbformat's schema check (it only logs), for notebooks this program
    built from validated ones: the grader writes hundreds.
    """
    if validate:
        text: str = nbformat.writes(nb, version=NBFORMAT_VERSION)
    else:
        text = nbformat.v4.writes(nb)
    return text + "\n"


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write *text* to *path* through a temporary file and a rename, readable as *mode* says
    (a temporary file is private to its owner; what we write is meant to be read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp_name).chmod(mode)
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def replace_folder(fresh: Path, target: Path) -> None:
    """Put the folder *fresh* in place of *target* (same file system), old contents removed.

    Readers see the old folder or the new one, never a mix, apart from the instant between
    the two renames. Writers replacing one target at once (two graders, a grader and the
    board) each succeed, the last one's folder staying: a target put back by another writer
    between the two renames is moved aside again.
    """
    while True:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        with contextlib.suppress(FileNotFoundError):
            target.rename(old)  # onto the empty folder just made for it
        try:
            fresh.rename(target)
            break
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
