"""Say what an error in a learner's kernel means for their exercises, in one line.

Two places use it. The Check panel (`extensions.check_tests`) turns a failed test into a
sentence: an unsolved stub is "not attempted yet", an exception in the learner's code names
their line, a syntax error in their solution cell is said so. And the kernel's own error display
(installed by the first Check panel, `explain_in_cells`): a test cell or a demonstration that
fails only because an exercise is not solved yet says so in one line, leaving the details to the
exercise's panel; every other error keeps IPython's full traceback.

Cells run by IPython are cached in `linecache` with no modification time (they are not files);
that is how a frame of the learner's cells is told from a frame of a library or of the tests.
Standard library only: this runs in learner kernels.
"""

from __future__ import annotations

import linecache
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = [
    "ExerciseNames",
    "explain_in_cells",
    "is_stub",
    "learner_line",
    "solution_untouched",
    "syntax_error_in_cell",
]

STUB_EXCEPTION = NotImplementedError


@dataclass(frozen=True)
class ExerciseNames:
    """What the kernel's error display needs to know about one exercise."""

    title: str
    tests: str
    names: frozenset[str]


def is_stub(error: BaseException) -> bool:
    """The error is the `raise NotImplementedError()` that nbgrader leaves in place of a solution
    (raised from a notebook cell, not from a library)."""
    frames = _cell_frames(error.__traceback__)
    return isinstance(error, STUB_EXCEPTION) and bool(frames) and frames[-1][0] != "<module>"


def learner_line(error: BaseException) -> str | None:
    """Where in the notebook's own code *error* was raised: "in tokenise, line 3: `...`"."""
    frames = _cell_frames(error.__traceback__)
    if not frames:
        return None
    name, filename, number = frames[-1]
    text = linecache.getline(filename, number).strip()
    where = "in the cell" if name == "<module>" else f"in {name}"
    return f"{where}, line {number}" + (f": {text}" if text else "")


def solution_untouched(
    namespace: dict[str, Any], defines: Iterable[str], stubs: Iterable[str]
) -> bool:
    """Every function among *defines* in *namespace* still comes from a cell holding one of
    the released *stubs* (and there is at least one): the learner has not written it yet."""
    released = {_normalised(stub) for stub in stubs}
    found = False
    for name in defines:
        code = getattr(namespace.get(name), "__code__", None)
        if code is None or not _is_cell(code.co_filename):
            continue
        if _normalised("".join(linecache.getlines(code.co_filename))) not in released:
            return False
        found = True
    return found


def syntax_error_in_cell(shell: Any, names: Iterable[str]) -> str | None:
    """If the learner's latest cell defining one of *names* does not compile, say where.

    A cell with a syntax error never runs, so the kernel still holds the previous version (or
    the stub): without this the panel would judge code the learner has already replaced.
    """
    wanted = [re.escape(n) for n in names]
    if shell is None or not wanted:
        return None
    defines = re.compile(rf"^\s*(?:def|class)\s+(?:{'|'.join(wanted)})\b", re.MULTILINE)
    for source in reversed(shell.history_manager.input_hist_raw):
        if not defines.search(source):
            continue
        try:
            compile(shell.transform_cell(source), "<cell>", "exec")
        except SyntaxError as error:
            line = (error.text or "").strip()
            return f"your solution cell has a syntax error on line {error.lineno}: {error.msg}" + (
                f" ({line})" if line else ""
            )
        return None
    return None


def explain_in_cells(shell: Any, exercises: Sequence[ExerciseNames]) -> None:
    """Have *shell* show errors that only mean "not solved yet" in one line (see the module).

    Installed once per kernel; an error display another tool installed is left alone. IPython
    shows nothing of an error a custom handler takes, so the handler shows it: one line on
    stderr, or IPython's own traceback. The cell still ends in error (Run All goes on only past
    cells tagged `raises-exception`).
    """
    if shell is None or getattr(shell, "custom_exceptions", ()) != ():
        return
    tests = {_normalised(e.tests): e for e in exercises}

    def handler(
        shell: Any, etype: type, value: BaseException, tb: TracebackType, tb_offset: Any = None
    ) -> list[str]:
        line = _one_line(value, tb, tests, exercises)
        if line is None:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            print(line, file=sys.stderr)
        return []

    shell.set_custom_exc((Exception,), handler)


def _one_line(
    error: BaseException,
    tb: TracebackType | None,
    tests: dict[str, ExerciseNames],
    exercises: Sequence[ExerciseNames],
) -> str | None:
    frames = _cell_frames(tb)
    if not frames:
        return None
    cell = "".join(linecache.getlines(frames[0][1]))
    tested = tests.get(_normalised(cell))
    if tested is not None and is_stub(error):
        return f"{tested.title}: not attempted yet. Its Check panel below says more."
    if tested is not None and not _needs_other(error, tested, exercises):
        return f"{tested.title}: not passed yet. Its Check panel below says why."
    if is_stub(error):
        needed = _owner(frames[-1][0], exercises)
        if needed is not None:
            return f"Needs {needed.title}, not solved yet: solve it, then run this cell again."
    if isinstance(error, NameError) and error.name is not None:
        needed = _owner(error.name, exercises)
        if needed is not None:
            return (
                f"Needs {error.name}, made once {needed.title} is solved: solve it, then run "
                "the cells from there to here again."
            )
    return None


def _needs_other(
    error: BaseException, tested: ExerciseNames, exercises: Sequence[ExerciseNames]
) -> bool:
    """A test cell fails on a name that another (earlier) exercise makes."""
    if not isinstance(error, NameError) or error.name is None:
        return False
    owner = _owner(error.name, exercises)
    return owner is not None and owner is not tested


def _owner(name: str, exercises: Sequence[ExerciseNames]) -> ExerciseNames | None:
    return next((e for e in exercises if name in e.names), None)


def _cell_frames(tb: TracebackType | None) -> list[tuple[str, str, int]]:
    """(function, filename, line) of every traceback frame in a notebook cell, outermost first."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_cell(code.co_filename):
            frames.append((code.co_name, code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _is_cell(filename: str) -> bool:
    entry = linecache.cache.get(filename)
    return entry is not None and len(entry) == 4 and entry[1] is None


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())
