"""Keep the source of autograder test cells out of reach of the learner code they call.

A test cell's source is what learner code must never read: it holds the hidden tests. IPython
keeps every cell in three places learner code can reach: its history (`In`, `_ih`, `_i`; the
cell runner leaves an empty entry for a test cell), the line cache (`hiding_compiler` compiles
test cells under `TEST_CELL_FILENAME`, which has no entry there, so `inspect` and tracebacks
find no line of them), and the code objects of the running frames (a hidden test's constants
and assertion messages): `refuse_test_code` refuses those to any stack that runs learner or
test code. IPython's records of the cell (`displayhook.exec_result`, `last_execution_result`,
`sys.last_value`) are emptied of it. IPython still formats a failed test's traceback: by then
neither is running.

Not closed: a function a test calls can walk up the frame chain (`f_back`, which Python does
not audit) to the frames of IPython's `run_cell` and of the grading template, whose locals hold
the cell's source and the job's cells. Closing it needs those frames to hold no source while
learner code runs (see docs/grading.md, "Known limits").
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any

__all__ = [
    "LEARNER_CELL_PREFIX",
    "TEST_CELL_FILENAME",
    "forget_test_cell",
    "hiding_compiler",
    "refuse_test_code",
]

TEST_CELL_FILENAME = "<autograder test cell>"
LEARNER_CELL_PREFIX = "<ipython-input-"
"""How IPython names the code of the cells it caches in `linecache`: every learner cell."""
CODE_ATTRIBUTES = frozenset({"f_code", "__code__", "gi_code", "cr_code", "ag_code"})

GC_EVENTS = frozenset({"gc.get_referents", "gc.get_referrers", "gc.get_objects"})
"""Each reaches objects no attribute leads to (a code object, a suspended coroutine)."""

_auditing = threading.local()


def hiding_compiler() -> Any:
    """IPython's cell compiler, which caches no line of a cell while its `hide` is set."""
    from IPython.core.compilerop import CachingCompiler

    class HidingCompiler(CachingCompiler):
        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.hide = False

        def cache(self, transformed_code: str, number: int = 0, raw_code: Any = None) -> str:
            if self.hide:
                return TEST_CELL_FILENAME
            return str(super().cache(transformed_code, number, raw_code))

    return HidingCompiler


def forget_test_cell(shell: Any) -> None:
    """What IPython keeps of the last cell for the next one: its result (source included) and
    the exception it raised (`sys.last_value`, its traceback); not of a test cell."""
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    shell.last_execution_result = ExecutionResult(ExecutionInfo("", False, False, True, None))
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        vars(sys).pop(name, None)


def refuse_test_code(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: no code object of a test cell (nor the garbage collector's object walks,
    which reach one) for a stack that runs learner or test code.

    Installed once in the disposable process that runs one notebook (audit hooks cannot be
    removed); the thread-local flag keeps the hook's own attribute reads out of it.
    """
    if event == "object.__getattr__":
        if args[1] not in CODE_ATTRIBUTES:
            return
    elif event not in GC_EVENTS:
        return
    if getattr(_auditing, "busy", False):
        return
    _auditing.busy = True
    try:
        if event == "object.__getattr__":
            code = getattr(args[0], args[1], None)
            if getattr(code, "co_filename", None) != TEST_CELL_FILENAME:
                return
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if name == TEST_CELL_FILENAME or name.startswith(LEARNER_CELL_PREFIX):
                raise PermissionError("the code of autograder test cells cannot be read")
            frame = frame.f_back
    finally:
        _auditing.busy = False
