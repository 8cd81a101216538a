"""A problem found in a course file, reported as one line: where, what, what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """One finding; *where* is a cell (`cell 3`, `grade id 'q1'`) or a line (`line 4`)."""

    path: str
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.path}: {self.where}" if self.where else self.path
        return f"{location}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return asdict(self)
