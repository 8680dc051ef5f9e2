"""The module a row's original came from, and what in it a candidate must not reach.

A row from an importable module (a stdlib module, `--from-package` of an installed
distribution) could be "solved" by importing the original: `import statistics; return
statistics.median(x)`. Execute, verify and the reward therefore run every job with the row's
own function (or, for a method sample, its class) hidden in that module (`ExecJob.hide`,
applied in the sandbox by `sandbox/zygote.py`). Rows from files, checkouts and JSONL/Parquet
dumps have no importable module: nothing is hidden.

The dotted name comes from the provenance ingest wrote: `stdlib:<name>` or `pypi:<dist>` and
the file's path below the package's parent directory (tasks/ingest/stage.py `_plan_package`).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import sys
import sysconfig
from pathlib import Path, PurePosixPath

from codemint.records import Function, HiddenOriginal, Provenance
from codemint.samples import CLASS_KINDS
from codemint.settings import SandboxSettings


def _dotted(path: str) -> list[str] | None:
    """`json/decoder.py` -> ["json", "decoder"]; `pkg/__init__.py` -> ["pkg"]."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.suffix != ".py":
        return None
    parts = [*pure.parent.parts, pure.stem]
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return parts


def _stdlib_module(name: str, path: str) -> tuple[str, Path] | None:
    """The module and its file for a `stdlib:<name>` row; `path` is relative to the directory
    holding `name`'s last component (`urllib.parse` -> `parse.py`, `json` -> `json/decoder.py`)."""
    parts = _dotted(path)
    if parts is None:
        return None
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parent = name.rpartition(".")[0]
    # `os.path` is planned from posixpath.py: the file is not below `os`, so try the bare name too.
    for prefix in ([parent] if parent else []) + [""]:
        module = ".".join([prefix, *parts] if prefix else parts)
        file = stdlib.joinpath(*prefix.split("."), path) if prefix else stdlib / path
        if file.is_file():
            return module, file
    return None


def _package_module(dist_name: str, path: str) -> tuple[str, Path] | None:
    """The module and its file for a `pypi:<dist>` row, found among the distribution's files."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = PurePosixPath(path.replace("\\", "/"))
    matches = [
        f
        for f in dist.files or []
        if PurePosixPath(str(f)).parts[-len(wanted.parts) :] == wanted.parts
        and ".." not in PurePosixPath(str(f)).parts
    ]
    if not matches:
        return None
    best = min(matches, key=lambda f: len(PurePosixPath(str(f)).parts))
    parts = _dotted(str(best))
    if parts is None:
        return None
    return ".".join(parts), Path(str(dist.locate_file(best)))


@functools.lru_cache(maxsize=1024)
def _module_of(source_uri: str, path: str) -> tuple[str, Path] | None:
    kind, _, name = source_uri.partition(":")
    name = name.split("#", 1)[0]
    if kind in ("stdlib", "package") and name.split(".")[0] in sys.stdlib_module_names:
        return _stdlib_module(name, path)
    if kind == "pypi":
        return _package_module(name, path)
    return None


def source_module(provenance: Provenance) -> str | None:
    """The dotted import name of the module the row came from, or None (not importable)."""
    found = _module_of(provenance.source_uri, provenance.path)
    return found[0] if found else None


@functools.lru_cache(maxsize=256)
def _top_level_spans(file: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, first line, last line) of every top-level def and class of a source file."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return ()
    spans = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((node.name, first, node.end_lineno or node.lineno))
    return tuple(spans)


def hidden_original(
    provenance: Provenance, sample_kind: str, entry_point: str, class_name: str | None
) -> HiddenOriginal | None:
    """What a job of this row must not reach: the row's function (a method sample: its class,
    since a subclass would inherit the method) and the top-level definition holding it (the
    class of a static method made a function, the function a nested one was lifted from)."""
    found = _module_of(provenance.source_uri, provenance.path)
    if found is None:
        return None
    module, file = found
    names = [class_name] if sample_kind in CLASS_KINDS and class_name else [entry_point]
    if provenance.line_start is not None:
        for name, first, last in _top_level_spans(file):
            if first <= provenance.line_start <= last and name not in names:
                names.append(name)
    return HiddenOriginal(module=module, names=names)


def hidden_for(row: Function, sandbox: SandboxSettings) -> HiddenOriginal | None:
    """`hidden_original` of a row, or None when `sandbox.hide_original` is off."""
    if not sandbox.hide_original:
        return None
    return hidden_original(row.provenance, row.sample_kind, row.entry_point, row.class_name)
