"""The organisers' semester view: every workshop, learner and exercise of the course at once.

A weekly series is judged across weeks, not one assignment at a time: who keeps coming, who
submits, which exercises are too hard or do not tell strong learners from weak ones. This
module is the view and its arithmetic, pure over a `GradebookSnapshot`;
`autograde.semester_query` reads the snapshot from the gradebook, `autograde.semester_report`
renders the view.

Definitions (the docs' "Semester view" section repeats them for organisers):

- A learner **attended** a workshop when they pressed Check on any of its exercises (at any
  time: Checks report to the board only from a release made for a session). **checks** counts
  those Checks; **exercises passed in Check** counts the workshop's exercises with at least
  one passing Check.
- A learner **submitted** a workshop when the gradebook holds a submission (it is recorded when
  the submission is graded). Their **score** is what `nbgrader export` reports: nbgrader's
  `score` of the submission (per cell the manual score if set, else the auto score, plus extra
  credit) minus the late penalty, never below 0.
- Per workshop, **completion** is submitted learners out of the roster and **mean score** the
  mean over those who submitted; `max_score` is the most a submission can earn.
- An **exercise** is an autograded test cell (an nbgrader code grade cell that is not a
  solution cell), as on the board. Over the learners who submitted its workshop: **difficulty**
  is the share earning its full points (classical item difficulty: higher is easier), and
  **discrimination** the corrected item-total correlation: Pearson's r between the fraction of
  the cell's points each learner earned and their score on the rest of the workshop (raw score
  minus this cell's). It is the point-biserial correlation when the cell is all-or-nothing.
  None when fewer than `MIN_LEARNERS_FOR_DISCRIMINATION` learners submitted or either side
  does not vary.
- Workshops are ordered by when they were **held**: the earliest of their first Check, first
  submission and due date (the gradebook keeps no other order); never-held ones last, by name.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = [
    "FULL_MARKS_TOLERANCE",
    "MIN_LEARNERS_FOR_DISCRIMINATION",
    "AttendancePoint",
    "CheckTally",
    "ExerciseCell",
    "ExerciseStats",
    "GradebookSnapshot",
    "LearnerRecord",
    "LearnerRow",
    "LearnerWorkshop",
    "SemesterView",
    "SubmissionRecord",
    "WorkshopRecord",
    "WorkshopSummary",
    "compute_semester",
    "item_rest_correlation",
]

MIN_LEARNERS_FOR_DISCRIMINATION = 3
FULL_MARKS_TOLERANCE = 1e-6
"""A cell score this close to its maximum counts as full points (scores are floats)."""


class WorkshopRecord(NamedTuple):
    """An nbgrader assignment."""

    name: str
    duedate: datetime | None
    max_score: float


class LearnerRecord(NamedTuple):
    """An nbgrader student (the roster)."""

    id: str
    first_name: str | None
    last_name: str | None


class ExerciseCell(NamedTuple):
    """An autograded test cell; `cell_id` is nbgrader's id of its grade cell."""

    cell_id: str
    workshop: str
    notebook: str
    exercise: str
    max_points: float


class SubmissionRecord(NamedTuple):
    """nbgrader's `score` of a submitted assignment, its late penalty and timestamp."""

    raw_score: float
    penalty: float
    timestamp: datetime | None

    @property
    def score(self) -> float:
        """What `nbgrader export` reports: the raw score minus the penalty, never below 0."""
        return max(0.0, self.raw_score - self.penalty)


class CheckTally(NamedTuple):
    """A learner's Checks of one exercise."""

    learner: str
    workshop: str
    notebook: str
    exercise: str
    presses: int
    passed: bool
    first: datetime


@dataclass(frozen=True)
class GradebookSnapshot:
    """Everything the view is computed from, read together."""

    workshops: tuple[WorkshopRecord, ...]
    learners: tuple[LearnerRecord, ...]
    exercises: tuple[ExerciseCell, ...]
    """Each workshop's exercises in notebook order (notebooks by name, cells as in the source)."""
    submissions: Mapping[tuple[str, str], SubmissionRecord]
    """(workshop, learner) -> submission."""
    cell_scores: Mapping[tuple[str, str], Mapping[str, float]]
    """(workshop, learner) -> cell id -> nbgrader's `Grade.score` (manual, else auto, + extra)."""
    checks: tuple[CheckTally, ...]


@dataclass(frozen=True)
class WorkshopSummary:
    name: str
    held_at: datetime | None
    """Naive UTC; see the module docstring."""
    duedate: datetime | None
    roster: int
    present: int
    submitted: int
    mean_score: float | None
    max_score: float
    exercises: int

    @property
    def completion(self) -> float | None:
        """Submitted learners out of the roster (None for an empty roster)."""
        return self.submitted / self.roster if self.roster else None

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "held_at": _iso(self.held_at),
            "duedate": _iso(self.duedate),
            "completion": self.completion,
        }


@dataclass(frozen=True)
class LearnerWorkshop:
    """One learner in one workshop: the unit of the CSV export."""

    workshop: str
    attended: bool
    checks: int
    exercises_passed_in_check: int
    submitted: bool
    score: float | None
    """None when not submitted (absent is not the same as 0)."""
    max_score: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LearnerRow:
    """A roster learner across the semester, one entry per workshop in semester order."""

    id: str
    first_name: str | None
    last_name: str | None
    workshops: tuple[LearnerWorkshop, ...]

    @property
    def name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None

    @property
    def score(self) -> float:
        return sum(w.score or 0.0 for w in self.workshops)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "attended": sum(w.attended for w in self.workshops),
            "submitted": sum(w.submitted for w in self.workshops),
            "score": self.score,
            "max_score": sum(w.max_score for w in self.workshops),
            "workshops": [w.to_json() for w in self.workshops],
        }


@dataclass(frozen=True)
class ExerciseStats:
    workshop: str
    notebook: str
    exercise: str
    max_points: float
    submitted: int
    """Learners with a grade for this cell (those who submitted its workshop)."""
    full_marks: int
    discrimination: float | None
    passed_in_check: int
    """Roster learners with a passing Check of this exercise."""

    @property
    def difficulty(self) -> float | None:
        """Share of submitting learners with full points (None when nobody submitted)."""
        return self.full_marks / self.submitted if self.submitted else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "difficulty": self.difficulty}


@dataclass(frozen=True)
class AttendancePoint:
    workshop: str
    held_at: datetime | None
    present: int
    roster: int

    @property
    def rate(self) -> float | None:
        return self.present / self.roster if self.roster else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "held_at": _iso(self.held_at), "rate": self.rate}


@dataclass(frozen=True)
class SemesterView:
    course_id: str
    workshops: tuple[WorkshopSummary, ...]
    """In semester order; every other list follows it."""
    learners: tuple[LearnerRow, ...]
    """The roster, by id."""
    exercises: tuple[ExerciseStats, ...]
    """Per workshop, notebooks by name and cells in source order."""

    @property
    def attendance(self) -> tuple[AttendancePoint, ...]:
        return tuple(
            AttendancePoint(w.name, w.held_at, w.present, w.roster) for w in self.workshops
        )

    def scores(self, workshop: str) -> list[float]:
        """The scores of the learners who submitted *workshop*."""
        return [
            entry.score
            for learner in self.learners
            for entry in learner.workshops
            if entry.workshop == workshop and entry.score is not None
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "course": self.course_id,
            "roster": len(self.learners),
            "workshops": [w.to_json() for w in self.workshops],
            "attendance": [a.to_json() for a in self.attendance],
            "exercises": [e.to_json() for e in self.exercises],
            "learners": [learner.to_json() for learner in self.learners],
            "rules": {
                "min_learners_for_discrimination": MIN_LEARNERS_FOR_DISCRIMINATION,
                "full_marks_tolerance": FULL_MARKS_TOLERANCE,
            },
        }


def item_rest_correlation(item: Iterable[float], rest: Iterable[float]) -> float | None:
    """Pearson's r between an item's scores and the rest scores of the same learners.

    None when it is undefined or too noisy to show: fewer than
    `MIN_LEARNERS_FOR_DISCRIMINATION` learners, or a side with no variance (everyone earned
    the same on the cell, or on the rest).
    """
    xs, ys = list(item), list(rest)
    if len(xs) != len(ys):
        raise ValueError("item and rest scores must be of the same learners")
    if len(xs) < MIN_LEARNERS_FOR_DISCRIMINATION:
        return None
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return None


def compute_semester(course_id: str, snapshot: GradebookSnapshot) -> SemesterView:
    """The semester view of *snapshot* (definitions in the module docstring)."""
    roster = {row.id: row for row in snapshot.learners}
    submissions, cell_scores = snapshot.submissions, snapshot.cell_scores
    by_workshop: dict[str, list[ExerciseCell]] = defaultdict(list)
    for exercise in snapshot.exercises:
        by_workshop[exercise.workshop].append(exercise)
    known = {(e.workshop, e.notebook, e.exercise) for e in snapshot.exercises}
    check_count: dict[tuple[str, str], int] = defaultdict(int)
    passed: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    first_check: dict[str, datetime] = {}
    for c in snapshot.checks:
        if c.learner not in roster:
            continue
        check_count[c.workshop, c.learner] += c.presses
        if c.passed and (c.workshop, c.notebook, c.exercise) in known:
            passed[c.workshop, c.learner].add((c.notebook, c.exercise))
        first_check[c.workshop] = min(first_check.get(c.workshop, c.first), c.first)

    summaries = []
    for name, duedate, max_score in snapshot.workshops:
        mine = [submissions[name, learner] for learner in roster if (name, learner) in submissions]
        times = [t for t in (first_check.get(name), duedate) if t is not None]
        times += [s.timestamp for s in mine if s.timestamp is not None]
        summaries.append(
            WorkshopSummary(
                name=name,
                held_at=min(times, default=None),
                duedate=duedate,
                roster=len(roster),
                present=sum(check_count.get((name, learner), 0) > 0 for learner in roster),
                submitted=len(mine),
                mean_score=statistics.fmean(s.score for s in mine) if mine else None,
                max_score=float(max_score or 0.0),
                exercises=len(by_workshop[name]),
            )
        )
    summaries.sort(key=lambda w: (w.held_at is None, w.held_at or datetime.min, w.name))

    learners = tuple(
        LearnerRow(
            id=learner,
            first_name=row.first_name,
            last_name=row.last_name,
            workshops=tuple(
                _learner_workshop(w, learner, submissions, check_count, passed) for w in summaries
            ),
        )
        for learner, row in roster.items()
    )
    stats = tuple(
        _exercise_stats(e, roster, submissions, cell_scores, passed)
        for w in summaries
        for e in by_workshop[w.name]
    )
    return SemesterView(course_id, tuple(summaries), learners, stats)


def _learner_workshop(
    workshop: WorkshopSummary,
    learner: str,
    submissions: Mapping[tuple[str, str], SubmissionRecord],
    check_count: Mapping[tuple[str, str], int],
    passed: Mapping[tuple[str, str], set[tuple[str, str]]],
) -> LearnerWorkshop:
    submission = submissions.get((workshop.name, learner))
    checks = check_count.get((workshop.name, learner), 0)
    return LearnerWorkshop(
        workshop=workshop.name,
        attended=checks > 0,
        checks=checks,
        exercises_passed_in_check=len(passed.get((workshop.name, learner), ())),
        submitted=submission is not None,
        score=None if submission is None else submission.score,
        max_score=workshop.max_score,
    )


def _exercise_stats(
    exercise: ExerciseCell,
    roster: Mapping[str, Any],
    submissions: Mapping[tuple[str, str], SubmissionRecord],
    cell_scores: Mapping[tuple[str, str], Mapping[str, float]],
    passed: Mapping[tuple[str, str], set[tuple[str, str]]],
) -> ExerciseStats:
    fractions: list[float] = []
    rest: list[float] = []
    full = 0
    for learner in roster:
        submission = submissions.get((exercise.workshop, learner))
        score = cell_scores.get((exercise.workshop, learner), {}).get(exercise.cell_id)
        if submission is None or score is None:
            continue
        full += score >= exercise.max_points - FULL_MARKS_TOLERANCE
        fractions.append(score / exercise.max_points if exercise.max_points else 1.0)
        rest.append(submission.raw_score - score)
    cell = (exercise.notebook, exercise.exercise)
    in_check = sum(cell in passed.get((exercise.workshop, learner), ()) for learner in roster)
    return ExerciseStats(
        workshop=exercise.workshop,
        notebook=exercise.notebook,
        exercise=exercise.exercise,
        max_points=exercise.max_points,
        submitted=len(fractions),
        full_marks=full,
        discrimination=item_rest_correlation(fractions, rest),
        passed_in_check=in_check,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat(timespec="seconds")
