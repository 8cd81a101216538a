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
DEFAULT_CELL_TIMEOUT_S = 30  # nbgrader's `Execute.timeout`
DEFAULT_NOTEBOOK_TIMEOUT_S = 300


class Workshop(Configurable):
    """nbworkshop's own settings, set as `c.Workshop.<name>` in `nbgrader_config.py`."""

    cell_timeout_s = Integer(
        DEFAULT_CELL_TIMEOUT_S,
        help="Seconds one cell may run during validation and grading before it is interrupted; "
        "when unset, nbgrader's `c.Execute.timeout` if the course sets it, else nbgrader's "
        "default (30).",
    ).tag(config=True)
    kernel_name = Unicode("python3", help="Jupyter kernel that runs the workshop notebooks.").tag(
        config=True
    )
    notebook_timeout_s = Integer(
        DEFAULT_NOTEBOOK_TIMEOUT_S,
        help="Seconds one notebook may run during grading before it is stopped; when unset, "
        "300 or 10 cell time limits, whichever is longer.",
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
    stored_output_mb = Integer(
        2,
        help="Largest autograded notebook kept for review and feedback, in MiB: larger "
        "outputs are cut, saying so, after scoring (scores never change).",
    ).tag(config=True)
    preload_modules = List(
        Unicode(),
        ["numpy", "matplotlib.pyplot"],
        help="Modules imported once by the grading template, before learner code runs.",
    ).tag(config=True)
    preload_source_imports = Bool(
        True,
        help="Also import, once in the grading template, the installed modules that the "
        "course's source notebooks import (pandas, scikit-learn, PIL...), so no graded notebook "
        "pays for those imports again.",
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
    interrupt_on_timeout: bool
    kernel_name: str
    notebook_timeout_s: int
    memory_mb: int
    max_processes: int
    file_size_mb: int
    output_mb: int
    stored_output_mb: int
    preload_modules: tuple[str, ...]
    figures: str
    hidden_paths: tuple[Path, ...]
    dask_scheduler: str
    ignore: tuple[str, ...]
    """`c.CourseDirectory.ignore`: globs of files never copied (nbgrader's default list)."""
    include: tuple[str, ...]
    """`c.CourseDirectory.include`: globs of the learners' files that are copied."""
    max_file_size_kb: int
    """`c.CourseDirectory.max_file_size`: learners' files larger than this are not copied, and
    a submitted notebook larger than this is not read."""
    stderr_fails: bool
    nbgrader_config: Config

    @property
    def max_file_bytes(self) -> int:
        """`max_file_size_kb` in bytes (nbgrader's kilobytes are 1024 bytes)."""
        return self.max_file_size_kb * 1024

    @property
    def session_release_dir(self) -> Path:
        """Releases made for a session (a board address, parameter overrides), beside
        `submitted/`: the committed `release/` stays what `workshop release WS` writes."""
        return self.submitted_dir.parent / "session-release"

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
    if not course_root.is_dir():
        raise ConfigError(
            f"{root / CONFIG_FILE}: c.CourseDirectory.root is {course_root}, which is not a "
            "folder; set it to the course directory (or remove it to use the config's folder)"
        )
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
        "stored_output_mb",
    ):
        if getattr(workshop, name) <= 0:
            raise ConfigError(f"{root / CONFIG_FILE}: Workshop.{name} must be positive")
    cell_timeout_s, notebook_timeout_s = _time_limits(root, config, workshop)
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
        cell_timeout_s=cell_timeout_s,
        interrupt_on_timeout=bool(config.Execute.get("interrupt_on_timeout", True)),
        kernel_name=workshop.kernel_name,
        notebook_timeout_s=notebook_timeout_s,
        memory_mb=workshop.memory_mb,
        max_processes=workshop.max_processes,
        file_size_mb=workshop.file_size_mb,
        output_mb=workshop.output_mb,
        stored_output_mb=workshop.stored_output_mb,
        preload_modules=_preload(workshop, course_root / course.source_directory),
        figures=workshop.figures,
        hidden_paths=tuple(course_root / p for p in workshop.hidden_paths),
        dask_scheduler=workshop.dask_scheduler,
        ignore=tuple(course.ignore),
        include=tuple(course.include),
        max_file_size_kb=int(course.max_file_size),
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
    config = _read_config(root)
    workshop = _workshop(root, config)
    folders = config.CourseDirectory
    sources = root / folders.get("root", root) / folders.get("source_directory", "source")
    return GradingEngine(_preload(workshop, sources), workshop.figures, workshop.dask_scheduler)


def _preload(workshop: Workshop, source_dir: Path) -> tuple[str, ...]:
    """`c.Workshop.preload_modules`, then what the sources import (`preload_source_imports`)."""
    configured = tuple(workshop.preload_modules)
    if not workshop.preload_source_imports:
        return configured
    from course.find_imports import source_imports

    return tuple(dict.fromkeys([*configured, *source_imports(source_dir)]))


def _time_limits(root: Path, config: Config, workshop: Workshop) -> tuple[int, int]:
    """Per-cell and per-notebook limits: ours where set, else nbgrader's `Execute.timeout`.

    An nbgrader course that allows 600 s a cell gets 600 s, one that allows 30 s gets 30 s;
    `Execute.timeout = None` (no limit in nbgrader) leaves only the notebook limit. The
    notebook limit, unless set, grows with the cell limit so it never cuts a cell short.
    """
    cell = workshop.cell_timeout_s
    if "cell_timeout_s" not in config.Workshop and "timeout" in config.Execute:
        timeout = config.Execute.timeout
        if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
            raise ConfigError(f"{root / CONFIG_FILE}: Execute.timeout must be a positive integer")
        cell = timeout if timeout is not None else 0
    notebook = workshop.notebook_timeout_s
    if "notebook_timeout_s" not in config.Workshop:
        notebook = max(DEFAULT_NOTEBOOK_TIMEOUT_S, 10 * cell)
    return cell or notebook, notebook


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
