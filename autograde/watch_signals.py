"""Notice, inside the learner process, when learner code signals the grader.

An audit hook (PEP 578) sees every `os.kill` and `os.killpg` call, and every program started
(`kill`, `pkill` ...). Signalling the process's own group, every process (-1), or one of its
ancestors (the supervisor, the template, the coordinator) is an attack on the grader: the
sandbox already survives it, and this makes it reported (`signalled-grader`). Audit hooks
cannot be removed once added; the hook is added in the disposable learner process only, before
any learner code runs. A signal sent by other means (ctypes calling libc directly) is not seen.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

__all__ = ["SIGNALLED_GRADER", "SignalWatch", "watch_signals"]

SIGNALLED_GRADER = "signalled-grader"
KILL_PROGRAMS = frozenset({"kill", "pkill", "killall", "skill", "killall5"})
KILL_EVENTS = frozenset({"os.kill", "os.killpg"})
WATCHED = KILL_EVENTS | {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen"}


class SignalWatch:
    """What the audit hook saw since the last `take()`, as cell notes."""

    def __init__(self) -> None:
        self._me = os.getpid()
        self._ancestors = _ancestors(self._me)
        self._seen: list[str] = []

    def take(self) -> list[str]:
        """The notes gathered since the previous call (`"signalled-grader: ..."`)."""
        seen, self._seen = self._seen, []
        return [f"{SIGNALLED_GRADER}: {detail}" for detail in dict.fromkeys(seen)]

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        """Called by Python for every audit event; it must never make the event fail."""
        if event not in WATCHED:
            return
        try:
            self._note(event, args)
        except (TypeError, ValueError, IndexError, AttributeError):
            return

    def _note(self, event: str, args: tuple[object, ...]) -> None:
        if event in KILL_EVENTS:
            target, number = args[0], args[1]
            if isinstance(target, int) and self._aimed_at_grader(target, group=event != "os.kill"):
                self._seen.append(f"{event}({target}, {_signal_name(number)})")
        elif KILL_PROGRAMS & _programs(args[1:] if event == "os.spawn" else args):
            self._seen.append(f"started a kill program ({event})")

    def _aimed_at_grader(self, target: int, *, group: bool) -> bool:
        if group:
            return True
        return target <= 0 or (target != self._me and target in self._ancestors)


def watch_signals() -> SignalWatch:
    """Start watching in this process (for the rest of its life)."""
    import sys

    watch = SignalWatch()
    sys.addaudithook(watch.hook)
    return watch


def _ancestors(pid: int) -> frozenset[int]:
    """The chain of parents of *pid* as this process's PID namespace sees them."""
    found: set[int] = set()
    parent = os.getppid()
    while parent > 0 and parent not in found:
        found.add(parent)
        try:
            stat = Path(f"/proc/{parent}/stat").read_text()
        except OSError:
            break
        parent = int(stat.rsplit(")", 1)[1].split()[1])
    return frozenset(found)


def _signal_name(number: object) -> str:
    try:
        return signal.Signals(number).name  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return str(number)


def _programs(args: tuple[object, ...]) -> set[str]:
    """The names of the programs an audit event starts: its executable and argv[0], and the
    first word of each command of a shell command line (`os.system`, `sh -c`)."""
    executable, argv = (args[0], args[1]) if len(args) > 1 else (None, args[0])
    names = {_text(executable).rsplit("/", 1)[-1]} if executable is not None else set()
    if isinstance(argv, list | tuple) and argv:
        names.add(_text(argv[0]).rsplit("/", 1)[-1])
        argv = _text(argv[-1]) if len(argv) > 2 and _text(argv[1]) == "-c" else ""
    for command in re.split(r"[;&|\n]", _text(argv)):
        words = command.split()
        if words:
            names.add(words[0].rsplit("/", 1)[-1])
    return names


def _text(item: object) -> str:
    if isinstance(item, bytes):
        return item.decode(errors="replace")
    if isinstance(item, str | os.PathLike):
        return os.fspath(item) if not isinstance(item, str) else item
    return ""
