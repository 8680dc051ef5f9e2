"""What there is to cover in a function: its statement lines and its branches (pure, AST only).

Line numbers are those of the source given (the row's `original_code`), matching what the
sandbox tracer reports. A branch is one outcome of an `if`, `while` or `for`: taken (the
first line of its body runs right after the condition) or not taken (anything else runs
right after it: the `else` block, the code after the statement, or a return). Constant
conditions (`while True:`) and one-line bodies on the condition's line are not counted:
their outcomes cannot be told apart by lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from codemint import safe_ast


@dataclass(frozen=True)
class Branch:
    line: int  # the statement's first line
    span: tuple[int, int]  # lines of the condition / iterable (first, last)
    body: int  # first line of the body
    orelse: int | None  # first line of the else block, if any

    def taken(self, arcs: Iterable[tuple[int, int]]) -> tuple[bool, bool]:
        """(taken, not taken) as seen in the traced arcs."""
        low, high = self.span
        yes = no = False
        for src, dst in arcs:
            if not low <= src <= high:
                continue
            if dst == self.body:
                yes = True
            elif self.orelse is not None:
                no = no or dst == self.orelse
            elif not low <= dst <= high:
                no = True
        return yes, no


@dataclass(frozen=True)
class CoverageMap:
    statements: frozenset[int]
    branches: tuple[Branch, ...]

    def line_coverage(self, lines: Iterable[int]) -> float | None:
        if not self.statements:
            return None
        return len(self.statements & set(lines)) / len(self.statements)

    def branch_outcomes(self, arcs: Iterable[tuple[int, int]]) -> set[tuple[int, bool]]:
        arcs = list(arcs)
        out: set[tuple[int, bool]] = set()
        for branch in self.branches:
            yes, no = branch.taken(arcs)
            if yes:
                out.add((branch.line, True))
            if no:
                out.add((branch.line, False))
        return out

    def branch_coverage(self, arcs: Iterable[tuple[int, int]]) -> float | None:
        if not self.branches:
            return None
        return len(self.branch_outcomes(arcs)) / (2 * len(self.branches))


def coverage_map(code: str, entry_point: str) -> CoverageMap:
    """Statements and branches of the top-level function `entry_point` in `code`."""
    tree = safe_ast.parse(code)
    func = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point),
        None,
    )
    if func is None:
        return CoverageMap(frozenset(), ())
    docstring = (
        func.body[0]
        if isinstance(func.body[0], ast.Expr)
        and isinstance(func.body[0].value, ast.Constant)
        and isinstance(func.body[0].value.value, str)
        else None
    )
    statements: set[int] = set()
    branches: list[Branch] = []
    for node in ast.walk(func):
        if node is func or node is docstring or not isinstance(node, ast.stmt):
            continue
        statements.add(node.lineno)
        if isinstance(node, (ast.If, ast.While)):
            test = node.test
            if isinstance(test, ast.Constant):
                continue
            span = (node.lineno, test.end_lineno or test.lineno)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            span = (node.lineno, node.iter.end_lineno or node.iter.lineno)
        else:
            continue
        body = node.body[0].lineno
        if span[0] <= body <= span[1]:
            continue
        orelse = node.orelse[0].lineno if node.orelse else None
        branches.append(Branch(node.lineno, span, body, orelse))
    return CoverageMap(frozenset(statements), tuple(branches))
