"""The project's own import graph, read from the code (not executed, not a hand list).

Two users: a stage's cache key hashes every project module the stage can execute (its
transitive imports, lazy ones inside functions included), and the layout test checks that
imports run one way and never in a circle. Imports under `if TYPE_CHECKING:` are left out:
they never run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from codemint import safe_ast

ROOT = "codemint"


def module_file(name: str) -> Path | None:
    """The source file of a project module (a package's `__init__.py`), None if there is none."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Dotted names a module imports, with `from x import y` giving both x and x.y."""
    package = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
        stack.extend(ast.iter_child_nodes(node))


@lru_cache(maxsize=1024)
def _direct_imports(path: Path, mtime_ns: int, size: int, module: str) -> frozenset[str]:
    tree = safe_ast.parse(path.read_text(encoding="utf-8"))
    names = _imported_names(tree, module, path.name == "__init__.py")
    return frozenset(n for n in names if n == ROOT or n.startswith(ROOT + "."))


def direct_imports(module: str) -> set[str]:
    """The project modules `module` imports (names that are attributes, not modules, are dropped)."""
    path = module_file(module)
    if path is None:
        return set()
    stat = path.stat()
    found = set()
    for name in _direct_imports(path, stat.st_mtime_ns, stat.st_size, module):
        if name != module and module_file(name) is not None:
            found.add(name)
    return found


def _with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(modules: Iterable[str]) -> set[str]:
    """Every project module that importing `modules` can execute, parents included."""
    seen: set[str] = set()
    todo = [p for m in modules for p in _with_parents(m)]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        for dep in direct_imports(name):
            todo.extend(_with_parents(dep))
    return seen


def code_digest(modules: Iterable[str]) -> str:
    """Hash of the source of `modules` and everything they import inside the project."""
    h = hashlib.sha256()
    for name in sorted(closure(modules)):
        path = module_file(name)
        assert path is not None
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def all_modules() -> list[str]:
    """Every module of the package (walking it imports its subpackages, not its modules)."""
    import codemint

    found = {ROOT}
    roots = [(list(codemint.__path__), ROOT + ".")]
    for leaf in codemint.TOP_LEVEL_PACKAGES:  # found by a finder when run from a checkout
        package = importlib.import_module(f"{ROOT}.{leaf}")
        found.add(package.__name__)
        roots.append((list(package.__path__), package.__name__ + "."))
    for path, prefix in roots:
        found.update(m.name for m in pkgutil.walk_packages(path, prefix))
    return sorted(found)
