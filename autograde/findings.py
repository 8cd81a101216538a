"""What grading found wrong with a submission: a stable code and a sentence.

The codes are part of the interface (`workshop grade --report`), documented in
docs/grading.md; add new ones there too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = ["CODES", "NOTE_CODES", "Finding", "findings_from_notes"]

CODES = {
    "invalid-notebook": "the file is not a readable notebook",
    "missing-notebook": "a notebook of the assignment was not submitted",
    "unknown-notebook": "a submitted notebook is not part of the assignment (ignored)",
    "tampered-metadata": "nbgrader metadata of a cell differs from the release (restored)",
    "edited-test-cell": "an autograder test cell was edited (restored from the source)",
    "unknown-cell": "a cell claims a grade id the assignment does not have (ignored)",
    "duplicate-grade-id": "several cells share a grade id (as nbgrader, only the last counts)",
    "missing-cell": "a graded cell was deleted (added back and graded)",
    "prefilled-output": "a test cell arrived with outputs (cleared before running)",
    "timeout": "a cell or the whole notebook ran past its time limit",
    "memory-limit": "learner code ran out of its memory allowance",
    "cpu-limit": "learner code used up its CPU time",
    "output-limit": "learner code printed more than the output allowance",
    "exited": "learner code ended its own process",
    "killed": "the learner process was killed by a signal",
    "tampered-output": "the learner process reported a cell twice (results discarded)",
    "background-thread": "a learner thread could not be stopped before a test ran",
    "sandbox-crashed": "the grading sandbox itself failed on this notebook",
    "unsupported-kernel": "the notebook's kernel is not Python; not graded (use nbgrader)",
    "shadowing-module": "a submitted file would replace a standard or installed module (left out)",
    "unsafe-file": "a submitted link, device or other non-plain file (left out)",
    "changed-cell-type": "a graded or read-only cell was turned into another cell type (restored)",
    "edited-locked-cell": "a read-only cell was edited (restored from the source)",
    "deleted-locked-cell": "a read-only cell was deleted (not put back, as in nbgrader)",
    "extra-file": "files beside the notebooks that the release does not have (copied, as nbgrader)",
    "signalled-grader": "learner code sent a signal to the grader or to every process",
    "untrusted-value": "a test compared a value whose equality or truth cannot be trusted (failed)",
}

NOTE_CODES = frozenset({"signalled-grader", "untrusted-value"})


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    notebook: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undocumented finding code {self.code!r}")

    def __str__(self) -> str:
        where = f"{self.notebook}: " if self.notebook else ""
        return f"{where}{self.code}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def findings_from_notes(notes: Iterable[str], notebook: str) -> list[Finding]:
    """Findings from the notes a learner process attached to its cells (`"<code>: <detail>"`,
    one of NOTE_CODES), one per code, the details of repeats joined."""
    details: dict[str, list[str]] = {}
    for note in notes:
        code, _, detail = note.partition(": ")
        if code in NOTE_CODES and detail not in details.setdefault(code, []):
            details[code].append(detail)
    return [Finding(code, "; ".join(found[:5]), notebook) for code, found in details.items()]
