"""Lane numbers, and so learner uids, held machine-wide while a sandbox runs.

Every sandbox on a machine (two `workshop grade` runs at once, Dask workers, the board's queue)
claims its lanes here, so learners graded at the same time never share a uid: one learner's
files stay unreadable to another, and one's process limit (counted per uid) is not spent by
another's fork bomb. A claim is an exclusive lock on a file, so it ends when its holder closes
it or dies, and a crashed grader leaves nothing to clean up.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

__all__ = ["claim_lane"]


def claim_lane(stack: ExitStack) -> int:
    """The lowest lane number no other process on this machine holds, held until *stack*
    closes (or this process dies)."""
    folder = Path(tempfile.gettempdir()) / f"nbworkshop-lanes-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    number = 0
    while True:
        claim = (folder / f"{number}.lock").open("wb")
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            claim.close()
            number += 1
            continue
        stack.callback(claim.close)
        return number
