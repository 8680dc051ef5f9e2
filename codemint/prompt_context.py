"""The context a sample's prompt shows beside its instruction, and the state its tests compare.

A row's answer is run on its own, so the solver must see what the original relies on. For a
function sample the context is every definition its `original_code` carries besides the
target (imports, constants, helpers, the code's own exception classes and classes).
For a method sample it is the class context: the class (and its bases defined in the code)
with its header, its docstring cut to what a method needs, its class-level attributes, the
constructor and every method the shown code reaches through `self`, plus the module-level
definitions that shown code names. The target method itself is left out: it is the answer.

`shown_attributes` names the instance attributes a method row's tests compare: those the
shown context assigns or reads as `self.NAME`, plus public ones the target's docstring names,
so a test never checks an attribute the prompt does not show (a private cache the target
alone fills, say). Both are derived from the reference code, never from a candidate.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable, Iterator

from codemint import safe_ast

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
# A class docstring beyond its first paragraph, or longer than this, is cut at a sentence end.
MAX_CLASS_DOC_CHARS = 400
# Called by the constructor machinery rather than through `self.NAME`.
_CONSTRUCTION = ("__new__", "__init__", "__post_init__")


def cut_docstring(text: str, limit: int = MAX_CLASS_DOC_CHARS) -> str:
    """The first paragraph of a docstring, cut at the last sentence end within `limit`."""
    text = inspect.cleandoc(text).strip()
    first = re.split(r"\n\s*\n", text, maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first
    head = first[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", head)]
    return head[: ends[-1]] if ends else head.rsplit(" ", 1)[0] + " ..."


_GONE = "\0"  # a source line a cut docstring replaced


def _segment(lines: list[str], node: ast.stmt) -> str:
    """A statement's source lines, decorators included, indentation kept."""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(line for line in lines[start - 1 : node.end_lineno] if line != _GONE)


def _docstring_lines(text: str, indent: str = "    ") -> str:
    quote = "'''" if '"""' in text else '"""'
    prefix = "r" if "\\" in text and not text.endswith("\\") else ""
    body = "\n".join((indent + line) if line else "" for line in text.splitlines())
    return f"{indent}{prefix}{quote}\n{body}\n{indent}{quote}"


def _source_lines(tree: ast.Module, code: str) -> list[str]:
    """The code's lines, every class docstring longer than its cut replaced by the cut:
    a class's long story is not what one of its methods, or a function using it, needs."""
    lines = code.splitlines()
    for cls in ast.walk(tree):
        doc = ast.get_docstring(cls) if isinstance(cls, ast.ClassDef) else None
        if not isinstance(cls, ast.ClassDef) or doc is None or cut_docstring(doc) == inspect.cleandoc(doc):
            continue
        node = cls.body[0]
        end = node.end_lineno or node.lineno
        own_lines = node.lineno > cls.lineno and lines[end - 1].rstrip().endswith(("'", '"'))
        if not own_lines or lines[end - 1][: node.col_offset].strip():
            continue  # shares a line with other code: left as it is
        lines[node.lineno - 1] = _docstring_lines(cut_docstring(doc), " " * node.col_offset)
        lines[node.lineno : end] = [_GONE] * (end - node.lineno)
    return lines


def _bound_names(stmt: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(stmt, FuncDef | ast.ClassDef):
        return {stmt.name}
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, FuncDef | ast.ClassDef) and node is not stmt:
            names.add(node.name)
    return names


def _loaded_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names the nodes read; a function's own parameters and locals are not the module's."""
    names: set[str] = set()
    for node in nodes:
        read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if isinstance(node, FuncDef):
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            local = {a.arg for a in params if a is not None}
            local |= {
                n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            # Defaults, annotations and decorators are evaluated in the enclosing scope.
            outer = [*args.defaults, *(d for d in args.kw_defaults if d), *node.decorator_list]
            read = (read - local) | _loaded_names(outer)
        names |= read
    return names


def _join(parts: list[str]) -> str:
    """Parts one blank line apart, runs of one-line statements (imports, constants) together."""
    out, single = "", False
    for part in (p.strip("\n") for p in parts):
        one_line = "\n" not in part
        if out:
            out += "\n" if one_line and single else "\n\n"
        out, single = out + part, one_line
    return out


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _module_context(tree: ast.Module, lines: list[str], seeds: set[str], skip: set[ast.stmt]) -> list[str]:
    """Top-level statements (not in `skip`) binding a name the seeds reach, to a fixed point,
    in source order; `from __future__` imports always."""
    pool = [s for s in tree.body if s not in skip and not _docstring_stmt(tree, s)]
    wanted, kept = set(seeds), set()
    changed = True
    while changed:
        changed = False
        for stmt in pool:
            if id(stmt) not in kept and (_is_future(stmt) or _bound_names(stmt) & wanted):
                kept.add(id(stmt))
                wanted |= _loaded_names([stmt])
                changed = True
    return [_segment(lines, s) for s in pool if id(s) in kept]


def _docstring_stmt(tree: ast.Module, stmt: ast.stmt) -> bool:
    return (
        stmt is tree.body[0]
        and isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def function_context(original_code: str, entry_point: str) -> str:
    """Everything a function sample's code defines besides the target (already only what it needs)."""
    tree = safe_ast.parse(original_code)
    lines = _source_lines(tree, original_code)
    parts = [
        _segment(lines, s)
        for s in tree.body
        if not (isinstance(s, FuncDef) and s.name == entry_point) and not _docstring_stmt(tree, s)
    ]
    return _join(parts)


class _ClassContext:
    """The target class and its bases defined in the same code, and which methods to show."""

    def __init__(self, tree: ast.Module, class_name: str, entry_point: str) -> None:
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        self.chain: list[ast.ClassDef] = []
        pending = [classes[class_name]] if class_name in classes else []
        while pending:  # the class, then its in-code bases (depth first, like a simple MRO)
            cls = pending.pop(0)
            if cls not in self.chain:
                self.chain.append(cls)
                pending.extend(
                    classes[b.id] for b in cls.bases if isinstance(b, ast.Name) and b.id in classes
                )
        self.target = self._lookup(entry_point) if self.chain else None
        self.shown: dict[int, tuple[ast.ClassDef, FuncDef]] = {}
        self._reach()

    def _lookup(self, name: str) -> tuple[ast.ClassDef, FuncDef] | None:
        for cls in self.chain:
            for node in cls.body:
                if isinstance(node, FuncDef) and node.name == name:
                    return cls, node
        return None

    def method(self, name: str) -> bool:
        """Whether `self.NAME` is a method of the class (not state)."""
        return self._lookup(name) is not None

    def _show(self, found: tuple[ast.ClassDef, FuncDef] | None) -> bool:
        if found is None or found == self.target or id(found[1]) in self.shown:
            return False
        self.shown[id(found[1])] = found
        return True

    def _reach(self) -> None:
        """Constructor, the target class's own special methods, and what they and the target
        name through `self`/`cls` (or as names in a class body: `x = property(get_x)`), to a fixed point."""
        if not self.chain:
            return
        for name in _CONSTRUCTION:
            self._show(self._lookup(name))
        for member in self.chain[0].body:
            if isinstance(member, FuncDef) and member.name.startswith("__") and member.name.endswith("__"):
                self._show((self.chain[0], member))
        class_level = [s for cls in self.chain for s in cls.body if not isinstance(s, FuncDef)]
        frontier: list[ast.AST] = [*class_level, *([self.target[1]] if self.target else [])]
        frontier.extend(node for _, node in list(self.shown.values()))
        while frontier:
            node = frontier.pop()
            names = {a.attr for a in ast.walk(node) if isinstance(a, ast.Attribute)}
            names |= _loaded_names([node]) if not isinstance(node, FuncDef) else set()
            for name in names:
                found = self._lookup(name)
                if self._show(found) and found is not None:
                    frontier.append(found[1])

    def methods_of(self, cls: ast.ClassDef) -> list[FuncDef]:
        return [node for c, node in self.shown.values() if c is cls]


def _class_header(cls: ast.ClassDef) -> str:
    copy = ast.ClassDef(
        name=cls.name,
        bases=cls.bases,
        keywords=cls.keywords,
        body=[ast.Pass()],
        decorator_list=cls.decorator_list,
    )
    setattr(copy, "type_params", getattr(cls, "type_params", []))  # noqa: B010 (3.12+ field)
    return ast.unparse(ast.fix_missing_locations(copy)).rsplit("\n", 1)[0]


def _render_class(
    cls: ast.ClassDef, lines: list[str], methods: list[FuncDef], target: FuncDef | None, cut: bool
) -> str:
    header = _class_header(cls)
    doc = ast.get_docstring(cls)
    if doc:
        header += "\n" + _docstring_lines(cut_docstring(doc) if cut else inspect.cleandoc(doc))
    parts = [header]
    body = [s for s in cls.body if not (s is cls.body[0] and doc is not None)]
    for stmt in body:
        if isinstance(stmt, FuncDef):
            if stmt is target:
                signature = f"def {stmt.name}({ast.unparse(stmt.args)})"
                parts.append(f"    # {signature}: the method to write")
            elif stmt in methods:
                parts.append(_segment(lines, stmt))
        else:
            parts.append(_segment(lines, stmt))
    if len(parts) == 1:
        parts.append("    pass")
    return header + "\n\n" + _join(parts[1:])


def method_context(original_code: str, class_name: str, entry_point: str, cut_doc: bool = True) -> str:
    """The class context of a method sample (see the module docstring), as code."""
    tree = safe_ast.parse(original_code)
    lines = _source_lines(tree, original_code) if cut_doc else original_code.splitlines()
    ctx = _ClassContext(tree, class_name, entry_point)
    if not ctx.chain:
        return function_context(original_code, entry_point)
    target = ctx.target[1] if ctx.target else None
    shown = [node for _, node in ctx.shown.values()]
    class_level = [s for cls in ctx.chain for s in cls.body if not isinstance(s, FuncDef)]
    seeds = _loaded_names([*shown, *class_level])
    seeds |= _loaded_names([b for c in ctx.chain for b in [*c.bases, *c.keywords, *c.decorator_list]])
    if target is not None:
        seeds |= _loaded_names([target])
    module = _module_context(tree, lines, seeds, skip=set(ctx.chain))
    classes = [_render_class(c, lines, ctx.methods_of(c), target, cut_doc) for c in reversed(ctx.chain)]
    return _join([*module, *classes])


def context_code(original_code: str, entry_point: str, class_name: str | None = None) -> str:
    """The context a sample's prompt shows: a method's class context when `class_name` is
    given (a method, property or class method sample), else a function's (empty when the
    code defines nothing else)."""
    if class_name:
        return method_context(original_code, class_name, entry_point)
    return function_context(original_code, entry_point)


def _receiver(func: FuncDef) -> str | None:
    params = [*func.args.posonlyargs, *func.args.args]
    return params[0].arg if params else None


# Methods whose first parameter is the class, not the instance.
_CLASS_RECEIVERS = {"__new__", "__init_subclass__", "__class_getitem__"}


def _instance_method(func: FuncDef) -> bool:
    decorators = {ast.unparse(d).rsplit(".", 1)[-1] for d in func.decorator_list}
    return func.name not in _CLASS_RECEIVERS and not decorators & {"classmethod", "staticmethod"}


def _self_attributes(func: FuncDef) -> Iterator[tuple[str, ast.Attribute]]:
    """(name, node) of every `self.NAME` in an instance method (self being its first
    parameter), special attributes (`__class__`, `__dict__`) left out."""
    receiver = _receiver(func) if _instance_method(func) else None
    for node in ast.walk(func):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        if node.value.id == receiver and not (node.attr.startswith("__") and node.attr.endswith("__")):
            yield node.attr, node


def _stored_name(name: str, cls: ast.ClassDef) -> str:
    """Where `self.__name` is stored: the class's mangled name."""
    if name.startswith("__") and not name.endswith("__"):
        return f"_{cls.name.lstrip('_')}{name}"
    return name


def _is_classvar(annotation: ast.expr) -> bool:
    return ast.unparse(annotation).startswith(("ClassVar", "typing.ClassVar"))


def shown_attributes(original_code: str, class_name: str, entry_point: str) -> list[str]:
    """The instance attributes a method row's tests compare (see the module docstring), as
    stored in `__dict__`/slots: assigned or read as `self.NAME` in the shown constructor and
    methods, a dataclass-like class's fields, and the public ones the target's docstring names."""
    tree = safe_ast.parse(original_code)
    ctx = _ClassContext(tree, class_name, entry_point)
    names: set[str] = set()
    for cls, func in ctx.shown.values():
        names.update(_stored_name(name, cls) for name, _ in _self_attributes(func) if not ctx.method(name))
    for cls in ctx.chain:  # a dataclass-like class's fields
        fields = [f for f in cls.body if isinstance(f, ast.AnnAssign) and not _is_classvar(f.annotation)]
        names.update(f.target.id for f in fields if isinstance(f.target, ast.Name))
    if ctx.target is not None:
        cls, func = ctx.target
        words = set(re.findall(r"\w+", ast.get_docstring(func) or ""))
        named = (n for n, _ in _self_attributes(func) if n in words and not n.startswith("_"))
        names.update(n for n in named if not ctx.method(n))
    return sorted(names)


# Modules whose code follows one platform's rules whatever machine runs it.
PLATFORM_MODULES = {
    "ntpath": "Windows path rules apply (drive letters, `\\` and `/` as separators, UNC paths)",
    "nturl2path": "Windows path rules apply (drive letters, `\\` separators, UNC paths)",
    "posixpath": "POSIX path rules apply (`/` is the only separator)",
    "macpath": "classic Mac OS path rules apply (`:` is the separator)",
}


def platform_note(path: str) -> str | None:
    """A sentence saying whose rules apply, for code from a platform-specific module (by the
    file name of the row's provenance), else None."""
    stem = re.split(r"[\\/]", path)[-1].removesuffix(".py")
    rules = PLATFORM_MODULES.get(stem)
    return None if rules is None else f"This code comes from `{stem}.py`: {rules}."


# --- how a prompt shows it (the LLM strategies and the exported rows alike) ---


def fenced(code: str, language: str = "python") -> str:
    return f"```{language}\n{code.strip(chr(10))}\n```"


CONTEXT_LEAD = (
    "It works in this context. Your answer is run on its own, so write it complete: "
    "it must define everything it uses from this code."
)


def context_block(context: str | None) -> str | None:
    """The context code as the prompt shows it, apart from the instruction (None: none to show)."""
    if not context or not context.strip():
        return None
    return f"{CONTEXT_LEAD}\n\n{fenced(context)}"


def with_context(instruction: str, context: str | None = None) -> str:
    """The user turn of a generation row: the instruction, then the context code block."""
    block = context_block(context)
    return instruction.rstrip() if block is None else f"{instruction.rstrip()}\n\n{block}"
