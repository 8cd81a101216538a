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

from course.add_checks import add_check_cells, checks_document, recorded_board
from course.check_cells import check_notebook
from course.errors import NotebookError, ProblemsFound, ReleaseRefused, WorkshopError
from course.gradebook import prepare_database, submission_count
from course.layout import has_submissions, source_notebooks
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
    """Write `release/<workshop>/` and record the workshop in the gradebook.

    Releasing the same source twice changes nothing. A release that would change what learners
    have already submitted against is refused unless *force*. With *board*, each Check sends
    an event to that session board.
    """
    preflight(settings, workshop, parameters)
    target = settings.release_dir / workshop
    settings.release_dir.mkdir(parents=True, exist_ok=True)
    with _staging(settings.release_dir) as staging:
        candidate = generate_learner_version(
            settings, workshop, parameters, staging / "check", database=False, board=board
        )
        changed = _tree(candidate) != _tree(target)
        if changed and target.exists() and not force:
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


def check_release(
    settings: Settings, workshop: str, parameters: Mapping[str, object] | None = None
) -> tuple[Problem, ...]:
    """Files of `release/<workshop>/` that differ from a fresh release (none when current).

    Without *parameters*, the ones recorded in the existing release (by papermill) are used;
    the board address is always the recorded one.
    """
    target = settings.release_dir / workshop
    if parameters is None:
        parameters = _recorded_parameters(target)
    preflight(settings, workshop, parameters)
    board = recorded_board(target)
    with tempfile.TemporaryDirectory(prefix="workshop-release-check-") as temp:
        fresh = _tree(
            generate_learner_version(
                settings, workshop, parameters, Path(temp), database=False, board=board
            )
        )
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


def _recorded_parameters(target: Path) -> dict[str, object]:
    """The parameters papermill recorded in an existing release; unreadable files are skipped
    (they are reported as stale by the comparison)."""
    for path in sorted(target.glob("*.ipynb")):
        try:
            nb = read_notebook(path)
        except NotebookError:
            continue
        recorded = nb.metadata.get("papermill", {}).get("parameters", {})
        if recorded:
            return dict(recorded)
    return {}


@contextmanager
def _staging(release_dir: Path) -> Iterator[Path]:
    """A scratch folder beside `release/`, on the same file system so renames are atomic."""
    folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=release_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
