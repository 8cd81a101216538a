"""Run notebook cells inside the current process with IPython, recording nbformat outputs.

This is what a Jupyter kernel does, minus the kernel: the same `InteractiveShell` executes each
cell, and its display hook, display publisher, traceback display and standard streams are
redirected into the cell's outputs (streams, `display_data`, `execute_result`, `error`), shaped
as nbclient would record them. It runs in a disposable forked process, one per notebook.

Before every autograder test cell the interpreter is put back the way it was before learner code
ran (see `Pristine`), and a test cell's verdict never depends on hooks learner code can replace:
errors come from the execution result itself, and only the cell's own final expression may
produce an `execute_result`. Threads started by learner code are ended before a test cell, so
none can re-patch helpers while the test runs.

Learner code cannot read a test cell's source: test cells leave an empty entry in IPython's
history (`In`, `_ih`, `_i`), are compiled under a file name that has no line cache entry
(`TEST_CELL_FILENAME`), and an audit hook refuses the code objects of test cells (the constants
of a hidden test, its assertion messages) to any stack that runs learner or test code, so a
learner function cannot inspect the test that calls it (`sys._getframe(1).f_code`,
`inspect.stack()`). Tracebacks are still formatted: by then no such frame is running.
"""

from __future__ import annotations

import ast
import importlib
import io
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import Any

from autograde.conceal import forget_test_cell, hiding_compiler, refuse_test_code
from autograde.guard_asserts import guard_test_cell
from autograde.watch_signals import watch_signals
from course.score import OUTPUT_LIMIT_TEXT

__all__ = [
    "BACKGROUND_THREAD",
    "OUTPUT_LIMIT_TEXT",
    "CellTimeout",
    "CellToRun",
    "OutputSink",
    "Pristine",
    "make_shell",
    "run_cells",
]

BACKGROUND_THREAD = "background-thread"


class CellTimeout(KeyboardInterrupt):
    """Raised inside a cell that ran past its wall-clock limit (like a kernel interrupt)."""


@dataclass(frozen=True)
class CellToRun:
    index: int
    source: str
    is_test: bool


class OutputSink:
    """The outputs of the cell being run, with a byte budget shared by the whole notebook.

    A stream's text is kept as a list of chunks and joined once when the outputs are taken, so
    a cell printing many lines costs time linear in what it prints (joining strings on every
    write made 50,000 lines take most of a minute).
    """

    def __init__(self, budget_bytes: int) -> None:
        self._outputs: list[dict[str, Any]] = []
        self._chunks: list[str] = []
        self.budget_bytes = budget_bytes
        self.truncated = False

    def start(self, budget_bytes: int) -> None:
        """Begin a notebook: no outputs, the whole budget."""
        self.reset()
        self.budget_bytes = budget_bytes
        self.truncated = False

    def reset(self) -> None:
        self._outputs = []
        self._chunks = []

    def take(self) -> list[dict[str, Any]]:
        """The outputs recorded since the last reset, streams joined."""
        self._join()
        return list(self._outputs)

    def add(self, output: dict[str, Any]) -> None:
        self._join()
        size = len(repr(output))
        if size > self.budget_bytes:
            self._truncate()
            return
        self.budget_bytes -= size
        self._outputs.append(output)

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if len(text) > self.budget_bytes:
            text = text[: max(self.budget_bytes, 0)]
            self._truncate()
            if not text:
                return
        self.budget_bytes -= len(text)
        last = self._outputs[-1] if self._outputs else None
        if not (last is not None and last["output_type"] == "stream" and last["name"] == name):
            self._join()
            last = {"output_type": "stream", "name": name, "text": ""}
            self._outputs.append(last)
        self._chunks.append(text)

    def _join(self) -> None:
        if self._chunks:
            self._outputs[-1]["text"] += "".join(self._chunks)
            self._chunks = []

    def _truncate(self) -> None:
        if not self.truncated:
            self.truncated = True
            self.budget_bytes = 0
            self._join()
            self._outputs.append(
                {"output_type": "stream", "name": "stderr", "text": OUTPUT_LIMIT_TEXT + "\n"}
            )


class _Stream(io.TextIOBase):
    def __init__(self, name: str, sink: OutputSink) -> None:
        self._name = name
        self._sink = sink

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        self._sink.stream(self._name, str(text))
        return len(text)


def make_shell(sink: OutputSink, *, png_figures: bool = True) -> Any:
    """An IPython shell whose displays, results and tracebacks go to *sink*.

    Built once in the template process (before any fork), without history or threads. Figures
    are shown as PNG, as in a kernel with the inline backend, or without *png_figures* as their
    text form only: rendering is most of the work of a figure-heavy notebook, and no test sees it.
    """
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import ExecutionInfo, InteractiveShell
    from traitlets.config import Config

    class SinkDisplayHook(DisplayHook):
        def start_displayhook(self) -> None:
            pass

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict[str, Any], md_dict: Any = None) -> None:
            sink.add(
                {
                    "output_type": "execute_result",
                    "execution_count": self.prompt_count,
                    "data": format_dict,
                    "metadata": md_dict or {},
                }
            )

        def finish_displayhook(self) -> None:
            pass

    class SinkPublisher(DisplayPublisher):
        def publish(
            self,
            data: dict[str, Any],
            metadata: Any = None,
            source: Any = None,
            *,
            transient: Any = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            sink.add({"output_type": "display_data", "data": data, "metadata": metadata or {}})

        def clear_output(self, wait: bool = False) -> None:
            sink.reset()

    class SinkShell(InteractiveShell):
        displayhook_class = SinkDisplayHook
        display_pub_class = SinkPublisher
        compiler_class = hiding_compiler()

        def enable_gui(self, gui: str | None = None) -> None:
            """No event loop here: inline figures only."""

        async def run_code(
            self, code_obj: Any, result: Any = None, *, async_: bool = False
        ) -> bool:
            """IPython's; a test cell's record of its source is emptied first, as learner code
            the test calls can read it (`get_ipython().displayhook.exec_result.info`)."""
            if result is not None and getattr(self.compile, "hide", False):
                result.info = ExecutionInfo("", False, False, True, None)
            return bool(await super().run_code(code_obj, result, async_=async_))  # type: ignore[no-untyped-call]

        def _showtraceback(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
            sink.add(
                {
                    "output_type": "error",
                    "ename": etype.__name__,
                    "evalue": str(evalue),
                    "traceback": stb,
                }
            )

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    shell = SinkShell.instance(config=config)
    shell.enable_matplotlib("inline")  # type: ignore[no-untyped-call]
    if not png_figures:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, set())
    return shell


class Pristine:
    """A snapshot of what learner code could patch to fake a passing test, and its restoration.

    Covers builtins, interpreter hooks (`sys.excepthook`, trace/profile functions), the common
    test helper modules, IPython's shell, formatter, display and traceback classes, the shell's
    transformers and event callbacks, and the cached module objects themselves.
    """

    MODULES = (
        "builtins",
        "os",
        "posix",
        "signal",
        "ast",
        "json",
        "json.encoder",
        "math",
        "cmath",
        "operator",
        "functools",
        "numbers",
        "unittest",
        "unittest.case",
        "numpy",
        "numpy.testing",
        "numpy.testing._private.utils",
        "IPython.core.interactiveshell",
        "IPython.core.displayhook",
        "IPython.core.displaypub",
        "IPython.core.formatters",
        "IPython.core.ultratb",
    )

    KEEP = frozenset(
        {
            "execution_count",
            "last_execution_result",
            "last_execution_succeeded",
            "user_ns",
            "user_ns_hidden",
            "user_module",
            "_trait_values",
        }
    )

    def __init__(self, shell: Any, sink: OutputSink) -> None:
        self.shell = shell
        self.sink = sink
        for name in self.MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
        self.modules = {name: sys.modules[name] for name in self.MODULES if name in sys.modules}
        self.module_dicts = {name: dict(vars(module)) for name, module in self.modules.items()}
        import json

        from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

        self.instances = [
            shell.compile,
            shell.input_transformer_manager,
            shell.history_manager,
            shell.logger,
        ]
        self.instance_keys = [frozenset(vars(obj)) for obj in self.instances]
        hooks = {
            *type(shell).__mro__,
            *type(shell.displayhook).__mro__,
            *type(shell.display_pub).__mro__,
            *self._formatter_classes(shell),
            *json.JSONEncoder.__mro__,
            *ExecutionInfo.__mro__,
            *ExecutionResult.__mro__,
            *(cls for obj in self.instances for cls in type(obj).__mro__),
        }
        self.classes = [cls for cls in hooks if cls is not object]
        self.class_dicts = {cls: dict(vars(cls)) for cls in self.classes}
        self.shell_attrs = dict(vars(shell))
        self.traits = {name: getattr(shell, name) for name in shell.trait_names()}
        self.events = {name: list(cbs) for name, cbs in shell.events.callbacks.items()}
        self.transformers = {
            name: list(getattr(shell.input_transformer_manager, name))
            for name in ("cleanup_transforms", "line_transforms", "token_transformers")
        }
        self.ast_transformers = list(shell.ast_transformers)
        self.post_transformers = list(shell.input_transformers_post)
        self.printers = [
            (f, dict(f.singleton_printers), dict(f.type_printers), dict(f.deferred_printers))
            for f in shell.display_formatter.formatters.values()
        ]
        self.sys_hooks = (list(sys.meta_path), list(sys.path_hooks), sys.excepthook)

    @staticmethod
    def _formatter_classes(shell: Any) -> Iterable[type]:
        for formatter in [shell.display_formatter, *shell.display_formatter.formatters.values()]:
            yield from type(formatter).__mro__

    def restore(self) -> None:
        for name, module in self.modules.items():
            sys.modules[name] = module
            _restore_dict(vars(module), self.module_dicts[name])
        for cls, saved in self.class_dicts.items():
            for key in [k for k in vars(cls) if k not in saved]:
                delattr(cls, key)
            for key, value in saved.items():
                if key != "__dict__" and vars(cls).get(key) is not value:
                    try:
                        setattr(cls, key, value)
                    except (AttributeError, TypeError):
                        continue
        for obj, keys in zip(self.instances, self.instance_keys, strict=True):
            for key in [k for k in vars(obj) if k not in keys]:
                delattr(obj, key)
        shell = self.shell
        for key in [k for k in vars(shell) if k not in self.shell_attrs]:
            delattr(shell, key)
        for key, value in self.shell_attrs.items():
            if key not in self.KEEP and key not in self.traits:
                vars(shell)[key] = value
        for name, value in self.traits.items():
            if name not in self.KEEP and getattr(shell, name) is not value:
                shell.set_trait(name, value)
        for name, callbacks in self.events.items():
            shell.events.callbacks[name][:] = callbacks
        for name, items in self.transformers.items():
            getattr(shell.input_transformer_manager, name)[:] = items
        shell.ast_transformers[:] = self.ast_transformers
        shell.input_transformers_post[:] = self.post_transformers
        for formatter, singletons, types, deferred in self.printers:
            _restore_dict(formatter.singleton_printers, singletons)
            _restore_dict(formatter.type_printers, types)
            _restore_dict(formatter.deferred_printers, deferred)
        sys.meta_path[:], sys.path_hooks[:], sys.excepthook = (
            list(self.sys_hooks[0]),
            list(self.sys_hooks[1]),
            self.sys_hooks[2],
        )
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        sys.stdout = _Stream("stdout", self.sink)
        sys.stderr = _Stream("stderr", self.sink)


def _restore_dict(current: dict[Any, Any], saved: dict[Any, Any]) -> None:
    """Put back changed and removed entries; drop added ones except submodules imported since."""
    for key in [k for k, v in current.items() if k not in saved and not isinstance(v, ModuleType)]:
        del current[key]
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            current[key] = value


_MISSING = object()


def run_cells(
    shell: Any,
    sink: OutputSink,
    pristine: Pristine,
    cells: list[CellToRun],
    cell_timeout_s: float,
    report: Callable[[dict[str, Any]], None],
    *,
    stop_on_timeout: bool = False,
) -> None:
    """Run *cells* in order; after each, *report* gets its outputs and execution count.

    With *stop_on_timeout*, a cell interrupted at its time limit is the last one run.
    """

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise CellTimeout(f"the cell ran longer than {cell_timeout_s:g} s and was interrupted")

    sys.addaudithook(refuse_test_code)
    signals = watch_signals()
    for cell in cells:
        notes = []
        if cell.is_test:
            if not _stop_learner_threads():
                notes.append(BACKGROUND_THREAD)
            pristine.restore()
            shell.history_manager.store_inputs(shell.execution_count, "", "")
            shell.execution_count += 1
            shell.compile.hide = True
            guard = guard_test_cell(shell)
        else:
            sys.stdout = _Stream("stdout", sink)
            sys.stderr = _Stream("stderr", sink)
        sink.reset()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, cell_timeout_s)
        try:
            result = shell.run_cell(cell.source, store_history=not cell.is_test)
        except BaseException as error:  # noqa: BLE001 - learner code may raise anything
            result = None
            sink.add(_error_output(error))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            shell.compile.hide = False
        outputs = sink.take()
        notes += signals.take()
        if cell.is_test:
            checked, tampered = guard.finish()
            notes += checked
            pristine.restore()
            outputs = _test_outputs(cell.source, outputs, result) + ([tampered] if tampered else [])
            forget_test_cell(shell)
        report(
            {
                "index": cell.index,
                "execution_count": shell.execution_count - 1,
                "outputs": outputs,
                "notes": notes,
            }
        )
        if stop_on_timeout and any(o.get("ename") == CellTimeout.__name__ for o in outputs):
            return


def _stop_learner_threads(attempts: int = 20, pause_s: float = 0.01) -> bool:
    """End every thread but this one before a test runs, so none can re-patch helpers mid-test.

    Each is sent `SystemExit` asynchronously (it arrives at the thread's next bytecode);
    returns False if some thread survives, which is then reported.
    """
    import ctypes
    import time

    current = threading.current_thread()
    for _ in range(attempts):
        others = [t for t in threading.enumerate() if t is not current and t.is_alive()]
        if not others:
            return True
        for thread in others:
            if thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)
                )
        time.sleep(pause_s)
    return False


def _error_output(error: BaseException) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": type(error).__name__,
        "evalue": str(error),
        "traceback": [f"{type(error).__name__}: {error}"],
    }


def _test_outputs(source: str, outputs: list[dict[str, Any]], result: Any) -> list[dict[str, Any]]:
    """A test cell's outputs as grading must see them, whatever learner hooks did.

    An error recorded by the execution result always yields an error output; an
    `execute_result` is kept only when the cell succeeded and ends with an expression, and then
    only the last one (the cell's own value, displayed after everything else ran).
    """
    error = None if result is None else (result.error_before_exec or result.error_in_exec)
    failed = result is None or error is not None
    kept = [o for o in outputs if o["output_type"] != "execute_result"]
    results = [o for o in outputs if o["output_type"] == "execute_result"]
    if not failed and results and _ends_with_expression(source):
        kept.append(results[-1])
    if error is not None and not any(o["output_type"] == "error" for o in kept):
        kept.append(_error_output(error))
    return kept


def _ends_with_expression(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and isinstance(body[-1], ast.Expr)
