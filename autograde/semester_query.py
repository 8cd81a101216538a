"""Read the semester view's `GradebookSnapshot` from the course gradebook in a few queries.

A few queries over nbgrader's tables (workshops are its assignments, the roster its students,
scores those of its submitted assignments and grades, through nbgrader's own `score`
expressions) and the board's `workshop_event` table (one row per Check), which exists only
once `workshop serve` has run: without it nobody has attended or checked anything. The
gradebook keeps no cell order, so the source notebooks supply it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Engine,
    String,
    case,
    column,
    create_engine,
    exists,
    func,
    inspect,
    select,
    table,
)

from autograde.semester import (
    CheckTally,
    ExerciseCell,
    GradebookSnapshot,
    LearnerRecord,
    SemesterView,
    SubmissionRecord,
    WorkshopRecord,
    compute_semester,
)
from course.cells import grade_id
from course.errors import NotebookError
from course.gradebook import prepare_database
from course.notebook_io import read_notebook
from course.settings import Settings

__all__ = ["load_semester", "read_semester", "read_snapshot"]

_EVENTS = table(
    "workshop_event",
    column("learner", String),
    column("workshop", String),
    column("notebook", String),
    column("exercise", String),
    column("passed", Boolean),
    column("time", DateTime),
)
"""The columns of the board's event table read here (`extensions.board.schema` owns it)."""


def load_semester(settings: Settings) -> SemesterView:
    """The semester view of the course in *settings* (its gradebook is created if missing)."""
    prepare_database(settings)
    engine = create_engine(settings.db_url)
    try:
        return read_semester(engine, settings.course_id, settings.source_dir)
    finally:
        engine.dispose()


def read_semester(engine: Engine, course_id: str, source_dir: Path) -> SemesterView:
    """Read the gradebook behind *engine* and compute the view.

    *source_dir* supplies the order of cells within a notebook (the gradebook keeps none).
    """
    return compute_semester(course_id, read_snapshot(engine, source_dir))


def read_snapshot(engine: Engine, source_dir: Path) -> GradebookSnapshot:
    """Everything `compute_semester` needs, read on one connection."""
    from nbgrader.api import Assignment, Student

    with engine.connect() as connection:
        workshops = tuple(
            WorkshopRecord(name, duedate, float(max_score or 0.0))
            for name, duedate, max_score in connection.execute(
                select(Assignment.name, Assignment.duedate, Assignment.max_score)
            )
        )
        learners = tuple(
            LearnerRecord(*row)
            for row in connection.execute(
                select(Student.id, Student.first_name, Student.last_name).order_by(Student.id)
            )
        )
        exercises = _read_exercises(connection)
        submissions = _read_submissions(connection)
        cell_scores = _read_cell_scores(connection, {e.cell_id for e in exercises})
        checks = _read_checks(connection)
    return GradebookSnapshot(
        workshops,
        learners,
        tuple(_in_source_order(exercises, source_dir)),
        submissions,
        cell_scores,
        tuple(checks),
    )


def _read_exercises(connection: Connection) -> list[ExerciseCell]:
    """Autograded test cells: code grade cells without a solution twin (nbgrader records a
    graded solution as a GradeCell and a SolutionCell of one name)."""
    from nbgrader.api import Assignment, BaseCell, GradeCell, Notebook, SolutionCell

    base, grade = BaseCell.__table__, GradeCell.__table__
    notebook, assignment = Notebook.__table__, Assignment.__table__
    twin = base.alias("solution_base")
    is_solution = exists().where(
        SolutionCell.__table__.c.id == twin.c.id,
        twin.c.notebook_id == base.c.notebook_id,
        twin.c.name == base.c.name,
    )
    rows = connection.execute(
        select(base.c.id, assignment.c.name, notebook.c.name, base.c.name, grade.c.max_score)
        .select_from(
            grade.join(base, base.c.id == grade.c.id)
            .join(notebook, notebook.c.id == base.c.notebook_id)
            .join(assignment, assignment.c.id == notebook.c.assignment_id)
        )
        .where(grade.c.cell_type == "code", ~is_solution)
    )
    return [ExerciseCell(cell, ws, nb, name, float(points)) for cell, ws, nb, name, points in rows]


def _read_submissions(connection: Connection) -> dict[tuple[str, str], SubmissionRecord]:
    """(workshop, learner) -> nbgrader's own score, late penalty and timestamp."""
    from nbgrader.api import Assignment, SubmittedAssignment

    rows = connection.execute(
        select(
            Assignment.name,
            SubmittedAssignment.student_id,
            SubmittedAssignment.score,
            SubmittedAssignment.late_submission_penalty,
            SubmittedAssignment.timestamp,
        ).join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
    )
    return {
        (ws, learner): SubmissionRecord(float(score), float(penalty or 0.0), timestamp)
        for ws, learner, score, penalty, timestamp in rows
    }


def _read_cell_scores(
    connection: Connection, cell_ids: set[str]
) -> dict[tuple[str, str], dict[str, float]]:
    """(workshop, learner) -> cell id -> nbgrader's `Grade.score` of each exercise cell."""
    from nbgrader.api import Assignment, Grade, SubmittedAssignment, SubmittedNotebook

    grade, submitted = Grade.__table__, SubmittedNotebook.__table__
    record, assignment = SubmittedAssignment.__table__, Assignment.__table__
    rows = connection.execute(
        select(assignment.c.name, record.c.student_id, grade.c.cell_id, Grade.score).select_from(
            grade.join(submitted, submitted.c.id == grade.c.notebook_id)
            .join(record, record.c.id == submitted.c.assignment_id)
            .join(assignment, assignment.c.id == record.c.assignment_id)
        )
    )
    scores: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for ws, learner, cell_id, score in rows:
        if cell_id in cell_ids:
            scores[ws, learner][cell_id] = float(score)
    return scores


def _read_checks(connection: Connection) -> list[CheckTally]:
    """Checks per learner and exercise; none before the board has created its table."""
    if not inspect(connection).has_table(_EVENTS.name):
        return []
    e = _EVENTS.c
    rows = connection.execute(
        select(
            e.learner,
            e.workshop,
            e.notebook,
            e.exercise,
            func.count(),
            func.max(case((e.passed, 1), else_=0)),
            func.min(e.time),
        ).group_by(e.learner, e.workshop, e.notebook, e.exercise)
    )
    return [
        CheckTally(learner, workshop, notebook, exercise, int(presses), bool(passed), first)
        for learner, workshop, notebook, exercise, presses, passed, first in rows
    ]


def _in_source_order(exercises: list[ExerciseCell], source_dir: Path) -> list[ExerciseCell]:
    """Workshops and notebooks by name, cells as in the source notebook (unknown ones last)."""
    positions: dict[tuple[str, str], dict[str, int]] = {}
    for key in {(e.workshop, e.notebook) for e in exercises}:
        path = source_dir / key[0] / f"{key[1]}.ipynb"
        try:
            cells = read_notebook(path).cells if path.is_file() else []
        except NotebookError:
            cells = []
        ids = [grade_id(cell) for cell in cells]
        positions[key] = {name: i for i, name in reversed(list(enumerate(ids))) if name}

    def order(e: ExerciseCell) -> tuple[str, str, int, str]:
        found = positions[e.workshop, e.notebook]
        return e.workshop, e.notebook, found.get(e.exercise, len(found)), e.exercise

    return sorted(exercises, key=order)
