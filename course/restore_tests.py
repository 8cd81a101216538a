"""Put the source's test cells back into a learner's notebook, matched by grade id.

Grades come from the source, never from the submission: whatever a learner did to a test cell
(edited it, emptied it, changed its points) is undone before the notebook runs.
"""

from __future__ import annotations

import copy

from nbformat import NotebookNode

from course.cells import autograded_tests, grade_id, is_autograded_test

__all__ = ["restore_tests"]


def restore_tests(learner: NotebookNode, source: NotebookNode) -> NotebookNode:
    """Return a copy of *learner* whose autograded test cells are the source's, hidden tests too.

    A learner cell whose grade id names a source test cell becomes that cell (source, metadata,
    no outputs); learner cells claiming to be tests without a source counterpart lose their
    nbgrader metadata, so they cannot be scored.
    """
    tests = autograded_tests(source)
    restored = copy.deepcopy(learner)
    for cell in restored.cells:
        key = grade_id(cell)
        if key is not None and key in tests:
            original = tests[key]
            cell.cell_type = "code"
            cell.source = original.source
            cell.metadata = copy.deepcopy(original.metadata)
            cell.outputs = []
            cell.execution_count = None
        elif is_autograded_test(cell):
            del cell.metadata["nbgrader"]
    return restored
