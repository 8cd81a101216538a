"""Report the files a learner submitted beside the notebooks that the release does not have.

They are copied into the run as nbgrader copies them (`autograde.stage_files`, which also leaves
out and flags any that would replace a standard or installed module), but the organiser should
learn of them: `extra-file`. The walk never follows links and stops after `MAX_ENTRIES`, so a
hostile folder cannot slow the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from autograde.findings import Finding
from autograde.stage_files import shadowed_module

__all__ = ["MAX_ENTRIES", "inspect_files"]

MAX_ENTRIES = 2000
SHOWN = 10
IGNORED = frozenset({".ipynb_checkpoints", ".workshop", "__pycache__", ".virtual_documents"})
NOT_EXTRA = frozenset({"timestamp.txt"})


def inspect_files(folder: Path, release: Path) -> list[Finding]:
    """Findings about *folder* (a submission) compared with *release* (the learner version)."""
    given = set(_walk(release)) if release.is_dir() else set()
    entries = list(_walk(folder))
    extra = [
        relative
        for relative in entries
        if relative not in given
        and relative not in NOT_EXTRA
        and not relative.endswith(".ipynb")
        and shadowed_module(folder / relative.partition("/")[0]) is None
    ]
    if not extra:
        return []
    more = " (the folder was not read to the end)" if len(entries) >= MAX_ENTRIES else ""
    return [Finding("extra-file", _listing(extra) + more)]


def _walk(root: Path) -> Iterator[str]:
    """Relative paths of the files (and links) under *root*, at most MAX_ENTRIES of them."""
    count = 0
    pending = [root]
    while pending and count < MAX_ENTRIES:
        folder = pending.pop()
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue
        for entry in children:
            if entry.name in IGNORED:
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
                continue
            count += 1
            yield Path(entry.path).relative_to(root).as_posix()
            if count >= MAX_ENTRIES:
                return


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")
