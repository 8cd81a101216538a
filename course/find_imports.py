"""Find the modules a course's own notebooks import, so the grading template imports them once.

A data-science course imports pandas, scikit-learn or PIL in every notebook; imported once in
the warm template, each graded notebook inherits them through `fork` instead of paying the
import again. Only the course's source notebooks are read (trusted, written by presenters),
never a submission, and only modules installed here are kept; nothing is imported by this
module itself.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MAX_SOURCE_IMPORTS", "source_imports"]

MAX_SOURCE_IMPORTS = 40
"""At most this many modules are taken from the sources (a bound on the template's boot)."""


def source_imports(source_dir: Path) -> tuple[str, ...]:
    """Modules imported by the code cells of `source_dir/*/*.ipynb`, first seen first.

    A dotted import (`sklearn.linear_model`) is kept whole, since importing the submodule is
    what costs; modules of the standard library, the course's own folders, and modules not
    installed are left out. Unreadable notebooks are skipped: validation reports them.
    """
    if not source_dir.is_dir():
        return ()
    local = {p.stem for p in source_dir.rglob("*.py")} | {
        p.name for p in source_dir.iterdir() if p.is_dir()
    }
    found: dict[str, None] = {}
    for path in sorted(source_dir.glob("*/*.ipynb")):
        for name in _imports(_code_cells(path)):
            top = name.partition(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            if _installed(top):
                found.setdefault(name)
    return tuple(found)[:MAX_SOURCE_IMPORTS]


def _code_cells(path: Path) -> list[str]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [
            "".join(c["source"]) if isinstance(c["source"], list) else str(c["source"])
            for c in nb.get("cells", [])
            if c.get("cell_type") == "code"
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _imports(sources: Iterable[str]) -> Iterable[str]:
    for source in sources:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield node.module


def _installed(top: str) -> bool:
    """Whether a top-level module can be imported here (finding it imports nothing)."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False
