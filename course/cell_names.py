"""Which cells of a learner version need an unsolved exercise, and what each exercise is called.

A released notebook is meant to run top to bottom with JupyterLab's Run All before anything is
solved. Cells that call a stubbed solution, or use a name made from one, will raise; JupyterLab
stops Run All at the first error unless the cell carries Jupyter's `raises-exception` tag, so the
release step tags them, and the Check panel's kernel side says in one line which exercise they
wait for. The analysis is static and generous: tagging a cell that would not raise costs nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from nbformat import NotebookNode

__all__ = ["defined_names", "exercise_title", "names_needing", "used_names"]

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def defined_names(source: str) -> frozenset[str]:
    """Names a cell binds at the top level (functions, classes, imports, assignments)."""
    tree = _parse(source)
    if tree is None:
        return frozenset()
    names: set[str] = set()
    for statement in tree.body:
        for node in _top_level_nodes(statement):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(names)


def used_names(source: str) -> frozenset[str]:
    """Every name a cell reads, inside function bodies too (a function defined here may be
    called later, and then needs what it reads)."""
    tree = _parse(source)
    if tree is None:
        return frozenset()
    return frozenset(
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    )


def names_needing(
    cells: Sequence[NotebookNode], solved_by: dict[str, str]
) -> tuple[dict[str, str], set[int]]:
    """Follow *solved_by* (a name a solution cell defines -> its exercise) through *cells*.

    Returns every name that exists only once an exercise is solved (-> the first exercise it
    needs, in the order of *solved_by*) and the indexes of the code cells that read such a
    name. A cell that binds a name without needing any exercise makes it independent again.
    """
    needing = dict(solved_by)
    rank = {key: n for n, key in enumerate(dict.fromkeys(solved_by.values()))}
    readers: set[int] = set()
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        needed = sorted(
            (needing[n] for n in used_names(cell.source) if n in needing), key=rank.__getitem__
        )
        defined = defined_names(cell.source)
        if needed:
            readers.add(index)
            for name in defined:
                needing.setdefault(name, needed[0])
        else:
            for name in defined - set(solved_by):
                needing.pop(name, None)
    return needing, readers


def exercise_title(cells: Sequence[NotebookNode], start: int, stop: int) -> str | None:
    """The nearest markdown heading above cell *stop* and not above cell *start* (the
    exercise's own heading, such as "Exercise 1: tokenise"), as plain text."""
    for cell in reversed(cells[start:stop]):
        if cell.cell_type != "markdown":
            continue
        headings = _HEADING.findall(cell.source)
        if headings:
            return re.sub(r"[*_`$]", "", headings[-1]).strip() or None
    return None


def _top_level_nodes(statement: ast.stmt) -> list[ast.AST]:
    """The statement and what it contains, without descending into function or class bodies."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _parse(source: str) -> ast.Module | None:
    """Parse a cell as IPython would run it (magics turned into Python first)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None
