"""Imports run one way (tasks -> llm/sandbox/curation -> core): no project module imports one
that imports it back, directly or through others, at module level or lazily in a function."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def module_files() -> dict[str, Path]:
    """Installed module name -> source file, by pyproject's package-dir (tasks/ is codemint.tasks)."""
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    out: dict[str, Path] = {}
    for package, folder in mapping.items():
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO / folder).with_suffix("").parts
            if package == "codemint" and rel[0] in {"flows", "tasks", "sandbox"}:
                continue  # not a subpackage of the source folder codemint/
            parts = [*package.split("."), *rel]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def project_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every project module `name` imports anywhere in its body (lazy imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_project_module_imports_one_that_imports_it_back() -> None:
    files = module_files()
    known = set(files)
    # A package's __init__ importing its submodules is how packages expose them, not a circle.
    graph = {
        name: {t for t in project_imports(name, path, known) if not t.startswith(f"{name}.")}
        for name, path in files.items()
    }
    assert {"codemint.tasks.summarize", "codemint.llm.instructions"} <= known
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_checker_sees_a_lazy_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
