"""The Check panel under an exercise: ipywidgets, with every learner-supplied string escaped."""

from __future__ import annotations

import html
import re
from typing import Any

from extensions.check_tests import FAILED, PASSED, CheckResult

__all__ = ["CheckPanelView", "ProgressView", "SubmissionStatus"]

_GREEN, _RED, _GREY = "#1a7f37", "#cf222e", "#6e7781"
_ICONS = {PASSED: ("✔", _GREEN), FAILED: ("✘", _RED)}


class ProgressView:
    """The notebook's bar, exercises passed out of total; one model shown under every panel."""

    def __init__(self, total: int) -> None:
        import ipywidgets as widgets

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), bar_style="success")
        self.label = widgets.HTML()
        self.submit_button = widgets.Button(
            description="Submit", icon="upload", tooltip="save the notebook and hand it in"
        )
        self.submit_status = widgets.HTML()
        self.box = widgets.VBox(
            [widgets.HBox([self.bar, self.label, self.submit_button]), self.submit_status]
        )
        self.total = total
        self.update(0)

    def update(self, passed: int) -> None:
        self.bar.value = passed
        self.label.value = f"<b>{passed}</b> of {self.total} exercises passed"

    def show_submission(self, message: str, result: dict[str, Any] | None = None) -> None:
        """A status line about the last submission, then its graded result when known."""
        self.submit_status.value = _submission_html(message, result)


class SubmissionStatus:
    """The status line `submit()` shows in its cell, for learners who submit from the keyboard
    (the same text as under the panels, which may be far up the notebook)."""

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.box = widgets.HTML()

    def show_submission(self, message: str, result: dict[str, Any] | None = None) -> None:
        self.box.value = _submission_html(message, result)


class CheckPanelView:
    """Header, Check and Hint buttons, the outcome of the last Check and the revealed hints."""

    def __init__(self, title: str, max_points: float, progress: ProgressView, note: str) -> None:
        import ipywidgets as widgets

        self.check_button = widgets.Button(
            description="Check", button_style="primary", icon="check", tooltip="run the tests"
        )
        self.hint_button = widgets.Button(description="Hint", icon="lightbulb-o", disabled=True)
        self.header = widgets.HTML(
            f"<b>{html.escape(title)}</b> "
            f"<span style='color:{_GREY}'>· {max_points:g} point{'s' * (max_points != 1)}</span>"
        )
        self.outcome = widgets.HTML()
        self.hints = widgets.HTML()
        self.note = widgets.HTML(_small(note) if note else "")
        self.box = widgets.VBox(
            [
                widgets.HBox([self.header, self.check_button, self.hint_button]),
                self.outcome,
                self.hints,
                progress.box,
                self.note,
            ],
            layout=widgets.Layout(border="1px solid #d0d7de", padding="6px", margin="4px 0"),
        )

    def show_result(self, result: CheckResult, attempt: int) -> None:
        rows = [_test_row(t.status, t.source, t.message) for t in result.tests]
        if result.passed:
            verdict = _coloured(f"✔ Passed: {result.points:g}/{result.max_points:g}", _GREEN)
        elif result.points > 0:
            verdict = _coloured(f"◐ Partly: {result.points:g}/{result.max_points:g}", _RED)
        else:
            verdict = _coloured(f"✘ Not yet: 0/{result.max_points:g}", _RED)
        parts = [f"{verdict} <span style='color:{_GREY}'>(attempt {attempt})</span>"]
        if rows:
            parts.append("<ul style='margin:2px 0;list-style:none;padding-left:8px'>")
            parts += rows
            parts.append("</ul>")
        if result.stderr:
            parts.append(_small("stderr: " + result.stderr.strip()[-500:]))
        parts += [_small(note) for note in result.notes]
        self.outcome.value = "".join(parts)

    def show_hints(self, hints: list[str], available: int) -> None:
        self.hints.value = "".join(
            f"<div style='margin:2px 0'>💡 <b>Hint {n}.</b> {_markdown_light(h)}</div>"
            for n, h in enumerate(hints, start=1)
        )
        left = available - len(hints)
        self.hint_button.disabled = left <= 0
        self.hint_button.description = f"Hint ({left})" if left > 0 else "Hint"

    def show_error(self, message: str) -> None:
        self.outcome.value = _coloured(html.escape(message), _RED)


def _submission_html(message: str, result: dict[str, Any] | None) -> str:
    parts = [_small(message)]
    if result is not None and result.get("status") == "graded":
        parts.append(
            _coloured(f"Score: {result['score']:g}/{result['max_score']:g}", _GREEN)
            + " <span style='color:#6e7781'>(manually graded answers come later)</span>"
        )
        rows = [
            _test_row(
                "passed" if e["passed"] else "failed",
                e["exercise"],
                e.get("message")
                or ("hidden tests failed" if e.get("hidden_tests") and not e["passed"] else ""),
            )
            for e in result.get("exercises", [])
        ]
        parts.append("<ul style='margin:2px 0;list-style:none;padding-left:8px'>")
        parts += rows
        parts.append("</ul>")
    elif result is not None:
        parts.append(
            _coloured(html.escape(f"Not graded: {result.get('error', 'see the organiser')}"), _RED)
        )
    return "".join(parts)


def _test_row(status: str, source: str, message: str) -> str:
    icon, colour = _ICONS.get(status, ("○", _GREY))
    text = f"<code>{html.escape(source)}</code>"
    if message:
        text += f" <span>{html.escape(message)}</span>"
    return f"<li>{_coloured(icon, colour)} {text}</li>"


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
