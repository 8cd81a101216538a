"""Save the learner's notebooks in JupyterLab before Submit reads them from disk.

Unsaved edits live in the browser, not in the kernel. ipylab bridges a kernel to JupyterLab's
command registry, so the kernel asks the front end to run `docmanager:save-all` (every open
document is written, changed or not) and then watches the files. JupyterLab writes through the
Jupyter server without the kernel's help, so the wait needs no message back, which matters: a
widget message from the front end reaches the kernel only while it is idle.

JupyterLab answers a new bridge with a `lab_ready` message. A bridge that has not heard it
`FRONTEND_WAIT_S` after it opened has no JupyterLab behind it (a plain kernel, another front
end, or JupyterLab without the ipylab extension): the save is reported as not done, never
waited for in silence.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FRONTEND_WAIT_S", "SAVE_COMMAND", "SAVE_TIMEOUT_S", "FrontEnd", "SaveOutcome"]

SAVE_COMMAND = "docmanager:save-all"
FRONTEND_WAIT_S = 5.0
"""How long a new bridge waits for JupyterLab's `lab_ready` before concluding there is none."""
SAVE_TIMEOUT_S = 10.0
"""How long a JupyterLab that answered may take to write the notebooks."""
_POLL_S = 0.05


@dataclass(frozen=True)
class SaveOutcome:
    """Whether every watched notebook was written after the request; if not, `reason` says why."""

    saved: bool
    reason: str = ""


class FrontEnd:
    """This kernel's bridge to JupyterLab, opened once, early (with the first Check panel), so
    that JupyterLab's answer has arrived by the time the learner presses Submit."""

    def __init__(self) -> None:
        self.opened_at = time.monotonic()
        self.ready = threading.Event()
        self._app: Any = None
        try:
            from ipylab import JupyterFrontEnd  # type: ignore[import-untyped]
        except ImportError:
            return
        self._app = JupyterFrontEnd()
        self._app.on_ready(self.ready.set)

    def save(self, notebooks: list[Path]) -> SaveOutcome:
        """Ask JupyterLab to save, then wait until every one of *notebooks* was rewritten.

        Blocks up to `SAVE_TIMEOUT_S`: call it from a background thread, never from a widget
        callback, so the kernel stays idle and can hear `lab_ready` meanwhile.
        """
        if self._app is None:
            return SaveOutcome(False, "ipylab is not installed in this kernel")
        before = {path: _stamp(path) for path in notebooks}
        asked_at = time.monotonic()
        self._app.commands.execute(SAVE_COMMAND)
        while True:
            if all(_rewritten(path, stamp) for path, stamp in before.items()):
                return SaveOutcome(True)
            now = time.monotonic()
            if self.ready.is_set():
                if now > asked_at + SAVE_TIMEOUT_S:
                    late = f"JupyterLab did not save within {SAVE_TIMEOUT_S:g} s"
                    return SaveOutcome(False, late)
            elif now > self.opened_at + FRONTEND_WAIT_S:
                return SaveOutcome(
                    False, "no JupyterLab with the ipylab extension is attached to this kernel"
                )
            time.sleep(_POLL_S)


def _rewritten(path: Path, before: tuple[int, int, int] | None) -> bool:
    """Whether *path* changed since *before* and holds a whole JSON document: the server may
    still be writing it when its stamp first changes (a truncated file reads as empty)."""
    if _stamp(path) == before:
        return False
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_ino, stat.st_size
