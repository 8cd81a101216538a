"""Shared fixtures: a throw-away course directory built from the repository's own config, its
gradebook on SQLite or, for tests marked `databases("sqlite", "postgresql")`, on each engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import nbfactory
from databases import ENGINES, URL_VARIABLE, PostgresServer, connect_server, use_gradebook

from course.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
collect_ignore_glob = ["data/*"]  # the courses in tests/data are inputs, not tests (nor nbval's)


def write_nb(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "databases(*engines): run each test that uses the course gradebook once per engine "
        f"named ({', '.join(ENGINES)})",
    )
    config.addinivalue_line(
        "markers", "postgresql: uses the PostgreSQL server that `make test` starts"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is None or "database" not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(ENGINES)
    assert not unknown, f"databases(): unknown engines {unknown}"
    engines = [
        pytest.param(name, marks=pytest.mark.postgresql) if name == "postgresql" else name
        for name in marker.args
    ]
    metafunc.parametrize("database", engines, scope="module")


@pytest.fixture(scope="session")
def database() -> str:
    """The engine of the course gradebook (see the `databases` marker)."""
    return "sqlite"


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The server `make test` starts; without one a bare pytest run skips, CI fails."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        message = f"no PostgreSQL server: set {URL_VARIABLE} (`make test` starts one and sets it)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        return connect_server(url)
    except Exception as error:  # noqa: BLE001 - any failure to reach it must say so
        pytest.fail(f"the PostgreSQL server of {URL_VARIABLE} does not answer: {error}")


@contextmanager
def gradebook_url(database: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL, or None for the course's own SQLite file."""
    if database == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as url:
        yield url


def new_course(root: Path, db_url: str | None) -> Path:
    """An empty course folder with the repository's config and gradebook *db_url* (if any)."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    if db_url is not None:
        use_gradebook(root, db_url)
    return root


@pytest.fixture
def course_dir(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A course with the repository's nbgrader_config.py and one sound workshop `ws`."""
    with gradebook_url(database, request) as url:
        root = new_course(tmp_path / "course", url)
        write_nb(root / "source" / "ws" / "nb.ipynb", nbfactory.good_notebook())
        yield root


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
