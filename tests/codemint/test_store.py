"""The run directory's writes: a Parquet file written a table at a time appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codemint import store

SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.int64())])


def test_parquet_writer_appears_whole_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "stage" / "index.parquet"
    with store.parquet_writer(path, SCHEMA) as out:
        out.write_table(pa.table({"id": ["a", "b"], "shard": [0, 0]}, schema=SCHEMA))
        assert not path.exists()  # nothing under the final name while it is written
        out.write_table(pa.table({"id": ["c"], "shard": [1]}, schema=SCHEMA))
    table = pq.read_table(path)
    assert table.column("id").to_pylist() == ["a", "b", "c"]
    assert pq.ParquetFile(path).num_row_groups == 2
    assert list(path.parent.iterdir()) == [path]


def test_parquet_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "index.parquet"
    store.write_table(path, pa.table({"id": ["old"], "shard": [0]}, schema=SCHEMA))
    with pytest.raises(RuntimeError), store.parquet_writer(path, SCHEMA) as out:
        out.write_table(pa.table({"id": ["new"], "shard": [0]}, schema=SCHEMA))
        raise RuntimeError("killed midway")
    assert pq.read_table(path).column("id").to_pylist() == ["old"]
    assert list(tmp_path.iterdir()) == [path]


def test_a_table_already_on_disk_is_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "sources" / "part-00000.parquet"
    table = pa.table({"id": ["a", "b"], "shard": [0, 1]}, schema=SCHEMA)
    digest = store.write_table_if_changed(path, table)
    assert digest == store.file_digest(path)
    stamp = path.stat().st_mtime_ns
    assert store.write_table_if_changed(path, table) == digest and path.stat().st_mtime_ns == stamp
    changed = pa.table({"id": ["a", "c"], "shard": [0, 1]}, schema=SCHEMA)
    assert store.write_table_if_changed(path, changed) != digest
    assert pq.read_table(path).column("id").to_pylist() == ["a", "c"]
