"""Run one exercise's visible tests in the learner's kernel and score them as the grader would.

The grader runs a test cell and scores its outputs with nbgrader's `determine_grade`: an error
gives 0 (and so does anything on stderr when the course sets `c.Workshop.stderr_fails`), a
number as the cell's result gives that many points (partial credit), anything else full points.
A learner's kernel must not import nbgrader (it is slow and not always installed there), so
`points_for` states the same rule over the same facts, and
`tests/extensions/test_check_agreement.py` holds it to nbgrader's function and to `workshop
grade`. The tests run statement by statement so the learner sees each assertion's outcome;
execution stops at the first failure, exactly where the cell would stop. What a failure means
for the learner (a stub not attempted yet, their own line that raised, a syntax error in their
solution cell) is worked out by `extensions.explain_errors`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import operator
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from extensions.explain_errors import (
    is_stub,
    learner_line,
    solution_untouched,
    syntax_error_in_cell,
)

__all__ = ["CheckResult", "Solution", "TestOutcome", "points_for", "run_visible_tests"]

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
NOT_ATTEMPTED = "not attempted"
_MAX_SHOWN_CHARS = 2000


@dataclass(frozen=True)
class TestOutcome:
    """One assertion (or the statement that failed before it) and what became of it."""

    source: str
    status: str
    message: str = ""
    condition: str = ""
    """For an `assert`, its condition alone (without the message), which a passed test shows."""


@dataclass(frozen=True)
class Solution:
    """What the release recorded of an exercise's solution cells: the names they define and
    their released (stub) sources."""

    defines: tuple[str, ...] = ()
    stubs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    exercise: str
    points: float
    max_points: float
    tests: tuple[TestOutcome, ...]
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    notes: tuple[str, ...] = field(default=())
    attempted: bool = True
    """False while the solution is still nbgrader's stub (or its cell was never run)."""
    summary: str = ""
    """One sentence on the whole exercise when a test line would not say it (not attempted,
    a syntax error in the solution cell)."""

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points

    @property
    def state(self) -> str:
        """passed, failed or not attempted: what the panel and the summary after Submit say."""
        if self.passed:
            return PASSED
        return FAILED if self.attempted else NOT_ATTEMPTED

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "passed": self.passed,
            "points": self.points,
            "max_points": self.max_points,
            "tests": [t.__dict__ for t in self.tests],
            "stdout": self.stdout,
            "stderr": self.stderr,
            "notes": list(self.notes),
            "state": self.state,
            "summary": self.summary,
        }


def points_for(*, failed: bool, stderr: bool, result_text: str | None, max_points: float) -> float:
    """nbgrader's rule for an autograded test cell, as `course.score.score_cells` applies it.

    *stderr* is whether stderr output counts against the cell (it wrote some, and the course
    sets `stderr_fails`); *result_text* is the plain-text form of the cell's result (None when
    there is none).
    """
    if failed or stderr:
        return 0.0
    if result_text is None:
        return max_points
    if not result_text:
        return 0.0
    try:
        value = float(result_text)
    except ValueError:
        return max_points
    if value < 0:
        return max_points
    return 0.0 if value > max_points else value


def run_visible_tests(
    exercise: str,
    code: str,
    max_points: float,
    namespace: dict[str, Any],
    shell: Any = None,
    solution: Solution = Solution(),
    *,
    stderr_fails: bool = False,
) -> CheckResult:
    """Run *code* (the visible tests) in *namespace* and score it; never raises for test errors.

    *shell* is the kernel's IPython shell: it turns magics into Python and formats the result
    as the kernel's display hook would, so partial credit reads the same text the grader does.
    A syntax error in the learner's latest cell defining the *solution*'s names gives 0 points
    without running the tests (the saved notebook would fail the same way when graded); a
    failure while the solution is still the released stub reads "not attempted yet".
    *stderr_fails* is the course's `c.Workshop.stderr_fails` (from `.workshop/checks.json`).
    """
    start = time.perf_counter()
    broken = syntax_error_in_cell(shell, solution.defines)
    if broken is not None:
        return CheckResult(
            exercise,
            0.0,
            max_points,
            (),
            duration_ms=_ms(start),
            summary=broken[0].upper() + broken[1:],
        )
    source = shell.transform_cell(code) if shell is not None else code
    try:
        statements = ast.parse(source, filename=f"<check {exercise}>").body
    except SyntaxError as error:
        outcome = TestOutcome(code.strip()[:200], FAILED, f"SyntaxError: {error.msg}")
        return CheckResult(exercise, 0.0, max_points, (outcome,), duration_ms=_ms(start))
    out, err = io.StringIO(), io.StringIO()
    outcomes: list[TestOutcome] = []
    failed = False
    attempted = True
    result_text: str | None = None
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        for index, statement in enumerate(statements):
            text = ast.get_source_segment(source, statement) or ast.unparse(statement)
            if failed:
                if isinstance(statement, ast.Assert):
                    outcomes.append(TestOutcome(_first_line(text), NOT_RUN))
                continue
            last = index == len(statements) - 1
            try:
                value = _execute(statement, namespace, exercise, evaluate=last)
            except KeyboardInterrupt:
                failed = True
                outcomes.append(TestOutcome(_first_line(text), FAILED, "interrupted"))
                continue
            except BaseException as error:  # noqa: BLE001 - learner code may raise anything
                failed = True
                attempted = not _unsolved(error, solution, namespace)
                outcomes.append(TestOutcome(_first_line(text), FAILED, _describe(error)))
                continue
            if isinstance(statement, ast.Assert):
                condition = ast.get_source_segment(source, statement.test) or ""
                outcomes.append(TestOutcome(_first_line(text), PASSED, "", _first_line(condition)))
            if last and value is not None and not source.rstrip().endswith(";"):
                result_text = _plain_text(value, shell)
    stderr = err.getvalue()
    points = points_for(
        failed=failed,
        stderr=bool(stderr) and stderr_fails,
        result_text=result_text,
        max_points=max_points,
    )
    notes: tuple[str, ...] = ()
    if stderr and stderr_fails and not failed:
        notes = ("the tests wrote to stderr (a warning?); grading gives 0 points for that",)
    return CheckResult(
        exercise,
        points,
        max_points,
        tuple(outcomes),
        out.getvalue()[-_MAX_SHOWN_CHARS:],
        stderr[-_MAX_SHOWN_CHARS:],
        _ms(start),
        notes,
        attempted,
        "" if attempted else _NOT_ATTEMPTED_SUMMARY,
    )


_NOT_ATTEMPTED_SUMMARY = (
    "Write your solution in the cell above (in place of raise NotImplementedError()), run "
    "that cell, then press Check."
)


def _unsolved(error: BaseException, solution: Solution, namespace: dict[str, Any]) -> bool:
    """The stub raised, the solution's names were never defined (its cell not run), or its
    functions are still the released stubs (the tests failed on something else first)."""
    if isinstance(error, NameError) and error.name in solution.defines:
        return True
    return is_stub(error) or solution_untouched(namespace, solution.defines, solution.stubs)


def _execute(
    statement: ast.stmt, namespace: dict[str, Any], exercise: str, *, evaluate: bool
) -> Any:
    filename = f"<check {exercise}>"
    if evaluate and isinstance(statement, ast.Expr):
        return _eval(statement.value, namespace, filename)
    if isinstance(statement, ast.Assert) and _single_comparison(statement.test):
        _assert_comparison(statement, namespace, filename)
        return None
    module = ast.Module([statement], type_ignores=[])
    exec(compile(module, filename, "exec"), namespace)
    return None


_COMPARISONS: dict[type[ast.cmpop], tuple[str, Any]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}


def _single_comparison(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and len(test.ops) == 1


def _assert_comparison(statement: ast.Assert, namespace: dict[str, Any], filename: str) -> None:
    """`assert left OP right[, message]` evaluated step by step as Python does, keeping both
    sides, so a failure without a message can still say what was expected and what came."""
    compare = statement.test
    assert isinstance(compare, ast.Compare)
    left = _eval(compare.left, namespace, filename)
    right = _eval(compare.comparators[0], namespace, filename)
    symbol, compare_values = _COMPARISONS[type(compare.ops[0])]
    if compare_values(left, right):
        return
    if statement.msg is not None:
        raise AssertionError(_eval(statement.msg, namespace, filename))
    if symbol == "==":
        raise AssertionError(f"got {_short(left)}, expected {_short(right)}")
    raise AssertionError(f"{_short(left)} {symbol} {_short(right)} is false")


def _eval(node: ast.expr, namespace: dict[str, Any], filename: str) -> Any:
    return eval(compile(ast.Expression(node), filename, "eval"), namespace)


def _describe(error: BaseException) -> str:
    message = str(error).strip()
    if isinstance(error, AssertionError):
        return message or "assertion failed"
    described = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if isinstance(error, NameError):
        return f"{described} (the cell above that makes it has not run, or it failed)"
    where = learner_line(error)
    return f"{described} ({where})" if where else described


def _plain_text(value: Any, shell: Any) -> str:
    if shell is None:
        return repr(value)
    data, _ = shell.display_formatter.format(value)
    return str(data.get("text/plain", ""))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] + (" ..." if len(lines) > 1 else "") if lines else ""


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
