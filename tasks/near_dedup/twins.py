"""Near twins: pairs of rows that teach one thing twice, though their code is not alike.

MinHash (near_dedup) finds code that looks alike. Two other kinds of twin slip past it:
- a wrapper: a function (or method) whose body, docstring aside, only calls another function
  of the same module (or method of the same class) with its arguments passed on. Its prompt
  shows that helper as context, so its row is "call the helper"; the helper's row holds the
  code worth learning. The wrapper goes when the helper's row is kept (following a chain of
  wrappers to the first function that does its own work).
- the same instruction over different code (a docstring copied between modules, a class
  docstring shared by two classes, one docstring over two functions of different names):
  one task, two different answers. The preferred row of the group stays (near_dedup's
  representative rule).
Rows whose instructions differ by a stated variant (ntpath's "Windows path rules", posixpath's
"POSIX") are different prompts and both stay.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codemint import safe_ast
from codemint.samples import CLASS_KINDS, find_class, find_method

WRAPPER, SAME_INSTRUCTION = "wrapper", "same_instruction"
_PASSED_ON = (ast.Name, ast.Constant, ast.Attribute, ast.Starred)


@dataclass(frozen=True)
class TwinRow:
    module: str  # where the row's code comes from: source and path
    entry_point: str
    class_name: str | None  # the class of a method row, else None
    callee: str | None  # what a wrapper calls: a function name, or a method of its class
    instruction: str


def _function(
    code: str, entry_point: str, class_name: str | None
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    if class_name is not None:
        cls = find_class(code, class_name)
        return find_method(cls, entry_point) if cls is not None else None
    for node in safe_ast.parse(code).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            return node
    return None


def _passed_on(arg: ast.expr) -> bool:
    """An argument the wrapper only passes on (a name, a constant, an attribute, *args)."""
    if isinstance(arg, ast.Starred):
        return _passed_on(arg.value)
    if isinstance(arg, ast.Attribute):
        return _passed_on(arg.value)
    return isinstance(arg, _PASSED_ON)


def wrapped_callee(code: str, entry_point: str, class_name: str | None) -> str | None:
    """What the function only calls, when its body (docstring aside) is one call of a plain name
    (or, in a method, of `self.name`/`cls.name`) with its arguments passed on; else None."""
    try:
        fn = _function(code, entry_point, class_name)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if fn is None:
        return None
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return | ast.Expr):
        return None
    call = body[0].value
    if not isinstance(call, ast.Call):
        return None
    if not all(_passed_on(a) for a in call.args) or not all(_passed_on(k.value) for k in call.keywords):
        return None
    func = call.func
    if class_name is None and isinstance(func, ast.Name):
        return func.id if func.id != entry_point else None
    if (
        class_name is not None
        and isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in ("self", "cls")
    ):
        return func.attr if func.attr != entry_point else None
    return None


def twin_row(
    source: str,
    path: str,
    code: str,
    entry_point: str,
    sample_kind: str,
    class_name: str | None,
    instruction: str,
) -> TwinRow:
    cls = class_name if sample_kind in CLASS_KINDS else None
    return TwinRow(
        module=f"{source}\0{path}",
        entry_point=entry_point,
        class_name=cls,
        callee=wrapped_callee(code, entry_point, cls),
        instruction=instruction,
    )


# The header summarize puts before a function's own words names the function: two functions
# whose signatures and words are the same ("Convert range to the "ed" format") over different
# behaviour are still one task stated twice, whatever they are called.
_FUNCTION_NAME = re.compile(r"^(Implement the Python function `)\w+(?=\()")


def instruction_key(instruction: str) -> str:
    """The instruction as a reader sees it, the function's name left out (its parameters and
    their defaults stay: they state the task): whitespace runs are one space."""
    return re.sub(r"\s+", " ", _FUNCTION_NAME.sub(r"\1f", instruction.strip(), count=1)).strip()


def find_twins(
    rows: Sequence[TwinRow], kept: Sequence[bool], rank: Sequence[int]
) -> list[tuple[int, str] | None]:
    """Per row, (the row it is a twin of, why) when it goes as a near twin, else None.

    `kept` says which rows survived near-dedup; `rank` orders rows best first (lower wins).
    """
    twins: list[tuple[int, str] | None] = [None] * len(rows)
    by_name = {(r.module, r.class_name, r.entry_point): i for i, r in enumerate(rows) if kept[i]}

    def target(i: int) -> int | None:
        """The kept row a wrapper's chain of calls ends at (one that does its own work)."""
        seen = {i}
        at = i
        while (callee := rows[at].callee) is not None:
            nxt = by_name.get((rows[at].module, rows[at].class_name, callee))
            if nxt is None or nxt in seen:
                return None if at == i else at
            seen.add(nxt)
            at = nxt
        return None if at == i else at

    for i, row in enumerate(rows):
        if kept[i] and row.callee is not None and (end := target(i)) is not None:
            twins[i] = (end, WRAPPER)
    best: dict[str, int] = {}
    for i in sorted(range(len(rows)), key=lambda j: rank[j]):
        if not kept[i] or twins[i] is not None or not rows[i].instruction.strip():
            continue
        first = best.setdefault(instruction_key(rows[i].instruction), i)
        if first != i:
            twins[i] = (first, SAME_INSTRUCTION)
    return twins
