"""Reformat gives exactly what it gave before its per-module sharing, over real modules.

Reformat now works out once per module what every sample of it shares (each class's member
analysis, the names public code mentions, the source's lines for a dropped node's text, what
each method reads from the module), reuses a function's unparsed text and finds a trimmed
class's free names from its parts; `_Reference` below is the stage as it was (its methods and
the helpers they called, verbatim), and every row and drop (all fields, in order) must match.
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Iterator

import pytest

from codemint import safe_ast
from codemint.records import Function, Provenance, Rejected, Snippet, content_id
from codemint.samples import CLASS_KINDS
from codemint.settings import PipelineSettings
from codemint.tasks.ingest.stage import Ingest, plan_sources
from codemint.tasks.reformat.classes import (
    _ALWAYS,
    LIFECYCLE,
    FuncDef,
    _mentioned,
    as_plain_function,
    first_param,
    is_property_getter,
    method_role,
    needed_members,
    trimmed_class,
    trimmed_class_text,
    uses_receiver,
)
from codemint.tasks.reformat.comments import doc_comment
from codemint.tasks.reformat.names import ClassFreeNames, _read_before_bound
from codemint.tasks.reformat.nested import lift, nested_functions
from codemint.tasks.reformat.stage import (
    BUILTIN_NAMES,
    ModuleIndex,
    Reformat,
    _Definition,
    _merge_imports,
    _package_of,
    _takes_input,
    signature_of,
)
from codemint.tasks.reformat.trivial import trivial_reason

# Big modules with classes, nested functions, properties and private helpers.
MODULES = ["argparse", "difflib", "configparser", "tarfile", "pydoc", "string", "fractions", "shlex"]


# --- the stage's helpers as they were ---------------------------------------------------


def _old_free_names(node: ast.AST) -> set[str]:
    try:
        table = symtable.symtable(ast.unparse(node), "<snippet>", "exec")
    except SyntaxError:
        return set()
    symbols = table.get_symbols()
    bound = {s.get_name() for s in symbols if s.is_assigned() or s.is_imported()}
    needed = {s.get_name() for s in symbols if s.is_referenced()}
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        pending.extend(scope.get_children())
        needed |= {s.get_name() for s in scope.get_symbols() if s.is_global() and not s.is_local()}
    for cls in ast.walk(node):
        if isinstance(cls, ast.ClassDef):
            needed |= _read_before_bound(cls)
    return needed - bound


def _old_needed_members(cls: ast.ClassDef, target: FuncDef) -> list[ast.stmt]:
    methods: dict[str, list[FuncDef]] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            methods.setdefault(stmt.name, []).append(stmt)
    kept: set[int] = {id(target)}
    kept_stmts: list[ast.stmt] = [target]
    for stmt in cls.body:
        is_method = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        if (not is_method or getattr(stmt, "name", "") in _ALWAYS) and id(stmt) not in kept:
            kept.add(id(stmt))
            kept_stmts.append(stmt)
    seen: set[str] = set()
    while True:
        names = _mentioned(kept_stmts) - seen
        if not names:
            break
        seen |= names
        for name in names:
            for m in methods.get(name, []):
                if id(m) not in kept:
                    kept.add(id(m))
                    kept_stmts.append(m)
    return [stmt for stmt in cls.body if id(stmt) in kept]


def _old_names_called_by_public(scope: ast.AST) -> set[str]:
    names: set[str] = set()
    body = getattr(scope, "body", [])
    for stmt in body:
        if isinstance(stmt, ast.ClassDef) and not stmt.name.startswith("_"):
            names |= _old_names_called_by_public(stmt)
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or (
            stmt.name.startswith("_") and not stmt.name.endswith("__")
        ):
            continue
        for child in ast.walk(stmt):
            if isinstance(child, ast.Name):
                names.add(child.id)
            elif isinstance(child, ast.Attribute):
                names.add(child.attr)
    return names


class _OldIndex(ModuleIndex):
    def _free_names(self, stmt: ast.AST) -> set[str]:
        key = id(stmt)
        if key not in self._free:
            self._free[key] = _old_free_names(stmt)
        return self._free[key]

    def closure(
        self, node: ast.AST, unparsed: str | None = None, free: set[str] | None = None
    ) -> tuple[list[_Definition], str | None]:
        needed: dict[int, _Definition] = {}
        pending = [node]
        seen_names: set[str] = set()
        while pending:
            current = pending.pop()
            for name in sorted(_old_free_names(current) if current is node else self._free_names(current)):
                if name in seen_names or name in BUILTIN_NAMES:
                    continue
                seen_names.add(name)
                if name in self.unresolvable:
                    return [], f"{name}: {self.unresolvable[name]}"
                definitions = self.defs.get(name)
                if not definitions:
                    if self.star_import:
                        return [], f"{name}: may come from a star import"
                    return [], f"{name}: not defined in its module"
                for d in definitions:
                    if id(d) not in needed:
                        needed[id(d)] = d
                        pending.extend(d.deps_from)
        return sorted(needed.values(), key=lambda d: d.order), None


class _Reference(Reformat):
    """The stage's per-module methods as they were (verbatim, on the helpers above)."""

    def _drop_nested(self, snippet: Snippet, node: ast.AST, reason: str, detail: str) -> Rejected:  # type: ignore[override]
        seg = ast.get_source_segment(snippet.code, node) or detail
        prov = snippet.provenance.model_copy(
            update={
                "line_start": getattr(node, "lineno", None),
                "line_end": getattr(node, "end_lineno", None),
            }
        )
        return self.reject(content_id(seg), reason, detail, provenance=prov)

    def _functions(self, snippet: Snippet, tree: ast.Module) -> Iterator[Function | Rejected]:
        index = _OldIndex(tree, snippet.code, _package_of(snippet.provenance.path))
        self._called = _old_names_called_by_public(tree)
        found = False
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        found = True
                        yield self._method(snippet, stmt, item, index)
            elif isinstance(stmt, ast.AsyncFunctionDef):
                found = True
                yield self._drop_nested(snippet, stmt, "async_function", f"{stmt.name} is a coroutine")
            elif isinstance(stmt, ast.FunctionDef):
                found = True
                yield from self._nested(snippet, stmt, index)
                yield self._standalone(snippet, stmt, index)
        if not found:
            yield self.reject(snippet.id, "no_functions", "no top-level function or method", record=snippet)

    def _nested(
        self, snippet: Snippet, outer: ast.FunctionDef, index: ModuleIndex
    ) -> Iterator[Function | Rejected]:
        for inner, scopes in nested_functions(outer):
            where = f"{outer.name}.{inner.name}"
            if not self.cfg.lift_nested:
                yield self._drop_nested(snippet, inner, "closure", f"{where} is nested in a function")
                continue
            if isinstance(inner, ast.AsyncFunctionDef):
                yield self._drop_nested(snippet, inner, "async_function", f"{where} is a coroutine")
                continue
            lifted, captured = lift(inner, scopes, _old_free_names)
            if lifted is None or not isinstance(lifted, ast.FunctionDef):
                yield self._drop_nested(snippet, inner, "closure", captured)
                continue
            if inner.name in index.defs:
                yield self._drop_nested(
                    snippet, inner, "name_clash", f"{where}: a module-level {inner.name} exists"
                )
                continue
            yield self._standalone(
                snippet, lifted, index, own=ast.unparse(lifted) + "\n", kind="lifted", called=True, at=inner
            )

    def _method(
        self,
        snippet: Snippet,
        cls: ast.ClassDef,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        index: ModuleIndex,
    ) -> Function | Rejected:
        where = f"{cls.name}.{node.name}"
        if not self.cfg.methods:
            return self._drop_nested(snippet, node, "method", f"{where} needs its class")
        if isinstance(node, ast.AsyncFunctionDef):
            return self._drop_nested(snippet, node, "async_function", f"{where} is a coroutine")
        role = method_role(node)
        receiver = first_param(node) if role in ("instance", "class", "property") else None
        if role == "property" and not is_property_getter(node):
            return self._drop_nested(snippet, node, "property", f"{where} is a property setter or deleter")
        if node.name in LIFECYCLE:
            return self._drop_nested(snippet, node, "lifecycle_method", f"{where} is carried with the class")
        if role == "static" or (receiver is not None and not uses_receiver(node, receiver)):
            plain = as_plain_function(node, drop_receiver=role != "static")
            if node.name in index.defs:
                return self._drop_nested(
                    snippet, node, "name_clash", f"{where}: a module-level {node.name} exists"
                )
            called = node.name in self._called or node.name in _old_names_called_by_public(cls)
            return self._standalone(
                snippet, plain, index, own=ast.unparse(plain) + "\n", kind="function", called=called, at=node
            )
        if receiver is None:
            return self._drop_nested(snippet, node, "method", f"{where} takes no self")
        members = _old_needed_members(cls, node)
        kind = {"class": "classmethod", "property": "property"}.get(role, "method")
        return self._standalone(
            snippet,
            node,
            index,
            own=trimmed_class_text(index.lines, cls, members),
            kind=kind,
            called=node.name in _old_names_called_by_public(cls),
            cls=cls,
            closure_root=trimmed_class(cls, members),
        )

    def _standalone(  # type: ignore[override]
        self,
        snippet: Snippet,
        node: ast.FunctionDef,
        index: ModuleIndex,
        *,
        own: str | None = None,
        kind: str = "function",
        called: bool | None = None,
        at: ast.AST | None = None,
        cls: ast.ClassDef | None = None,
        closure_root: ast.AST | None = None,
    ) -> Function | Rejected:
        at = at or node
        prov = snippet.provenance.model_copy(
            update={"line_start": getattr(at, "lineno", None), "line_end": getattr(at, "end_lineno", None)}
        )
        own = own if own is not None else index._segment(node)
        label = f"{cls.name}.{node.name}" if cls is not None else node.name
        row_id = content_id(own if cls is None else f"{own}\n# {label}")

        def drop(reason: str, detail: str) -> Rejected:
            return self.reject(row_id, reason, detail, provenance=prov)

        n_lines = len(ast.unparse(node).splitlines())
        args = node.args
        receiver = first_param(node) if kind in CLASS_KINDS else None
        if (
            node.name.startswith("_")
            and not node.name.endswith("__")
            and not self._keep_private(node, called)
        ):
            return drop("private", f"{label} is a private helper")
        n_params = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) - (1 if receiver else 0)
        instance = kind in ("method", "property")
        if not instance and not (n_params or args.vararg or args.kwarg):
            return drop("no_parameters", f"{label} takes no input to test it with")
        if instance and not (n_params or args.vararg or args.kwarg) and not _takes_input(cls):
            return drop("no_parameters", f"{label} and its constructor take no input to test them with")
        trivial = trivial_reason(node, receiver, self.cfg.min_body_nodes)
        if trivial is not None:
            return drop(trivial[0], f"{label}: {trivial[1]}")
        if n_lines < self.cfg.min_lines:
            return drop("too_short", f"{n_lines} lines")
        if n_lines > self.cfg.max_lines:
            return drop("too_long", f"{n_lines} lines > {self.cfg.max_lines}")
        deps, unresolved = index.closure(closure_root or node)
        if unresolved:
            return drop("unresolved_name", unresolved)
        deps = [d for d in deps if d.node is not node and (cls is None or d.node is not cls)]
        imports = "".join(d.text for d in deps if isinstance(d.node, ast.Import | ast.ImportFrom))
        others = [d.text for d in deps if not isinstance(d.node, ast.Import | ast.ImportFrom)]
        original = "\n".join(part for part in [imports, *others, own] if part)
        if len(original.splitlines()) > 4 * self.cfg.max_lines:
            return drop("too_many_dependencies", f"{len(original.splitlines())} lines with dependencies")
        try:
            code = ast.unparse(_merge_imports(safe_ast.parse(original))) + "\n"
            compile(code, f"<{node.name}>", "exec")
        except (SyntaxError, ValueError, RecursionError) as exc:
            return drop("reformat_failed", str(exc)[:200])
        docstring = ast.get_docstring(node)
        return Function(
            id=content_id(code if cls is None else f"{code}\n# {label}"),
            parent_id=snippet.id,
            code=code,
            original_code=original,
            entry_point=node.name,
            signature=signature_of(node),
            docstring=docstring,
            comment=None if docstring else doc_comment(index.lines, at),
            provenance=prov,
            sample_kind=kind,
            class_name=cls.name if cls is not None else None,
        )


# --- the comparison ------------------------------------------------------------------------

# Line ends the parser and `str.splitlines` disagree on (form feed, \x1c, \u2028, \r\n, a lone
# \r), non-ASCII text before a dropped node on its line, a one-line class, nested classes.
CRAFTED = (
    "import os\r\n"
    "X = 'caf\u00e9'\x0c\r\n"
    "class One: x = 1\n"
    "class Box:\n"
    "    '''A box \u2028 of things.'''\n"
    "    size = 3\r"
    "    def __len__(self):\n"
    "        return self.size + helper(self)\n"
    "    def grow(self, n):\n"
    "        # make it bigger by n\x1c and more\n"
    "        self.size += n; self.check(n)\n"
    "        return self.size * n + len(self)\n"
    "    def check(self, n):\n"
    "        if n < 0 or n > 100: raise ValueError(n)\n"
    "        return [os.sep for _ in range(n)] + [x for x in X]\n"
    "    @property\n"
    "    def area(self): return self.size * self.size + len(X) - 1\n"
    "    @area.setter\n"
    "    def area(self, v): self.size = v\n"
    "    async def fetch(self, u): return u\n"
    "    class Inner:\n"
    "        def f(self, a): return a\n"
    "def helper(box, k=2):\n"
    "    def inner(y, \u00e9=1): return y + k + \u00e9 + box.size * 2 - 1 + len(X)\n"
    "    async def later(): return k\n"
    "    return inner(3) + inner(k) * 2 - len(os.sep)\n"
    "def _private(a):  x = '\u00e9\u00e9'; return (a, x) \n"
)
# Dependencies sharing their line with an import or a string: normalised whole, not by parts.
SHARED_LINES = (
    "import sys; LIMIT = sys.maxsize\n"
    "'''note'''; STEP = 2\n"
    "from os import sep\n"
    "def bounded(n, k=1):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        total += min(i * STEP, LIMIT) - k\n"
    "    return total\n"
    "def joined(parts, k=2):\n"
    "    out = []\n"
    "    for p in parts:\n"
    "        out.append(p * k + sep)\n"
    "    return ''.join(out)\n"
)


def _rows(stage: Reformat, snippets: list[Snippet]) -> list[dict[str, object]]:
    return [dict(o.model_dump(), type=type(o).__name__) for o in stage.run(snippets)]


@pytest.fixture(scope="module")
def corpus() -> list[Snippet]:
    snippets = [
        s for s in Ingest(PipelineSettings()).run(plan_sources([], MODULES)) if isinstance(s, Snippet)
    ]
    assert len(snippets) == len(MODULES)
    crafted = [
        Snippet(id=content_id(code), code=code, provenance=Provenance(source_uri="test:", path="p/m.py"))
        for code in (CRAFTED, SHARED_LINES)
    ]
    return [*snippets, *crafted]


@pytest.mark.parametrize(
    "reformat",
    [({}, 1), ({"include_private": True, "min_body_nodes": 0, "min_lines": 1}, 2)],
    ids=["default", "everything"],
)
def test_same_rows_and_drops_as_the_stage_before(
    corpus: list[Snippet], reformat: tuple[dict[str, object], int]
) -> None:
    settings = PipelineSettings.model_validate({"reformat": reformat[0]})
    corpus = [*corpus[:-2][:: reformat[1]], *corpus[-2:]]  # with everything on, every other module (cost)
    new, old = Reformat(settings), _Reference(settings)
    got, want = _rows(new, corpus), _rows(old, corpus)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w
    assert new.metrics == old.metrics
    if reformat[1] != 1:
        return
    kinds = {(r["type"], r.get("sample_kind") or r.get("drop_reason")) for r in got}
    # the corpus reaches every kind of sample and the drops the shared work feeds
    assert {("Function", k) for k in ("function", "method", "property", "classmethod", "lifted")} <= kinds
    assert {("Rejected", k) for k in ("async_function", "closure", "lifecycle_method", "property")} <= kinds
    assert {r["entry_point"] for r in got if r["type"] == "Function"} >= {"bounded", "joined"}


# Scope corner cases for a class cut down to some members: a class and a method named `top`
# (3.11's symtable takes such a scope for the module's), `super()`, name mangling, class-level
# reads before binding (also in a nested class), comprehensions and lambdas in defaults, and
# methods the compiler refuses (`nonlocal` of nothing, `yield` in a comprehension).
SCOPES = '''
import os
class top(Base, metaclass=Meta, flag=FLAG):
    """doc"""
    x = x
    __hidden = 1
    table = {k: os.sep for k in KEYS}
    def top(self, a=[y for y in DEFAULTS], f=lambda q: q + LAMBDA):
        return super().top() + self.__hidden + GLOBAL_A + __secret
    @deco(DECO)
    def other(self, b: ANNOT = DEFAULT) -> RET:
        global G
        G = 1
        class Inner:
            v = v
            def w(self): return INNER_W
        def helper():
            return CLOSED + b
        return helper, __class__, [i for i in range(N) if i > LIMIT]
    def broken(self):
        def inner():
            nonlocal nothing
        return inner
    def gen(self):
        return [(yield q) for q in QS]
    if COND:
        def maybe(self): return MAYBE
'''


def test_a_trimmed_class_has_the_free_names_the_whole_analysis_gives(corpus: list[Snippet]) -> None:
    modules = [ast.parse(s.code) for s in corpus] + [ast.parse(SCOPES)]
    cuts = 0
    for tree in modules:
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            parts = ClassFreeNames(cls)
            methods = [m for m in cls.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
            wanted = [needed_members(cls, m) for m in methods]
            # every member, each member alone, and what each method sample carries
            for members in [cls.body, *([m] for m in cls.body), *wanted]:
                assert parts.of(members) == _old_free_names(trimmed_class(cls, members)), (cls.name, members)
                cuts += 1
    assert cuts > 1000
    top = ast.parse(SCOPES).body[1]
    assert isinstance(top, ast.ClassDef)
    ok = [m for m in top.body if not (isinstance(m, ast.FunctionDef) and m.name in ("broken", "gen"))]
    expected = {
        "Base",
        "KEYS",
        "DEFAULTS",
        "LAMBDA",
        "GLOBAL_A",
        "DECO",
        "INNER_W",
        "CLOSED",
        "N",
        "MAYBE",
        "x",
        "v",
    }
    assert expected <= ClassFreeNames(top).of(ok)
    assert ClassFreeNames(top).of(top.body) == set()  # the compiler refuses the whole class
