"""The verdict: whether a call's outcome is what a test expects. Every stage that judges code
against tests (verify, the RL reward, repair bugs, the mutants of adequacy and feedback
testgen, translations' numbers) decides by these rules, so "passes" means one thing.

Values are codec text (`codemint.codec`) and compare as a user compares them with `==`:
- an int equals the same float (2 and 2.0), anywhere in a value; bool is not a number here
  (a test that wants True is not passed by 1);
- floats match within a relative tolerance REL_TOL (ABS_TOL near 0); NaN equals NaN, an
  infinity only the same infinity; complex numbers componentwise;
- container kinds must match (a list is not a tuple), dicts and sets regardless of order;
- an iterator that raised as it was consumed (`__iter_raised__`) matches on its items and the
  exception type, not the message (messages are not part of the task).
An expected exception compares by type only. Identical text passes without decoding.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Protocol

from codemint.codec import canonical_text
from codemint.records import TestCase

REL_TOL = 1e-9
ABS_TOL = 1e-12
# Unmatched items of two sets (or dicts) are paired in a numeric-aware order; when that
# pairing fails, up to this many are also matched pairwise (quadratic) before giving up.
PAIRWISE_LIMIT = 64
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_UNORDERED = frozenset({"__set__", "__frozenset__", "__dict__"})


class Outcome(Protocol):
    """What one call did (`codemint.sandbox.api.CallOutcome` has these fields)."""

    @property
    def status(self) -> str: ...
    @property
    def result(self) -> str | None: ...
    @property
    def exc_type(self) -> str | None: ...
    @property
    def args_after(self) -> str | None: ...
    @property
    def stdout(self) -> str: ...


def passes(case: TestCase, outcome: Outcome) -> bool:
    """Same return value (or exception type), and where the test records them, the same
    stdout and the same state of the arguments after the call."""
    if case.stdout is not None and outcome.stdout != case.stdout:
        return False
    if case.args_after is not None and not same_input(outcome.args_after or case.input, case.args_after):
        return False
    if case.exception is not None:
        return outcome.status == "error" and outcome.exc_type == case.exception
    return outcome.status == "ok" and same_value(outcome.result, case.expected)


def same_value(got: str | None, want: str | None) -> bool:
    """Whether two codec texts of values are equal by the rules above."""
    if got == want:
        return True
    if got is None or want is None:
        return False
    a, b = _load(got), _load(want)
    return a is not _BAD and b is not _BAD and _safe_equal(a, b)


def same_input(got: str, want: str) -> bool:
    """Whether two input texts (`{"args": [...], "kwargs": {...}}`, e.g. argument states after
    a call) hold equal arguments: positional in order, keywords by name."""
    return same_value(got, want)


def numbers_equal(x: int | float, y: int | float) -> bool:
    """Ints exactly; otherwise within REL_TOL (ABS_TOL near 0), NaN equal to NaN."""
    if type(x) is int and type(y) is int:
        return x == y
    try:
        fx, fy = float(x), float(y)
    except OverflowError:  # an int beyond any float: only exactly equal numbers match
        return x == y
    if math.isnan(fx) or math.isnan(fy):
        return math.isnan(fx) and math.isnan(fy)
    if math.isinf(fx) or math.isinf(fy):
        return fx == fy
    return math.isclose(fx, fy, rel_tol=REL_TOL, abs_tol=ABS_TOL)


_BAD = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _load(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return _BAD


def _safe_equal(a: Any, b: Any) -> bool:
    try:
        return _equal(a, b)
    except RecursionError:  # nested past the interpreter's limit: only identical text passes
        return False


def _number(x: Any) -> int | float | None:
    """The number a codec datum stands for (an int, a float, a `__float__` tag), else None."""
    t = type(x)
    if t is int or t is float:
        return x
    if t is dict and len(x) == 1:
        payload = x.get("__float__")
        if isinstance(payload, str):
            return _FLOATS.get(payload)
    return None


def _equal(a: Any, b: Any) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None or nb is not None:
        return na is not None and nb is not None and numbers_equal(na, nb)
    ta = type(a)
    if ta is not type(b):
        return False  # bool vs number, str vs list, ...
    if ta is list:
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        if a.keys() != b.keys():
            return False  # another tag: another kind of value
        if len(a) == 1:
            ((tag, pa),) = a.items()
            pb = b[tag]
            if tag in _UNORDERED:
                return _same_items(pa, pb)
            if tag == "__iter_raised__":
                return _same_raised(pa, pb)
        return all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)  # str, bool, None


def _same_raised(a: Any, b: Any) -> bool:
    """[items, exception type, message]: the message is not compared."""
    if type(a) is not list or type(b) is not list or len(a) < 2 or len(b) < 2:
        return _equal(a, b)
    return a[1] == b[1] and _equal(a[0], b[0])


def _same_items(a: Any, b: Any) -> bool:
    """Items of two sets (or [key, value] pairs of two dicts) as multisets: identical ones
    first, then the rest by the value rule (2 and 2.0 are one set item, as in Python)."""
    if type(a) is not list or type(b) is not list:
        return _equal(a, b)
    if len(a) != len(b):
        return False
    texts_a, texts_b = [canonical_text(x) for x in a], [canonical_text(x) for x in b]
    left, right = Counter(texts_a), Counter(texts_b)
    if left == right:
        return True
    by_text = dict(zip(texts_a + texts_b, a + b, strict=True))
    only_a = [by_text[t] for t, n in (left - right).items() for _ in range(n)]
    only_b = [by_text[t] for t, n in (right - left).items() for _ in range(n)]
    only_a.sort(key=_order_key)
    only_b.sort(key=_order_key)
    if all(_equal(x, y) for x, y in zip(only_a, only_b, strict=True)):
        return True
    if len(only_a) > PAIRWISE_LIMIT:
        return False
    unused = list(only_b)
    for x in only_a:
        match = next((i for i, y in enumerate(unused) if _equal(x, y)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def _order_key(x: Any) -> tuple[Any, ...]:
    """A total order over codec data in which numbers sort by value (2 next to 2.0)."""
    n = _number(x)
    if n is not None:
        f = _as_float(n)
        return (0, math.inf if math.isnan(f) else f, math.isnan(f))
    t = type(x)
    if t is str:
        return (1, x)
    if t is list:
        return (3, tuple(_order_key(y) for y in x))
    if t is dict:
        return (4, tuple((k, _order_key(v)) for k, v in sorted(x.items())))
    return (2, repr(x))  # bool, None


def _as_float(n: int | float) -> float:
    try:
        return float(n)
    except OverflowError:
        return math.inf if n > 0 else -math.inf
