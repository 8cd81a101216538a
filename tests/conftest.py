"""Shared fixtures: a throw-away course directory built from the repository's own config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import nbfactory

from course.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
collect_ignore_glob = ["data/*"]  # the courses in tests/data are inputs, not tests (nor nbval's)


def write_nb(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A course with the repository's nbgrader_config.py and one sound workshop `ws`."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    write_nb(root / "source" / "ws" / "nb.ipynb", nbfactory.good_notebook())
    return root


@pytest.fixture
def settings(course_dir: Path) -> Settings:
    return load_settings(course_dir)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed `workshop` command as a user would."""
    exe = Path(sys.executable).parent / "workshop"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )
