"""Which functions are too trivial to be worth a sample (one-line delegations, accessors, tiny bodies).

`def add(a, b): return a + b` adds a row to a dataset, not a skill: such bodies are dropped
with the reason, so the funnel shows how many there were.
"""

from __future__ import annotations

import ast

_CONTEXTS = (ast.Load, ast.Store, ast.Del)


def body_without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = node.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return body[1:]
    return body


def _param_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _is_passthrough(arg: ast.expr, params: set[str]) -> bool:
    if isinstance(arg, ast.Starred):
        arg = arg.value
    return isinstance(arg, ast.Name) and arg.id in params


def node_count(stmt: ast.AST) -> int:
    """AST nodes in a statement, not counting the load/store markers."""
    return sum(1 for n in ast.walk(stmt) if not isinstance(n, _CONTEXTS))


def trivial_reason(
    node: ast.FunctionDef | ast.AsyncFunctionDef, self_name: str | None, min_body_nodes: int
) -> tuple[str, str] | None:
    """(reason, detail) when the body is trivial: a delegation, an accessor, or fewer than
    `min_body_nodes` AST nodes in all; else None."""
    if min_body_nodes <= 0:
        return None
    body = body_without_docstring(node)
    count = sum(node_count(stmt) for stmt in body)
    if len(body) != 1:
        if count < min_body_nodes:  # `a += b; return a`
            return "trivial_body", f"{len(body)} statements of {count} AST nodes in all < {min_body_nodes}"
        return None
    stmt = body[0]
    params = _param_names(node.args)
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        value = stmt.value
        if (
            self_name
            and isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id == self_name
        ):
            return "trivial_accessor", f"returns {self_name}.{value.attr}"
        if (
            isinstance(value, ast.Call)
            and all(_is_passthrough(a, params) for a in value.args)
            and all(_is_passthrough(k.value, params) for k in value.keywords)
        ):
            return "trivial_delegation", f"only forwards its arguments to {ast.unparse(value.func)}"
    if (
        self_name
        and isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Attribute)
        and isinstance(stmt.targets[0].value, ast.Name)
        and stmt.targets[0].value.id == self_name
        and isinstance(stmt.value, ast.Name)
    ):
        return "trivial_accessor", f"sets {self_name}.{stmt.targets[0].attr}"
    if count < min_body_nodes:
        return "trivial_body", f"one statement of {count} AST nodes < {min_body_nodes}"
    return None
