"""The docstring a method inherits from the method it overrides.

An override without a docstring keeps its base's contract (`LRI.update` is `dict.update`,
`LocalTZInfo.utcoffset` is `tzinfo.utcoffset`), so the base's docstring can describe it.
Bases are looked up, in order, among the classes the sample's own code defines, the
builtins, and standard-library classes the code imports; no other code is ever imported.
`object`'s methods do not count: their docstrings describe the default, not a contract.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import sys

from codemint import safe_ast

# Standard-library modules whose import has side effects (a window, a web browser, a poem).
_NEVER_IMPORT = frozenset({"antigravity", "this", "turtle", "turtledemo", "tkinter", "idlelib"})
_MAX_DEPTH = 8


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted path, for the code's imports (top level and in try/if blocks)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _stdlib_class(path: str) -> type | None:
    """The class at a dotted path in the standard library, or None."""
    parts = path.split(".")
    if parts[0] not in sys.stdlib_module_names or parts[0] in _NEVER_IMPORT:
        return None
    for cut in range(len(parts) - 1, 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr, None)
        return value if isinstance(value, type) else None
    return None


def _runtime_doc(base: type, method: str) -> str | None:
    for klass in base.__mro__:
        if klass is object:
            return None
        if method in vars(klass):
            doc = inspect.getdoc(vars(klass)[method])
            return doc.strip() if doc and doc.strip() else None
    return None


def _class_doc(
    classes: dict[str, ast.ClassDef],
    imports: dict[str, str],
    cls: ast.ClassDef,
    method: str,
    seen: set[str],
    depth: int,
) -> str | None:
    for base in cls.bases:
        name = ast.unparse(base)
        if name in seen or depth > _MAX_DEPTH:
            continue
        seen.add(name)
        own = classes.get(name)
        if own is not None:
            for node in own.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == method:
                    doc = ast.get_docstring(node)
                    if doc:
                        return doc
            found = _class_doc(classes, imports, own, method, seen, depth + 1)
            if found:
                return found
            continue
        runtime = getattr(builtins, name, None) if "." not in name else None
        if not isinstance(runtime, type):
            head, _, rest = name.partition(".")
            path = imports.get(head)
            runtime = _stdlib_class(f"{path}.{rest}" if rest else path) if path else None
        if isinstance(runtime, type):
            doc = _runtime_doc(runtime, method)
            if doc:
                return doc
    return None


def inherited_doc(code: str, class_name: str, method: str) -> str | None:
    """The docstring of the method `class_name.method` overrides, if it has one."""
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    cls = classes.get(class_name)
    if cls is None:
        return None
    return _class_doc(classes, _imports(tree), cls, method, {class_name}, 0)
