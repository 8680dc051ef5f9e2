"""Nested functions and closures lifted to the top level.

A function defined inside another one can stand alone when every name it takes from the
enclosing scopes can become a parameter: those names are added as keyword-only parameters
of the lifted copy (`def inner(x, *, step)`), and the rest resolves at module level as for
any function. Closures that rebind enclosing names (`nonlocal`), that need a sibling
definition of the enclosing function, or that are decorated, cannot be lifted that way.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef


def nested_functions(outer: FuncDef) -> Iterator[tuple[FuncDef, list[ast.AST]]]:
    """Every function nested in `outer` (not inside a nested class), with its enclosing scopes."""

    def walk(node: ast.AST, scopes: list[ast.AST]) -> Iterator[tuple[FuncDef, list[ast.AST]]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child, scopes
                yield from walk(child, [*scopes, child])
            else:
                yield from walk(child, scopes)

    yield from walk(outer, [outer])


def _scope_bindings(scope: ast.AST) -> tuple[set[str], set[str]]:
    """(names bound in the scope's own body or parameters, names of definitions nested in it)."""
    bound: set[str] = set()
    defs: set[str] = set()
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = scope.args
        bound.update(x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs])
        bound.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs.add(node.name)
            bound.add(node.name)
            continue  # its body is its own scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update(al.asname or al.name.split(".")[0] for al in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return bound, defs


def lift(
    inner: FuncDef, scopes: list[ast.AST], free_names: Callable[[ast.AST], set[str]]
) -> tuple[FuncDef | None, str]:
    """(the lifted copy, the captured names joined) or (None, why it cannot be lifted)."""
    if inner.decorator_list:
        return None, f"{inner.name} is decorated inside its enclosing function"
    for child in ast.walk(inner):
        if isinstance(child, ast.Nonlocal | ast.Global):
            return None, f"{inner.name} rebinds an enclosing name ({type(child).__name__.lower()})"
    free = free_names(inner)
    captured: list[str] = []
    for scope in reversed(scopes):
        bound, defs = _scope_bindings(scope)
        for name in sorted(free & bound):
            if name in defs:
                return None, f"{inner.name} needs {name}, defined in its enclosing function"
            captured.append(name)
        free -= bound
    lifted = copy.deepcopy(inner)
    own = {x.arg for x in [*inner.args.posonlyargs, *inner.args.args, *inner.args.kwonlyargs]}
    for name in captured:
        if name in own:
            return None, f"{inner.name}: captured {name} clashes with a parameter"
        lifted.args.kwonlyargs.append(ast.arg(arg=name))
        lifted.args.kw_defaults.append(None)
    ast.fix_missing_locations(lifted)
    return lifted, ", ".join(captured)
