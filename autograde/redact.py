"""Find the text of a source notebook a learner never saw, and cut it out of what they will see.

The secrets of a notebook are the lines of its solution and hidden-test regions (a solution cell
without markers is all solution, as nbgrader's `ClearSolutions` treats it), its hint cells, and
the string literals written in those regions (a hidden assertion's message can surface without
its line, e.g. read from a code object's constants). A line that is also in the release is no
secret, nor is one without a letter or digit (`)`, `]`).

Redaction is the second line of defence behind a sandbox that keeps test code out of reach of
learner code (see `autograde.cell_runner`): whatever learner code prints, a secret the learner
did not write themselves is replaced by `[hidden]` in every output a learner is shown.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from course.cells import is_autograded_test, is_hint, is_solution, nbgrader_meta
from course.settings import Markers

__all__ = [
    "HIDDEN_TEXT",
    "Secrets",
    "find_secrets",
    "is_learners",
    "redact_notebook",
    "redact_outputs",
    "redact_text",
]

HIDDEN_TEXT = "[hidden]"
SUBSTRING_MIN_CHARS = 8
"""A secret this long is cut wherever it occurs; a shorter one only as a whole line, so that
`pass` never eats the word "passed" in an honest output."""

_STRING_LITERAL = re.compile(r"""(?P<quote>'''|\"\"\"|'|")(?P<text>.+?)(?P=quote)""")


@dataclass(frozen=True)
class Secrets:
    """Text of one source notebook that its release does not show."""

    fragments: frozenset[str]

    def unwritten(self, written: Iterable[str]) -> Secrets:
        """The secrets left once what a learner wrote themselves is set aside."""
        lines = {line.strip() for text in written for line in text.splitlines()}
        lines.discard("")
        joined = "\n".join(lines)
        return Secrets(
            frozenset(
                f
                for f in self.fragments
                if f not in lines and (len(f) < SUBSTRING_MIN_CHARS or f not in joined)
            )
        )


def find_secrets(source: NotebookNode, released: NotebookNode | None, markers: Markers) -> Secrets:
    """The secrets of *source*, less every line its learner version *released* shows."""
    shown = set()
    if released is not None:
        shown = {line.strip() for cell in released.cells for line in _lines(cell)}
    fragments: set[str] = set()
    for cell in source.cells:
        for line in _secret_lines(cell, markers):
            text = line.strip()
            if text and text not in shown and any(ch.isalnum() for ch in text):
                fragments.add(text)
                fragments.update(
                    m.group("text").strip()
                    for m in _STRING_LITERAL.finditer(text)
                    if len(m.group("text").strip()) >= SUBSTRING_MIN_CHARS
                )
    return Secrets(frozenset(f for f in fragments if f not in shown))


def is_learners(cell: NotebookNode) -> bool:
    """A cell the learner wrote: a solution cell, or one without nbgrader marks, judged by
    metadata restored from the gradebook (`autograde.prepare`), not by the submission's."""
    meta = nbgrader_meta(cell)
    return not meta or (bool(meta.get("solution")) and not meta.get("locked"))


def redact_notebook(nb: NotebookNode, secrets: Secrets) -> NotebookNode:
    """A copy of the graded *nb* whose outputs hold no secret its learner did not write.

    What a test cell's score is read from is left as it ran (its `execute_result`, and whether
    it has an error or stderr output), so a stored notebook scores as it was graded.
    """
    nb = copy.deepcopy(nb)
    mine = secrets.unwritten(c.source for c in nb.cells if is_learners(c))
    if not mine.fragments:
        return nb
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        test = is_autograded_test(cell)
        cell.outputs = [
            output if test and output.output_type == "execute_result" else redacted
            for output, redacted in zip(
                cell.outputs, redact_outputs(cell.outputs, mine), strict=True
            )
        ]
    return nb


def redact_text(text: str, secrets: Secrets) -> str:
    """*text* with every secret replaced by `[hidden]` (also in its `repr` and JSON forms)."""
    if not secrets.fragments or not text:
        return text
    for fragment in sorted(secrets.fragments, key=len, reverse=True):
        if len(fragment) >= SUBSTRING_MIN_CHARS:
            for form in _escaped_forms(fragment):
                text = text.replace(form, HIDDEN_TEXT)
    short = {f for f in secrets.fragments if len(f) < SUBSTRING_MIN_CHARS}
    if short:
        text = "".join(
            _indent(line) + HIDDEN_TEXT + ("\n" if line.endswith("\n") else "")
            if line.strip() in short
            else line
            for line in text.splitlines(keepends=True)
        )
    return text


def redact_outputs(outputs: Iterable[NotebookNode], secrets: Secrets) -> list[NotebookNode]:
    """Copies of *outputs* without secrets: texts redacted, structured data that holds one
    (JSON, widget state) dropped, images kept."""
    kept = []
    for output in outputs:
        output = copy.deepcopy(output)
        if "text" in output:
            output["text"] = redact_text(_joined(output["text"]), secrets)
        if "evalue" in output:
            output["evalue"] = redact_text(str(output["evalue"]), secrets)
        if "traceback" in output:
            output["traceback"] = [redact_text(str(t), secrets) for t in output["traceback"]]
        data = output.get("data")
        if isinstance(data, dict):
            for mimetype in list(data):
                data[mimetype] = _redact_data(mimetype, data[mimetype], secrets)
                if data[mimetype] is None:
                    del data[mimetype]
        kept.append(output)
    return kept


def _redact_data(mimetype: str, value: Any, secrets: Secrets) -> Any:
    if mimetype.startswith("image/") and mimetype != "image/svg+xml":
        return value
    if isinstance(value, str | list):
        return redact_text(_joined(value), secrets)
    dumped = json.dumps(value)
    return None if redact_text(dumped, secrets) != dumped else value


def _secret_lines(cell: NotebookNode, markers: Markers) -> list[str]:
    lines = _lines(cell)
    if is_hint(cell):
        return lines
    regions = (
        (markers.begin_solution, markers.end_solution),
        (markers.begin_hidden, markers.end_hidden),
    )
    if is_solution(cell) and not any(markers.begin_solution in line for line in lines):
        return lines
    secret: list[str] = []
    inside: str | None = None
    for line in lines:
        begin = next((end for start, end in regions if start in line), None)
        if inside is None and begin is not None:
            inside = begin
        if inside is not None:
            secret.append(line)
            if inside in line:
                inside = None
    return secret


def _lines(cell: NotebookNode) -> list[str]:
    return _joined(cell.get("source", "")).splitlines()


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _escaped_forms(fragment: str) -> set[str]:
    """How printing a container of strings shows *fragment*: as is, `repr` and JSON escaped."""
    forms = {fragment, repr(fragment)[1:-1], json.dumps(fragment)[1:-1]}
    forms.add(fragment.replace("\\", "\\\\").replace("'", "\\'"))
    forms.add(fragment.replace("\\", "\\\\").replace('"', '\\"'))
    return {f for f in forms if f}


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
