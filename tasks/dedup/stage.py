"""Exact dedup across shards on the normalized-code id: the first occurrence is kept.

The index is built on disk, one shard at a time: each shard's ids go to partition files by
their first character, each partition is reduced on its own (an id's keeper is the first
shard holding it), and the index keeps only the copies to drop, as (shard, id, keeper_shard).
Memory holds one shard's ids or one partition, never the whole corpus; a shard's run reads
only its own rows of the index.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codemint import store
from codemint.records import Function, Rejected
from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage
from codemint.stage_task import index_task, shard_task

OCCURRENCE = pa.schema([("id", pa.string()), ("shard", pa.int64())])
INDEX = pa.schema([("shard", pa.int64()), ("id", pa.string()), ("keeper_shard", pa.int64())])


def _partition(ids: pa.Array, shard: int, parts: Path, writers: dict[str, pq.ParquetWriter]) -> None:
    """Append a shard's distinct ids to the partition files of their first character."""
    ids = pc.unique(ids)
    heads = pc.utf8_slice_codeunits(ids, 0, 1)
    for head in pc.unique(heads).to_pylist():
        chosen = ids.filter(pc.equal(heads, head))
        if head not in writers:
            writers[head] = pq.ParquetWriter(parts / f"{len(writers):05d}.parquet", OCCURRENCE)
        writers[head].write_table(pa.table([chosen, pa.repeat(shard, len(chosen))], schema=OCCURRENCE))


def _copies(partition: Path) -> tuple[pa.Table, int]:
    """The (shard, id, keeper_shard) rows of one partition's ids held outside their keeper shard,
    and how many distinct ids it has."""
    occurrences = pq.read_table(partition)
    keepers = occurrences.group_by("id").aggregate([("shard", "min")]).rename_columns(["id", "keeper_shard"])
    joined = occurrences.join(keepers, "id")
    copies = joined.filter(pc.not_equal(joined["shard"], joined["keeper_shard"]))
    return copies.select(INDEX.names).cast(INDEX), keepers.num_rows


class ExactDedup(IndexedStage[Function, Function]):
    name = "dedup"
    input_model = Function
    output_model = Function

    @classmethod
    def build_index(
        cls, settings: PipelineSettings, shard_paths: list[Path | None], index_path: Path
    ) -> dict[str, Any]:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        parts = Path(tempfile.mkdtemp(prefix=".dedup-parts-", dir=index_path.parent))
        try:
            total = 0
            writers: dict[str, pq.ParquetWriter] = {}
            for shard, path in enumerate(shard_paths):
                if path is None:  # failed upstream: its rows are not in the index
                    continue
                ids = pq.read_table(path, columns=["id"]).column("id").combine_chunks()
                total += len(ids)
                _partition(ids, shard, parts, writers)
            for writer in writers.values():
                writer.close()
            unique = 0
            with store.parquet_writer(index_path, INDEX) as out:
                for partition in sorted(parts.glob("*.parquet")):
                    copies, distinct = _copies(partition)
                    unique += distinct
                    out.write_table(copies)
        finally:
            shutil.rmtree(parts, ignore_errors=True)
        return {"rows": total, "unique": unique, "duplicates": total - unique}

    def run(self, records: Iterable[Function]) -> Iterator[Function | Rejected]:
        # Only this shard's copies of ids kept in an earlier shard.
        mine = pq.read_table(
            self.require_index(), columns=["id", "keeper_shard"], filters=[("shard", "=", self.shard)]
        )
        elsewhere = dict(
            zip(mine.column("id").to_pylist(), mine.column("keeper_shard").to_pylist(), strict=True)
        )
        seen: set[str] = set()
        for rec in records:
            keeper = elsewhere.get(rec.id)
            if keeper is None and rec.id not in seen:
                seen.add(rec.id)
                yield rec
            else:
                where = self.shard if keeper is None else keeper
                yield self.reject(
                    rec.id, "duplicate", f"same normalized code kept in shard {where}", record=rec
                )


# The Prefect tasks of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(ExactDedup)
index = index_task(ExactDedup)
