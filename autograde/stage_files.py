"""Stage the files a graded notebook runs beside: the learner's own, then the course's.

As `nbgrader autograde` does, the learner's submitted files come first (a helper module their
answer imports, a data file they made) and the assignment's files from `source/` are copied
over them, filtered by the course's `c.CourseDirectory.ignore`, `include` and `max_file_size`
with nbgrader's own filter. Unlike nbgrader, a learner's file never takes the place of a module
of the standard library or of one installed here (a `numpy.py`, a `pandas/` package): tests
would import it instead of the real one. Such files are left out and flagged, and so are links
and anything else that is not a plain file or folder (nothing is followed or opened).
"""

from __future__ import annotations

import importlib.machinery
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from autograde.findings import Finding
from autograde.submissions import TIMESTAMP_FILE
from course.settings import Settings

__all__ = ["shadowed_module", "stage_files"]

MODULE_SUFFIXES = (".py", ".pyc", ".so")
NEVER_COPIED = ("*.ipynb", ".*")

Ignore = Callable[[str, list[str]], set[str]]


def stage_files(settings: Settings, submitted: Path, source: Path, workdir: Path) -> list[Finding]:
    """Fill *workdir* from the submission in the folder *submitted* and the assignment's
    *source* folder; return what was left out, as findings of the whole submission."""
    from nbgrader.utils import ignore_patterns

    findings: list[Finding] = []
    if submitted.is_dir():
        shutil.copytree(
            submitted,
            workdir,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=_learner_filter(settings, submitted, findings),
        )
    if source.is_dir():
        course_ignore = ignore_patterns(exclude=[*settings.ignore, *NEVER_COPIED])
        shutil.copytree(source, workdir, dirs_exist_ok=True, ignore=course_ignore)
    return findings


def shadowed_module(path: Path) -> str | None:
    """The module that the top-level file or folder *path* of a submission would stand in for
    (one of the standard library or installed here), if any."""
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            return None  # a namespace folder never wins over a real package
        stem = path.name
    elif path.name.endswith(MODULE_SUFFIXES):
        stem = path.name.split(".", 1)[0]
    else:
        return None
    if not stem.isidentifier():
        return None
    if stem in sys.stdlib_module_names or stem in sys.builtin_module_names:
        return stem
    here = Path.cwd().resolve()
    paths = [p for p in sys.path if p and Path(p).resolve() != here]
    return stem if importlib.machinery.PathFinder.find_spec(stem, paths) is not None else None


def _learner_filter(settings: Settings, root: Path, findings: list[Finding]) -> Ignore:
    """nbgrader's ignore/include/size filter, then no links, devices or shadowing modules."""
    from nbgrader.utils import ignore_patterns

    nbgrader_filter = ignore_patterns(
        exclude=[*settings.ignore, *NEVER_COPIED, TIMESTAMP_FILE],
        include=list(settings.include),
        max_file_size=settings.max_file_size_kb,
    )

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(nbgrader_filter(directory, names))
        for name in sorted(set(names) - ignored):
            path = Path(directory, name)
            label = path.relative_to(root)
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                ignored.add(name)
                findings.append(Finding("unsafe-file", f"{label} is not a plain file; left out"))
                continue
            shadowed = shadowed_module(path) if Path(directory) == root else None
            if shadowed is not None:
                ignored.add(name)
                findings.append(
                    Finding(
                        "shadowing-module",
                        f"{label} would replace the module '{shadowed}'; left out",
                    )
                )
        return ignored

    return ignore
