"""The semester view rendered: a CSV for spreadsheets, PNG plots, and tables for a terminal.

Kept apart from the computation (`autograde.semester`) so the view can be tested as data and
each rendering escapes what it shows: learner names and ids come from learners, so the CSV
defuses spreadsheet formulas and the tables print them as text, never as rich markup.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograde.semester import SemesterView

__all__ = [
    "CSV_COLUMNS",
    "PLOT_NAMES",
    "defuse_formula",
    "semester_csv",
    "semester_plot",
    "semester_tables",
    "write_plots",
]

CSV_COLUMNS = (
    "learner",
    "first_name",
    "last_name",
    "workshop",
    "attended",
    "checks",
    "exercises_passed_in_check",
    "submitted",
    "score",
    "max_score",
)
PLOT_NAMES = ("scores", "attendance")
"""`scores`: score distribution per workshop; `attendance`: learners present per workshop."""

_PRESENT = "\u2713"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLOT_LOCK = threading.Lock()
"""matplotlib is not thread-safe and the board renders plots on several reader threads."""


def defuse_formula(text: str) -> str:
    """*text* made inert for spreadsheets: a leading `'` when it would start a formula.

    Spreadsheets evaluate a cell starting with `=`, `+`, `-` or `@` (and some a tab or carriage
    return) as a formula, so a learner named `=HYPERLINK(...)` could run one on the organiser's
    machine (OWASP's "CSV injection").
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def semester_csv(view: SemesterView) -> str:
    """One row per learner and workshop (`CSV_COLUMNS`), header first, no index column.

    RFC 4180 (comma, `\\r\\n`, quotes as needed), to be written as UTF-8. Booleans are 1/0 so a
    spreadsheet can sum them; `score` is empty when the learner did not submit.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for learner in view.learners:
        who = (learner.id, learner.first_name, learner.last_name)
        names = [defuse_formula(text or "") for text in who]
        for entry in learner.workshops:
            writer.writerow(
                [
                    *names,
                    defuse_formula(entry.workshop),
                    int(entry.attended),
                    entry.checks,
                    entry.exercises_passed_in_check,
                    int(entry.submitted),
                    "" if entry.score is None else _number(entry.score),
                    _number(entry.max_score),
                ]
            )
    return out.getvalue()


def semester_plot(view: SemesterView, name: str) -> bytes:
    """The plot *name* (one of `PLOT_NAMES`) as PNG bytes; `ValueError` for another name.

    Drawn on a `Figure` of its own with the Agg canvas, so pyplot's global state and the
    process's matplotlib backend are left alone.
    """
    if name not in PLOT_NAMES:
        raise ValueError(f"unknown plot {name!r}; plots: {', '.join(PLOT_NAMES)}")
    with _PLOT_LOCK:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(max(6.0, 1.1 * len(view.workshops) + 2), 4), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if name == "scores":
            _draw_scores(axes, view)
        else:
            _draw_attendance(axes, view)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()


def write_plots(view: SemesterView, folder: Path) -> list[Path]:
    """Write every plot as `folder/<name>.png`, each replaced in one rename."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PLOT_NAMES:
        target = folder / f"{name}.png"
        temp = folder / f".{name}.png.partial"
        temp.write_bytes(semester_plot(view, name))
        temp.replace(target)
        written.append(target)
    return written


def semester_tables(view: SemesterView) -> list[Any]:
    """rich tables: workshops (attendance, completion, scores), exercises, learners.

    Every name is escaped (rich would read `[...]` in a learner's name as markup).
    """
    from rich.markup import escape

    workshops = _table(
        f"{escape(view.course_id)}: {len(view.workshops)} workshops, {len(view.learners)} learners",
        ["workshop", "held", "present", "submitted", "complete", "mean score"],
        [
            [
                escape(w.name),
                w.held_at.date().isoformat() if w.held_at else "-",
                f"{w.present}/{w.roster}",
                f"{w.submitted}/{w.roster}",
                _percent(w.completion),
                "-" if w.mean_score is None else f"{w.mean_score:.2f}/{w.max_score:g}",
            ]
            for w in view.workshops
        ],
    )
    exercise_rows: list[list[str]] = []
    for w in view.workshops:
        mine = [e for e in view.exercises if e.workshop == w.name]
        several = len({e.notebook for e in mine}) > 1
        if mine:
            exercise_rows.append([f"[bold]{escape(w.name)}[/bold]", "", "", "", "", ""])
        exercise_rows += [
            [
                "  " + escape(f"{e.notebook}: {e.exercise}" if several else e.exercise),
                f"{e.max_points:g}",
                str(e.submitted),
                _percent(e.difficulty),
                "-" if e.discrimination is None else f"{e.discrimination:+.2f}",
                str(e.passed_in_check),
            ]
            for e in mine
        ]
    exercises = _table(
        "exercises (difficulty: share with full points; discrimination: item-rest r; "
        "in Check: learners who passed it in Check)",
        [
            "workshop / exercise",
            "points",
            "graded",
            "difficulty",
            "discrimination",
            "in Check",
        ],
        exercise_rows,
    )
    learners = _table(
        f"learners (per workshop: {_PRESENT} present, Checks/exercises passed in Check, score)",
        ["learner", "name", *(escape(w.name) for w in view.workshops), "total"],
        [
            [
                escape(learner.id),
                escape(learner.name or ""),
                *(
                    f"{_PRESENT if e.attended else '-'} {e.checks}/{e.exercises_passed_in_check} "
                    + ("-" if e.score is None else f"{e.score:g}/{e.max_score:g}")
                    for e in learner.workshops
                ),
                f"{learner.score:g}",
            ]
            for learner in view.learners
        ],
        names=2,
    )
    return [workshops, exercises, learners]


def _table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], names: int = 1
) -> Any:
    """A rich table whose first *names* columns wrap and whose others keep values whole."""
    from rich.table import Column, Table

    columns = []
    for i, header in enumerate(headers):
        widest = max((len(row[i]) for row in rows), default=1)
        if i < names:
            columns.append(Column(header, overflow="fold", min_width=min(widest, 12)))
        else:
            columns.append(Column(header, justify="right", min_width=widest))
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    return table


def _draw_scores(axes: Any, view: SemesterView) -> None:
    names = [w.name for w in view.workshops]
    shares = [
        [100 * s / w.max_score for s in view.scores(w.name)] if w.max_score else []
        for w in view.workshops
    ]
    drawn = [(i, share) for i, share in enumerate(shares, start=1) if share]
    if drawn:
        axes.boxplot([share for _, share in drawn], positions=[i for i, _ in drawn], showmeans=True)
    _workshop_axis(axes, names)
    axes.set_ylim(-5, 105)
    axes.set_ylabel("score (% of the maximum)")
    axes.set_title("Score distribution per workshop (submitted learners)")


def _draw_attendance(axes: Any, view: SemesterView) -> None:
    names = [w.name for w in view.workshops]
    positions = list(range(1, len(names) + 1))
    axes.plot(positions, [w.present for w in view.workshops], marker="o", label="present")
    axes.plot(positions, [w.submitted for w in view.workshops], marker="s", label="submitted")
    axes.axhline(len(view.learners), linestyle="--", color="grey", label="roster")
    _workshop_axis(axes, names)
    from matplotlib.ticker import MaxNLocator

    axes.set_ylim(0, max(len(view.learners), 1) * 1.1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("learners")
    axes.set_title("Attendance over the semester")
    axes.legend(loc="best")


def _workshop_axis(axes: Any, names: Sequence[str]) -> None:
    axes.set_xlim(0.5, max(len(names), 1) + 0.5)
    axes.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
    axes.set_xlabel("workshop")


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _number(value: float) -> str:
    """A plain decimal a spreadsheet reads in any locale's import dialog (no exponent)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
