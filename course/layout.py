"""Where a course keeps its workshops: one folder per workshop under `source/`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from course.errors import UnknownWorkshop, UsageError
from course.settings import CONFIG_FILE, Settings

__all__ = [
    "active_release",
    "changed_workshops",
    "has_submissions",
    "source_notebooks",
    "workshop_names",
]


def workshop_names(settings: Settings) -> list[str]:
    """The workshops of the course: folders of `source/` holding at least one notebook."""
    if not settings.source_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in settings.source_dir.iterdir()
        if folder.is_dir() and any(folder.glob("*.ipynb"))
    )


def changed_workshops(settings: Settings, ref: str) -> list[str]:
    """The workshops whose `source/` folder differs from git revision *ref* (committed, staged
    or not, or new), for a pull request's CI; all of them when the course config changed."""
    command = ["git", "-C", str(settings.root)]
    try:
        top = subprocess.run(
            [*command, "rev-parse", "--show-toplevel", "--verify", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[0]
        listed = subprocess.run(
            [*command, "diff", "--name-only", ref, "--"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        listed += subprocess.run(
            [*command, "ls-files", "--others", "--exclude-standard", "--full-name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise UsageError(
            f"--changed-since {ref}: not a git revision of the course at {settings.root} "
            f"({detail.strip().splitlines()[-1] if detail.strip() else 'git failed'})"
        ) from error
    paths = [(Path(top) / name).resolve() for name in listed]
    if (settings.root / CONFIG_FILE).resolve() in paths:
        return workshop_names(settings)
    changed = {
        path.relative_to(settings.source_dir).parts[0]
        for path in paths
        if path.is_relative_to(settings.source_dir) and path != settings.source_dir
    }
    return [name for name in workshop_names(settings) if name in changed]


def source_notebooks(settings: Settings, workshop: str) -> list[Path]:
    """The source notebooks of *workshop*, as nbgrader sees them (top level, sorted)."""
    folder = settings.source_dir / workshop
    notebooks = sorted(folder.glob("*.ipynb")) if _is_plain_name(workshop) else []
    if not notebooks:
        known = ", ".join(workshop_names(settings)) or "none"
        raise UnknownWorkshop(
            f"unknown workshop '{workshop}': no notebooks in "
            f"{settings.relative(folder)}/ (workshops in this course: {known})"
        )
    return notebooks


def active_release(settings: Settings, workshop: str) -> Path:
    """The release learners get now: the session's (`workshop release WS --board URL` or
    `-p`) while there is one, else the committed `release/<workshop>/`."""
    session = settings.session_release_dir / workshop
    if _is_plain_name(workshop) and session.is_dir():
        return session
    return settings.release_dir / workshop


def has_submissions(settings: Settings, workshop: str) -> bool:
    """Whether any learner has submitted *workshop* (a folder under the submitted directory)."""
    if not settings.submitted_dir.is_dir():
        return False
    return any((learner / workshop).is_dir() for learner in settings.submitted_dir.iterdir())


def _is_plain_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and not name.startswith(".")
