"""Make the assertions of autograder test cells count only comparisons that can be trusted.

`assert result == expected` passes for any value that claims to equal everything: a class whose
`__eq__` always returns True, `unittest.mock.ANY`, an `__eq__` returning a truthy object, a
`__bool__` that lies. Before a test cell runs, its assertions are rewritten (an AST transform,
as pytest does, on the cell IPython compiles, so line numbers and the cell's source stay the
test author's): each comparison and each plain truth test in an `assert` goes through
`Comparisons`. A comparison that fails is the test's own failure, with its own message. One
that passes is then checked: its result must be a real truth value (a bool, a NumPy bool or
array, anything whose truth is decided in C), neither side may also equal a fresh object
(searched inside lists, tuples, sets, dicts and object arrays), `b == a` must agree with
`a == b`, and `b < a` must not also hold. A comparison that fails these checks raises
`UntrustedValue` (the test fails) and leaves a note that becomes the `untrusted-value` finding.
Failing comparisons are never checked further, so an honest wrong answer is reported as before.

`guard_test_cell` arms one test cell: the transform is added to the shell's AST transformers
(the cell runner's `Pristine` removes it again) and the checker is bound in the learner's
namespace for that cell only, after every learner cell has run; when learner code replaced it
while the test ran, the test fails and the cell is reported. Learner code running inside the
test cell could still swap the checker between two assertions and put it back.
"""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable
from itertools import islice
from types import FunctionType
from typing import Any

__all__ = [
    "CHECKER_NAME",
    "UNTRUSTED_VALUE",
    "Comparisons",
    "UntrustedValue",
    "guard_test_cell",
    "rewrite_asserts",
]

CHECKER_NAME = "__workshop_comparisons__"
UNTRUSTED_VALUE = "untrusted-value"
MAX_INSPECTED = 300_000  # values looked into per test cell, all its comparisons together
HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by Python code, not by C

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
SYMBOLS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
REVERSED = {"==": "==", "<": ">", ">": "<"}
ATOMS = (bool, int, float, complex, str, bytes, type(None))


class UntrustedValue(AssertionError):
    """A comparison in a test passed, but the values in it cannot be trusted."""


class _Fresh:
    """A new object nothing honest is equal to."""

    __slots__ = ()


class Comparisons:
    """The checks the rewritten assertions call; `notes` gathers what was untrusted."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.budget = MAX_INSPECTED

    def compare(self, symbol: str, left: Any, right: Any) -> bool:
        """`left <symbol> right` as an assertion's truth, when it can be trusted."""
        __tracebackhide__ = True
        result = OPERATORS[symbol](left, right)
        if not result:
            return False
        if symbol not in ("in", "not in") and not _decided_in_c(result, default=False):
            self._untrusted(
                f"`{symbol}` returned a {_name(result)}, whose truth Python code decides"
            )
        self._check_operands(symbol, left, right)
        if symbol in REVERSED and not _claims(OPERATORS[REVERSED[symbol]](right, left)):
            self._untrusted(f"a {_name(left)} and a {_name(right)} disagree on `{symbol}`")
        if symbol in ("<", ">") and _claims(OPERATORS[symbol](right, left)):
            self._untrusted(f"a {_name(left)} and a {_name(right)} are each `{symbol}` the other")
        return True

    def value(self, symbol: str, left: Any, right: Any) -> Any:
        """`left <symbol> right` used as a value (`(a == b).all()`): returned unchanged, once
        neither side claims to equal a fresh object."""
        __tracebackhide__ = True
        result = OPERATORS[symbol](left, right)
        self._check_operands(symbol, left, right)
        return result

    def truth(self, value: Any) -> bool:
        """The truth of *value* as `assert value` takes it, when it can be trusted."""
        __tracebackhide__ = True
        if not value:
            return False
        if not _decided_in_c(value, default=True):
            self._untrusted(f"the truth of a {_name(value)} is decided by its own Python code")
        return True

    def _check_operands(self, symbol: str, left: Any, right: Any) -> None:
        __tracebackhide__ = True
        for side in (left, right):
            liar, inspected = _liar_inside(side, max(self.budget, 1))
            self.budget -= inspected
            if liar is not _NONE:
                self._untrusted(f"a {_name(liar)} claims to equal anything")
        contains = symbol == "in" and not _native(type(right), "__contains__")
        if contains and _claims(_Fresh() in right):
            self._untrusted(f"a {_name(right)} claims to contain anything")

    def _untrusted(self, reason: str) -> None:
        __tracebackhide__ = True
        self.notes.append(f"{UNTRUSTED_VALUE}: {reason}")
        raise UntrustedValue(f"this comparison cannot be trusted: {reason}")


class _Rewrite(ast.NodeTransformer):
    """Send every assertion's comparisons and truth tests through `Comparisons`."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        self.generic_visit(node)
        return ast.fix_missing_locations(node)

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        node.test = self._truth(node.test)
        return node

    def _truth(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.BoolOp):
            node.values = [self._truth(v) for v in node.values]
            return node
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = self._truth(node.operand)
            return node
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            if isinstance(node.ops[0], ast.Is | ast.IsNot):
                return self._values(node)
            left, right = self._values(node.left), self._values(node.comparators[0])
            return _call("compare", node, SYMBOLS[type(node.ops[0])], left, right)
        return _call("truth", node, None, self._values(node))

    def _values(self, node: ast.expr) -> ast.expr:
        rewritten: ast.expr = _Values().visit(node)
        return rewritten


class _Values(ast.NodeTransformer):
    """Inside an assertion, comparisons used as values keep their result, checked."""

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) != 1 or isinstance(node.ops[0], ast.Is | ast.IsNot):
            return node
        symbol = SYMBOLS[type(node.ops[0])]
        return _call("value", node, symbol, node.left, node.comparators[0])


def rewrite_asserts(tree: ast.Module) -> ast.Module:
    """*tree* with its assertions checked by the `Comparisons` bound as CHECKER_NAME (in place:
    IPython hands each AST transformer the tree it then compiles)."""
    rewritten: ast.Module = _Rewrite().visit(tree)
    return rewritten


def _call(method: str, where: ast.expr, symbol: str | None, *args: ast.expr) -> ast.expr:
    checker = ast.Attribute(ast.Name(CHECKER_NAME, ast.Load()), method, ast.Load())
    arguments = [ast.Constant(symbol), *args] if symbol is not None else list(args)
    return ast.copy_location(ast.Call(checker, arguments, []), where)


class _Guard:
    """One armed test cell: `finish` says whether learner code tampered with the checks."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.checker = Comparisons()
        shell.ast_transformers.append(_Rewrite())
        shell.user_ns[CHECKER_NAME] = self.checker

    def finish(self) -> tuple[list[str], dict[str, Any] | None]:
        """The cell's notes, and an error output to add when the checker was replaced."""
        found = self.shell.user_ns.pop(CHECKER_NAME, None)
        notes = list(dict.fromkeys(self.checker.notes))
        if found is self.checker:
            return notes, None
        reason = "learner code replaced the grader's comparison checks during the test"
        error = {
            "output_type": "error",
            "ename": UntrustedValue.__name__,
            "evalue": reason,
            "traceback": [f"{UntrustedValue.__name__}: {reason}"],
        }
        return [*notes, f"{UNTRUSTED_VALUE}: {reason}"], error


def guard_test_cell(shell: Any) -> _Guard:
    """Arm the next cell *shell* runs (a test cell); call `finish()` on the result after it.

    This module is first put back as it was imported (before any learner code ran): its
    names, tables, classes and functions' code, which learner cells could have patched.
    """
    _ORIGINAL.restore()
    return _Guard(shell)


class _Snapshot:
    """This module as imported, to undo learner patches before each test cell."""

    def __init__(self) -> None:
        self.module = sys.modules[__name__]
        module = vars(self.module)
        self.names = dict(module)
        self.tables = {k: dict(v) for k, v in module.items() if isinstance(v, dict) and k.isupper()}
        self.classes = {
            cls: dict(vars(cls))
            for cls in module.values()
            if isinstance(cls, type) and cls.__module__ == __name__
        }
        functions = [f for f in module.values() if isinstance(f, FunctionType)]
        functions += [
            f for d in self.classes.values() for f in d.values() if isinstance(f, FunctionType)
        ]
        self.code = {f: (f.__code__, f.__defaults__, f.__kwdefaults__) for f in functions}

    def restore(self) -> None:
        sys.modules[__name__] = self.module
        module = vars(self.module)
        module.clear()
        module.update(self.names)
        for name, table in self.tables.items():
            module[name].clear()
            module[name].update(table)
        for cls, saved in self.classes.items():
            for key in [k for k in vars(cls) if k not in saved]:
                delattr(cls, key)
            for key, value in saved.items():
                if key not in ("__dict__", "__weakref__") and vars(cls).get(key) is not value:
                    setattr(cls, key, value)
        for function, (code, defaults, kwdefaults) in self.code.items():
            function.__code__, function.__defaults__ = code, defaults
            function.__kwdefaults__ = kwdefaults


_NONE = object()


def _name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ != "builtins" else cls.__name__


def _owner(cls: type, *names: str) -> type | None:
    """The class in *cls*'s MRO that defines the first of *names* it defines."""
    for name in names:
        for base in cls.__mro__:
            if name in vars(base):
                return base
    return None


def _native(cls: type, *names: str) -> bool:
    owner = _owner(cls, *names)
    return owner is None or not owner.__flags__ & HEAP_TYPE


def _decided_in_c(value: Any, *, default: bool) -> bool:
    """Whether the truth of *value* comes from C (a bool, a NumPy bool or array, a number).

    *default* is the answer for an object with neither `__bool__` nor `__len__` (always true):
    fine as a value that exists, but not as the answer of a comparison.
    """
    if type(value) is bool:
        return True
    owner = _owner(type(value), "__bool__", "__len__")
    if owner is None:
        return default
    return not owner.__flags__ & HEAP_TYPE


def _claims(result: Any) -> bool:
    """Whether a comparison's *result* says yes (for arrays: anywhere); never raises."""
    if result is NotImplemented:
        return False
    if type(result) is bool:
        return result
    try:
        return bool(result)
    except Exception:  # noqa: BLE001 - an array's ambiguous truth, or a learner's __bool__
        numpy = sys.modules.get("numpy")
        if numpy is None:
            return False
        try:
            return bool(numpy.asarray(result).any())
        except Exception:  # noqa: BLE001 - anything a learner's object may raise
            return False


def _claims_equal(value: Any, fresh: _Fresh) -> bool:
    try:
        return _claims(value == fresh)
    except Exception:  # noqa: BLE001 - refusing to compare is honest
        return False


def _liar_inside(value: Any, budget: int) -> tuple[Any, int]:
    """A value in *value* (itself included) that claims to equal a fresh object, or _NONE, and
    how many values were looked at.

    Looks into lists, tuples, sets, dict keys and values, and object arrays, up to *budget*
    values (a test cell's share of MAX_INSPECTED, which bounds the time its checks take);
    values whose equality is C code are not asked.
    """
    numpy = sys.modules.get("numpy")
    pending, inspected = [value], 0
    native: dict[type, bool] = {}
    while pending and inspected < budget:
        item = pending.pop()
        inspected += 1
        cls = type(item)
        if cls in ATOMS:
            continue
        if cls not in native:
            native[cls] = _native(cls, "__eq__")
        if not native[cls] and _claims_equal(item, _Fresh()):
            return item, inspected
        room = budget - inspected - len(pending)
        if room <= 0:
            continue
        if isinstance(item, dict):
            pending.extend(islice(item.keys(), room))
            pending.extend(islice(item.values(), room))
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(islice(item, room))
        elif numpy is not None and isinstance(item, numpy.ndarray) and item.dtype == object:
            pending.extend(item.ravel()[:room].tolist())
    return _NONE, inspected


_ORIGINAL = _Snapshot()
_ORIGINAL.names["_ORIGINAL"] = _ORIGINAL
