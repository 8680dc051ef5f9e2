"""The design card's layout holds: one import root in the wheel, imports that run one way and
never in a circle, mypy that sees every module, Prefect tasks in tasks/ and none in flows/."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from prefect import Task
from prefect.flows import load_flow_from_entrypoint

import codemint
from codemint import modgraph
from codemint.flows.registry import PIPELINE, STAGES, index_task, shard_task, stage_class
from codemint.stage import IndexedStage

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Layers, lowest first: a module may import its own layer's package or any lower layer.
# llm, sandbox and curation sit side by side and do not import each other.
CORE = "core"
# offline/ (pure input strategies over the AST, no I/O) is part of the core.
LAYERS: dict[str, int] = {
    CORE: 0, "offline": 0, "llm": 1, "sandbox": 1, "curation": 1, "tasks": 2, "flows": 3
}  # fmt: skip
# Entry points sit above the flows: the command line, and the reward function trainers (verl)
# call, which runs tests in the sandbox with verify's own verdict.
ENTRY_POINTS = {"codemint.cli", "codemint.__main__", "codemint.reward"}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else CORE


def import_graph() -> dict[str, set[str]]:
    return {m: modgraph.direct_imports(m) for m in modgraph.all_modules()}


def test_wheel_installs_only_codemint(tmp_path: Path) -> None:
    build = ["wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)]
    built = subprocess.run(
        [str(BIN / "pip"), *build],
        check=True,
        capture_output=True,
        text=True,
    )
    # A folder under a package that `packages` does not list (a data folder) makes setuptools
    # warn on every install; each one is declared.
    assert "absent from the `packages` configuration" not in built.stderr + built.stdout
    (wheel,) = tmp_path.glob("codemint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"codemint", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for expected in (
        "codemint/flows/pipeline.py",
        "codemint/tasks/execute/stage.py",
        "codemint/sandbox/runner.py",
        "codemint/sandbox/Dockerfile",
        "codemint/sandbox/build_image.sh",
        "codemint/llm/prompt_templates/summarize.txt",
        "codemint/py.typed",
    ):
        assert expected in names
    # Every module of the source folders made it in, under its codemint.* name.
    for folder in ("flows", "tasks", "sandbox", "codemint"):
        installed = "codemint" if folder == "codemint" else f"codemint/{folder}"
        for path in (REPO / folder).rglob("*.py"):
            assert f"{installed}/{path.relative_to(REPO / folder).as_posix()}" in names


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    # Tarjan's strongly connected components: any component of two or more is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert circles == []


def test_imports_run_one_way() -> None:
    wrong = []
    for module, deps in import_graph().items():
        if module in ENTRY_POINTS:
            continue
        mine = package_of(module)
        for dep in deps:
            theirs = package_of(dep)
            if dep in ENTRY_POINTS or LAYERS[theirs] > LAYERS[mine]:
                wrong.append(f"{module} -> {dep}")
            elif LAYERS[theirs] == LAYERS[mine] == 1 and theirs != mine:  # side by side
                wrong.append(f"{module} -> {dep} (side by side)")
    assert wrong == []


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    # codemint.sandbox imports its backends inside functions: they still run.
    assert "codemint.sandbox.docker_backend" in modgraph.direct_imports("codemint.sandbox")
    assert "codemint.sandbox.local_backend" in modgraph.closure(["codemint.tasks.execute.stage"])


def editable_tree() -> Path:
    tree = Path(codemint.__file__).parent.parent
    if not (tree / "codemint" / "flows").is_dir():
        pytest.fail(f"codemint is imported from {tree}, not from the strict editable install (make setup)")
    return tree


def test_editable_link_tree_holds_every_module() -> None:
    tree = editable_tree() / "codemint"
    for folder in ("flows", "tasks", "sandbox"):
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                linked = tree / folder / path.relative_to(REPO / folder)
                assert linked.exists(), f"{linked} missing: run `make setup` to refresh the link tree"


def test_mypy_sees_tasks_through_the_link_tree(tmp_path: Path) -> None:
    """The typecheck command of the Makefile, on a copy of the link tree with one planted error."""
    tree = tmp_path / "tree"
    shutil.copytree(editable_tree(), tree, symlinks=True)
    planted = tree / "codemint" / "tasks" / "planted_error.py"
    planted.write_text('count: int = "not a number"\n')
    config = ["--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache")]
    res = subprocess.run(
        [str(BIN / "mypy"), *config, "-p", "codemint"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": ""},
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "codemint/tasks/planted_error.py:1: error: Incompatible types in assignment" in res.stdout


def test_every_stage_module_declares_its_prefect_task() -> None:
    for name in PIPELINE:
        task = shard_task(name)
        assert isinstance(task, Task)
        assert task.fn.__module__ == stage_class(name).__module__
        assert task.cache_key_fn is not None and task.persist_result and task.retries >= 1
        index = index_task(name)
        assert (index is not None) == issubclass(stage_class(name), IndexedStage)


def test_tasks_lists_stage_packages_only() -> None:
    """Listing tasks/ shows the pipeline: one package per stage (and the export sink), each
    with its stage module, `stage.py`, beside the helpers only that stage uses."""
    entries = {p.name for p in (REPO / "tasks").iterdir() if p.name != "__pycache__"}
    packages = {name for name in entries if (REPO / "tasks" / name / "__init__.py").is_file()}
    assert entries - packages == {"__init__.py"}
    assert packages == {*STAGES, "export"}
    for name in packages:
        assert (REPO / "tasks" / name / "stage.py").is_file(), name
    for name, cls in STAGES.items():
        assert cls.__module__ == f"codemint.tasks.{name}.stage"


def test_flows_hold_no_tasks_and_no_cache_logic() -> None:
    for path in (REPO / "flows").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
                assert "task" not in decorators, f"{path.name}: {node.name} is a task"
                assert "cache_key" not in node.name, f"{path.name}: {node.name} is cache logic"
            if isinstance(node, ast.ImportFrom) and node.module == "prefect":
                assert "task" not in {a.name for a in node.names}, path.name


def test_prefect_yaml_entrypoints_load() -> None:
    spec = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    entrypoints = {d["entrypoint"] for d in spec["deployments"]}
    assert entrypoints
    for entrypoint in entrypoints:
        module = entrypoint.split(":")[0]
        assert module.startswith("codemint.flows.") or module.startswith("flows/")
        flow = load_flow_from_entrypoint(entrypoint)
        assert flow.name.startswith("codemint")
