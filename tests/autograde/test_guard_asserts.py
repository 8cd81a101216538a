"""Assertions rewritten for grading: honest comparisons behave as written, lies fail.

The rewrite is exercised here on plain compiled code (no kernel); test_hostile_flags.py runs
it inside the sandbox through real `workshop grade`.
"""

import ast
import sys
import textwrap
from unittest import mock

import numpy as np
import pytest

from autograde.guard_asserts import CHECKER_NAME, Comparisons, UntrustedValue, rewrite_asserts

LIAR = """
class Liar:
    def __eq__(self, other):
        return True
    __hash__ = None
"""


def run(source, checker=None):
    """Run *source* rewritten, as a test cell would; return the checker's notes."""
    source = textwrap.dedent(source)
    checker = checker or Comparisons()
    tree = rewrite_asserts(ast.parse(source))
    namespace = {CHECKER_NAME: checker, "np": np, "mock": mock}
    exec(compile(tree, "<test cell>", "exec"), namespace)
    return checker.notes


HONEST = [
    "assert 2 + 2 == 4",
    "assert 0.1 + 0.2 != 0.3 and abs(0.1 + 0.2 - 0.3) < 1e-9",
    "assert {'a': [1, 2.5], 'b': (3,)} == {'b': (3,), 'a': [1, 2.5]}",
    "assert 'ell' in 'hello' and 4 not in [1, 2]",
    "assert [1, 2] and not []",
    "x = [1]\nassert x is x and x is not None",
    "assert 1 < 2 <= 2",
    "a = np.arange(5.0)\nassert np.allclose(a, a + 1e-12)",
    "a = np.arange(5.0)\nassert (a == a).all() and a.shape == (5,)",
    "a = np.arange(5.0)\nassert a.sum() == 10.0 and np.float64(0.5) == 0.5",
    "assert np.array([3]) == 3",
    "assert isinstance(np.arange(2), np.ndarray)",
    "assert all(i * i == j for i, j in zip(range(3), [0, 1, 4]))",
    "assert sorted({3, 1}) == [1, 3]",
    "assert (1, 'a') == (1, 'a')",
]


@pytest.mark.parametrize("source", HONEST)
def test_honest_comparisons_pass_unflagged(source):
    assert run(source) == []


def test_a_learner_class_with_an_honest_eq_passes():
    notes = run(
        """
        class Point:
            def __init__(self, x):
                self.x = x
            def __eq__(self, other):
                return isinstance(other, Point) and other.x == self.x
        assert Point(1) == Point(1)
        assert Point(1) != Point(2)
        assert [Point(1)] == [Point(1)]
        """
    )
    assert notes == []


def test_an_honest_failure_keeps_its_message_and_line():
    with pytest.raises(AssertionError, match=r"^square is wrong$") as failure:
        run("x = 3\n\nassert x * x == 10, 'square is wrong'")
    assert not isinstance(failure.value, UntrustedValue)
    assert failure.traceback[-1].lineno + 1 == 3


def test_an_ambiguous_array_still_raises_as_python_does():
    with pytest.raises(ValueError, match="ambiguous"):
        run("assert np.array([1, 2]) == np.array([1, 2])")


ATTACKS = {
    "always equal": LIAR + "assert Liar() == 3",
    "equal on the right": LIAR + "assert 3 == Liar()",
    "mock.ANY": "assert mock.ANY == [1, 2]",
    "ANY inside a list": "assert [1, mock.ANY] == [1, 2]",
    "ANY inside a dict": "assert {'a': {'b': mock.ANY}} == {'a': {'b': 2}}",
    "truthy result": "class Yes:\n    def __bool__(self):\n        return True\n"
    "class N:\n    def __eq__(self, o):\n        return Yes()\nassert N() == 4",
    "string result": "class N:\n    def __eq__(self, o):\n        return 'yes'\nassert N() == 4",
    "array result": "class N:\n    def __eq__(self, o):\n        return np.array([True])\n"
    "assert N() == 4",
    "lying bool": "class B:\n    def __bool__(self):\n        return True\nassert B()",
    "lying len": "class L:\n    def __len__(self):\n        return 1\nassert L()",
    "contains anything": "class C:\n    def __contains__(self, x):\n        return True\n"
    "assert 5 in C()",
    "member equal to anything": LIAR + "assert Liar() in [1, 2]",
    "less than everything": "class M:\n    def __lt__(self, o):\n        return True\n"
    "    def __gt__(self, o):\n        return True\nassert M() < 1",
    "value comparison": LIAR + "assert (Liar() == np.arange(3)).all()",
    "object array": LIAR + "a = np.array([Liar(), Liar()], dtype=object)\n"
    "assert (a == np.array([1, 2])).all()",
    "in a nested function": LIAR + "def check(v):\n    assert v == 3\ncheck(Liar())",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_values_that_cannot_be_trusted_fail_and_are_noted(attack):
    checker = Comparisons()
    with pytest.raises(UntrustedValue, match="cannot be trusted"):
        run(ATTACKS[attack], checker)
    assert len(checker.notes) == 1 and checker.notes[0].startswith("untrusted-value: ")


def test_the_note_names_the_untrusted_type():
    checker = Comparisons()
    with pytest.raises(UntrustedValue):
        checker.compare("==", mock.ANY, 1)
    assert checker.notes == ["untrusted-value: a unittest.mock._ANY claims to equal anything"]


def test_a_failing_lie_is_just_a_failure():
    checker = Comparisons()
    assert checker.compare("==", 1, 2) is False
    assert checker.truth([]) is False
    assert checker.notes == []


def test_the_checks_are_bounded_on_huge_values():
    checker = Comparisons()
    big = list(range(2_000_000))
    assert checker.compare("==", big, list(big)) is True
    assert checker.budget <= 0 and checker.notes == []
    with pytest.raises(UntrustedValue):
        checker.compare("==", mock.ANY, 1)  # the values themselves are still asked


def test_numpy_is_optional(monkeypatch):
    monkeypatch.delitem(sys.modules, "numpy")
    assert run("assert [1.0, 2.0] == [1.0, 2.0]") == []
