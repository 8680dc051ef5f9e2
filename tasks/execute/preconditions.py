"""Tests outside the contract a row's words state.

A docstring that says "Assume y1 <= y2", "assuming a is sorted" or "maintaining the heap
invariant" leaves what the code does on other inputs unspecified: `leapdays(100, 7)` returns
-23 by the original's formula, and a loop that counts leap years returns 0, both correct.
A test calling it there rejects correct solutions, so execute drops it (counted as
`test_dropped:outside_precondition`). Only preconditions that can be checked on the call's
own arguments are read:

- `Assume <comparison>` / `assuming <comparison>` / `requires <comparison>` over the
  parameters and literals (`y1 <= y2`, `0 <= n < len(a)` is not: a call is not a literal);
- `<param> is sorted` after assume/assuming/requires/given (or `<param> must be sorted`): the
  argument must be a list or tuple in non-decreasing order;
- a parameter named `heap` when the words speak of the heap invariant: the argument must be a
  list where no item is smaller than its parent.
"""

from __future__ import annotations

import ast
import functools
import itertools
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from codemint import safe_ast
from codemint.codec import decode_input
from codemint.samples import CLASS_KINDS

Check = Callable[[dict[str, Any]], bool]  # True: the call meets the precondition

_ASSUMED = re.compile(r"\b(?:assum(?:e|es|ing)|requires?)\s+(?:that\s+)?(?P<text>[^.;:\n]+)", re.IGNORECASE)
_SORTED = re.compile(
    r"\b(?:assum(?:e|es|ing)|requires?|given)\s+(?:that\s+)?(?:the\s+)?(?:list\s+|sequence\s+)?"
    r"`?(?P<name>[A-Za-z_]\w*)`?\s+is\s+(?:already\s+)?sorted"
    r"|`?(?P<must>[A-Za-z_]\w*)`?\s+must\s+be\s+(?:already\s+)?sorted",
    re.IGNORECASE,
)
_HEAP = re.compile(r"\bheap invariant\b", re.IGNORECASE)
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _comparison(text: str, params: Sequence[str]) -> Check | None:
    """A check for `text` when it is a comparison of parameters and literals (the longest
    leading part of it that parses: "y1 <= y2 and the rest" reads as `y1 <= y2`)."""
    words = text.split()
    for end in range(len(words), 0, -1):
        try:
            tree = ast.parse(" ".join(words[:end]).rstrip(",;:"), mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(tree, ast.Compare):
            return None
        operands = [tree.left, *tree.comparators]
        if not all(_operand(o, params) for o in operands) or not all(type(op) in _COMPARE for op in tree.ops):
            return None
        if not any(isinstance(o, ast.Name) for o in operands):
            return None
        return functools.partial(_holds, tree)
    return None


def _operand(node: ast.expr, params: Sequence[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in params
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def _value(node: ast.expr, bound: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return bound[node.id]
    return ast.literal_eval(node)


def _holds(tree: ast.Compare, bound: dict[str, Any]) -> bool:
    operands = [tree.left, *tree.comparators]
    if any(isinstance(o, ast.Name) and o.id not in bound for o in operands):
        return True  # a parameter left to its default: nothing to check
    values = [_value(o, bound) for o in operands]
    try:
        return all(_COMPARE[type(op)](a, b) for op, a, b in zip(tree.ops, values, values[1:], strict=False))
    except TypeError:
        return True  # not comparable: the precondition does not speak of such values


def _sorted(name: str, bound: dict[str, Any]) -> bool:
    value = bound.get(name)
    if not isinstance(value, list | tuple) or bound.get("key") is not None:
        return True  # sorted by a key function: its order is not the values'
    try:
        return all(not b < a for a, b in itertools.pairwise(value))
    except TypeError:
        return True


def _heap(bound: dict[str, Any]) -> bool:
    value = bound.get("heap")
    if not isinstance(value, list):
        return True
    try:
        return all(not value[i] < value[(i - 1) // 2] for i in range(1, len(value)))
    except TypeError:
        return True


@functools.lru_cache(maxsize=1024)
def parameters(signature: str) -> tuple[str, ...]:
    """The parameter names of a `def` line, in order (`self` and `cls` included)."""
    try:
        tree = safe_ast.parse(signature.strip().rstrip(":") + ": pass")
    except (SyntaxError, ValueError, RecursionError):
        return ()
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return ()
    a = node.args
    named = [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs]
    return tuple(arg.arg for arg in named)


@functools.lru_cache(maxsize=1024)
def stated_checks(words: str, signature: str) -> tuple[Check, ...]:
    """The preconditions `words` (docstring, instruction) state that a call can be checked
    against, for a function of `signature`."""
    params = parameters(signature)
    checks: list[Check] = []
    for match in _ASSUMED.finditer(words):
        if (check := _comparison(match.group("text"), params)) is not None:
            checks.append(check)
    for match in _SORTED.finditer(words):
        name = match.group("name") or match.group("must")
        if name in params:
            checks.append(functools.partial(_sorted, name))
    if "heap" in params and _HEAP.search(words):
        checks.append(_heap)
    return tuple(checks)


def bind(input_text: str, signature: str, sample_kind: str) -> dict[str, Any] | None:
    """The call's arguments by parameter name (a method's own, after `self`), or None."""
    try:
        args, kwargs = decode_input(input_text)
    except (ValueError, RecursionError):
        return None
    params = list(parameters(signature))
    if sample_kind in CLASS_KINDS:
        if len(args) != 4 or not isinstance(args[2], list) or not isinstance(args[3], dict):
            return None
        args, kwargs = args[2], args[3]
        params = params[1:]  # self or cls
    bound = dict(zip(params, args, strict=False))
    bound.update(kwargs)
    return bound


def outside(input_text: str, words: str, signature: str, sample_kind: str = "function") -> bool:
    """Whether the call breaks a precondition its words state."""
    checks = stated_checks(words, signature)
    if not checks:
        return False
    bound = bind(input_text, signature, sample_kind)
    return bound is not None and not all(check(bound) for check in checks)
