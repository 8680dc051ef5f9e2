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
import json
import os
import pkgutil
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from codemint import safe_ast

ROOT = "codemint"


def module_file(name: str) -> Path | None:
    """The source file of a project module (a package's `__init__.py`), None if there is none.

    Remembered for the process (a re-run's 14 stage digests look up ~3,700 names), like the
    import system's own caches: a file found is checked to be still there; a name that was
    no module (an imported class) stays none."""
    if name in _module_files:
        found = _module_files[name]
        if found is None or found.is_file():
            return found
    _module_files[name] = _find_module_file(name)
    return _module_files[name]


_module_files: dict[str, Path | None] = {}


def _find_module_file(name: str) -> Path | None:
    parent = name.rpartition(".")[0]
    if parent:
        above = module_file(parent)
        if above is None or above.name != "__init__.py":
            # Only a package holds modules: `name` is a class or function. (Asking importlib
            # would import `parent` to find out: codemint.run_view imports pandas, ~0.5 s.)
            return None
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
    key = f"{module}:{path}"
    known = _disk_cache().get(key)
    if known is not None and known[:2] == [mtime_ns, size]:
        return frozenset(known[2])
    tree = safe_ast.parse(path.read_text(encoding="utf-8"))
    names = _imported_names(tree, module, path.name == "__init__.py")
    found = frozenset(n for n in names if n == ROOT or n.startswith(ROOT + "."))
    _disk_cache()[key] = [mtime_ns, size, sorted(found)]
    _dirty.add(key)
    return found


# Parsing the ~120 modules a run's stages import takes ~0.5 s of a re-run that does nothing
# else; what each file imports is kept across processes, keyed like the lru_cache above (a
# file's mtime and size, as Python's own bytecode cache is).
_dirty: set[str] = set()


@lru_cache(maxsize=1)
def _disk_cache() -> dict[str, list[Any]]:
    try:
        found = json.loads(_disk_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _disk_cache_file() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "codemint" / f"imports-py{sys.version_info[0]}.{sys.version_info[1]}.json"


def _save_disk_cache() -> None:
    if not _dirty:
        return
    target = _disk_cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(_disk_cache()), fh)  # a copy: other threads may be adding
        os.replace(tmp, target)
    except OSError:
        return  # a read-only home: parsed again next time
    _dirty.clear()


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
    _save_disk_cache()
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
