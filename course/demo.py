"""The demo: everything a presenter does before a session, on the bundled course.

For now it validates and releases every workshop of the course; later it grows into a full
simulated session (learners checking, submitting, grading).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from course.layout import workshop_names
from course.progress import Progress
from course.release import ReleaseResult, release_workshop
from course.settings import Settings
from course.validate import ValidationReport, validate_workshop

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    validations: tuple[ValidationReport, ...]
    releases: tuple[ReleaseResult, ...]

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.validations)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "validations": [v.to_json() for v in self.validations],
            "releases": [r.to_json() for r in self.releases],
        }


def run_demo(settings: Settings, progress: Progress) -> DemoResult:
    """Validate every workshop, then release those that are sound."""
    validations = tuple(
        validate_workshop(settings, ws, progress) for ws in workshop_names(settings)
    )
    releases = tuple(
        release_workshop(settings, report.workshop, {}) for report in validations if report.ok
    )
    return DemoResult(validations, releases)
