"""Ingest: turn input files into `Snippet` rows.

`plan_sources` expands what the user named (JSONL/Parquet files, directories or git
checkouts of .py files, installed packages or stdlib modules by name) into `SourceRef`
rows, balanced into shards. The `Ingest` stage reads each source; unreadable, binary,
non-UTF-8, oversized, empty and malformed inputs become quarantined rows with a reason.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from codemint import safe_ast, store
from codemint.records import Provenance, Rejected, Snippet, SourceRef, content_id, to_table
from codemint.settings import IngestSettings
from codemint.stage import Stage
from codemint.stage_task import ShardInput, shard_task

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox", "site-packages"}


class InputError(ValueError):
    """An input the user named that cannot be planned at all (missing path, unknown package)."""


def normalize_code(code: str) -> str:
    """Canonical text for ids: the AST unparsed (formatting and comments do not count)."""
    try:
        return ast.unparse(safe_ast.parse(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def _source_ref(path: Path, kind: str, provenance: Provenance) -> SourceRef:
    try:
        digest, size = _sha256(path)
    except OSError as exc:
        # Planned anyway: ingest quarantines it with the reason, so it is not lost silently.
        digest, size = f"unreadable:{exc.strerror}", -1
    return SourceRef(
        id=content_id(f"{provenance.source_uri}|{provenance.path}"),
        kind=kind,  # type: ignore[arg-type]
        path=str(path),
        sha256=digest,
        size=size,
        provenance=provenance,
    )


def _git_revision(root: Path) -> tuple[str | None, str | None]:
    """(commit, remote url) of a git checkout, or (None, None)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    remote = subprocess.run(
        ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return commit or None, remote or None


_LICENSE_MARKERS = [
    ("Apache License", "Apache-2.0"),
    ("MIT License", "MIT"),
    ("Permission is hereby granted, free of charge", "MIT"),
    ("GNU GENERAL PUBLIC LICENSE", "GPL"),
    ("GNU LESSER GENERAL PUBLIC LICENSE", "LGPL"),
    ("Mozilla Public License", "MPL-2.0"),
    ("Redistribution and use in source and binary forms", "BSD"),
    ("PYTHON SOFTWARE FOUNDATION LICENSE", "PSF-2.0"),
]


def _license_of_tree(root: Path) -> str | None:
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")[:4000]
            for marker, spdx in _LICENSE_MARKERS:
                if marker.lower() in text.lower():
                    return spdx
            return "unknown (see LICENSE)"
    return None


def _python_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            files.append(path)
    return files


def _plan_directory(root: Path) -> list[SourceRef]:
    commit, remote = _git_revision(root)
    license_ = _license_of_tree(root)
    uri = remote or root.resolve().as_uri()
    return [
        _source_ref(
            path,
            "py",
            Provenance(source_uri=uri, path=str(path.relative_to(root)), revision=commit, license=license_),
        )
        for path in _python_files(root)
    ]


def _package_license(dist_name: str) -> str | None:
    try:
        meta = importlib.metadata.metadata(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    expression = meta.get_all("License-Expression") or []
    if expression:
        return str(expression[0])
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            return str(classifier.split("::")[-1].strip())
    value = (meta.get_all("License") or [""])[0]
    return str(value).splitlines()[0][:80] if value and value.strip() else None


def _plan_package(name: str) -> list[SourceRef]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise InputError(f"--from-package {name}: cannot be found: {exc}") from exc
    if spec is not None and spec.origin == "frozen":
        # Frozen stdlib modules (posixpath, ...) still have their source on sys.path.
        spec = importlib.machinery.PathFinder.find_spec(name) or spec
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise InputError(f"--from-package {name}: not found, or has no Python source (built-in or frozen)")
    top = name.split(".")[0]
    stdlib = top in sys.stdlib_module_names
    if stdlib:
        revision = f"python-{sys.version.split()[0]}"
        license_: str | None = "PSF-2.0"
        uri = f"stdlib:{name}"
    else:
        dists = importlib.metadata.packages_distributions().get(top, [top])
        try:
            revision = importlib.metadata.version(dists[0])
        except importlib.metadata.PackageNotFoundError:
            revision = None
        license_ = _package_license(dists[0])
        uri = f"pypi:{dists[0]}"
    if spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        paths = _python_files(root)
        base = root.parent
    else:
        origin = Path(spec.origin)
        if origin.suffix != ".py":
            raise InputError(f"--from-package {name}: {origin} is a compiled module, no Python source")
        paths, base = [origin], origin.parent
    return [
        _source_ref(
            p,
            "py",
            Provenance(source_uri=uri, path=str(p.relative_to(base)), revision=revision, license=license_),
        )
        for p in paths
    ]


def plan_sources(inputs: list[str], packages: list[str]) -> list[SourceRef]:
    """Expand user inputs into source refs; raises InputError for an input that does not exist."""
    refs: list[SourceRef] = []
    for name in packages:
        refs.extend(_plan_package(name))
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            refs.extend(_plan_directory(path))
        elif path.is_file() or path.is_symlink():
            suffix = path.suffix.lower()
            kind = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".py": "py"}.get(suffix)
            if kind is None:
                raise InputError(
                    f"{path}: unsupported input type {suffix!r} (use .py, .jsonl, .parquet or a directory)"
                )
            refs.append(
                _source_ref(path, kind, Provenance(source_uri=path.resolve().as_uri(), path=path.name))
            )
        else:
            raise InputError(f"{path}: no such file or directory")
    # The same file named twice is ingested once.
    unique = {ref.id: ref for ref in refs}
    return sorted(unique.values(), key=lambda r: (r.provenance.source_uri, r.provenance.path))


def assign_shards(refs: list[SourceRef], shards: int) -> list[list[SourceRef]]:
    """Greedy by size (largest first onto the lightest shard): balanced and deterministic."""
    buckets: list[list[SourceRef]] = [[] for _ in range(max(1, shards))]
    loads = [0] * len(buckets)
    for ref in sorted(refs, key=lambda r: (-max(r.size, 0), r.id)):
        i = loads.index(min(loads))
        buckets[i].append(ref)
        loads[i] += max(ref.size, 1)
    return [b for b in buckets if b] or [[]]


class Ingest(Stage[SourceRef, Snippet]):
    name = "ingest"
    input_model = SourceRef
    output_model = Snippet
    settings_field = "ingest"

    @property
    def cfg(self) -> IngestSettings:
        return self.settings.ingest

    def run(self, records: Iterable[SourceRef]) -> Iterator[Snippet | Rejected]:
        for ref in records:
            if ref.kind == "py":
                yield self._read_py(ref)
            elif ref.kind == "jsonl":
                yield from self._read_jsonl(ref)
            else:
                yield from self._read_parquet(ref)

    def _quarantine(
        self, ref: SourceRef, reason: str, detail: str, prov: Provenance | None = None
    ) -> Rejected:
        return self.reject(
            ref.id, reason, detail, record=ref, provenance=prov or ref.provenance, status="quarantined"
        )

    def _check_text(self, raw: bytes) -> tuple[str | None, str, str]:
        """(text, reason, detail): text is None when the bytes are not usable code."""
        if len(raw) > self.cfg.max_file_bytes:
            return None, "oversized", f"{len(raw)} bytes > max_file_bytes {self.cfg.max_file_bytes}"
        if b"\x00" in raw:
            return None, "binary", "contains NUL bytes"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, "not_utf8", f"byte {exc.start}: {exc.reason}"
        if not text.strip():
            return None, "empty", "no code"
        return text, "", ""

    def _snippet(self, code: str, prov: Provenance) -> Snippet:
        prov = prov.model_copy(update={"line_start": 1, "line_end": code.count("\n") + 1})
        return Snippet(id=content_id(normalize_code(code)), code=code, provenance=prov)

    def _read_py(self, ref: SourceRef) -> Snippet | Rejected:
        path = Path(ref.path)
        try:
            if path.stat().st_size > self.cfg.max_file_bytes:
                return self._quarantine(
                    ref, "oversized", f"{path.stat().st_size} bytes > {self.cfg.max_file_bytes}"
                )
            raw = path.read_bytes()
        except OSError as exc:
            return self._quarantine(ref, "unreadable", exc.strerror or str(exc))
        text, reason, detail = self._check_text(raw)
        if text is None:
            return self._quarantine(ref, reason, detail)
        return self._snippet(text, ref.provenance)

    def _row(self, ref: SourceRef, row: int, data: Any) -> Snippet | Rejected:
        prov = ref.provenance.model_copy(update={"row": row})
        if not isinstance(data, dict):
            return self._quarantine(ref, "bad_row", f"expected an object, got {type(data).__name__}", prov)
        col = self.cfg.code_column
        if col not in data:
            return self._quarantine(ref, "missing_column", f"no {col!r} column", prov)
        code = data[col]
        if isinstance(code, bytes):
            text, reason, detail = self._check_text(code)
        elif isinstance(code, str):
            text, reason, detail = self._check_text(code.encode("utf-8", "surrogatepass"))
        else:
            text, reason, detail = None, "bad_type", f"{col!r} is {type(code).__name__}, not text"
        if text is None:
            return self._quarantine(ref, reason, detail, prov)

        def field(name: str | None) -> str | None:
            value = data.get(name) if name else None
            return str(value) if value not in (None, "") else None

        repo = field(self.cfg.repo_column)
        prov = prov.model_copy(
            update={
                "source_uri": f"{ref.provenance.source_uri}#{repo}" if repo else ref.provenance.source_uri,
                "path": field(self.cfg.path_column) or f"{ref.provenance.path}:{row}",
                "license": field(self.cfg.license_column) or ref.provenance.license,
                "revision": field(self.cfg.revision_column) or ref.provenance.revision,
            }
        )
        return self._snippet(text, prov)

    def _read_jsonl(self, ref: SourceRef) -> Iterator[Snippet | Rejected]:
        try:
            fh = open(ref.path, "rb")  # noqa: SIM115 - closed below, lines streamed
        except OSError as exc:
            yield self._quarantine(ref, "unreadable", exc.strerror or str(exc))
            return
        with fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                prov = ref.provenance.model_copy(update={"row": lineno})
                try:
                    data = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield self._quarantine(ref, "bad_json", str(exc)[:200], prov)
                    continue
                yield self._row(ref, lineno, data)

    def _read_parquet(self, ref: SourceRef) -> Iterator[Snippet | Rejected]:
        try:
            pf = pq.ParquetFile(ref.path)
            names = pf.schema_arrow.names
        except Exception as exc:  # pyarrow raises several types for corrupt files
            yield self._quarantine(ref, "corrupt_parquet", str(exc).splitlines()[0][:200])
            return
        if self.cfg.code_column not in names:
            yield self._quarantine(ref, "missing_column", f"no {self.cfg.code_column!r} column; has {names}")
            return
        row = 0
        try:
            for batch in pf.iter_batches(batch_size=1024):
                for data in batch.to_pylist():
                    row += 1
                    yield self._row(ref, row, data)
        except Exception as exc:  # a corrupt row group after some good ones: keep those, quarantine the rest
            prov = ref.provenance.model_copy(update={"row": row + 1})
            yield self._quarantine(ref, "corrupt_parquet", f"from row {row + 1}: {str(exc)[:200]}", prov)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Ingest)


def shard_count(refs: list[SourceRef], shards: int, max_bytes: int | None) -> int:
    """`shards`, or more when the sources would put over `max_bytes` of code in a shard: a
    shard's rows are in memory while a stage works on it, so a big corpus gets more shards
    rather than bigger ones."""
    if not max_bytes:
        return shards
    total = sum(max(r.size, 0) for r in refs)
    return max(shards, -(-total // max_bytes))


def write_source_shards(
    refs: list[SourceRef], run_dir: store.RunPath, shards: int, max_bytes: int | None = None
) -> list[ShardInput]:
    """The planned sources as Parquet shards."""
    out = []
    for i, bucket in enumerate(assign_shards(refs, shard_count(refs, shards, max_bytes))):
        path = store.kept_path(run_dir / "sources", i)
        digest = store.write_table_if_changed(path, to_table(list(bucket), SourceRef))
        out.append(ShardInput(path=str(path), digest=digest))
    return out
