"""Make the learner version of a workshop: nbgrader's generate step, parameters injected first.

nbgrader's own `GenerateAssignment` pipeline does the work (solutions stubbed, hidden tests
removed, cells locked and recorded in the gradebook); nbworkshop only puts papermill's parameter
injection in front of it. Every release is generated into a staging folder and swapped into
`release/` in one rename, so a failure never leaves a half-written release.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course.add_checks import add_check_cells, checks_document
from course.check_cells import check_notebook
from course.errors import NotebookError, ProblemsFound, ReleaseRefused, WorkshopError
from course.gradebook import prepare_database, submission_count
from course.layout import active_release, has_submissions, source_notebooks
from course.notebook_io import read_notebook, replace_folder, write_notebook, write_text_atomic
from course.parameterise import require_declared
from course.problems import Problem
from course.settings import Settings
from course.workshop_files import CHECKS_FILE

__all__ = [
    "ReleaseResult",
    "check_release",
    "generate_learner_version",
    "preflight",
    "release_workshop",
]


@dataclass(frozen=True)
class ReleaseResult:
    workshop: str
    path: Path
    notebooks: tuple[str, ...]
    parameters: Mapping[str, object]
    changed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "workshop": self.workshop,
            "path": str(self.path),
            "notebooks": list(self.notebooks),
            "parameters": dict(self.parameters),
            "changed": self.changed,
        }


def preflight(settings: Settings, workshop: str, parameters: Mapping[str, object]) -> None:
    """Raise `ProblemsFound` with every static problem that would spoil a release."""
    problems: list[Problem] = []
    for path in source_notebooks(settings, workshop):
        label = settings.relative(path)
        nb = read_notebook(path, label)
        problems += check_notebook(nb, label, settings.markers)
        require_declared(parameters, nb, label)
    if problems:
        raise ProblemsFound(tuple(problems))


def release_workshop(
    settings: Settings,
    workshop: str,
    parameters: Mapping[str, object],
    *,
    force: bool = False,
    board: str | None = None,
) -> ReleaseResult:
    """Write the learner version and record the workshop in the gradebook.

    A plain release writes the committed `release/<workshop>/`; one for a session (with
    *board*, each Check sends an event to that board; or with *parameters*) writes
    `<session_release_dir>/<workshop>/` instead, which the board hands out, so a session never
    makes `release/` stale. Releasing the same source twice changes nothing. A release that
    would change the exercises learners already submitted against (cells, tests, points; not
    the board address or parameter values) is refused unless *force*.
    """
    preflight(settings, workshop, parameters)
    session = board is not None or bool(parameters)
    folder = settings.session_release_dir if session else settings.release_dir
    target = folder / workshop
    folder.mkdir(parents=True, exist_ok=True)
    with _staging(folder) as staging:
        candidate = generate_learner_version(
            settings, workshop, parameters, staging / "check", database=False, board=board
        )
        changed = _tree(candidate) != _tree(target)
        handed_out = active_release(settings, workshop)
        reworked = _exercises(candidate) != _exercises(handed_out)
        if changed and reworked and handed_out.exists() and not force:
            submitted = max(
                submission_count(settings, workshop), int(has_submissions(settings, workshop))
            )
            if submitted:
                raise ReleaseRefused(
                    f"{settings.relative(target)}: learners have already submitted this "
                    "workshop and this release would change it; pass --force to release anyway"
                )
        prepare_database(settings)
        recorded = generate_learner_version(
            settings, workshop, parameters, staging / "final", database=True, board=board
        )
        if changed:
            replace_folder(recorded, target)
    notebooks = tuple(p.name for p in source_notebooks(settings, workshop))
    return ReleaseResult(workshop, target, notebooks, dict(parameters), changed)


def check_release(settings: Settings, workshop: str) -> tuple[Problem, ...]:
    """Files of the committed `release/<workshop>/` that differ from a fresh plain release
    (none when current); session releases under `var/` never count."""
    target = settings.release_dir / workshop
    preflight(settings, workshop, {})
    with tempfile.TemporaryDirectory(prefix="workshop-release-check-") as temp:
        fresh = _tree(generate_learner_version(settings, workshop, {}, Path(temp), database=False))
    current = _tree(target)
    problems = []
    for name in sorted(set(fresh) | set(current)):
        if fresh.get(name) == current.get(name):
            continue
        state = "missing" if name not in current else "extra" if name not in fresh else "stale"
        problems.append(
            Problem(
                settings.relative(target / name),
                "",
                f"{state}: does not match the source; run `workshop release {workshop}` "
                "and commit release/",
            )
        )
    return tuple(problems)


def generate_learner_version(
    settings: Settings,
    workshop: str,
    parameters: Mapping[str, object],
    dest: Path,
    *,
    database: bool,
    board: str | None = None,
) -> Path:
    """Run nbgrader's GenerateAssignment for *workshop* into `dest/<workshop>`, add the Check
    cells (and the session *board*'s address, if any), and return the folder.

    With `database=False` nothing is recorded in the gradebook (nbgrader's `--no-db`).
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    config = settings.config_copy()
    pipeline = config.GenerateAssignment.get(
        "preprocessors", GenerateAssignment.class_traits()["preprocessors"].default()
    )
    config.GenerateAssignment.preprocessors = [_inject_parameters_class(), *pipeline]
    config.InjectParameters.parameters = dict(parameters)
    config.CourseDirectory.release_directory = str(dest)
    if not database:
        config.GenerateAssignment.no_database = True
        config.SaveCells.enabled = False
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = workshop
    log = _CapturedLog()
    converter = GenerateAssignment(coursedir=coursedir, config=config, log=log.logger)
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        raise WorkshopError(
            f"{settings.relative(settings.source_dir / workshop)}: nbgrader could not generate "
            f"the learner version: {log.first_error() or error}"
        ) from error
    _add_checks(dest / workshop, workshop, board, stderr_fails=settings.stderr_fails)
    return dest / workshop


def _add_checks(folder: Path, workshop: str, board: str | None, *, stderr_fails: bool) -> None:
    notebooks = {}
    for path in sorted(folder.glob("*.ipynb")):
        nb, notebooks[path.stem] = add_check_cells(read_notebook(path))
        write_notebook(nb, path)
    if notebooks:
        write_text_atomic(
            folder / CHECKS_FILE,
            checks_document(workshop, notebooks, board, stderr_fails=stderr_fails),
        )


def _inject_parameters_class() -> type:
    """nbconvert preprocessor running papermill's injection (class made here: lazy imports)."""
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool, Dict

    from course.parameterise import parameterise

    class InjectParameters(Preprocessor):
        """Inject `parameters` after the notebook's `parameters` cell (no-op when empty)."""

        enabled = Bool(True)
        parameters = Dict().tag(config=True)

        def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
            if self.parameters:
                nb = parameterise(nb, self.parameters)
            return nb, resources

    return InjectParameters


class _CapturedLog(logging.Handler):
    """Keep nbgrader's log records instead of printing them; errors become our message."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.Logger("nbworkshop.nbgrader")
        self.logger.addHandler(self)
        self.logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def first_error(self) -> str | None:
        for record in self.records:
            if record.levelno >= logging.ERROR:
                message = record.getMessage().strip()
                if message and "Traceback" not in message:
                    return message.splitlines()[-1]
        return None


def _tree(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


Exercises = list[tuple[str, list[tuple[str, str, Any]]]]


def _exercises(folder: Path) -> Exercises:
    """What learners work on in a release: every notebook's cells (type, source, nbgrader
    metadata), without the injected parameter values or the board address."""
    notebooks: Exercises = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = read_notebook(path)
        except NotebookError:
            notebooks.append((path.name, []))
            continue
        cells = [
            (c.cell_type, c.source, c.metadata.get("nbgrader"))
            for c in nb.cells
            if "injected-parameters" not in c.metadata.get("tags", [])
        ]
        notebooks.append((path.name, cells))
    return notebooks


@contextmanager
def _staging(release_dir: Path) -> Iterator[Path]:
    """A scratch folder beside `release/`, on the same file system so renames are atomic."""
    folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=release_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
