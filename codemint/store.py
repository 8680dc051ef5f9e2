"""The run directory on disk: `runs/<run_id>/<stage>/part-NNNNN{.parquet,.rejected.parquet,.stats.json}`.

Every write goes to a temporary file in the same directory and is renamed into place, so a
killed run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def shard_name(shard: int) -> str:
    return f"part-{shard:05d}"


def kept_path(stage_dir: Path, shard: int) -> Path:
    return stage_dir / f"{shard_name(shard)}.parquet"


def rejected_path(stage_dir: Path, shard: int) -> Path:
    return stage_dir / f"{shard_name(shard)}.rejected.parquet"


def stats_path(stage_dir: Path, shard: int) -> Path:
    return stage_dir / f"{shard_name(shard)}.stats.json"


def _atomic(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(tmp)


def write_table(path: Path, table: pa.Table) -> None:
    fd, tmp = _atomic(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table_if_changed(path: Path, table: pa.Table) -> str:
    """Write `table` unless `path` already holds exactly those bytes; returns their digest.
    (A re-run plans the same shards again: rewriting them would be work for nothing.)"""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    digest = hashlib.sha256(data).hexdigest()
    if path.exists() and path.stat().st_size == len(data) and file_digest(path) == digest:
        return digest
    fd, tmp = _atomic(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digest


@contextmanager
def parquet_writer(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A Parquet file written a table at a time (one row group each), renamed into place when
    the block ends without an error."""
    fd, tmp = _atomic(path)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            yield writer
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    fd, tmp = _atomic(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file as dicts, one record batch at a time."""
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=1024):
        yield from batch.to_pylist()


def read_column(path: Path, column: str) -> list[Any]:
    return pq.read_table(path, columns=[column]).column(column).to_pylist()


def sweep_temp_files(root: Path) -> int:
    """Remove temporary files a killed run left behind (never a finished file)."""
    removed = 0
    if root.exists():
        for tmp in root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
