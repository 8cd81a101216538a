"""Load a course's `nbgrader_config.py` into one frozen, typed settings object.

Traitlets stay here, at the edge: nbgrader's `CourseDirectory` supplies the folders and the
database URL (with nbgrader's own defaults), and the `Workshop` class below declares ours.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from traitlets import Bool, Enum, Integer, List, TraitError, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from course.errors import ConfigError, CourseNotFound

__all__ = [
    "CONFIG_FILE",
    "GradingEngine",
    "Markers",
    "Settings",
    "Workshop",
    "grading_engine",
    "load_settings",
]

CONFIG_FILE = "nbgrader_config.py"


class Workshop(Configurable):
    """nbworkshop's own settings, set as `c.Workshop.<name>` in `nbgrader_config.py`."""

    cell_timeout_s = Integer(
        60, help="Seconds one cell may run during validation before it is stopped."
    ).tag(config=True)
    kernel_name = Unicode("python3", help="Jupyter kernel that runs the workshop notebooks.").tag(
        config=True
    )
    notebook_timeout_s = Integer(
        300, help="Seconds one notebook may run during grading before it is stopped."
    ).tag(config=True)
    memory_mb = Integer(2048, help="Address-space limit of one graded notebook, in MiB.").tag(
        config=True
    )
    max_processes = Integer(
        64, help="Processes and threads one graded notebook may run at once."
    ).tag(config=True)
    file_size_mb = Integer(100, help="Largest file a graded notebook may write, in MiB.").tag(
        config=True
    )
    output_mb = Integer(10, help="Output one graded notebook may print, in MiB.").tag(config=True)
    preload_modules = List(
        Unicode(),
        ["numpy", "matplotlib.pyplot"],
        help="Modules imported once by the grading template, before learner code runs.",
    ).tag(config=True)
    hidden_paths = List(
        Unicode(),
        [],
        help="Extra folders graded code must not see (the course's private folders always are).",
    ).tag(config=True)
    figures = Enum(
        ["png", "text"],
        "png",
        help="How graded notebooks keep matplotlib figures: 'png' renders them as nbgrader's "
        "kernels do; 'text' keeps only their text form, which grades figure-heavy notebooks "
        "several times faster (scores are the same: tests still see every figure object).",
    ).tag(config=True)
    stderr_fails = Bool(
        False,
        help="Whether any stderr output in a test cell gives it 0 points, as in nbgrader. "
        "By default warnings and logging on stderr do not cost points (errors still do); "
        "True restores nbgrader's rule exactly.",
    ).tag(config=True)
    dask_scheduler = Unicode(
        "",
        help="Address (tcp://HOST:PORT) of an existing Dask scheduler whose workers run the "
        "graded notebooks; empty: this machine's sandbox.",
    ).tag(config=True)


@dataclass(frozen=True)
class Markers:
    """The region delimiters nbgrader strips when it makes the learner version."""

    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = "BEGIN HIDDEN TESTS"
    end_hidden: str = "END HIDDEN TESTS"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about one course, resolved to absolute paths."""

    root: Path
    course_id: str
    source_dir: Path
    release_dir: Path
    submitted_dir: Path
    autograded_dir: Path
    feedback_dir: Path
    db_url: str
    markers: Markers
    cell_timeout_s: int
    kernel_name: str
    notebook_timeout_s: int
    memory_mb: int
    max_processes: int
    file_size_mb: int
    output_mb: int
    preload_modules: tuple[str, ...]
    figures: str
    hidden_paths: tuple[Path, ...]
    dask_scheduler: str
    stderr_fails: bool
    nbgrader_config: Config

    @property
    def submission_history_dir(self) -> Path:
        """Every submission received by the board, never overwritten (beside `submitted/`)."""
        return self.submitted_dir.parent / "submission-history"

    def relative(self, path: Path) -> str:
        """Show *path* relative to the course root when it lies inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def config_copy(self) -> Config:
        """A private copy of the nbgrader config, for callers that adjust it."""
        return copy.deepcopy(self.nbgrader_config)


def load_settings(course_dir: Path) -> Settings:
    """Read `course_dir/nbgrader_config.py`; relative folders and SQLite paths resolve there."""
    root = course_dir.resolve()
    config = _read_config(root)

    from nbgrader.coursedir import CourseDirectory

    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(root)
    course = CourseDirectory(config=config)
    course_root = Path(course.root)
    db_url = _anchor_sqlite(course.db_url, course_root)
    config.CourseDirectory.db_url = db_url
    workshop = _workshop(root, config)
    for name in (
        "cell_timeout_s",
        "notebook_timeout_s",
        "memory_mb",
        "max_processes",
        "file_size_mb",
        "output_mb",
    ):
        if getattr(workshop, name) <= 0:
            raise ConfigError(f"{root / CONFIG_FILE}: Workshop.{name} must be positive")
    return Settings(
        root=course_root,
        course_id=course.course_id,
        source_dir=course_root / course.source_directory,
        release_dir=course_root / course.release_directory,
        submitted_dir=course_root / course.submitted_directory,
        autograded_dir=course_root / course.autograded_directory,
        feedback_dir=course_root / course.feedback_directory,
        db_url=db_url,
        markers=_markers(config),
        cell_timeout_s=workshop.cell_timeout_s,
        kernel_name=workshop.kernel_name,
        notebook_timeout_s=workshop.notebook_timeout_s,
        memory_mb=workshop.memory_mb,
        max_processes=workshop.max_processes,
        file_size_mb=workshop.file_size_mb,
        output_mb=workshop.output_mb,
        preload_modules=tuple(workshop.preload_modules),
        figures=workshop.figures,
        hidden_paths=tuple(course_root / p for p in workshop.hidden_paths),
        dask_scheduler=workshop.dask_scheduler,
        stderr_fails=workshop.stderr_fails,
        nbgrader_config=config,
    )


@dataclass(frozen=True)
class GradingEngine:
    """What the grading engine needs before anything else: where notebooks run, and how its
    warm template is made (what it imports, how it shows figures)."""

    preload_modules: tuple[str, ...]
    figures: str
    dask_scheduler: str


def grading_engine(course_dir: Path) -> GradingEngine:
    """`c.Workshop.preload_modules`, `figures` and `dask_scheduler`, read without importing
    nbgrader.

    Importing nbgrader takes seconds; reading these first lets the grading template start its
    own imports (or the cluster connection be made) meanwhile.
    """
    root = course_dir.resolve()
    workshop = _workshop(root, _read_config(root))
    return GradingEngine(tuple(workshop.preload_modules), workshop.figures, workshop.dask_scheduler)


def _workshop(root: Path, config: Config) -> Workshop:
    try:
        return Workshop(config=config)
    except TraitError as error:
        raise ConfigError(f"{root / CONFIG_FILE}: Workshop setting: {error}") from error


def _read_config(root: Path) -> Config:
    if not (root / CONFIG_FILE).is_file():
        raise CourseNotFound(
            f"{root}: no {CONFIG_FILE} here; run inside a course directory or pass --course DIR"
        )
    try:
        config: Config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    except Exception as error:
        raise ConfigError(f"{root / CONFIG_FILE}: cannot load: {error}") from error
    return config


def _anchor_sqlite(db_url: str, root: Path) -> str:
    """nbgrader resolves a relative SQLite path against the working directory; we use the root."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url.startswith(prefix + "/"):
        return db_url
    return prefix + str(root / db_url.removeprefix(prefix))


def _markers(config: Config) -> Markers:
    defaults = Markers()
    solutions = config.ClearSolutions
    hidden = config.ClearHiddenTests
    return Markers(
        begin_solution=solutions.get("begin_solution_delimeter", defaults.begin_solution),
        end_solution=solutions.get("end_solution_delimeter", defaults.end_solution),
        begin_hidden=hidden.get("begin_test_delimeter", defaults.begin_hidden),
        end_hidden=hidden.get("end_test_delimeter", defaults.end_hidden),
    )
