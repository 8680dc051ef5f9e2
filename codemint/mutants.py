"""Mutants of a function: small, syntactically valid changes to its body.

Pure and deterministic: the same code, entry point, cap and seed give the same mutants in
the same order. Used to measure how well a row's tests tell right from wrong (adequacy) and
to build buggy variants for repair data. Only the entry point's body is mutated (a method's,
in its class, when a class is named); helpers, imports, classes and the class's other
methods are left alone, so every mutant differs from the original in what the tests call.

Every mutant is an edit of the original source text at the bug's own tokens (an operator, a
literal, a name, whole lines of a removed statement): the rest keeps its comments, quotes,
blank lines and parentheses, so buggy and original code differ only in the bug's span
(`Mutant.start`/`end`). Each edit is checked to parse to exactly the intended AST change.

Operators (names as reported on each mutant):
- `arith`: `+ - * / // % **` and bit operators swapped for a neighbour (`+`<->`-`, `*`<->`/`, ...)
- `compare`: `< <= > >= == != in not in is is not` to the off-by-one or negated comparison
- `boolop`: `and` <-> `or`
- `not`: a `not` removed from an expression
- `const`: an int `n` -> `n + 1` / `n - 1` (`0` <-> `1`), `True` <-> `False`, a non-empty
  string -> `""`, an empty string -> `"x"`
- `augassign`: `+=` <-> `-=` and similar
- `delete`: a simple statement (assignment, expression, augmented assignment) on lines of
  its own removed, when its block keeps another statement
- `missing_branch`: an `if` statement, an `elif` branch or an `else` branch removed
- `return_none`: `return x` -> `return None`
- `break_continue`: `break` <-> `continue`
- `index`: `x[i]` -> `x[i + 1]` for a plain subscript index that is a name or constant
- `slice`: `x[a:b]` -> `x[a:b - 1]` (or `x[a + 1:]` without an upper bound)
- `range`: `range(n)` -> `range(n - 1)`, the stop of a one- or two-argument range
- `variable`: a parameter or local read where another one is meant (the next one bound)
- `swap_args`: the first two positional arguments of a call swapped
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

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

_OP_TEXT: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
    ast.RShift: ">>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
    ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip
# Swapping their arguments changes nothing: never a bug.
_SYMMETRIC_CALLS = frozenset({"max", "min"})

Path = tuple[tuple[str, int | None], ...]
Edit = tuple[int, int, str]  # (start, end, replacement), character offsets in the source


@dataclass(frozen=True)
class Mutant:
    """One mutated version of the whole module source."""

    index: int  # position in the deterministic order of all candidate mutations
    operator: str
    line: int  # line of the mutated node in the original source
    description: str
    code: str  # the full source with one node of the entry point changed
    end_line: int = 0  # last line of the mutated node (0: same as `line`)
    # The bug's span: the original's characters [start, end) are all that differ; the rest
    # of `code` is the original's text (`code[:start]` and its last `len(original) - end`).
    start: int = 0
    end: int = 0

    @cached_property
    def key(self) -> str:
        """Names this mutant across stages: a digest of its code (the same edit of the same
        source, whatever order or count of mutants another stage generated)."""
        return hashlib.sha256(self.code.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @cached_property
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

    path: Path
    operator: str
    variant: int
    line: int
    description: str
    end_line: int = 0


class _Source:
    """The original text, with AST positions (line, UTF-8 byte column) as character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Lines as the parser counts them (\n, \r\n, \r), not str.splitlines (\x0c, \u2028...).
        self.lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            raise ValueError("node has no end position")
        return self.offset(node.lineno, node.col_offset), self.offset(end_line, end_col)  # type: ignore[attr-defined]

    def words(self, start: int, end: int) -> list[tuple[int, int]]:
        """The tokens between two nodes other than brackets, comments and line breaks: the
        operator or keyword that joins them."""
        out: list[tuple[int, int]] = []
        i, text = start, self.text
        while i < end:
            if text[i] == "#":
                while i < end and text[i] not in "\r\n":
                    i += 1
            elif text[i] in " \t\f\r\n()\\":
                i += 1
            else:
                j = i
                while j < end and text[j] not in " \t\f\r\n()#\\":
                    j += 1
                out.append((i, j))
                i = j
        return out

    def operator_edit(self, start: int, end: int, old: str, new: str) -> Edit:
        """Replace the operator `old` found between two nodes with `new`."""
        found = self.words(start, end)
        if not found or " ".join(self.text[a:b] for a, b in found) != old:
            raise ValueError(f"operator {old!r} not found")
        return found[0][0], found[-1][1], new

    def whole_lines(self, first: int, last: int, start: int, end: int) -> Edit:
        """Remove lines `first`..`last`, which must hold nothing but [start, end) and a comment."""
        line_start = self.starts[first - 1]
        tail = self.text[end : self.starts[min(last, len(self.lines))]]
        if self.text[line_start:start].strip() or not (tail.strip() == "" or tail.lstrip().startswith("#")):
            raise ValueError("the statement shares its lines")
        return line_start, self.starts[min(last, len(self.lines))], ""

    def line_text(self, lineno: int) -> str:
        return self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""


def _walk(node: ast.AST, path: Path) -> Iterator[tuple[ast.AST, Path]]:
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


def _resolve(root: ast.AST, path: Path) -> ast.AST:
    node = root
    for field, index in path:
        value = getattr(node, field)
        node = value[index] if index is not None else value
    return node


def _in_annotation(path: Path) -> bool:
    return any(field in ("annotation", "returns") for field, _ in path)


def _siblings(func: ast.AST, path: Path) -> list[ast.AST]:
    """The statement list holding the node at `path` ([] when it is not in one)."""
    field, index = path[-1]
    if index is None:
        return []
    value = getattr(_resolve(func, path[:-1]), field)
    return value if isinstance(value, list) and all(isinstance(v, ast.stmt) for v in value) else []


def _bound_names(func: ast.FunctionDef) -> tuple[list[str], dict[str, int]]:
    """The parameters, and the locals with the line of their first binding (`self`/`cls` not:
    any other name in their place only fails on attribute access)."""
    a = func.args
    params = [p.arg for p in (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg) if p is not None]
    params = [p for p in params if p not in ("self", "cls")]
    local: dict[str, int] = {}
    for node in ast.walk(func):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)):
            continue
        if node.id not in params and node.id not in ("self", "cls"):
            local[node.id] = min(local.get(node.id, node.lineno), node.lineno)
    return params, local


def _other_name(name: str, line: int, params: list[str], local: dict[str, int]) -> str | None:
    """The next name bound before `line` after `name`, in binding order (cyclic)."""
    order = params + sorted(local, key=lambda n: (local[n], n))
    if name not in order:
        return None
    usable = [n for n in order if n in params or local[n] < line]
    if name not in usable or len(usable) < 2:
        return None
    return usable[(usable.index(name) + 1) % len(usable)]


def _is_elif(src: _Source, node: ast.AST) -> bool:
    return isinstance(node, ast.If) and src.text.startswith("elif", src.offset(node.lineno, node.col_offset))


def _off_by_one(node: ast.expr, delta: int) -> ast.expr:
    """`node + delta` as the AST the edit's text parses to (a literal int is changed in place)."""
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value + delta >= 0:
        return ast.Constant(node.value + delta)
    return ast.BinOp(left=node, op=ast.Add() if delta > 0 else ast.Sub(), right=ast.Constant(1))


def _sites(func: ast.FunctionDef, src: _Source) -> list[_Site]:
    sites: list[_Site] = []
    docstring = (
        func.body[0]
        if func.body
        and isinstance(func.body[0], ast.Expr)
        and isinstance(func.body[0].value, ast.Constant)
        and isinstance(func.body[0].value.value, str)
        else None
    )
    params, local = _bound_names(func)
    for node, path in _walk(func, ()):
        if not path or path[0][0] != "body" or _in_annotation(path):
            continue
        if docstring is not None and (node is docstring or node is docstring.value):
            continue
        line = getattr(node, "lineno", func.lineno)
        end = getattr(node, "end_lineno", None) or line
        found: list[tuple[str, str, int]] = []

        def add(operator: str, description: str, variant: int = 0) -> None:
            found.append((operator, description, variant))  # noqa: B023 (called at once)

        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH_SWAP:
            add("arith", f"{type(node.op).__name__} -> {_ARITH_SWAP[type(node.op)].__name__}")
        elif isinstance(node, ast.AugAssign) and type(node.op) in _ARITH_SWAP:
            add("augassign", f"{type(node.op).__name__}= -> {_ARITH_SWAP[type(node.op)].__name__}=")
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for variant, new_op in enumerate(_COMPARE_SWAPS.get(type(op), ())):
                    add("compare", f"{type(op).__name__} -> {new_op.__name__}", i * 10 + variant)
        elif isinstance(node, ast.BoolOp):
            add("boolop", f"{type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add("not", "not x -> x")
        elif isinstance(node, ast.Constant) and path[-1][0] != "kind":
            value = node.value
            if isinstance(value, bool):
                add("const", f"{value} -> {not value}")
            elif isinstance(value, int):
                add("const", f"{value} -> {value + 1}")
                if value != 0:
                    add("const", f"{value} -> {value - 1}", 1)
            elif isinstance(value, str):
                add("const", f"{value[:20]!r} -> {'x' if not value else ''!r}")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if isinstance(node.slice, ast.Name) or (
                isinstance(node.slice, ast.Constant) and type(node.slice.value) is int
            ):
                add("index", "x[i] -> x[i + 1]")
            elif isinstance(node.slice, ast.Slice) and node.slice.step is None:
                if node.slice.upper is not None:
                    add("slice", "x[a:b] -> x[a:b - 1]")
                elif node.slice.lower is not None:
                    add("slice", "x[a:] -> x[a + 1:]", 1)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and path[-1][0] != "func":
            other = _other_name(node.id, line, params, local)
            if other is not None:
                add("variable", f"{node.id} -> {other}")
        elif isinstance(node, ast.Call):
            args = node.args
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name == "range" and len(args) in (1, 2) and not any(isinstance(a, ast.Starred) for a in args):
                add("range", "range(.., n) -> range(.., n - 1)")
            if (
                len(args) >= 2
                and not any(isinstance(a, ast.Starred) for a in args[:2])
                and name not in _SYMMETRIC_CALLS
                and ast.dump(args[0]) != ast.dump(args[1])
            ):
                add("swap_args", "f(a, b) -> f(b, a)")
        siblings = _siblings(func, path) if isinstance(node, ast.stmt) else []
        if isinstance(node, _SIMPLE_STATEMENTS) and node is not docstring:
            if len(siblings) > 1:
                add("delete", f"delete {type(node).__name__.lower()}")
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            add("return_none", "return x -> return None")
        elif isinstance(node, ast.Break):
            add("break_continue", "break -> continue")
        elif isinstance(node, ast.Continue):
            add("break_continue", "continue -> break")
        elif isinstance(node, ast.If):
            if len(siblings) > 1 and not _is_elif(src, node):
                add("missing_branch", "if statement removed")
            if len(node.orelse) == 1 and _is_elif(src, node.orelse[0]):
                add("missing_branch", "elif branch removed", 1)
            elif node.orelse:
                add("missing_branch", "else branch removed", 2)
        sites += [_Site(path, operator, variant, line, text, end) for operator, text, variant in found]
    return sites


def _apply(func: ast.FunctionDef, site: _Site) -> None:
    """The site's change on the AST: what the text edit must parse to."""
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
        assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.expr)
        node.slice = _off_by_one(node.slice, 1)
    elif site.operator == "slice":
        assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
        if site.variant == 0 and node.slice.upper is not None:
            node.slice.upper = _off_by_one(node.slice.upper, -1)
        elif node.slice.lower is not None:
            node.slice.lower = _off_by_one(node.slice.lower, 1)
    elif site.operator == "range":
        assert isinstance(node, ast.Call)
        stop = len(node.args) - 1 if len(node.args) == 2 else 0
        node.args[stop] = _off_by_one(node.args[stop], -1)
    elif site.operator == "variable":
        assert isinstance(node, ast.Name)
        node.id = site.description.split(" -> ")[1]
    elif site.operator == "swap_args":
        assert isinstance(node, ast.Call)
        node.args[0], node.args[1] = node.args[1], node.args[0]
    elif site.operator == "delete" or (site.operator == "missing_branch" and site.variant == 0):
        field, index = site.path[-1]
        assert index is not None
        del getattr(_resolve(func, site.path[:-1]), field)[index]
    elif site.operator == "missing_branch":
        assert isinstance(node, ast.If)
        nested = node.orelse[0]
        node.orelse = nested.orelse if site.variant == 1 and isinstance(nested, ast.If) else []
    elif site.operator == "return_none":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)
    elif site.operator == "break_continue":
        _replace(func, site.path, ast.Continue() if isinstance(node, ast.Break) else ast.Break())


def _replace(root: ast.AST, path: Path, new: ast.AST) -> None:
    parent = _resolve(root, path[:-1])
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


def _number(src: _Source, node: ast.expr, delta: int) -> str:
    """The text of `node + delta`: a literal int rewritten in its own base, else `x + 1`."""
    start, end = src.span(node)
    text = src.text[start:end]
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value + delta >= 0:
        value = node.value + delta
        prefix = text[:2].lower()
        return {"0x": hex, "0o": oct, "0b": bin}.get(prefix, str)(value)
    return f"{text} {'+' if delta > 0 else '-'} 1"


def _string(text: str, value: str) -> str:
    """An empty string (or "x") quoted as the literal `text` was."""
    quote = next((c for c in text if c in "'\""), '"')
    return f"{quote}{'x' if not value else ''}{quote}"


def _edits(src: _Source, func: ast.FunctionDef, site: _Site) -> list[Edit]:
    """The text edits of the original that make the site's change."""
    node = _resolve(func, site.path)
    op = site.operator
    if op == "arith":
        assert isinstance(node, ast.BinOp)
        new = _OP_TEXT[_ARITH_SWAP[type(node.op)]]
        return [
            src.operator_edit(src.span(node.left)[1], src.span(node.right)[0], _OP_TEXT[type(node.op)], new)
        ]
    if op == "augassign":
        assert isinstance(node, ast.AugAssign)
        old, new = _OP_TEXT[type(node.op)] + "=", _OP_TEXT[_ARITH_SWAP[type(node.op)]] + "="
        return [src.operator_edit(src.span(node.target)[1], src.span(node.value)[0], old, new)]
    if op == "compare":
        assert isinstance(node, ast.Compare)
        i, variant = divmod(site.variant, 10)
        left = node.left if i == 0 else node.comparators[i - 1]
        cmp = type(node.ops[i])
        new = _OP_TEXT[_COMPARE_SWAPS[cmp][variant]]
        return [src.operator_edit(src.span(left)[1], src.span(node.comparators[i])[0], _OP_TEXT[cmp], new)]
    if op == "boolop":
        assert isinstance(node, ast.BoolOp)
        old = _OP_TEXT[type(node.op)]
        new = "or" if old == "and" else "and"
        pairs = zip(node.values, node.values[1:], strict=False)
        return [src.operator_edit(src.span(a)[1], src.span(b)[0], old, new) for a, b in pairs]
    if op == "not":
        assert isinstance(node, ast.UnaryOp)
        start = rest = src.span(node)[0] + len("not")
        while rest < len(src.text) and src.text[rest] in " \t\f\r\n\\":
            rest += 1  # the space after `not` goes with it
        if src.text[start - 3 : start] != "not" or (rest == start and src.text[rest : rest + 1] != "("):
            raise ValueError("no `not` keyword")
        return [(start - 3, rest, "")]
    start, end = src.span(node)
    if op == "const":
        assert isinstance(node, ast.Constant)
        value = node.value
        if isinstance(value, bool):
            return [(start, end, str(not value))]
        if isinstance(value, int):
            return [(start, end, _number(src, node, 1 if site.variant == 0 else -1))]
        return [(start, end, _string(src.text[start:end], str(value)))]
    if op == "index":
        assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.expr)
        return [(*src.span(node.slice), _number(src, node.slice, 1))]
    if op == "slice":
        assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
        bound, delta = (node.slice.upper, -1) if site.variant == 0 else (node.slice.lower, 1)
        assert bound is not None
        return [(*src.span(bound), _number(src, bound, delta))]
    if op == "range":
        assert isinstance(node, ast.Call)
        stop = node.args[len(node.args) - 1 if len(node.args) == 2 else 0]
        return [(*src.span(stop), _number(src, stop, -1))]
    if op == "variable":
        return [(start, end, site.description.split(" -> ")[1])]
    if op == "swap_args":
        assert isinstance(node, ast.Call)
        (a0, a1), (b0, b1) = src.span(node.args[0]), src.span(node.args[1])
        return [(a0, a1, src.text[b0:b1]), (b0, b1, src.text[a0:a1])]
    if op == "delete" or (op == "missing_branch" and site.variant == 0):
        return [src.whole_lines(node.lineno, node.end_lineno or node.lineno, start, end)]  # type: ignore[attr-defined]
    if op == "missing_branch":
        return [_branch_lines(src, node, site.variant)]
    if op == "return_none":
        return [(start + len("return"), end, " None")]
    if op == "break_continue":
        return [(start, end, "continue" if isinstance(node, ast.Break) else "break")]
    raise ValueError(f"unknown operator {op}")


def _branch_lines(src: _Source, node: ast.AST, variant: int) -> Edit:
    """Remove an `elif` branch (up to the next branch) or the `else:` line and its body."""
    assert isinstance(node, ast.If) and node.body and node.orelse
    if variant == 1:
        nested = node.orelse[0]
        assert isinstance(nested, ast.If)
        first, last_stmt = nested.lineno, nested.body[-1]
        start = src.offset(first, nested.col_offset)
    else:
        last_stmt = node.orelse[-1]
        body_end = node.body[-1].end_lineno or node.lineno
        first = next(
            (
                n
                for n in range(node.orelse[0].lineno, body_end, -1)
                if src.line_text(n).lstrip().startswith("else")
            ),
            0,
        )
        if not first:
            raise ValueError("no `else:` line")
        start = src.starts[first - 1] + len(src.line_text(first)) - len(src.line_text(first).lstrip())
    return src.whole_lines(first, last_stmt.end_lineno or last_stmt.lineno, start, src.span(last_stmt)[1])


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
    return 0 if func is None else len(_sites(func, _Source(code)))


def generate(
    code: str, entry_point: str, *, max_mutants: int = 30, seed: int = 0, class_name: str | None = None
) -> list[Mutant]:
    """Up to `max_mutants` distinct mutants of `entry_point` in `code` (with `class_name`, of
    that class's method `entry_point`).

    Each mutant is the original source with only the bug's tokens edited (or a removed
    statement's lines), so its diff against the original is one small hunk and the rest keeps
    its formatting. When there are more candidate sites than the cap, a seeded sample is
    taken, spread over the operators (round-robin, in a seeded order) so one kind of change
    does not crowd out the rest. Edits that do not parse to exactly the intended change,
    mutants equal to the original or to another mutant (compared as ASTs) and mutants that do
    not compile are skipped. Raises SyntaxError if `code` does not parse; returns [] if the
    entry point is not a top-level function (or a method of the named class).
    """
    tree = safe_ast.parse(code)
    func = find_target(tree, entry_point, class_name)
    if func is None:
        return []
    src = _Source(code)
    sites = _sites(func, src)
    chosen = _spread(sites, max_mutants, seed)
    # Mutants are told apart by the entry point's AST alone: every edit lies inside it and a
    # kept mutant's function parsed to exactly the intended tree, so the rest of the module
    # is the original's text and parses to the original's AST.
    memo: _Memo = {}
    seen = {_dump(func, memo, record=True)}
    position = {id(site): i for i, site in enumerate(sites)}
    # What parsing and compiling found for each site of this function (stages mutate the
    # same functions with other caps): a known site costs no parse and no compile.
    known = _known_sites(code, entry_point, class_name)
    mutants: list[Mutant] = []
    for site in chosen:
        index = position[id(site)]
        state = known.get(index, _UNTRIED)
        if state is _FAILS:
            continue
        try:
            mutated_func = _copy_path(func, site.path)
            _apply(mutated_func, site)
            edits = sorted(_edits(src, func, site))
            text = _splice(code, edits)
            mutated = None
            if state is _UNTRIED:
                mutated = safe_ast.parse(text)
                got = find_target(mutated, entry_point, class_name)
                if got is None or not _same(got, mutated_func):
                    known[index] = _FAILS
                    continue  # the text does not say what the site means (precedence, layout)
                state = known[index] = _MATCHES
            dump = _dump(mutated_func, memo)
            if dump in seen:
                continue
            if state is _MATCHES:
                if mutated is None:
                    compile(text, "<mutant>", "exec")
                else:
                    _compile(mutated, text)
                known[index] = _COMPILES
        except RecursionError:
            continue  # depends on the stack it ran on: not remembered
        except (SyntaxError, ValueError, AttributeError, AssertionError, IndexError):
            known[index] = _FAILS
            continue
        seen.add(dump)
        start, end = edits[0][0], max(e[1] for e in edits)
        mutants.append(
            Mutant(index, site.operator, site.line, site.description, text, site.end_line, start, end)
        )
    return mutants


# A site's state: its text edit parses to the intended change and compiles, parses to it
# (not compiled yet: it was a duplicate), or fails either.
_UNTRIED, _MATCHES, _COMPILES, _FAILS = range(4)
_KNOWN: OrderedDict[tuple[str, str, str | None], dict[int, int]] = OrderedDict()
_KNOWN_LOCK = threading.Lock()
_KNOWN_FUNCTIONS = 2048
_KNOWN_CHARS = 32_000_000  # of code held as keys
_known_chars = 0


def _known_sites(code: str, entry_point: str, class_name: str | None) -> dict[int, int]:
    """The site states found for this function so far (least recently used ones forgotten)."""
    global _known_chars
    key = (code, entry_point, class_name)
    with _KNOWN_LOCK:
        states = _KNOWN.get(key)
        if states is not None:
            _KNOWN.move_to_end(key)
            return states
        states = _KNOWN[key] = {}
        _known_chars += len(code)
        while len(_KNOWN) > 1 and (len(_KNOWN) > _KNOWN_FUNCTIONS or _known_chars > _KNOWN_CHARS):
            (old, _, _), _ = _KNOWN.popitem(last=False)
            _known_chars -= len(old)
        return states


def _compile(tree: ast.Module, text: str) -> None:
    """Raise as `compile(text)` would: the parsed tree is compiled (one parse, not two). A tree
    the conversion back to C refuses (nesting, validation) is compiled from its text."""
    try:
        safe_ast.compile_tree(tree, "<mutant>")
    except (RecursionError, ValueError, TypeError):
        compile(text, "<mutant>", "exec")


_MISSING = object()
# Per AST class: its fields, each with whether a None value is left out of `ast.dump` (an
# optional field: the class attribute is None).
_FIELDS: dict[type[ast.AST], tuple[tuple[str, bool], ...]] = {}
_Memo = dict[int, tuple[ast.AST, str]]


def _fields(cls: type[ast.AST]) -> tuple[tuple[str, bool], ...]:
    spec = _FIELDS.get(cls)
    if spec is None:
        spec = _FIELDS[cls] = tuple((name, getattr(cls, name, ...) is None) for name in cls._fields)
    return spec


def _dump(node: object, memo: _Memo, record: bool = False) -> str:
    """`ast.dump(node)`; a node found in `memo` (by identity) is not formatted again, and with
    `record` every node formatted is added to it."""
    if isinstance(node, ast.AST):
        hit = memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        args = []
        for name, optional in _fields(type(node)):
            try:
                value = getattr(node, name)
            except AttributeError:
                continue
            if value is None and optional:
                continue
            args.append(f"{name}={_dump(value, memo, record)}")
        text = f"{type(node).__name__}({', '.join(args)})"
        if record:
            memo[id(node)] = (node, text)
        return text
    if isinstance(node, list):
        return "[" + ", ".join([_dump(x, memo, record) for x in node]) + "]"
    return repr(node)


def _same(a: object, b: object) -> bool:
    """`ast.dump(a) == ast.dump(b)`, without formatting either (and stopping at a difference)."""
    kind = type(a)
    if kind is not type(b):
        # a node's dump starts with its class name, a list's with "[": neither is a value's repr
        if isinstance(a, (ast.AST, list)) or isinstance(b, (ast.AST, list)):
            return False
        return repr(a) == repr(b)
    if isinstance(a, ast.AST):
        for name, optional in _fields(type(a)):
            x, y = getattr(a, name, _MISSING), getattr(b, name, _MISSING)
            if optional:
                x = _MISSING if x is None else x
                y = _MISSING if y is None else y
            if x is _MISSING or y is _MISSING:
                if x is not y:
                    return False
            elif not _same(x, y):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if a is b:
        return True
    if kind is str or kind is int:
        return a == b  # for these, equal values and equal reprs are the same thing
    return repr(a) == repr(b)


def _clone(node: ast.AST) -> ast.AST:
    new = type(node).__new__(type(node))
    new.__dict__.update(node.__dict__)
    return new


def _copy_path(func: ast.FunctionDef, path: Path) -> ast.FunctionDef:
    """A copy of `func` for `_apply` to change at `path`: the nodes and lists on the path and
    the target's own fields (lists, nodes) are copies, every other node is shared (and never
    changed), so this costs the path's length, not the function's size."""
    root = _clone(func)
    node = root
    for field, index in path:
        value = getattr(node, field)
        if index is None:
            child = _clone(value)
            setattr(node, field, child)
        else:
            items = list(value)
            setattr(node, field, items)
            child = items[index] = _clone(items[index])
        node = child
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            setattr(node, field, list(value))
        elif isinstance(value, ast.AST):
            setattr(node, field, _clone(value))
    assert isinstance(root, ast.FunctionDef)
    return root


def _splice(code: str, edits: list[Edit]) -> str:
    """`code` with each (start, end, text) edit made; the edits do not overlap."""
    out, at = [], 0
    for start, end, text in edits:
        if start < at:
            raise ValueError("overlapping edits")
        out += [code[at:start], text]
        at = end
    return "".join([*out, code[at:]])


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
    rng.shuffle(operators)  # a cap below the number of operators must not always favour `arith`
    while len(chosen) < cap:
        for operator in operators:
            if by_operator[operator] and len(chosen) < cap:
                chosen.append(by_operator[operator].pop())
    order = {id(site): i for i, site in enumerate(sites)}
    return sorted(chosen, key=lambda site: order[id(site)])
