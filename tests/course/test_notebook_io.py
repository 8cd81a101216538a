import json

import nbfactory as f
import pytest

from course.errors import NotebookError
from course.notebook_io import read_notebook, write_notebook


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
