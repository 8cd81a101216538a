"""Bound what is stored of a graded notebook: its outputs are cut to fit `stored_output_mb`.

Runs after scoring, so a cut never changes a score: it only decides what the autograded
notebook, and so formgrader and the feedback page, keep of very large outputs. Small outputs
are kept whole; the budget left is shared equally among the large ones, each cut to its share
and saying so. A cut output keeps its type (an error stays an error, stderr stays stderr), so
anything that reads the stored notebook still sees which cells failed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from nbformat import NotebookNode

__all__ = ["CUT_NOTE", "trim_outputs"]

CUT_NOTE = "[output cut for storage: {size:,} bytes, {kept:,} kept (c.Workshop.stored_output_mb)]"
NOTE_BYTES = 256
"""Room kept for each output's JSON framing and, if it is cut, its note."""


def trim_outputs(nb: NotebookNode, max_bytes: int) -> NotebookNode:
    """A copy of *nb* whose outputs and the rest take at most *max_bytes* as compact JSON,
    outputs cut to fit; *nb* itself when it fits already. Sources and metadata are never cut (a
    notebook whose own cells are larger keeps them, with every output cut)."""
    outputs = [
        (cell_index, output_index, _size(output))
        for cell_index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output_index, output in enumerate(cell.get("outputs", []))
    ]
    if not outputs:
        return nb
    rest = _size({**nb, "cells": [{**cell, "outputs": []} for cell in nb.cells]})
    if rest + sum(size for _, _, size in outputs) <= max_bytes:
        return nb
    budget = max(0, max_bytes - rest - NOTE_BYTES * len(outputs))
    share = _fair_share(sorted(size for _, _, size in outputs), budget)
    nb = copy.deepcopy(nb)
    for cell_index, output_index, size in outputs:
        if size > share + NOTE_BYTES:
            cell_outputs = nb.cells[cell_index].outputs
            cell_outputs[output_index] = _cut(cell_outputs[output_index], size, share)
    return nb


def _fair_share(sizes: list[int], budget: int) -> int:
    """The largest size every output may keep so that all of them fit in *budget* (sizes
    ascending): outputs below it are kept whole, those above share what they leave."""
    left = budget
    for position, size in enumerate(sizes):
        remaining = len(sizes) - position
        if size * remaining > left:
            return left // remaining
        left -= size
    return max(sizes, default=0)


def _cut(output: NotebookNode, size: int, share: int) -> NotebookNode:
    """*output* cut to about *share* bytes, ending with a note of what was cut."""
    note = CUT_NOTE.format(size=size, kept=share)
    kind = output.output_type
    if kind == "stream":
        output.text = f"{_head(output.text, share)}\n{note}\n"
    elif kind == "error":
        output.evalue = _head(str(output.get("evalue", "")), share // 4)
        kept, left = [], share - len(output.evalue.encode())
        for line in output.get("traceback", []):
            left -= len(line.encode())
            if left < 0:
                break
            kept.append(line)
        output.traceback = [*kept, note]
    else:
        text = output.get("data", {}).get("text/plain", "")
        plain = "".join(text) if isinstance(text, list) else str(text)
        output.data = {"text/plain": f"{_head(plain, share)}\n{note}".lstrip("\n")}
        output.metadata = {}
    return output


def _head(text: Any, size: int) -> str:
    """The longest start of *text* taking at most *size* bytes as JSON (escapes counted)."""
    joined = "".join(text) if isinstance(text, list) else str(text)
    head = joined.encode()[: max(size, 0)].decode(errors="ignore")
    while head and _size(head) > size:
        head = head[: len(head) * size // _size(head) - 1]
    return head


def _size(value: Any) -> int:
    """Bytes *value* takes as compact UTF-8 JSON (nbformat's indentation adds a little)."""
    return len(json.dumps(value, ensure_ascii=False).encode())
