"""Where a workshop folder keeps nbworkshop's own files (read by learner kernels: no imports).

`.workshop/` sits beside the notebooks of a released workshop and of a learner's copy; the
leading dot keeps it out of Jupyter's file browser and out of the grader's sandbox copy.
"""

from __future__ import annotations

from pathlib import PurePosixPath

__all__ = ["CHECKS_FILE", "CHECKS_SCHEMA_VERSION", "LEARNER_FILE", "SPOOL_FOLDER"]

FOLDER = PurePosixPath(".workshop")
CHECKS_FILE = FOLDER / "checks.json"
"""Exercises of the workshop: visible tests, points, hints, board address (`workshop release`)."""
LEARNER_FILE = FOLDER / "learner.json"
"""A learner's personal copy: `{"board", "learner", "token", "workshop"}` (the board's join)."""
SPOOL_FOLDER = FOLDER / "spool"
"""Check events not yet acknowledged by the board."""
CHECKS_SCHEMA_VERSION = 2
