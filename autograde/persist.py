"""Write a graded submission: autograded files first, then all its grades in one transaction.

The gradebook is nbgrader's own schema, written the way `nbgrader autograde` writes it (auto
scores, "No response." comments, late penalties through nbgrader's plugin), so formgrader,
`nbgrader export` and `generate_feedback` work on top. One extra table, `workshop_graded`,
remembers which version of each submission was graded, in the same transaction as its grades:
a batch killed half-way re-grades exactly the submissions whose grades never committed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from autograde.submissions import TIMESTAMP_FILE, Submission
from course.errors import ConfigError
from course.gradebook import create_tables
from course.notebook_io import replace_folder, write_notebook
from course.score import score_cells
from course.settings import Settings

__all__ = ["graded_fingerprints", "save_grades", "write_autograded"]

_metadata = MetaData()
GRADED = Table(
    "workshop_graded",
    _metadata,
    Column("student", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("graded_at", DateTime, nullable=False),
)


def graded_fingerprints(gradebook: Any, assignment: str) -> dict[str, str]:
    """Student id -> fingerprint of the submission version whose grades are in the gradebook."""
    create_tables(gradebook.engine, _metadata)
    rows = gradebook.db.execute(
        select(GRADED.c.student, GRADED.c.fingerprint).where(GRADED.c.assignment == assignment)
    )
    return {student: fingerprint for student, fingerprint in rows}


def write_autograded(
    settings: Settings, submission: Submission, notebooks: Mapping[str, NotebookNode], files: Path
) -> Path:
    """Replace `autograded/<student>/<assignment>/` in one rename: notebooks, files, timestamp."""
    target = settings.autograded_dir / submission.student / submission.assignment
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".autograde-", dir=target.parent))
    try:
        if files.is_dir():
            shutil.copytree(files, staging, dirs_exist_ok=True, symlinks=True)
        for name, nb in notebooks.items():
            write_notebook(nb, staging / f"{name}.ipynb", validate=False)
        stamp = submission.folder / TIMESTAMP_FILE
        if stamp.is_file() and not stamp.is_symlink():
            shutil.copyfile(stamp, staging / TIMESTAMP_FILE)
        replace_folder(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def save_grades(
    gradebook: Any,
    settings: Settings,
    submission: Submission,
    notebooks: Mapping[str, NotebookNode],
    fingerprint: str,
    *,
    mark_graded: bool = True,
) -> None:
    """Record the auto grades of every notebook of *submission* in one commit.

    With `mark_graded=False` the submission is not marked as graded, so the next run tries again.

    Notebooks of the assignment absent from *notebooks* (not submitted, or unreadable) get 0
    on every graded cell, as nbgrader gives them. Manual scores are never touched; a cell with
    a manual score, or without an auto score, is flagged for manual grading.
    """
    session = gradebook.db
    try:
        record = _submission_row(gradebook, submission)
        for notebook_id, name in _submitted_notebooks(session, record.id):
            _update_notebook(session, notebook_id, notebooks.get(name), settings.stderr_fails)
        session.flush()
        _assign_late_penalties(settings, session, record)
        session.execute(
            delete(GRADED).where(
                GRADED.c.student == submission.student,
                GRADED.c.assignment == submission.assignment,
            )
        )
        if mark_graded:
            session.execute(
                insert(GRADED).values(
                    student=submission.student,
                    assignment=submission.assignment,
                    fingerprint=fingerprint,
                    graded_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _submitted_notebooks(session: Any, assignment_id: str) -> list[tuple[str, str]]:
    """(submitted notebook id, notebook name) of one submission, without nbgrader's computed
    columns (each ORM load of its rows runs several score subqueries)."""
    from nbgrader.api import Notebook, SubmittedNotebook

    submitted, notebook = SubmittedNotebook.__table__, Notebook.__table__
    rows = session.execute(
        select(submitted.c.id, notebook.c.name)
        .join(notebook, submitted.c.notebook_id == notebook.c.id)
        .where(submitted.c.assignment_id == assignment_id)
    )
    return [(row.id, row.name) for row in rows]


def _update_notebook(
    session: Any, notebook_id: str, executed: NotebookNode | None, stderr_fails: bool
) -> None:
    """Auto scores and "No response." comments of one submitted notebook, as nbgrader sets
    them. A notebook not submitted (None) gets 0 on every graded cell; manual scores are never
    touched, and a cell with one, or without an auto score, is flagged for manual grading."""
    from nbgrader.api import BaseCell, Comment, Grade
    from nbgrader.utils import compute_checksum, is_task

    grade, comment, cell = Grade.__table__, Comment.__table__, BaseCell.__table__
    rows = session.execute(
        select(grade.c.id, cell.c.name, grade.c.manual_score)
        .join(cell, grade.c.cell_id == cell.c.id)
        .where(grade.c.notebook_id == notebook_id)
    ).all()
    scores = (
        {}
        if executed is None
        else {s.grade_id: s.points for s in score_cells(executed, stderr_fails=stderr_fails)}
    )
    grades = []
    for row in rows:
        if executed is None:
            grades.append({"row": row.id, "auto": 0, "manual": False})
        elif row.name in scores:
            points = scores[row.name]
            needs = row.manual_score is not None or points is None
            grades.append({"row": row.id, "auto": points, "manual": needs})
    if grades:
        session.execute(
            update(grade)
            .where(grade.c.id == bindparam("row"))
            .values(auto_score=bindparam("auto"), needs_manual_grade=bindparam("manual")),
            grades,
        )
    if executed is None:
        return
    comment_ids = {
        row.name: row.id
        for row in session.execute(
            select(comment.c.id, cell.c.name)
            .join(cell, comment.c.cell_id == cell.c.id)
            .where(comment.c.notebook_id == notebook_id)
        )
    }
    comments = []
    for executed_cell in executed.cells:
        meta = executed_cell.metadata.get("nbgrader", {})
        comment_id = comment_ids.get(meta.get("grade_id"))
        if comment_id is not None:
            unchanged = meta.get("checksum") == compute_checksum(executed_cell)
            text = "No response." if unchanged and not is_task(executed_cell) else None
            comments.append({"row": comment_id, "text": text})
    if comments:
        session.execute(
            update(comment)
            .where(comment.c.id == bindparam("row"))
            .values(auto_comment=bindparam("text")),
            comments,
        )


def _submission_row(gradebook: Any, submission: Submission) -> Any:
    """The submission's row with its notebooks, grades and comments, created if new (uncommitted).

    Mirrors nbgrader's `Gradebook.add_submission`, which commits on its own.
    """
    from nbgrader.api import (
        Comment,
        Grade,
        MissingEntry,
        Student,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    session = gradebook.db
    _add_missing_student(session, submission.student)
    try:
        record = gradebook.find_submission(submission.assignment, submission.student)
    except MissingEntry:
        with session.no_autoflush:
            record = SubmittedAssignment(
                assignment=gradebook.find_assignment(submission.assignment),
                student=session.get(Student, submission.student),
            )
            for notebook in record.assignment.notebooks:
                submitted = SubmittedNotebook(notebook=notebook, assignment=record)
                for cell in notebook.grade_cells:
                    Grade(cell_id=cell.id, notebook=submitted)
                for cell in notebook.solution_cells:
                    Comment(cell_id=cell.id, notebook=submitted)
                for cell in notebook.task_cells:
                    Comment(cell_id=cell.id, notebook=submitted)
                    Grade(cell_id=cell.id, notebook=submitted)
            session.add(record)
    if submission.timestamp is not None:
        record.timestamp = submission.timestamp
    session.flush()
    return record


def _add_missing_student(session: Any, student: str) -> None:
    """Add *student* to the roster unless present, in one statement that leaves the row of
    another grader adding the same student at the same moment alone (a check-then-insert
    would fail on the primary key)."""
    from nbgrader.api import Student
    from sqlalchemy.dialects import postgresql, sqlite

    roster = Student.__table__
    name = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if name == "postgresql":
        statement = postgresql.insert(roster).values(id=student)
    elif name == "sqlite":
        statement = sqlite.insert(roster).values(id=student)
    else:
        raise ConfigError(
            f"c.CourseDirectory.db_url: {name} gradebooks are not supported; "
            "use SQLite or PostgreSQL"
        )
    session.execute(statement.on_conflict_do_nothing())


def _assign_late_penalties(settings: Settings, session: Any, record: Any) -> None:
    """nbgrader's `AssignLatePenalties`, with its configurable plugin, for every notebook."""
    from nbgrader.api import SubmittedNotebook
    from nbgrader.preprocessors import AssignLatePenalties

    seconds_late = record.total_seconds_late
    if seconds_late <= 0:
        submitted = SubmittedNotebook.__table__
        session.execute(
            update(submitted)
            .where(submitted.c.assignment_id == record.id)
            .values(late_submission_penalty=None)
        )
        return
    plugin = AssignLatePenalties(config=settings.config_copy())
    plugin.init_plugin()
    for notebook in record.notebooks:
        session.expire(notebook)  # its score is computed by SQL: read it after the updates
        notebook.late_submission_penalty = None
        penalty = plugin.plugin_inst.late_submission_penalty(
            record.student.id, notebook.score, seconds_late
        )
        if penalty is not None:
            notebook.late_submission_penalty = min(max(penalty, 0), notebook.score)
