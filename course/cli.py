"""The `workshop` command: parse, load settings, call one library function, render.

Exit codes: 0 success, 1 a problem the user can fix (one line each), 2 bad usage.
Heavy modules (nbformat, nbgrader, papermill) are imported inside the commands so that
`workshop --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    # jsonschema builds an IRI grammar when it is imported (2-3 s) if rfc3987_syntax is
    # installed; no command validates IRIs, so opt out before nbgrader pulls jsonschema in.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from course.errors import WorkshopError

    try:
        code: int = args.handler(args)
    except WorkshopError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.traceback:
            raise
        print(
            f"internal error: {type(error).__name__}: {error} "
            "(run again with --traceback and report it)",
            file=sys.stderr,
        )
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="workshop", description="Author, validate and release hands-on Jupyter workshops."
    )
    parser.add_argument(
        "--version", action="version", version=f"nbworkshop {version('nbworkshop')}"
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show tracebacks of internal errors"
    )
    course = argparse.ArgumentParser(add_help=False)
    course.add_argument(
        "--course",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="course directory holding nbgrader_config.py (default: current directory)",
    )
    students = argparse.ArgumentParser(add_help=False)
    students.add_argument(
        "--student",
        action="append",
        default=[],
        metavar="ID",
        help="only this learner (repeatable)",
    )
    commands = parser.add_subparsers(metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        parents=[course],
        help="prove workshops are sound: solution earns full marks, stub earns none",
        description="Check metadata, run the solution and the learner stub for every parameter "
        "set, and look for leaked solutions. Exit 1 on any problem.",
    )
    validate.add_argument("workshops", nargs="*", metavar="WS", help="workshops (default: all)")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument(
        "--changed-since",
        metavar="REF",
        help="only workshops whose source differs from git revision REF (a pull request's base)",
    )
    validate.set_defaults(handler=_validate)

    release = commands.add_parser(
        "release",
        parents=[course],
        help="write the learner version to release/WS",
        description="Generate the learner version with nbgrader, papermill parameters first.",
    )
    release.add_argument("workshop", metavar="WS")
    release.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="set a parameter of the 'parameters' cell (repeatable; VALUE is a Python literal, "
        "strings quoted: -p 'title=\"Week 3\"')",
    )
    release.add_argument(
        "--check", action="store_true", help="exit 1 if release/WS is not what release would write"
    )
    release.add_argument(
        "--force", action="store_true", help="release even if learners have already submitted"
    )
    release.add_argument(
        "--board",
        type=_board_url,
        metavar="URL",
        help="address of the session board (workshop serve) each Check reports to",
    )
    release.set_defaults(handler=_release)

    new = commands.add_parser(
        "new",
        parents=[course],
        help="start a workshop from a template that validates and releases as it is",
        description="Write source/WS/WS.ipynb: a title with learning goals, a parameters cell "
        "with two parameter sets, one exercise with a visible test, a hidden test and a hint, "
        "and one reflection. See docs/authoring.md.",
    )
    new.add_argument("workshop", metavar="WS", help="folder name: lower case, digits, - and _")
    new.add_argument("--title", help="the notebook's title (default: from WS)")
    new.set_defaults(handler=_new)

    roster = commands.add_parser("roster", help="manage the learners of the course")
    roster_commands = roster.add_subparsers(metavar="ACTION")
    roster_import = roster_commands.add_parser(
        "import",
        parents=[course],
        help="add or update learners from a CSV file",
        description="CSV header: id,first_name,last_name,email (only id is required). "
        "Nothing is written if any line is bad.",
    )
    roster_import.add_argument("file", type=Path, metavar="FILE.csv")
    roster_import.set_defaults(handler=_roster_import)
    roster_list = roster_commands.add_parser("list", parents=[course], help="list the learners")
    roster_list.add_argument("--json", action="store_true", help="print the roster as JSON")
    roster_list.set_defaults(handler=_roster_list)
    roster_tokens = roster_commands.add_parser(
        "tokens",
        parents=[course, students],
        help="issue session-board tokens (printed once, stored hashed)",
        description="Print `learner,token` CSV for roster learners without a token (all of "
        "them with --rotate, which replaces old tokens), or an organiser token with "
        "--organiser NAME. Tokens cannot be shown again: keep the output.",
    )
    roster_tokens.add_argument(
        "--rotate", action="store_true", help="replace existing tokens (old ones stop working)"
    )
    roster_tokens.add_argument(
        "--organiser", metavar="NAME", help="issue an organiser token for NAME instead"
    )
    roster_tokens.add_argument(
        "--out", type=Path, metavar="FILE.csv", help="write the CSV here (readable by you only)"
    )
    roster_tokens.set_defaults(handler=_roster_tokens)
    roster.set_defaults(handler=lambda _: _usage(roster))

    serve = commands.add_parser(
        "serve",
        parents=[course],
        help="run the live session board (events API, board and join pages)",
        description="Serve the session board of the course until Ctrl-C or SIGTERM.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
    )
    serve.add_argument(
        "--port", type=int, default=8765, metavar="P", help="port (default 8765; 0: any free)"
    )
    serve.set_defaults(handler=_serve)

    grade = commands.add_parser(
        "grade",
        parents=[course, students],
        help="autograde submissions, sandboxed and in parallel (drop-in for nbgrader autograde)",
        description="Grade the submitted notebooks of ASSIGNMENT into nbgrader's gradebook and "
        "autograded folder. Unchanged, already graded submissions are skipped unless --force. "
        "Exit 1 if any submission could not be graded.",
    )
    grade.add_argument(
        "assignments",
        nargs="+",
        metavar="ASSIGNMENT",
        help="one or more assignments, graded one after the other with one warm sandbox",
    )
    grade.add_argument(
        "--workers",
        type=_positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="notebooks graded at once on this machine (default: number of CPUs)",
    )
    grade.add_argument(
        "--cluster",
        default="",
        metavar="tcp://HOST:PORT",
        help="run the notebooks on the Dask cluster of this scheduler instead, its worker "
        "threads deciding how many at once (default: c.Workshop.dask_scheduler, else this "
        "machine)",
    )
    grade.add_argument(
        "--timeout-s",
        type=float,
        default=None,
        metavar="S",
        help="wall-clock limit per cell (default: c.Workshop.cell_timeout_s)",
    )
    grade.add_argument(
        "--figures",
        choices=("png", "text"),
        default=None,
        help="keep figures as PNG like nbgrader, or as text only, much faster on figure-heavy "
        "notebooks (default: c.Workshop.figures, else png)",
    )
    grade.add_argument("--force", action="store_true", help="re-grade unchanged submissions too")
    grade.add_argument(
        "--report", type=Path, metavar="FILE.json", help="also write the results as JSON"
    )
    grade.set_defaults(handler=_grade)

    feedback = commands.add_parser(
        "feedback",
        parents=[course, students],
        help="write per-learner HTML feedback (scores and messages, no hidden tests)",
        description="Write feedback/<learner>/ASSIGNMENT/<notebook>.html for graded learners.",
    )
    feedback.add_argument("assignment", metavar="ASSIGNMENT")
    feedback.set_defaults(handler=_feedback)

    join = commands.add_parser(
        "join",
        help="get your personal copy of a workshop from the session board",
        description="Download the workshop behind JOIN_URL (the board's join page address) "
        "with your token, into DIR/WS, ready for Check. The token comes from --token, else "
        "the WORKSHOP_TOKEN variable, else a prompt.",
    )
    join.add_argument("url", metavar="JOIN_URL", help="e.g. http://host:8765/workshop/join/WS")
    join.add_argument("--token", help="your personal token (from the organiser)")
    join.add_argument(
        "--into", type=Path, default=Path(), metavar="DIR", help="where to put it (default: .)"
    )
    join.set_defaults(handler=_join)

    progress = commands.add_parser(
        "progress",
        parents=[course],
        help="the semester view: attendance, completion, scores, exercise difficulty",
        description="Summarise every workshop, learner and exercise of the course from the "
        "gradebook and the board's Check events. --format csv prints one row per learner and "
        "workshop for spreadsheets.",
    )
    progress.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default: table)",
    )
    progress.add_argument(
        "--plots", type=Path, metavar="DIR", help="also write scores.png and attendance.png here"
    )
    progress.set_defaults(handler=_semester_progress)

    demo = commands.add_parser(
        "demo", parents=[course], help="validate and release every workshop of the course"
    )
    demo.set_defaults(handler=_demo)
    return parser


def _board_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a board address; give the URL `workshop serve` printed, "
            "e.g. http://host:8765"
        )
    return text.rstrip("/")


def _parameter(text: str) -> tuple[str, object]:
    from course.errors import ParameterError
    from course.parameterise import parse_assignment

    try:
        return parse_assignment(text)
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Any:
    from course.settings import load_settings

    return load_settings(args.course)


def _new(args: argparse.Namespace) -> int:
    from course.scaffold import scaffold_workshop

    settings = _settings(args)
    path = scaffold_workshop(settings, args.workshop, args.title)
    print(f"created {settings.relative(path)}")
    print(f"next: open it in JupyterLab, then `workshop validate {args.workshop}` and")
    print(f"      `workshop release {args.workshop}` (docs/authoring.md walks through it)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from course.layout import changed_workshops, workshop_names
    from course.validate import validate_workshop

    settings = _settings(args)
    names = args.workshops or workshop_names(settings)
    if args.changed_since is not None:
        changed = set(changed_workshops(settings, args.changed_since))
        names = [name for name in names if name in changed]
        if not names:
            print(f"no workshop changed since {args.changed_since}: nothing to validate")
            return 0
    with _progress(enabled=not args.json) as progress:
        reports = [validate_workshop(settings, name, progress) for name in names]
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        _print_validation(reports)
    return 0 if all(r.ok for r in reports) else 1


def _release(args: argparse.Namespace) -> int:
    from course.errors import UsageError
    from course.release import check_release, release_workshop

    settings = _settings(args)
    parameters = dict(args.parameter)
    if args.check:
        if args.parameter or args.board:
            raise UsageError(
                "--check compares release/WS with a plain release; a session's release "
                "(-p, --board) lives in var/ and is never checked"
            )
        stale = check_release(settings, args.workshop)
        for problem in stale:
            print(f"error: {problem}", file=sys.stderr)
        if not stale:
            print(f"release/{args.workshop} is current")
        return 1 if stale else 0
    result = release_workshop(
        settings, args.workshop, parameters, force=args.force, board=args.board
    )
    state = "released" if result.changed else "unchanged"
    print(f"{state}: {settings.relative(result.path)} ({', '.join(result.notebooks)})")
    return 0


def _roster_import(args: argparse.Namespace) -> int:
    from course.roster import import_roster

    result = import_roster(_settings(args), args.file)
    print(f"roster: {len(result.added)} added, {len(result.updated)} updated")
    return 0


def _roster_list(args: argparse.Namespace) -> int:
    from course.roster import list_roster

    learners = list_roster(_settings(args))
    if args.json:
        print(json.dumps([learner.to_json() for learner in learners], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "first name", "last name", "email", title=f"{len(learners)} learners")
    for learner in learners:
        table.add_row(learner.id, learner.first_name, learner.last_name, learner.email)
    Console().print(table)
    return 0


def _roster_tokens(args: argparse.Namespace) -> int:
    import csv
    import io

    from course.notebook_io import write_text_atomic
    from extensions.board.tokens import issue_learner_tokens, issue_organiser_token

    settings = _settings(args)
    if args.organiser is not None:
        result = issue_organiser_token(settings, args.organiser, rotate=args.rotate)
        header = ("organiser", "token")
    else:
        result = issue_learner_tokens(settings, args.student, rotate=args.rotate)
        header = ("learner", "token")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows((t.subject, t.token) for t in result.issued)
    if args.out is not None:
        write_text_atomic(args.out, text.getvalue(), mode=0o600)
    else:
        print(text.getvalue(), end="")
    summary = f"tokens: {len(result.issued)} issued"
    if result.kept:
        summary += f", {len(result.kept)} kept (they have one already; --rotate replaces them)"
    if args.out is not None:
        summary += f" -> {args.out}"
    print(summary, file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import signal

    from extensions.board.standalone import open_board_server

    board = open_board_server(args.course, args.host, args.port)
    for number in (signal.SIGINT, signal.SIGTERM):
        board.loop.add_signal_handler(number, board.stop)

    def announce() -> None:
        print(f"board server: {board.url}/ (Ctrl-C stops it)")
        for workshop in board.workshops:
            page, join = board.page_urls(workshop)
            print(f"  {workshop}: board {page}  join {join}")
        if not board.workshops:
            print("  no workshop released yet: run `workshop release WS`")
        sys.stdout.flush()

    board.serve(on_ready=announce)
    print("board server stopped")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from autograde.executor import ClusterUnreachable, open_executor
    from course.settings import grading_engine

    engine = grading_engine(args.course)
    executor = open_executor(
        preload=engine.preload_modules,
        figures=args.figures or engine.figures,
        workers=args.workers,
        scheduler=args.cluster or engine.dask_scheduler,
    )
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(executor)
        except ClusterUnreachable as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        from autograde.grade import grade_assignment, merged_report, require_assignments
        from course.notebook_io import write_text_atomic

        settings = _settings(args)
        assignments = list(dict.fromkeys(args.assignments))
        require_assignments(settings, assignments)
        with _progress(enabled=True) as progress:
            reports = [
                grade_assignment(
                    settings,
                    assignment,
                    students=args.student,
                    workers=args.workers,
                    cell_timeout_s=args.timeout_s,
                    force=args.force,
                    progress=progress,
                    sandbox=sandbox,
                )
                for assignment in assignments
            ]
    merged = merged_report(reports)
    if args.report is not None:
        write_text_atomic(args.report, json.dumps(merged, indent=2) + "\n")
    for report in reports:
        _print_grading(report)
    return 0 if merged["ok"] else 1


def _print_grading(report: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table("learner", "status", "score", "problems", title=f"grading {report.assignment}")
    for result in report.results:
        problems = "; ".join(str(f) for f in result.findings)
        score = "" if result.status == "skipped" else f"{result.score:g}/{result.max_score:g}"
        table.add_row(escape(result.student), result.status, score, escape(problems))
    console.print(table)
    graded = [r for r in report.results if r.status != "skipped"]
    counts = {
        s: sum(r.status == s for r in report.results) for s in ("graded", "skipped", "failed")
    }
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    if graded:
        scores = sorted(r.score for r in graded)
        mean = sum(scores) / len(scores)
        summary += f"; auto score mean {mean:.2f}, min {scores[0]:g}, max {scores[-1]:g}"
        buckets = [0, 0, 0, 0]
        for result in graded:
            share = result.score / result.max_score if result.max_score else 0.0
            buckets[min(int(share * 4), 3)] += 1
        labels = ("0-25%", "25-50%", "50-75%", "75-100%")
        summary += "\ndistribution: " + ", ".join(
            f"{label} {count}" for label, count in zip(labels, buckets, strict=True)
        )
    console.print(summary, highlight=False)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _feedback(args: argparse.Namespace) -> int:
    from autograde.feedback import write_feedback

    settings = _settings(args)
    report = write_feedback(settings, args.assignment, args.student)
    folder = settings.relative(settings.feedback_dir)
    print(f"feedback: {len(report.written)} page(s) in {folder}/")
    for learner, reason in report.skipped:
        print(f"feedback: no page for {learner}: {reason}", file=sys.stderr)
    return 0


def _join(args: argparse.Namespace) -> int:
    from extensions.personal_copy import download_personal_copy, read_token

    token = read_token(args.token, os.environ, sys.stdin)
    folder = download_personal_copy(args.url, token, args.into)
    notebooks = ", ".join(sorted(p.name for p in folder.glob("*.ipynb")))
    print(f"joined: {folder} ({notebooks}); open it in JupyterLab and press Check")
    return 0


def _semester_progress(args: argparse.Namespace) -> int:
    from autograde.semester_query import load_semester
    from autograde.semester_report import semester_csv, semester_tables, write_plots

    view = load_semester(_settings(args))
    if args.format == "json":
        print(json.dumps(view.to_json(), indent=2))
    elif args.format == "csv":
        sys.stdout.write(semester_csv(view))
    else:
        from rich.console import Console

        Console().print(*semester_tables(view))
    if args.plots is not None:
        for path in write_plots(view, args.plots):
            print(f"plot: {path}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from course.demo import run_demo

    settings = _settings(args)
    with _progress(enabled=True) as progress:
        result = run_demo(settings, progress)
    _print_validation(list(result.validations))
    for release in result.releases:
        state = "released" if release.changed else "unchanged"
        print(f"{state}: {settings.relative(release.path)} ({len(release.notebooks)} notebooks)")
    return 0 if result.ok else 1


def _print_validation(reports: Sequence[Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table("workshop", "parameter set", "solution", "stub", title="validation (points)")
    for report in reports:
        pairs: dict[tuple[str, str], dict[str, Any]] = {}
        for run in report.runs:
            pairs.setdefault((run.notebook, run.parameter_set), {})[run.version] = run
        for (notebook, parameter_set), runs in pairs.items():
            solution, stub = runs["solution"], runs["stub"]
            stem = Path(notebook).stem
            where = report.workshop if stem == report.workshop else f"{report.workshop}/{stem}"
            table.add_row(
                escape(where),
                escape(parameter_set),
                f"{solution.points:g}/{solution.max_points:g}",
                f"{stub.points:g}/{stub.max_points:g}",
            )
    if table.row_count:
        console.print(table)
    for report in reports:
        for problem in report.problems:
            print(f"error: {problem}", file=sys.stderr)
        verdict = "sound" if report.ok else f"{len(report.problems)} problem(s)"
        if not report.runs and not report.ok:
            verdict += " found before running anything (fix them, then validate again)"
        console.print(f"{escape(report.workshop)}: {verdict}", highlight=False)


class _RichProgress:
    """`course.progress.Progress` drawn with rich on stderr."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task: Any = None

    def start(self, total: int, description: str) -> None:
        self.task = self.bar.add_task(description, total=total)

    def advance(self, description: str) -> None:
        self.bar.update(self.task, advance=1, description=description)


@contextmanager
def _progress(*, enabled: bool) -> Iterator[_RichProgress]:
    """A rich progress bar on stderr for the duration of a command (hidden when disabled)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
    with bar:
        yield _RichProgress(bar)
