"""The Check panel under an exercise: ipywidgets, with every learner-supplied string escaped.

The panel is the one place that says what happened to an exercise, so every state is written
in words (colour only repeats it), colours are JupyterLab's theme variables (right in light and
dark themes), icons are the Font Awesome set JupyterLab's widgets ship (never emoji, which many
machines cannot draw), and a failed test's code sits in a `<details>` disclosure, which the
keyboard opens like any button.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from extensions.check_tests import FAILED, NOT_ATTEMPTED, PASSED, CheckResult

__all__ = ["CheckPanelView", "ExerciseLookup", "ProgressView", "SubmissionStatus"]

_GREEN, _RED, _AMBER = "var(--jp-success-color1)", "var(--jp-error-color1)", "var(--jp-warn-color1)"
_GREY = "var(--jp-ui-font-color2)"
_ICONS = {
    PASSED: ("fa-check", _GREEN, "passed"),
    FAILED: ("fa-times", _RED, "failed"),
    NOT_ATTEMPTED: ("fa-circle-o", _GREY, "not attempted"),
}

ExerciseLookup = Callable[[str, str], tuple[str, str | None]]
"""(notebook, grade id) -> the exercise's title and the state of its last Check (None if
never checked), for the summary after Submit."""


class ProgressView:
    """The notebook's bar, exercises passed out of total, and Submit; one model shown under
    every panel. Without a personal copy there is no Submit button, only *how_to_submit*."""

    def __init__(self, total: int, lookup: ExerciseLookup, how_to_submit: str = "") -> None:
        import ipywidgets as widgets

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), bar_style="success")
        self.label = widgets.HTML()
        self.submit_button = widgets.Button(
            description="Submit", icon="upload", tooltip="save the notebook and hand it in"
        )
        if how_to_submit:
            self.submit_button.layout.display = "none"
        self.submit_status = widgets.HTML()
        self.note = widgets.HTML(_small(how_to_submit) if how_to_submit else "")
        self.box = widgets.VBox(
            [
                widgets.HBox([self.bar, self.label, self.submit_button]),
                self.submit_status,
                self.note,
            ]
        )
        self.total = total
        self.lookup = lookup
        self.update(0)

    def update(self, passed: int) -> None:
        self.bar.value = passed
        self.label.value = f"<b>{passed}</b> of {self.total} exercises passed"

    def show_submission(self, message: str, result: dict[str, Any] | None = None) -> None:
        """A status line about the last submission, then its graded result when known."""
        self.submit_status.value = _submission_html(message, result, self.lookup)


class SubmissionStatus:
    """The status line `submit()` shows in its cell, for learners who submit from the keyboard
    (the same text as under the panels, which may be far up the notebook)."""

    def __init__(self, lookup: ExerciseLookup) -> None:
        import ipywidgets as widgets

        self.box = widgets.HTML()
        self.lookup = lookup

    def show_submission(self, message: str, result: dict[str, Any] | None = None) -> None:
        self.box.value = _submission_html(message, result, self.lookup)


class CheckPanelView:
    """Header, Check and Hint buttons, the outcome of the last Check and the revealed hints."""

    def __init__(self, title: str, max_points: float, progress: ProgressView) -> None:
        import ipywidgets as widgets

        self.check_button = widgets.Button(
            description="Check",
            button_style="primary",
            icon="check",
            tooltip="run the tests",
            layout=widgets.Layout(width="auto", min_width="6em"),
        )
        self.hint_button = widgets.Button(
            description="Hint",
            icon="lightbulb-o",
            disabled=True,
            tooltip="no hint yet",
            layout=widgets.Layout(width="auto", min_width="6em"),
        )
        self.header = widgets.HTML(
            f"<b>{html.escape(title)}</b> "
            f"<span style='color:{_GREY};white-space:nowrap'>· {_points(max_points)}</span>",
            layout=widgets.Layout(flex="1 1 auto"),
        )
        self.outcome = widgets.HTML()
        self.hints = widgets.HTML()
        self.box = widgets.VBox(
            [
                widgets.HBox([self.header, self.check_button, self.hint_button]),
                self.outcome,
                self.hints,
                progress.box,
            ],
            layout=widgets.Layout(
                border="1px solid var(--jp-border-color2)", padding="6px", margin="4px 0"
            ),
        )
        self.box.add_class("workshop-check")

    def show_result(self, result: CheckResult, attempt: int) -> None:
        """The verdict in words with the points grading will give, then each test."""
        earned = f"{result.points:g} of {_points(result.max_points)}"
        if result.state == PASSED:
            verdict = _state(PASSED, f"Passed: {earned}")
        elif result.state == NOT_ATTEMPTED:
            verdict = _state(NOT_ATTEMPTED, f"Not attempted yet: {earned}")
        elif result.points > 0:
            verdict = _state(FAILED, f"Partly passed: {earned}")
        else:
            verdict = _state(FAILED, f"Not passed yet: {earned}")
        counted = f" <span style='color:{_GREY}'>(Check {attempt})</span>" if attempt else ""
        parts = [f"<div>{verdict}{counted}</div>"]
        if result.summary:
            parts.append(f"<div style='margin:2px 0'>{html.escape(result.summary)}</div>")
        else:
            parts += _test_rows(result)
        if result.stderr:
            parts.append(_small("stderr: " + result.stderr.strip()[-500:]))
        parts += [_small(note) for note in result.notes]
        self.outcome.value = "".join(parts)

    def show_hints(self, hints: list[str], available: int) -> None:
        self.hints.value = "".join(
            "<div style='margin:4px 0;padding:4px 6px;background:var(--jp-layout-color2);"
            f"border-left:3px solid var(--jp-brand-color1)'><b>Hint {n}.</b> "
            f"{_markdown_light(h)}</div>"
            for n, h in enumerate(hints, start=1)
        )
        left = available - len(hints)
        self.hint_button.disabled = left <= 0
        self.hint_button.description = f"Hint ({left})" if left > 0 else "Hint"
        self.hint_button.tooltip = (
            "show the next hint" if left > 0 else "a hint opens after each Check that fails"
        )


def _test_rows(result: CheckResult) -> list[str]:
    """Failed tests with their message first and their code behind a disclosure; passed and
    not-run tests in one line each."""
    rows: list[str] = []
    for test in result.tests:
        if test.status == FAILED:
            rows.append(
                "<li style='margin:2px 0'>"
                f"{_state(FAILED, 'Failed:')} <b>{html.escape(test.message)}</b>"
                "<details style='margin-left:1.2em'><summary style='cursor:pointer'>"
                "show the test</summary>"
                f"<pre style='margin:2px 0'>{html.escape(test.source)}</pre></details></li>"
            )
        elif test.status == PASSED:
            shown = test.condition or test.source
            rows.append(f"<li>{_state(PASSED, 'Passed:')} <code>{html.escape(shown)}</code></li>")
    not_run = sum(1 for t in result.tests if t.status not in (PASSED, FAILED))
    if not_run:
        rows.append(
            f"<li style='color:{_GREY}'>{not_run} more test{'s' * (not_run != 1)} not run "
            "(the tests stop at the first failure)</li>"
        )
    if not rows:
        return []
    return ["<ul style='margin:2px 0;list-style:none;padding-left:8px'>", *rows, "</ul>"]


def _submission_html(message: str, result: dict[str, Any] | None, lookup: ExerciseLookup) -> str:
    parts = [_small(message)]
    if result is not None and result.get("status") == "graded":
        parts += _graded_html(result, lookup)
    elif result is not None:
        parts.append(
            _coloured(html.escape(f"Not graded: {result.get('error', 'see the organiser')}"), _RED)
        )
    return "".join(parts)


def _graded_html(result: dict[str, Any], lookup: ExerciseLookup) -> list[str]:
    """The score coloured by the share earned, what is left for a person to grade, and one
    line per exercise (hidden tests are only ever said to have failed, never shown)."""
    exercises = result.get("exercises", [])
    score, max_score = float(result["score"]), float(result["max_score"])
    checked = sum(float(e["max_points"]) for e in exercises)
    share = score / checked if checked else 1.0
    colour = _GREEN if share >= 1 else _AMBER if share >= 0.5 else _RED
    later = max_score - checked
    line = f"<b>Score: {score:g} of {_points(max_score)}</b>"
    if later > 0:
        line += (
            f" <span style='color:{_GREY}'>({_points(later)} for written answers, graded "
            "later by a person)</span>"
        )
    rows = ["<ul style='margin:2px 0;list-style:none;padding-left:8px'>"]
    for e in exercises:
        title, local = lookup(str(e.get("notebook", "")), str(e["exercise"]))
        state, text = _verdict(e, local)
        earned = f"{float(e['points']):g} of {_points(float(e['max_points']))}"
        rows.append(
            f"<li>{_state(state, state.capitalize() + ':')} {html.escape(title)} "
            f"<span style='color:{_GREY}'>({earned})</span>"
            + (f" {html.escape(text)}" if text else "")
            + "</li>"
        )
    if later > 0:
        rows.append(f"<li style='color:{_GREY}'>Written answers: graded later</li>")
    rows.append("</ul>")
    return [f"<div style='color:{colour}'>{line}</div>", *rows]


def _verdict(exercise: dict[str, Any], local: str | None) -> tuple[str, str]:
    """(state, what to add) for one exercise of a graded submission. *local* is the state of
    the learner's last Check of it in this kernel, which tells a stub from a wrong answer when
    the board may not say why (hidden tests)."""
    if exercise["passed"]:
        return PASSED, ""
    message = str(exercise.get("message") or "")
    if "NotImplementedError" in message or local == NOT_ATTEMPTED:
        return NOT_ATTEMPTED, ""
    if exercise.get("hidden_tests"):
        if local == PASSED:
            return FAILED, "the visible tests pass, the hidden tests do not"
        return FAILED, "see its Check panel (some of its tests are hidden)"
    return FAILED, message


def _state(state: str, text: str) -> str:
    icon, colour, _ = _ICONS[state]
    return (
        f"<span style='color:{colour};font-weight:bold'>"
        f"<i class='fa {icon}' aria-hidden='true'></i> {text}</span>"
    )


def _points(points: float) -> str:
    return f"{points:g} point{'s' * (points != 1)}"


def _coloured(text: str, colour: str) -> str:
    return f"<span style='color:{colour}'>{text}</span>"


def _small(text: str) -> str:
    return f"<div style='color:{_GREY};font-size:90%'>{html.escape(text)}</div>"


def _markdown_light(text: str) -> str:
    """Hints are markdown; show `code`, **bold** and line breaks, everything else as text."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
    return escaped.replace("\n", "<br>")
