"""Select: a diverse subset of a given budget, by k-center greedy on embeddings of all rows.

`build_index` embeds every row (instruction + code) across all shards, picks the budget
(`select.budget` rows, or `select.fraction` of them, whichever is smaller) and writes one
index row per input row: id, shard, selected, rank (pick order, -1 if not picked), and
the nearest selected row with its distance. `run` keeps exactly the selected (shard, id)
rows; the others are dropped as `not_selected`, naming the selected row that covers them.

Memory: the index holds ids only; the texts are read back a Parquet batch at a time and the
vectors (float32, 1 KB a row) are written to a scratch `.npy` file that k-center greedy reads
memory-mapped, the same vectors and picks as embedding everything in memory.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codemint import store
from codemint.curation.embed import embed_to_file
from codemint.curation.kcenter import k_center_greedy
from codemint.curation.shards import read_columns
from codemint.records import Rejected, Verified
from codemint.settings import PipelineSettings, SelectSettings
from codemint.stage import IndexedStage
from codemint.stage_task import index_task, shard_task


def budget(cfg: SelectSettings, rows: int) -> int:
    """How many rows to keep out of `rows` (all of them when neither budget is set)."""
    k = rows
    if cfg.budget is not None:
        k = min(k, cfg.budget)
    if cfg.fraction is not None:
        k = min(k, math.ceil(cfg.fraction * rows))
    return max(0, k)


def embedding_text(instruction: str, code: str) -> str:
    return f"{instruction}\n{code}"


TEXT_BATCH = 2048  # rows read and embedded at a time


def text_batches(paths: list[Path]) -> Iterator[list[str]]:
    """The embedding texts of every row of `paths`, in order, a Parquet batch at a time."""
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(TEXT_BATCH, columns=["instruction", "candidate_code"]):
            yield [
                embedding_text(i, c)
                for i, c in zip(
                    batch.column("instruction").to_pylist(),
                    batch.column("candidate_code").to_pylist(),
                    strict=True,
                )
            ]


class Select(IndexedStage[Verified, Verified]):
    name = "select"
    input_model = Verified
    output_model = Verified
    settings_field = "select"

    @classmethod
    def build_index(
        cls, settings: PipelineSettings, shard_paths: list[Path | None], index_path: Path
    ) -> dict[str, Any]:
        cfg = settings.select
        started = time.perf_counter()
        # Only ids are held per row; texts are read back shard by shard when embedding, and
        # the vectors go to a scratch file (flat memory at 100k rows: docs/benchmarks.md).
        present = [(shard, path) for shard, path in enumerate(shard_paths) if path is not None]
        ids: list[str] = []
        shards: list[int] = []
        for shard, path in present:  # a failed upstream shard (None) has no rows to choose from
            shard_ids = read_columns(path, ["id"]).column("id").to_pylist()
            ids.extend(shard_ids)
            shards.extend([shard] * len(shard_ids))
        n = len(ids)
        k = budget(cfg, n)
        figures: dict[str, Any] = {"rows": n, "budget": k}
        nearest_ids: list[str | None]
        errors: list[str | None] = [None] * n
        if k >= n or k == 0:
            # Nothing to choose (all rows or none): no embeddings needed.
            rank = np.arange(n, dtype=np.int64) if k else np.full(n, -1, dtype=np.int64)
            nearest_ids = list(ids) if k else [None] * n
            distance = np.zeros(n, dtype=np.float32) if k else np.full(n, np.inf, dtype=np.float32)
            figures["covering_radius"] = 0.0 if k else None
        else:
            failed: dict[int, str] = {}
            with tempfile.TemporaryDirectory(prefix="codemint-select-") as scratch:
                vectors = embed_to_file(
                    partial(text_batches, [path for _, path in present]),
                    n,
                    Path(scratch) / "embeddings.npy",
                    dim=cfg.embedding_dim,
                    base_url=cfg.embeddings_base_url,
                    model=cfg.embeddings_model,
                    api_key=cfg.embeddings_api_key,
                    batch_size=cfg.embeddings_batch_size,
                    failures=failed,
                )
                figures["seconds_embed"] = round(time.perf_counter() - started, 3)
                picked = time.perf_counter()
                # Rows the server could not embed take no part; each is dropped with its message.
                usable = np.array([i for i in range(n) if i not in failed], dtype=np.int64)
                errors = [failed.get(i) for i in range(n)]
                figures["embedding_failed"] = len(failed)
                k = min(k, len(usable))
                figures["embedding"] = (
                    cfg.embeddings_model if cfg.embeddings_base_url else "local-hashed-tfidf"
                )
                rank = np.full(n, -1, dtype=np.int64)
                nearest_ids = [None] * n
                distance = np.full(n, np.inf, dtype=np.float32)
                figures["covering_radius"] = None
                if k:
                    # The usual case (every row embedded) picks from the mapped file itself.
                    selection = k_center_greedy(vectors if len(failed) == 0 else vectors[usable], k)
                    figures["covering_radius"] = round(selection.radius, 6)
                    rank[usable[selection.order]] = np.arange(k)
                    for j, i in enumerate(usable.tolist()):
                        nearest_ids[i] = ids[usable[selection.nearest[j]]]
                        distance[i] = selection.distance[j]
                del vectors  # the mapping, before its file goes
            figures["seconds_select"] = round(time.perf_counter() - picked, 3)
        store.write_table(
            index_path,
            pa.table(
                {
                    "id": pa.array(ids, pa.string()),
                    "shard": pa.array(shards, pa.int64()),
                    "selected": pa.array(rank >= 0, pa.bool_()),
                    "rank": pa.array(rank, pa.int64()),
                    "nearest_selected": pa.array(nearest_ids, pa.string()),
                    "distance": pa.array(distance, pa.float32()),
                    "embedding_error": pa.array(errors, pa.string()),
                }
            ),
        )
        figures["selected"] = int((rank >= 0).sum())
        figures["seconds"] = round(time.perf_counter() - started, 3)
        return figures

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        table = pq.read_table(self.require_index(), filters=[("shard", "=", self.shard)])
        selected: dict[str, tuple[str | None, float]] = {}
        rejected: dict[str, tuple[str | None, float]] = {}
        failed: dict[str, str] = {}
        columns = ["id", "selected", "nearest_selected", "distance", "embedding_error"]
        for row in table.select(columns).to_pylist():
            if row["embedding_error"]:
                failed[row["id"]] = row["embedding_error"]
                continue
            target = selected if row["selected"] else rejected
            target[row["id"]] = (row["nearest_selected"], row["distance"])
        kept: set[str] = set()
        for rec in records:
            if rec.id in selected and rec.id not in kept:
                kept.add(rec.id)
                yield rec
                continue
            if rec.id in failed:
                yield self.reject(rec.id, "embedding_failed", failed[rec.id], record=rec)
                continue
            near, dist = rejected.get(rec.id, (None, None))
            if rec.id in kept:
                detail = "id repeated in the shard; its first row is kept"
            elif near:
                detail = f"covered by selected row {near} (embedding distance {dist:.3f})"
            elif rec.id in rejected:
                detail = "selection budget is 0"
            else:
                detail = "not in the selection index"
            yield self.reject(rec.id, "not_selected", detail, record=rec)


# The Prefect tasks of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Select)
index = index_task(Select)
