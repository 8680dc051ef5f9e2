"""Mutants of a function: small, syntactically valid changes to its body.

Pure and deterministic: the same code, entry point, cap and seed give the same mutants in
the same order. Used to measure how well a row's tests tell right from wrong (adequacy) and
to build buggy variants for repair data. Only the entry point's body is mutated (a method's,
in its class, when a class is named); helpers, imports, classes and the class's other
methods are left alone, so every mutant differs from the original in what the tests call.

Operators (names as reported on each mutant):
- `arith`: `+ - * / // % **` and bit operators swapped for a neighbour (`+`<->`-`, `*`<->`/`, ...)
- `compare`: `< <= > >= == != in not in is is not` to the off-by-one or negated comparison
- `boolop`: `and` <-> `or`
- `not`: a `not` removed from an expression
- `const`: an int `n` -> `n + 1` / `n - 1` (`0` <-> `1`), `True` <-> `False`, a non-empty
  string -> `""`, an empty string -> `"x"`
- `augassign`: `+=` <-> `-=` and similar
- `delete`: a simple statement (assignment, expression, augmented assignment) replaced by
  `pass`
- `return_none`: `return x` -> `return None`
- `break_continue`: `break` <-> `continue`
- `index`: `x[i]` -> `x[i + 1]` for a plain subscript index that is a name or constant
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from codemint import safe_ast

_ARITH_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}

# Each comparison has two mutants: the off-by-one boundary and the negation.
_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}

_SIMPLE_STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)


@dataclass(frozen=True)
class Mutant:
    """One mutated version of the whole module source."""

    index: int  # position in the deterministic order of all candidate mutations
    operator: str
    line: int  # line of the mutated node in the original source
    description: str
    code: str  # the full source with one node of the entry point changed
    end_line: int = 0  # last line of the mutated node (0: same as `line`)

    @property
    def lines(self) -> range:
        """The original's lines the changed node spans: an input that runs none of them
        cannot tell this mutant from the original."""
        return range(self.line, max(self.line, self.end_line) + 1)

    def diff(self, original: str, context: int = 2) -> str:
        """A unified diff of the original against this mutant (for prompts and reports)."""
        return "".join(
            difflib.unified_diff(
                original.splitlines(keepends=True),
                self.code.splitlines(keepends=True),
                "original",
                "mutant",
                n=context,
            )
        )


@dataclass(frozen=True)
class _Site:
    """A mutation site: the node's path from the function, the operator and the variant."""

    path: tuple[tuple[str, int | None], ...]
    operator: str
    variant: int
    line: int
    description: str
    end_line: int = 0


def _walk(
    node: ast.AST, path: tuple[tuple[str, int | None], ...]
) -> Iterator[tuple[ast.AST, tuple[tuple[str, int | None], ...]]]:
    """Every node under `node` with its path of (field, index) steps, in a fixed order."""
    yield node, path
    if isinstance(node, ast.JoinedStr):  # f-string positions are unreliable before 3.12
        return
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, (*path, (field, i)))
        elif isinstance(value, ast.AST):
            yield from _walk(value, (*path, (field, None)))


def _resolve(root: ast.AST, path: tuple[tuple[str, int | None], ...]) -> ast.AST:
    node = root
    for field, index in path:
        value = getattr(node, field)
        node = value[index] if index is not None else value
    return node


def _in_annotation(path: tuple[tuple[str, int | None], ...]) -> bool:
    return any(field in ("annotation", "returns") for field, _ in path)


def _sites(func: ast.FunctionDef) -> list[_Site]:
    sites: list[_Site] = []
    docstring = (
        func.body[0]
        if func.body
        and isinstance(func.body[0], ast.Expr)
        and isinstance(func.body[0].value, ast.Constant)
        and isinstance(func.body[0].value.value, str)
        else None
    )
    for node, path in _walk(func, ()):
        if not path or path[0][0] != "body" or _in_annotation(path):
            continue
        if docstring is not None and (node is docstring or node is docstring.value):
            continue
        line = getattr(node, "lineno", func.lineno)
        end = getattr(node, "end_lineno", None) or line
        before = len(sites)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH_SWAP:
            new = _ARITH_SWAP[type(node.op)]
            sites.append(_Site(path, "arith", 0, line, f"{type(node.op).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _ARITH_SWAP:
            new = _ARITH_SWAP[type(node.op)]
            sites.append(_Site(path, "augassign", 0, line, f"{type(node.op).__name__}= -> {new.__name__}="))
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for variant, new_op in enumerate(_COMPARE_SWAPS.get(type(op), ())):
                    sites.append(
                        _Site(
                            path,
                            "compare",
                            i * 10 + variant,
                            line,
                            f"{type(op).__name__} -> {new_op.__name__}",
                        )
                    )
        elif isinstance(node, ast.BoolOp):
            other = "Or" if isinstance(node.op, ast.And) else "And"
            sites.append(_Site(path, "boolop", 0, line, f"{type(node.op).__name__} -> {other}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append(_Site(path, "not", 0, line, "not x -> x"))
        elif isinstance(node, ast.Constant) and path[-1][0] != "kind":
            value = node.value
            if isinstance(value, bool):
                sites.append(_Site(path, "const", 0, line, f"{value} -> {not value}"))
            elif isinstance(value, int):
                sites.append(_Site(path, "const", 0, line, f"{value} -> {value + 1}"))
                if value != 0:
                    sites.append(_Site(path, "const", 1, line, f"{value} -> {value - 1}"))
            elif isinstance(value, str):
                sites.append(_Site(path, "const", 0, line, f"{value[:20]!r} -> {'x' if not value else ''!r}"))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, (ast.Name, ast.Constant)):
            if not isinstance(node.ctx, ast.Load):
                pass
            elif isinstance(node.slice, ast.Name) or isinstance(node.slice.value, int):
                sites.append(_Site(path, "index", 0, line, "x[i] -> x[i + 1]"))
        if isinstance(node, _SIMPLE_STATEMENTS) and node is not docstring:
            sites.append(_Site(path, "delete", 0, line, f"delete {type(node).__name__.lower()}"))
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            sites.append(_Site(path, "return_none", 0, line, "return x -> return None"))
        elif isinstance(node, ast.Break):
            sites.append(_Site(path, "break_continue", 0, line, "break -> continue"))
        elif isinstance(node, ast.Continue):
            sites.append(_Site(path, "break_continue", 0, line, "continue -> break"))
        sites[before:] = [dataclasses.replace(site, end_line=end) for site in sites[before:]]
    return sites


def _apply(func: ast.FunctionDef, site: _Site) -> None:
    node = _resolve(func, site.path)
    if site.operator in ("arith", "augassign"):
        assert isinstance(node, (ast.BinOp, ast.AugAssign))
        node.op = _ARITH_SWAP[type(node.op)]()
    elif site.operator == "compare":
        assert isinstance(node, ast.Compare)
        i, variant = divmod(site.variant, 10)
        node.ops[i] = _COMPARE_SWAPS[type(node.ops[i])][variant]()
    elif site.operator == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif site.operator == "not":
        assert isinstance(node, ast.UnaryOp)
        _replace(func, site.path, node.operand)
    elif site.operator == "const":
        assert isinstance(node, ast.Constant)
        value = node.value
        if isinstance(value, bool):
            node.value = not value
        elif isinstance(value, int):
            node.value = value + 1 if site.variant == 0 else value - 1
        else:
            node.value = "x" if not value else ""
    elif site.operator == "index":
        assert isinstance(node, ast.Subscript)
        node.slice = ast.BinOp(left=node.slice, op=ast.Add(), right=ast.Constant(1))
    elif site.operator == "delete":
        _replace(func, site.path, ast.Pass())
    elif site.operator == "return_none":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)
    elif site.operator == "break_continue":
        _replace(func, site.path, ast.Continue() if isinstance(node, ast.Break) else ast.Break())


def _replace(root: ast.AST, path: tuple[tuple[str, int | None], ...], new: ast.AST) -> None:
    parent = _resolve(root, path[:-1])
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


def _function(body: list[ast.stmt], name: str) -> ast.FunctionDef | None:
    # The first definition, as `codemint.samples.find_method` picks a method (a property's
    # getter comes before its setter of the same name).
    return next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def find_target(tree: ast.Module, entry_point: str, class_name: str | None = None) -> ast.FunctionDef | None:
    """The top-level function `entry_point`, or with `class_name` that class's method."""
    if class_name is None:
        return _function(tree.body, entry_point)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    return None if cls is None else _function(cls.body, entry_point)


def count_sites(code: str, entry_point: str, class_name: str | None = None) -> int:
    """How many mutants `generate` could return before the cap."""
    func = find_target(safe_ast.parse(code), entry_point, class_name)
    return 0 if func is None else len(_sites(func))


def generate(
    code: str, entry_point: str, *, max_mutants: int = 30, seed: int = 0, class_name: str | None = None
) -> list[Mutant]:
    """Up to `max_mutants` distinct mutants of `entry_point` in `code` (with `class_name`, of
    that class's method `entry_point`).

    Each mutant is the original source with only the mutated node's text replaced, so its
    diff against the original is one small hunk and the rest keeps its formatting. When
    there are more candidate sites than the cap, a seeded sample is taken, spread over the
    operators (round-robin) so one kind of change does not crowd out the rest. Mutants equal
    to the original or to another mutant (compared as ASTs) and mutants that do not compile
    are skipped. Raises SyntaxError if `code` does not parse; returns [] if the entry point
    is not a top-level function (or a method of the named class).
    """
    tree = safe_ast.parse(code)
    func = find_target(tree, entry_point, class_name)
    if func is None:
        return []
    sites = _sites(func)
    chosen = _spread(sites, max_mutants, seed)
    lines = code.encode("utf-8").splitlines(keepends=True)
    seen = {ast.dump(tree)}
    mutants: list[Mutant] = []
    for site in chosen:
        before = _resolve(func, site.path)
        mutated_func = copy.deepcopy(func)
        _apply(mutated_func, site)
        after = _resolve(mutated_func, site.path)
        try:
            text = _splice(lines, before, _render(after))
            compile(text, "<mutant>", "exec")
            dump = ast.dump(safe_ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, AttributeError):
            continue
        if dump in seen:
            continue
        seen.add(dump)
        mutants.append(
            Mutant(sites.index(site), site.operator, site.line, site.description, text, site.end_line)
        )
    return mutants


def _render(node: ast.AST) -> str:
    text = ast.unparse(ast.fix_missing_locations(node))
    if isinstance(node, ast.expr) and not isinstance(node, (ast.Name, ast.Constant, ast.Attribute, ast.Call)):
        return f"({text})"
    return text


def _splice(lines: list[bytes], node: ast.AST, text: str) -> str:
    """The source with `node`'s span (AST offsets count UTF-8 bytes) replaced by `text`."""
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    start, end = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
    if last is None or end is None:
        raise ValueError("node has no end position")
    prefix = b"".join(lines[:first]) + lines[first][:start]
    suffix = lines[last][end:] + b"".join(lines[last + 1 :])
    return (prefix + text.encode("utf-8") + suffix).decode("utf-8")


def _spread(sites: list[_Site], cap: int, seed: int) -> list[_Site]:
    """A seeded sample of at most `cap` sites, round-robin over operators; in source order."""
    if len(sites) <= cap:
        return sites
    rng = random.Random(seed)
    by_operator: dict[str, list[_Site]] = {}
    for site in sites:
        by_operator.setdefault(site.operator, []).append(site)
    for group in by_operator.values():
        rng.shuffle(group)
    chosen: list[_Site] = []
    operators = sorted(by_operator)
    while len(chosen) < cap:
        for operator in operators:
            if by_operator[operator] and len(chosen) < cap:
                chosen.append(by_operator[operator].pop())
    order = {id(site): i for i, site in enumerate(sites)}
    return sorted(chosen, key=lambda site: order[id(site)])
