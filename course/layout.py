"""Where a course keeps its workshops: one folder per workshop under `source/`."""

from __future__ import annotations

from pathlib import Path

from course.errors import UnknownWorkshop
from course.settings import Settings

__all__ = ["has_submissions", "source_notebooks", "workshop_names"]


def workshop_names(settings: Settings) -> list[str]:
    """The workshops of the course: folders of `source/` holding at least one notebook."""
    if not settings.source_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in settings.source_dir.iterdir()
        if folder.is_dir() and any(folder.glob("*.ipynb"))
    )


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


def has_submissions(settings: Settings, workshop: str) -> bool:
    """Whether any learner has submitted *workshop* (a folder under the submitted directory)."""
    if not settings.submitted_dir.is_dir():
        return False
    return any((learner / workshop).is_dir() for learner in settings.submitted_dir.iterdir())


def _is_plain_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and not name.startswith(".")
