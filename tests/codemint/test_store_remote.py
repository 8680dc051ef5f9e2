"""The run directory on an fsspec filesystem: where a runs directory resolves to, and writes to
S3 (moto's server on loopback) that are one whole-object PUT each, so a failed write leaves
no object; and a failed local write leaves no file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3_server
from upath import UPath

from codemint import store
from codemint.settings import PipelineSettings

SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.int64())])


def table(*ids: str) -> pa.Table:
    return pa.table({"id": list(ids), "shard": [0] * len(ids)}, schema=SCHEMA)


@pytest.fixture
def remote() -> UPath:
    """A fresh bucket's run directory, as a UPath carrying the server's storage options."""
    return UPath(f"s3://{s3_server.new_bucket()}/runs/r1", **s3_server.storage_options())


@pytest.fixture
def s3_calls(remote: UPath, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The S3 API calls the store makes through `remote`'s filesystem, by name."""
    calls: list[str] = []
    fs: Any = remote.fs
    call = fs._call_s3

    async def spy(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await call(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", spy)
    return calls


def test_a_runs_directory_is_a_local_path_unless_it_is_a_remote_url(tmp_path: Path) -> None:
    assert store.location("runs") == Path("runs")
    assert store.location(f"file://{tmp_path}/runs") == tmp_path / "runs"
    assert store.location(tmp_path) is tmp_path
    s3 = store.location("s3://bucket/runs")
    assert store.is_remote(s3) and isinstance(s3, UPath) and s3.protocol == "s3"
    assert str(s3 / "r1" / "execute") == "s3://bucket/runs/r1/execute"  # the "//" kept
    # Settings hold a local runs directory as a Path, exactly as before; a remote one as its URL.
    assert PipelineSettings(runs_dir="runs").runs_dir == Path("runs")
    assert PipelineSettings(runs_dir=f"file://{tmp_path}").runs_dir == tmp_path
    remote = PipelineSettings(runs_dir="gs://bucket/runs")
    assert remote.runs_dir == "gs://bucket/runs"
    assert PipelineSettings.model_validate_json(remote.model_dump_json()).runs_dir == "gs://bucket/runs"


def test_remote_writes_are_one_put_each_and_read_back(
    remote: UPath, s3_calls: list[str], tmp_path: Path
) -> None:
    stage = remote / "execute"
    store.write_table(store.kept_path(stage, 0), table("a", "b"))
    store.write_json(store.stats_path(stage, 0), {"rows": 2})
    with store.parquet_writer(stage / "index.parquet", SCHEMA) as out:
        out.write_table(table("x"))
        out.write_table(table("y"))
    puts = [c for c in s3_calls if "put" in c.lower() or "multipart" in c.lower()]
    assert puts == ["put_object"] * 3  # never a multipart upload

    assert [r["id"] for r in store.read_rows(store.kept_path(stage, 0))] == ["a", "b"]
    assert store.read_table(stage / "index.parquet", ["id", "missing"]).column_names == ["id"]
    assert store.read_column(stage / "index.parquet", "id") == ["x", "y"]
    assert [p.name for p in store.listing(stage, "part-*")] == ["part-00000.parquet", "part-00000.stats.json"]
    # The digest of the object is the digest of the same bytes on disk.
    local = store.download(store.kept_path(stage, 0), tmp_path)
    assert local == tmp_path / "part-00000.parquet"
    assert store.file_digest(store.kept_path(stage, 0)) == store.file_digest(local)


def test_a_table_already_in_the_bucket_is_not_sent_again(remote: UPath, s3_calls: list[str]) -> None:
    path = remote / "sources" / "part-00000.parquet"
    first = store.write_table_if_changed(path, table("a"))
    assert store.write_table_if_changed(path, table("a")) == first
    assert s3_calls.count("put_object") == 1
    assert store.write_table_if_changed(path, table("b")) != first
    assert s3_calls.count("put_object") == 2


def test_a_failed_remote_write_leaves_no_object(remote: UPath, monkeypatch: pytest.MonkeyPatch) -> None:
    path = remote / "near_dedup" / "index.parquet"
    with pytest.raises(RuntimeError), store.parquet_writer(path, SCHEMA) as out:
        out.write_table(table("a"))
        raise RuntimeError("killed midway")
    assert not path.exists()

    store.write_table(path, table("old"))

    def broken(data: pa.Table, sink: Any, **kwargs: Any) -> None:
        sink.write(b"PAR1 half a file")  # fault injection: the serializer dies midway
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError):
        store.write_table(path, table("new"))
    monkeypatch.undo()
    assert store.read_column(path, "id") == ["old"]  # the old object, whole
    assert [p.name for p in (remote / "near_dedup").iterdir()] == ["index.parquet"]


def test_a_failed_local_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "execute" / "part-00000.parquet"
    real = pq.write_table

    def broken(data: pa.Table, where: Any, **kwargs: Any) -> None:
        real(data, where, **kwargs)  # the bytes reach the temporary file, then the write fails
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError):
        store.write_table(path, table("a"))
    assert list(path.parent.iterdir()) == []
