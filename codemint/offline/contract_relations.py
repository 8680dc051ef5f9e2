"""What a docstring states about its arguments together: preconditions of the whole call.

"Assume y1 <= y2", "assuming a is sorted" or "maintaining the heap invariant" leave what the
code does on other calls unspecified: `leapdays(100, 7)` returns -23 by the original's formula,
and a loop that counts leap years returns 0, both correct. A test there rejects correct
solutions, so such calls are outside the row's contract (codemint/offline/contracts.py). Only
preconditions that can be checked on the call's own arguments are read:

- `Assume <comparison>` / `assuming <comparison>` / `requires <comparison>` over the
  parameters and number literals (`y1 <= y2`; `0 <= n < len(a)` is not: a call is neither);
- `<param> is sorted` after assume/assuming/requires/given (or `<param> must be sorted`): the
  argument must be a list or tuple in non-decreasing order (not with a `key` function);
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
from dataclasses import dataclass
from typing import Any

from codemint import safe_ast

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


@dataclass(frozen=True)
class Relation:
    """A precondition on the call's arguments (by parameter name); `param` names it in a
    violation (the first parameter it speaks of)."""

    param: str
    check: Callable[[dict[str, Any]], bool]  # True: the call meets it

    def holds(self, arguments: dict[str, Any]) -> bool:
        return self.check(arguments)


def _operand(node: ast.expr, params: Sequence[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in params
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def _comparison(text: str, params: Sequence[str]) -> Relation | None:
    """A relation for `text` when it is a comparison of parameters and literals (the longest
    leading part of it that parses: "y1 <= y2, as ..." reads as `y1 <= y2`)."""
    words = text.split()
    for end in range(len(words), 0, -1):
        try:
            tree = safe_ast.parse(" ".join(words[:end]).rstrip(",;:"), mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(tree, ast.Compare):
            return None
        operands = [tree.left, *tree.comparators]
        if not all(_operand(o, params) for o in operands) or not all(type(op) in _COMPARE for op in tree.ops):
            return None
        names = [o.id for o in operands if isinstance(o, ast.Name)]
        return Relation(names[0], functools.partial(_compares, tree)) if names else None
    return None


def _compares(tree: ast.Compare, arguments: dict[str, Any]) -> bool:
    operands = [tree.left, *tree.comparators]
    if any(isinstance(o, ast.Name) and o.id not in arguments for o in operands):
        return True  # a parameter left to its default: nothing to check
    values = [arguments[o.id] if isinstance(o, ast.Name) else ast.literal_eval(o) for o in operands]
    try:
        return all(_COMPARE[type(op)](a, b) for op, a, b in zip(tree.ops, values, values[1:], strict=False))
    except TypeError:
        return True  # values it cannot order: the precondition does not speak of them


def _sorted(name: str, arguments: dict[str, Any]) -> bool:
    value = arguments.get(name)
    if not isinstance(value, list | tuple) or arguments.get("key") is not None:
        return True  # sorted by a key function: its order is not the values'
    try:
        return all(not b < a for a, b in itertools.pairwise(value))
    except TypeError:
        return True


def _heap(arguments: dict[str, Any]) -> bool:
    value = arguments.get("heap")
    if not isinstance(value, list):
        return True
    try:
        return all(not value[i] < value[(i - 1) // 2] for i in range(1, len(value)))
    except TypeError:
        return True


def stated_relations(doc: str | None, params: Sequence[str]) -> tuple[Relation, ...]:
    """The preconditions `doc` states that a call to a function of `params` can be checked
    against."""
    if not doc:
        return ()
    found: list[Relation] = []
    for match in _ASSUMED.finditer(doc):
        if (relation := _comparison(match.group("text"), params)) is not None:
            found.append(relation)
    for match in _SORTED.finditer(doc):
        name = match.group("name") or match.group("must")
        if name in params:
            found.append(Relation(name, functools.partial(_sorted, name)))
    if "heap" in params and _HEAP.search(doc):
        found.append(Relation("heap", _heap))
    return tuple(found)
