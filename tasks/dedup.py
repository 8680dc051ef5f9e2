"""Exact dedup across shards on the normalized-code id: the first occurrence is kept."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from codemint import store
from codemint.records import Function, Rejected
from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage
from codemint.stage_task import index_task, shard_task


class ExactDedup(IndexedStage[Function, Function]):
    name = "dedup"
    input_model = Function
    output_model = Function

    @classmethod
    def build_index(
        cls, settings: PipelineSettings, shard_paths: list[Path | None], index_path: Path
    ) -> dict[str, Any]:
        # Keeper of each id = the first shard it occurs in (then its first row there).
        first: dict[str, int] = {}
        total = 0
        for shard, path in enumerate(shard_paths):
            if path is None:
                continue
            for row_id in store.read_column(path, "id"):
                total += 1
                first.setdefault(row_id, shard)
        table = pa.table({"id": list(first), "keeper_shard": list(first.values())})
        store.write_table(index_path, table)
        return {"rows": total, "unique": len(first), "duplicates": total - len(first)}

    def run(self, records: Iterable[Function]) -> Iterator[Function | Rejected]:
        index = self.require_index()
        keeper_shard = dict(
            zip(store.read_column(index, "id"), store.read_column(index, "keeper_shard"), strict=True)
        )
        seen: set[str] = set()
        for rec in records:
            if keeper_shard.get(rec.id) == self.shard and rec.id not in seen:
                seen.add(rec.id)
                yield rec
            else:
                where = keeper_shard.get(rec.id)
                yield self.reject(
                    rec.id, "duplicate", f"same normalized code kept in shard {where}", record=rec
                )


# The Prefect tasks of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(ExactDedup)
index = index_task(ExactDedup)
