"""Reformat: split a source file into functions that stand alone (Semi-Instruct's "improper code").

For each top-level function we carry along what it needs from its module (imports,
constants, helper functions and classes, transitively) so the original can run by itself
in the sandbox; `original_code` keeps those pieces verbatim, `code` is the same program
normalised through the AST (one statement per line, uniform formatting).

Improper code is made proper where it can be: a method comes with the parts of its class it
needs (reformat_classes.py), a static or self-less method becomes a plain function, a nested
function is lifted with its captured names as parameters (reformat_nested.py), a private
helper is kept when documented or used. Trivial bodies (reformat_trivial.py), async
functions and what cannot be lifted are dropped with a reason.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from codemint import safe_ast
from codemint.records import Function, Rejected, Snippet, content_id
from codemint.samples import CLASS_KINDS
from codemint.settings import ReformatSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task
from codemint.tasks.reformat.classes import (
    LIFECYCLE,
    ClassMembers,
    as_plain_function,
    constructor,
    first_param,
    is_property_getter,
    method_role,
    trimmed_class,
    trimmed_class_text,
    uses_receiver,
)
from codemint.tasks.reformat.comments import doc_comment
from codemint.tasks.reformat.names import ClassFreeNames, free_names
from codemint.tasks.reformat.nested import lift, nested_functions
from codemint.tasks.reformat.trivial import trivial_reason

BUILTIN_NAMES = set(dir(builtins)) | {"__name__", "__doc__", "__builtins__"}


@dataclass
class _Definition:
    """A top-level statement that binds names, with the text to carry for it."""

    order: tuple[int, int]
    text: str
    node: ast.AST
    deps_from: list[ast.AST] = field(default_factory=list)  # nodes whose free names it needs


def _bound_names(node: ast.AST) -> set[str]:
    """Names a statement binds at the level where it stands (not inside nested scopes)."""
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            names.add(alias.asname or alias.name.split(".")[0])
        return names
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(child.name)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            names.update(alias.asname or alias.name.split(".")[0] for alias in child.names)
    return names


def _absolute_module(module: str | None, level: int, package: str | None) -> str | None:
    if level == 0:
        return module
    if not package:
        return None
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _package_of(path: str) -> str | None:
    """`a/b/c.py` -> `a.b`; `a/b/__init__.py` -> `a.b`; a top-level file has no package."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts or not parts[-1].endswith(".py"):
        return None
    # For both `a/b/c.py` and `a/b/__init__.py`, `from . import x` means package `a.b`.
    return ".".join(parts[:-1]) or None


# A line as the parser splits them (`ast.get_source_segment`): only \r\n, \r and \n end one.
_PARSER_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class ModuleIndex:
    """Where each top-level name of a module is defined, and what the module's samples share:
    each class's member analysis, the names its public code mentions, the source's lines."""

    def __init__(self, tree: ast.Module, source: str, package: str | None) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self._parser_lines: list[str] | None = None
        self._members: dict[int, ClassMembers] = {}
        self._class_free: dict[int, ClassFreeNames] = {}
        self._unparsed_parts: dict[str, str | None] = {}
        self._called: dict[int, set[str]] = {}
        self.defs: dict[str, list[_Definition]] = {}
        self.unresolvable: dict[str, str] = {}  # name -> why it cannot be carried
        self.star_import = False
        # Free names of the module's own statements, by id: every sample of the module that
        # needs a statement (a large class, say) would otherwise analyse it again.
        self._free: dict[int, set[str]] = {}
        for stmt in tree.body:
            self._index(stmt, package)

    def _segment(self, node: ast.stmt) -> str:
        start = node.lineno
        decorators = getattr(node, "decorator_list", None)
        if decorators:
            start = min(start, *(d.lineno for d in decorators))
        return "".join(self.lines[start - 1 : node.end_lineno]).rstrip() + "\n"

    def _add(self, name: str, definition: _Definition) -> None:
        self.defs.setdefault(name, []).append(definition)

    def _index(self, stmt: ast.stmt, package: str | None) -> None:
        if isinstance(stmt, ast.Import):
            for i, alias in enumerate(stmt.names):
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "") + "\n"
                self._add(alias.asname or alias.name.split(".")[0], _Definition((stmt.lineno, i), text, stmt))
            return
        if isinstance(stmt, ast.ImportFrom):
            module = _absolute_module(stmt.module, stmt.level, package)
            for i, alias in enumerate(stmt.names):
                bound = alias.asname or alias.name
                if alias.name == "*":
                    self.star_import = True
                    continue
                if module is None:
                    self.unresolvable[bound] = "relative import outside a known package"
                    continue
                text = (
                    f"from {module} import {alias.name}"
                    + (f" as {alias.asname}" if alias.asname else "")
                    + "\n"
                )
                self._add(bound, _Definition((stmt.lineno, i), text, stmt))
            return
        if isinstance(stmt, ast.Expr | ast.Pass):
            return  # docstrings and bare calls bind nothing
        names = _bound_names(stmt)
        if not names:
            return
        definition = _Definition((stmt.lineno, 0), self._segment(stmt), stmt, [stmt])
        for name in names:
            self._add(name, definition)

    def members(self, cls: ast.ClassDef) -> ClassMembers:
        if id(cls) not in self._members:
            self._members[id(cls)] = ClassMembers(cls)
        return self._members[id(cls)]

    def class_free_names(self, cls: ast.ClassDef, members: list[ast.stmt]) -> set[str]:
        """`free_names(trimmed_class(cls, members))`, each method of `cls` analysed once."""
        if id(cls) not in self._class_free:
            self._class_free[id(cls)] = ClassFreeNames(cls)
        return self._class_free[id(cls)].of(members)

    def unparsed_part(self, text: str) -> str | None:
        """`_unparsed_after(text)` of a dependency's text, worked out once per module."""
        if text not in self._unparsed_parts:
            self._unparsed_parts[text] = _unparsed_after(text)
        return self._unparsed_parts[text]

    def called_by_public(self, scope: ast.AST) -> set[str]:
        """`_names_called_by_public(scope)`, each class worked out once (do not mutate it)."""
        return _names_called_by_public(scope, self._called)

    def source_segment(self, node: ast.AST) -> str | None:
        """`ast.get_source_segment(self.source, node)`, without re-splitting the source per call."""
        end_lineno = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_lineno is None or end_col is None:
            return None
        if self._parser_lines is None:
            self._parser_lines = _PARSER_LINE.findall(self.source)
        lines = self._parser_lines
        first, last, col = node.lineno - 1, end_lineno - 1, node.col_offset  # type: ignore[attr-defined]
        if first == last:
            return lines[first].encode()[col:end_col].decode()
        head = lines[first].encode()[col:].decode()
        tail = lines[last].encode()[:end_col].decode()
        return "".join([head, *lines[first + 1 : last], tail])

    def _free_names(self, stmt: ast.AST) -> set[str]:
        """`free_names` of a statement the index holds, worked out once."""
        key = id(stmt)
        if key not in self._free:
            self._free[key] = free_names(stmt)
        return self._free[key]

    def closure(
        self, node: ast.AST, unparsed: str | None = None, free: set[str] | None = None
    ) -> tuple[list[_Definition], str | None]:
        """Definitions `node` needs, transitively; or the first name that cannot be resolved.
        `unparsed`: `ast.unparse(node)`, `free`: `free_names(node)`, when the caller has them."""
        root_free = free if free is not None else free_names(node, unparsed)
        needed: dict[int, _Definition] = {}
        pending = [node]
        seen_names: set[str] = set()
        while pending:
            current = pending.pop()
            for name in sorted(root_free if current is node else self._free_names(current)):
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


def _merge_imports(tree: ast.Module) -> ast.Module:
    """`from m import a` + `from m import b` -> `from m import a, b` (imports are carried one per name)."""
    body: list[ast.stmt] = []
    for stmt in tree.body:
        prev = body[-1] if body else None
        if (
            isinstance(stmt, ast.ImportFrom)
            and isinstance(prev, ast.ImportFrom)
            and (prev.module, prev.level) == (stmt.module, stmt.level)
            and stmt.module != "__future__"
        ):
            prev.names.extend(stmt.names)
        else:
            body.append(stmt)
    tree.body = body
    return tree


def _unparsed_after(text: str) -> str | None:
    """What `ast.unparse` writes for `text`'s statements when they follow others in a module:
    each one's own text after a line break (two before a definition: `maybe_newline`). None
    when its statements could merge with an import before them (`_merge_imports`) or stand
    first as a docstring, or it does not parse alone."""
    try:
        stmts = safe_ast.parse(text).body
        if any(isinstance(s, ast.Import | ast.ImportFrom | ast.Expr) for s in stmts):
            return None
        defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        return "".join(("\n\n" if isinstance(s, defs) else "\n") + ast.unparse(s) for s in stmts)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _normalised(index: ModuleIndex, imports: str, others: list[str], own: str, original: str) -> str:
    """`ast.unparse(_merge_imports(safe_ast.parse(original))) + "\n"` of `original`, the
    `imports`, `others` and `own` parts a blank line apart: a module's dependencies, shared by
    many of its samples, are parsed and unparsed once. Unparsed whole (its errors raised) when
    a part is not plain statements that parse alone."""
    parts = [index.unparsed_part(text) for text in others]
    own_part = _unparsed_after(own)
    if own_part is None or None in parts:
        return ast.unparse(_merge_imports(safe_ast.parse(original))) + "\n"
    head = ast.unparse(_merge_imports(safe_ast.parse(imports))) if imports else ""
    text = "".join([head, *(p for p in parts if p is not None), own_part])
    # No statement's own text starts with a line break: only the first one's break goes.
    return (text if head else text.lstrip("\n")) + "\n"


def signature_of(node: ast.FunctionDef) -> str:
    sig = f"def {node.name}({ast.unparse(node.args)})"
    if node.returns is not None:
        sig += f" -> {ast.unparse(node.returns)}"
    return sig


class Reformat(Stage[Snippet, Function]):
    name = "reformat"
    input_model = Snippet
    output_model = Function
    settings_field = "reformat"

    @property
    def cfg(self) -> ReformatSettings:
        return self.settings.reformat

    def run(self, records: Iterable[Snippet]) -> Iterator[Function | Rejected]:
        for snippet in records:
            try:
                tree = safe_ast.parse(snippet.code)
            except SyntaxError as exc:
                yield self.reject(
                    snippet.id,
                    "syntax_error",
                    f"line {exc.lineno}: {exc.msg}",
                    record=snippet,
                    status="quarantined",
                )
                continue
            except (ValueError, RecursionError, MemoryError) as exc:
                yield self.reject(
                    snippet.id, "unparsable", str(exc)[:200], record=snippet, status="quarantined"
                )
                continue
            yield from self._functions(snippet, tree)

    def _drop_nested(
        self, snippet: Snippet, index: ModuleIndex, node: ast.AST, reason: str, detail: str
    ) -> Rejected:
        seg = index.source_segment(node) or detail
        prov = snippet.provenance.model_copy(
            update={
                "line_start": getattr(node, "lineno", None),
                "line_end": getattr(node, "end_lineno", None),
            }
        )
        return self.reject(content_id(seg), reason, detail, provenance=prov)

    def _functions(self, snippet: Snippet, tree: ast.Module) -> Iterator[Function | Rejected]:
        index = ModuleIndex(tree, snippet.code, _package_of(snippet.provenance.path))
        self._called = index.called_by_public(tree)
        found = False
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        found = True
                        yield self._method(snippet, stmt, item, index)
            elif isinstance(stmt, ast.AsyncFunctionDef):
                found = True
                yield self._drop_nested(snippet, index, stmt, "async_function", f"{stmt.name} is a coroutine")
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
                yield self._drop_nested(snippet, index, inner, "closure", f"{where} is nested in a function")
                continue
            if isinstance(inner, ast.AsyncFunctionDef):
                yield self._drop_nested(snippet, index, inner, "async_function", f"{where} is a coroutine")
                continue
            lifted, captured = lift(inner, scopes, free_names)
            if lifted is None or not isinstance(lifted, ast.FunctionDef):
                yield self._drop_nested(snippet, index, inner, "closure", captured)
                continue
            if inner.name in index.defs:
                yield self._drop_nested(
                    snippet, index, inner, "name_clash", f"{where}: a module-level {inner.name} exists"
                )
                continue
            text = ast.unparse(lifted)
            yield self._standalone(
                snippet, lifted, index, own=text + "\n", unparsed=text, kind="lifted", called=True, at=inner
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
            return self._drop_nested(snippet, index, node, "method", f"{where} needs its class")
        if isinstance(node, ast.AsyncFunctionDef):
            return self._drop_nested(snippet, index, node, "async_function", f"{where} is a coroutine")
        role = method_role(node)
        receiver = first_param(node) if role in ("instance", "class", "property") else None
        if role == "property" and not is_property_getter(node):
            return self._drop_nested(
                snippet, index, node, "property", f"{where} is a property setter or deleter"
            )
        if node.name in LIFECYCLE:
            return self._drop_nested(
                snippet, index, node, "lifecycle_method", f"{where} is carried with the class"
            )
        if role == "static" or (receiver is not None and not uses_receiver(node, receiver)):
            plain = as_plain_function(node, drop_receiver=role != "static")
            if node.name in index.defs:
                return self._drop_nested(
                    snippet, index, node, "name_clash", f"{where}: a module-level {node.name} exists"
                )
            called = node.name in self._called or node.name in index.called_by_public(cls)
            text = ast.unparse(plain)
            return self._standalone(
                snippet,
                plain,
                index,
                own=text + "\n",
                unparsed=text,
                kind="function",
                called=called,
                at=node,
            )
        if receiver is None:
            return self._drop_nested(snippet, index, node, "method", f"{where} takes no self")
        members = index.members(cls).needed(node)
        kind = {"class": "classmethod", "property": "property"}.get(role, "method")
        return self._standalone(
            snippet,
            node,
            index,
            own=trimmed_class_text(index.lines, cls, members),
            kind=kind,
            called=node.name in index.called_by_public(cls),
            cls=cls,
            closure_root=trimmed_class(cls, members),
            root_free=lambda: index.class_free_names(cls, members),
        )

    def _standalone(
        self,
        snippet: Snippet,
        node: ast.FunctionDef,
        index: ModuleIndex,
        *,
        own: str | None = None,
        unparsed: str | None = None,
        kind: str = "function",
        called: bool | None = None,
        at: ast.AST | None = None,
        cls: ast.ClassDef | None = None,
        closure_root: ast.AST | None = None,
        root_free: Callable[[], set[str]] | None = None,
    ) -> Function | Rejected:
        """A sample for `node`: its own text (`own`, by default its verbatim source) plus what
        it needs from its module. `at` is where it stands in the source, if not `node` itself;
        `unparsed`: `ast.unparse(node)`, when the caller has it already; `root_free` gives
        `free_names(closure_root)` (worked out only for a sample that gets that far)."""
        at = at or node
        prov = snippet.provenance.model_copy(
            update={"line_start": getattr(at, "lineno", None), "line_end": getattr(at, "end_lineno", None)}
        )
        own = own if own is not None else index._segment(node)
        label = f"{cls.name}.{node.name}" if cls is not None else node.name
        row_id = content_id(own if cls is None else f"{own}\n# {label}")

        def drop(reason: str, detail: str) -> Rejected:
            return self.reject(row_id, reason, detail, provenance=prov)

        # Counted after normalisation: a one-line `def f(x): return x` is improper, not short.
        if unparsed is None:
            unparsed = ast.unparse(node)
        n_lines = len(unparsed.splitlines())
        args = node.args
        receiver = first_param(node) if kind in CLASS_KINDS else None
        if (
            node.name.startswith("_")
            and not node.name.endswith("__")
            and not self._keep_private(node, called)
        ):
            return drop("private", f"{label} is a private helper")
        n_params = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) - (1 if receiver else 0)
        instance = kind in ("method", "property")  # built from generated constructor arguments
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
        if closure_root is not None:
            deps, unresolved = index.closure(closure_root, free=root_free() if root_free else None)
        else:
            deps, unresolved = index.closure(node, unparsed)
        if unresolved:
            return drop("unresolved_name", unresolved)
        # A method's class is carried trimmed (`own`); a plain function made from a method may
        # still need its class by name, which then comes whole as any other dependency.
        deps = [d for d in deps if d.node is not node and (cls is None or d.node is not cls)]
        imports = "".join(d.text for d in deps if isinstance(d.node, ast.Import | ast.ImportFrom))
        others = [d.text for d in deps if not isinstance(d.node, ast.Import | ast.ImportFrom)]
        original = "\n".join(part for part in [imports, *others, own] if part)
        if len(original.splitlines()) > 4 * self.cfg.max_lines:
            return drop("too_many_dependencies", f"{len(original.splitlines())} lines with dependencies")
        try:
            code = _normalised(index, imports, others, own, original)
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

    def _keep_private(self, node: ast.FunctionDef, called: bool | None) -> bool:
        if self.cfg.include_private:
            return True
        if not self.cfg.keep_used_private:
            return False
        if called is None:
            called = node.name in self._called
        return called or bool(ast.get_docstring(node))


def _takes_input(cls: ast.ClassDef | None) -> bool:
    """Whether instances can be built with varied arguments (an `__init__` with parameters, or fields)."""
    if cls is None:
        return False
    init = constructor(cls)
    if init is not None:
        a = init.args
        return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) > 1 or bool(a.vararg or a.kwarg)
    return any(isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) for s in cls.body)


def _names_called_by_public(scope: ast.AST, memo: dict[int, set[str]] | None = None) -> set[str]:
    """Names (and attribute names) that public definitions directly inside `scope` mention.
    `memo`: results by scope id, for scopes (classes) asked about again."""
    if memo is not None and id(scope) in memo:
        return memo[id(scope)]
    names: set[str] = set()
    body = getattr(scope, "body", [])
    for stmt in body:
        if isinstance(stmt, ast.ClassDef) and not stmt.name.startswith("_"):
            names |= _names_called_by_public(stmt, memo)
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or (
            stmt.name.startswith("_") and not stmt.name.endswith("__")
        ):
            continue
        for child in ast.walk(stmt):
            if isinstance(child, ast.Name):
                names.add(child.id)
            elif isinstance(child, ast.Attribute):
                names.add(child.attr)
    if memo is not None:
        memo[id(scope)] = names
    return names


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Reformat)
