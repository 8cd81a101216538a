"""Report the files a learner submitted beside the notebooks, which grading never uses.

Only the assignment's own files from `source/` are copied into a run, so a shipped `numpy.py`
cannot change a score; but the organiser should learn that someone tried. A top-level module
or package named like a standard or installed module is `shadowing-module` (it would replace
that module if it were importable); any other file the release does not have is `extra-file`.
The two stay apart because a learner's own helper modules are harmless (and may later become
importable). The walk never follows links and stops after `MAX_ENTRIES`, so a hostile folder
cannot slow the batch.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from autograde.findings import Finding

__all__ = ["MAX_ENTRIES", "inspect_files"]

MAX_ENTRIES = 2000
SHOWN = 10
IGNORED = frozenset({".ipynb_checkpoints", ".workshop", "__pycache__", ".virtual_documents"})
NOT_EXTRA = frozenset({"timestamp.txt"})
MODULE_SUFFIXES = tuple(importlib.machinery.all_suffixes())


def inspect_files(folder: Path, release: Path) -> list[Finding]:
    """Findings about *folder* (a submission) compared with *release* (the learner version)."""
    given = set(_walk(release)) if release.is_dir() else set()
    shadowing, extra = [], []
    entries = list(_walk(folder))
    for relative in entries:
        if relative in given or relative in NOT_EXTRA or relative.endswith(".ipynb"):
            continue
        module = _module_name(relative, folder)
        if module is not None and _is_known_module(module):
            shadowing.append(f"{relative} (shadows '{module}')")
        else:
            extra.append(relative)
    findings = []
    if shadowing:
        findings.append(Finding("shadowing-module", _listing(shadowing)))
    if extra:
        more = " (the folder was not read to the end)" if len(entries) >= MAX_ENTRIES else ""
        findings.append(Finding("extra-file", _listing(extra) + more))
    return findings


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


def _module_name(relative: str, folder: Path) -> str | None:
    """The top-level module *relative* would provide if its folder were on `sys.path`."""
    first, _, rest = relative.partition("/")
    if rest:
        package = folder / first
        return first if rest.startswith("__init__.") and package.is_dir() else None
    for suffix in sorted(MODULE_SUFFIXES, key=len, reverse=True):
        if first.endswith(suffix):
            name = first.removesuffix(suffix)
            return name if name.isidentifier() else None
    return None


def _is_known_module(name: str) -> bool:
    """A standard-library or installed top-level module (the working folder not counted)."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    here = Path.cwd().resolve()
    paths = [p for p in sys.path if p and Path(p).resolve() != here]
    return importlib.machinery.PathFinder.find_spec(name, paths) is not None


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")
