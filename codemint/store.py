"""The run directory: `<runs_dir>/<run_id>/<stage>/part-NNNNN{.parquet,.rejected.parquet,.stats.json}`.

The runs directory is a local path or an fsspec URL (`s3://bucket/runs`, `gs://...`;
`file:///x` is the local path /x). A local path is a `pathlib.Path`, a remote one a `UPath`
(universal_pathlib: the same pathlib API over the fsspec filesystem); `RunPath` is either.

Why every write is atomic, so a killed run never leaves half a file that looks finished:
- local: the bytes go to a temporary file in the same directory, renamed into place
  (`os.replace` is atomic within a filesystem); a killed run leaves the old file or the new
  one, plus a `.*.tmp` that `sweep_temp_files` removes.
- object store (S3, GCS): the whole file is serialized in memory and sent as one PUT of the
  whole object (s3fs would switch to a multipart upload past 2 x its chunk size, so the chunk
  size is raised to S3's 5 GB PUT limit). An object store makes an object visible only when
  its PUT completes, whole or not at all; a killed PUT leaves nothing, not even a temp object.
What marks a shard done is written last: the stage writes its rejected rows, then its kept
rows, then its stats file, and only after the task returns does Prefect persist the result
record (under `<run>/.prefect-results/`) that a re-run's cache lookup finds; a record whose
files are gone is forgotten (codemint/stage_task.py). The export writes `manifest.json` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar, cast
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

# A path in the run directory: local, or on a remote fsspec filesystem.
RunPath: TypeAlias = Path | UPath
P = TypeVar("P", bound=Path | UPath)

# s3fs sends one PUT below 2 x chunksize; S3 takes up to 5 GB in one PUT.
_ONE_PUT: dict[str, dict[str, Any]] = {"s3": {"chunksize": 5 * 2**30}, "s3a": {"chunksize": 5 * 2**30}}


def is_url(where: str | Path) -> bool:
    """Whether `where` names a remote fsspec location (a URL other than file://)."""
    return isinstance(where, str) and "://" in where and not where.startswith("file://")


def location(where: str | Path) -> RunPath:
    """A local `Path` for a path or a file:// URL, a `UPath` for any other URL."""
    if isinstance(where, Path):
        return where
    if where.startswith("file://"):
        return Path(unquote(urlsplit(where).path))
    if "://" in where:
        # No listings cache: other workers write the run directory between two listings here.
        return UPath(where, use_listings_cache=False)
    return Path(where)


def is_remote(path: RunPath) -> bool:
    return not isinstance(path, Path)


def as_setting(where: str | Path) -> Path | str:
    """`where` as settings hold a runs directory: a local Path, or a remote URL as text."""
    found = location(where)
    return found if isinstance(found, Path) else str(found)


def listing(directory: RunPath, pattern: str) -> list[RunPath]:
    """The files in `directory` matching the glob `pattern`, in order of name."""
    if isinstance(directory, Path):
        return list(sorted(directory.glob(pattern)))
    return sorted(directory.glob(pattern), key=str)


def _put(path: UPath, data: bytes) -> None:
    """`data` as the whole object at `path`, in one PUT (see the module docstring)."""
    path.fs.pipe_file(path.path, data, **_ONE_PUT.get(path.protocol, {}))


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def shard_name(shard: int) -> str:
    return f"part-{shard:05d}"


def kept_path(stage_dir: P, shard: int) -> P:
    return cast(P, stage_dir / f"{shard_name(shard)}.parquet")


def rejected_path(stage_dir: P, shard: int) -> P:
    return cast(P, stage_dir / f"{shard_name(shard)}.rejected.parquet")


def stats_path(stage_dir: P, shard: int) -> P:
    return cast(P, stage_dir / f"{shard_name(shard)}.stats.json")


def temp_beside(path: Path) -> tuple[int, Path]:
    """A new temporary file (open descriptor, name) beside `path`, to be renamed onto it: a
    `.*.tmp` name that `sweep_temp_files` removes if the writer dies first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(tmp)


def write_table(path: RunPath, table: pa.Table) -> None:
    if not isinstance(path, Path):
        _put(path, _parquet_bytes(table))
        return
    fd, tmp = temp_beside(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table_if_changed(path: RunPath, table: pa.Table) -> str:
    """Write `table` unless `path` already holds exactly those bytes; returns their digest.
    (A re-run plans the same shards again: rewriting them would be work for nothing.)"""
    data = _parquet_bytes(table)
    digest = hashlib.sha256(data).hexdigest()
    if path.exists() and path.stat().st_size == len(data) and file_digest(path) == digest:
        return digest
    write_bytes(path, data)
    return digest


@contextmanager
def parquet_writer(path: RunPath, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A Parquet file written a table at a time (one row group each), renamed into place (or,
    remote, sent in one PUT) when the block ends without an error."""
    if not isinstance(path, Path):
        sink = pa.BufferOutputStream()
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            yield writer
        _put(path, bytes(sink.getvalue().to_pybytes()))
        return
    fd, tmp = temp_beside(path)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            yield writer
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: RunPath, data: bytes) -> None:
    if not isinstance(path, Path):
        _put(path, data)
        return
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: RunPath, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: RunPath, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def file_digest(path: RunPath) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_rows(path: RunPath) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file as dicts, one record batch at a time."""
    with _parquet_source(path) as source:
        pf = pq.ParquetFile(source)
        for batch in pf.iter_batches(batch_size=1024):
            yield from batch.to_pylist()


def read_table(path: RunPath, columns: list[str] | None = None) -> pa.Table:
    """The Parquet file's table; `columns` that the file lacks are left out."""
    with _parquet_source(path) as source:
        pf = pq.ParquetFile(source)
        present = set(pf.schema_arrow.names)
        wanted = None if columns is None else [c for c in columns if c in present]
        return pf.read(columns=wanted)


def read_column(path: RunPath, column: str) -> list[Any]:
    with _parquet_source(path) as source:
        return pq.read_table(source, columns=[column]).column(column).to_pylist()


@contextmanager
def _parquet_source(path: RunPath) -> Iterator[Any]:
    """What pyarrow reads: the local path itself, or an open remote file (fsspec's file
    objects fetch the byte ranges Parquet asks for)."""
    if isinstance(path, Path):
        yield path
        return
    with path.fs.open(path.path, "rb") as fh:
        yield fh


def download(path: RunPath, into: Path) -> Path:
    """A local copy of `path` in the directory `into` (a local path is its own copy)."""
    if isinstance(path, Path):
        return path
    into.mkdir(parents=True, exist_ok=True)
    local = into / path.name
    path.fs.get_file(path.path, str(local))
    return local


def upload(local: Path, path: RunPath) -> None:
    """`local`'s bytes as `path` (one atomic write: see the module docstring)."""
    if isinstance(path, Path) and path.resolve() == local.resolve():
        return
    write_bytes(path, local.read_bytes())


def sweep_temp_files(root: RunPath) -> int:
    """Remove temporary files a killed run left behind (never a finished file). An object
    store has none: a write is one PUT, and a killed PUT leaves nothing."""
    removed = 0
    if isinstance(root, Path) and root.exists():
        for tmp in root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
