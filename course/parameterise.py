"""Papermill parameters: what a notebook declares, and injecting a chosen set.

A workshop notebook has one cell tagged `parameters` (papermill's convention) and may declare
named parameter sets in `metadata.workshop.parameter_sets`, e.g. `small` for laptops and `full`.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping
from typing import Any

from nbformat import NotebookNode

from course.cells import workshop_meta
from course.errors import ParameterError

__all__ = [
    "INJECTED_CELL_ID",
    "declared_parameters",
    "parameter_sets",
    "parameterise",
    "parse_assignment",
    "require_declared",
]

INJECTED_CELL_ID = "injected-parameters"


def declared_parameters(nb: NotebookNode) -> dict[str, str]:
    """Names and default values (as source text) assigned in the `parameters` cell."""
    from papermill.translators import papermill_translators

    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return {}
    kernel, language = _kernel_and_language(nb)
    translator = papermill_translators.find_translator(kernel, language)
    return {p.name: p.default for p in translator.inspect(cell)}


def parameter_sets(nb: NotebookNode) -> dict[str, dict[str, Any]]:
    """The named parameter sets declared in the notebook metadata (may be empty)."""
    sets = workshop_meta(nb).get("parameter_sets", {})
    if not isinstance(sets, dict):
        return {}
    return {name: values for name, values in sets.items() if isinstance(values, dict)}


def require_declared(parameters: Mapping[str, object], nb: NotebookNode, label: str) -> None:
    """Raise `ParameterError` naming *label* when a parameter is not in its `parameters` cell."""
    declared = declared_parameters(nb)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none: the notebook has no 'parameters' cell"
        raise ParameterError(
            f"{label}: unknown parameter {', '.join(repr(n) for n in unknown)} (declared: {known})"
        )


def parse_assignment(item: str) -> tuple[str, object]:
    """Parse one `NAME=VALUE`; VALUE must be a Python literal, strings quoted.

    A bare word is refused rather than taken as a string: `-p n_readings=hundred` is far more
    often a typo for a number than a wish for the text "hundred", and `-p 'n=[1,2'` a cut-off
    list; either would release a notebook that fails in front of the room.
    """
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ParameterError(f"-p {item!r}: expected NAME=VALUE with NAME a Python identifier")
    try:
        return name, ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        quoted = repr(text.strip())
        raise ParameterError(
            f"-p {item!r}: {text.strip()!r} is not a Python literal ({type(error).__name__}); "
            f"give a number, list, dict, True/False/None, or quote a string: "
            f"-p '{name}={quoted}'"
        ) from error


def parameterise(nb: NotebookNode, parameters: Mapping[str, object]) -> NotebookNode:
    """Return a copy of *nb* with *parameters* injected after its `parameters` cell.

    papermill expects the metadata its own loader adds (`metadata.papermill`, a `tags` list on
    every cell); add it here so callers can read notebooks with plain nbformat. The injected
    cell gets a fixed id so that releasing twice gives byte-identical notebooks.
    """
    from papermill.parameterize import parameterize_notebook

    nb = copy.deepcopy(nb)
    nb.metadata.setdefault("papermill", NotebookNode())
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    kernel, language = _kernel_and_language(nb)
    nb = parameterize_notebook(nb, dict(parameters), kernel_name=kernel, language=language)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = INJECTED_CELL_ID
        elif not cell.metadata["tags"]:
            del cell.metadata["tags"]
    return nb


def _kernel_and_language(nb: NotebookNode) -> tuple[str, str]:
    kernelspec = nb.metadata.get("kernelspec", {})
    language = kernelspec.get("language") or nb.metadata.get("language_info", {}).get("name")
    return kernelspec.get("name", "python3"), language or "python"
