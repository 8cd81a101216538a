import json
import os
from concurrent.futures import ThreadPoolExecutor

import nbfactory as f
import pytest

from course.errors import NotebookError
from course.notebook_io import read_notebook, replace_folder, write_notebook


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"cells": [', "invalid JSON at line 1"),
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "not UTF-8 text"),
        (b'{"hello": 1}', "JSON without a 'cells' list"),
        (b'{"cells": "nope", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid"),
    ],
)
def test_unreadable_notebooks_raise_one_error_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError) as error:
        read_notebook(path, "source/ws/bad.ipynb")
    message = str(error.value)
    assert message.startswith("source/ws/bad.ipynb: ")
    assert expected in message
    assert "\n" not in message


def test_missing_notebook_is_reported(tmp_path):
    with pytest.raises(NotebookError, match="file not found"):
        read_notebook(tmp_path / "absent.ipynb")


def test_write_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "sub" / "nb.ipynb"
    nb = f.good_notebook()
    write_notebook(nb, path)
    assert read_notebook(path) == nb
    assert [p.name for p in path.parent.iterdir()] == ["nb.ipynb"]
    assert json.loads(path.read_text())["nbformat"] == 4


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda path: path.mkdir(), "it is a directory"),
        (lambda path: os.mkfifo(path), "it is a named pipe"),
        (lambda path: path.write_text("[" * 4000 + "]" * 4000), "nested more than"),
        (lambda path: path.write_text('{"cells": ' + "[" * 500 + "]" * 500 + "}"), "nested"),
        (lambda path: path.write_text(json.dumps({"cells": [], "x": "y" * 20_000})), "too large"),
    ],
)
def test_what_is_no_notebook_file_is_refused_without_reading_it(tmp_path, make, expected):
    path = tmp_path / "bad.ipynb"
    make(path)
    with pytest.raises(NotebookError, match=expected) as error:
        read_notebook(path, "var/submitted/x/ws/bad.ipynb", max_bytes=10_000)
    assert str(error.value).startswith("var/submitted/x/ws/bad.ipynb: ")


def test_a_link_is_refused_only_when_links_must_not_be_followed(tmp_path):
    target = write_notebook_file(tmp_path / "real.ipynb")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)
    assert read_notebook(link) == read_notebook(target)
    with pytest.raises(NotebookError, match="it is a symbolic link"):
        read_notebook(link, follow_symlinks=False)


def write_notebook_file(path):
    write_notebook(f.good_notebook(), path)
    return path


def test_writers_replacing_one_folder_at_once_all_succeed(tmp_path):
    target = tmp_path / "autograded"

    def writer(name):
        for round_number in range(200):
            fresh = tmp_path / f".{name}-{round_number}"
            fresh.mkdir()
            (fresh / "who").write_text(name)
            replace_folder(fresh, target)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(writer, ["a", "b", "c"]))
    assert (target / "who").read_text() in {"a", "b", "c"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograded"]
