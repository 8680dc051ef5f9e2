"""Near-dedup across shards: MinHash LSH clusters, one representative kept per cluster.

Near twins (tasks/near_dedup/twins.py: a wrapper of a kept helper, the same instruction over
different code) go here too, after clustering, with their own drop reasons.

Representative rule: the member with the highest `pass_fraction`, then the most test
cases, then the smallest id (then the earliest shard). The index (`index.parquet`) has one
row per input row: id, shard, cluster_id, cluster_size, representative, kept and its
estimated Jaccard with the representative; `index.clusters.parquet` beside it lists every
cluster of two or more members with its member ids, best first.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codemint import store
from codemint.curation.minhash import MinHashParams, cluster, signatures
from codemint.curation.shards import map_parallel, read_columns
from codemint.records import Rejected, Verified
from codemint.samples import focus_code
from codemint.settings import NearDedupSettings, PipelineSettings
from codemint.stage import IndexedStage
from codemint.stage_task import index_task, shard_task
from codemint.tasks.near_dedup.twins import (
    SAME_INSTRUCTION,
    WRAPPER,
    TwinRow,
    find_twins,
    instruction_key,
    twin_row,
)

ShardSignatures = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[TwinRow]]


def minhash_params(cfg: NearDedupSettings) -> MinHashParams:
    return MinHashParams(
        shingle=cfg.shingle,
        num_perm=cfg.num_perm,
        threshold=cfg.threshold,
        bands=cfg.bands,
        normalize_locals=cfg.normalize_locals,
        seed=cfg.seed,
    )


def instruction_digest(instruction: str) -> str:
    """What `find_twins` compares of an instruction (its `instruction_key`; "" when blank), as
    a digest: the index holds every row's twin fields, and instructions run to kilobytes."""
    key = instruction_key(instruction)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32] if key else ""


def shard_signatures(path: Path, params: MinHashParams) -> ShardSignatures:
    """ids, pass fractions, test counts and MinHash signatures of one shard (runs in a worker)."""
    table = read_columns(
        path,
        [
            "id", "candidate_code", "original_code", "pass_fraction", "test_cases", "sample_kind",
            "class_name", "entry_point", "instruction", "provenance",
        ],
    )  # fmt: skip
    codes = [
        focus_code(code, kind, cls, entry)
        for code, kind, cls, entry in zip(
            table.column("candidate_code").to_pylist(),
            table.column("sample_kind").to_pylist(),
            table.column("class_name").to_pylist(),
            table.column("entry_point").to_pylist(),
            strict=True,
        )
    ]
    twins = [
        twin_row(prov["source_uri"], prov["path"], code, entry, kind, cls, instruction_digest(instruction))
        for prov, code, entry, kind, cls, instruction in zip(
            table.column("provenance").to_pylist(),
            table.column("original_code").to_pylist(),
            table.column("entry_point").to_pylist(),
            table.column("sample_kind").to_pylist(),
            table.column("class_name").to_pylist(),
            table.column("instruction").to_pylist(),
            strict=True,
        )
    ]
    return (
        table.column("id").to_pylist(),
        table.column("pass_fraction").to_numpy(zero_copy_only=False).astype(np.float64),
        pc.list_value_length(table.column("test_cases")).to_numpy(zero_copy_only=False).astype(np.int64),
        signatures(codes, params),
        twins,
    )


def clusters_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.stem + ".clusters.parquet")


def write_clusters(path: Path, ids: np.ndarray, labels: np.ndarray, rows_best_first: np.ndarray) -> int:
    """One row per cluster of 2+ members (its members best first); returns the cluster count."""
    members: dict[int, list[str]] = {}
    for row in rows_best_first.tolist():
        members.setdefault(int(labels[row]), []).append(str(ids[row]))
    cluster_ids = sorted(members)
    store.write_table(
        path,
        pa.table(
            {
                "cluster_id": pa.array(cluster_ids, pa.int64()),
                "representative": pa.array([members[c][0] for c in cluster_ids], pa.string()),
                "size": pa.array([len(members[c]) for c in cluster_ids], pa.int64()),
                "members": pa.array([members[c] for c in cluster_ids], pa.list_(pa.string())),
            }
        ),
    )
    return len(cluster_ids)


class NearDedup(IndexedStage[Verified, Verified]):
    name = "near_dedup"
    input_model = Verified
    output_model = Verified
    settings_field = "near_dedup"

    @classmethod
    def build_index(
        cls, settings: PipelineSettings, shard_paths: list[Path | None], index_path: Path
    ) -> dict[str, Any]:
        started = time.perf_counter()
        params = minhash_params(settings.near_dedup)
        # A shard that failed upstream (None) has no rows; the others keep their numbers.
        present = [(s, p) for s, p in enumerate(shard_paths) if p is not None]
        parts = map_parallel(
            partial(shard_signatures, params=params), [p for _, p in present], settings.index_workers
        )
        sig_seconds = time.perf_counter() - started
        ids = np.array([i for p in parts for i in p[0]], dtype=str)
        shard = np.concatenate(
            [np.full(len(part[0]), s, dtype=np.int64) for (s, _), part in zip(present, parts, strict=True)]
            or [np.empty(0, np.int64)]
        )
        pass_fraction = np.concatenate([p[1] for p in parts] or [np.empty(0)])
        n_tests = np.concatenate([p[2] for p in parts] or [np.empty(0, np.int64)])
        sig = np.concatenate([p[3] for p in parts] or [np.empty((0, params.num_perm), np.uint32)])
        # Preference order (the representative rule); position breaks exact ties.
        position = np.arange(len(ids))
        order = np.lexsort((position, shard, ids, -n_tests, -pass_fraction))
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        found = cluster(sig, params, rank)
        labels, rep = found.labels, found.representative
        sizes = np.bincount(labels)[labels] if len(labels) else np.empty(0, np.int64)
        kept = rep == position
        twin_of: list[str | None] = [None] * len(ids)
        twin_reason: list[str | None] = [None] * len(ids)
        if settings.near_dedup.twins:
            rows = [t for p in parts for t in p[4]]
            for i, twin in enumerate(find_twins(rows, kept.tolist(), rank.tolist())):
                if twin is not None:
                    kept[i] = False
                    twin_of[i], twin_reason[i] = str(ids[twin[0]]), twin[1]

        clusters = write_clusters(clusters_path(index_path), ids, labels, order[sizes[order] > 1])
        store.write_table(
            index_path,
            pa.table(
                {
                    "id": pa.array(ids.tolist(), pa.string()),
                    "shard": pa.array(shard, pa.int64()),
                    "cluster_id": pa.array(labels, pa.int64()),
                    "cluster_size": pa.array(sizes, pa.int64()),
                    "representative": pa.array(ids[rep].tolist() if len(ids) else [], pa.string()),
                    "kept": pa.array(kept, pa.bool_()),
                    "similarity": pa.array(found.similarity, pa.float32()),
                    "twin_of": pa.array(twin_of, pa.string()),
                    "twin_reason": pa.array(twin_reason, pa.string()),
                }
            ),
        )
        return {
            "rows": len(ids),
            "kept": int(kept.sum()),
            "near_duplicates": int((~kept).sum()) - sum(r is not None for r in twin_reason),
            **{f"near_twins:{r}": twin_reason.count(r) for r in (WRAPPER, SAME_INSTRUCTION)},
            "clusters": clusters,
            "pairs_compared": found.pairs_compared,
            "similar_pairs": found.similar_pairs,
            "bands": found.bands,
            "rows_per_band": found.rows,
            "seconds_signatures": round(sig_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3),
        }

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        table = pq.read_table(self.require_index(), filters=[("shard", "=", self.shard)])
        decision: dict[str, dict[str, Any]] = {}
        for row in table.select(
            [
                "id",
                "cluster_id",
                "cluster_size",
                "representative",
                "kept",
                "similarity",
                "twin_of",
                "twin_reason",
            ]
        ).to_pylist():
            if row["kept"] or row["id"] not in decision:  # an id twice in a shard: the kept one wins
                decision[row["id"]] = row
        seen: set[str] = set()
        for rec in records:
            row = decision.get(rec.id)
            if row is None:
                self.metrics["unindexed_rows"] += 1  # not in the index: nothing to compare with
                yield rec
            elif row["kept"] and rec.id not in seen:
                seen.add(rec.id)
                if row["cluster_size"] > 1:
                    self.metrics["kept_representatives"] += 1
                yield rec
            elif row["twin_reason"] is not None:
                yield self.reject(
                    rec.id, f"near_twin:{row['twin_reason']}", _twin_detail(rec, row), record=rec
                )
            else:
                yield self.reject(
                    rec.id,
                    "near_duplicate",
                    f"near duplicate of {row['representative']} (estimated Jaccard {row['similarity']:.2f}; "
                    f"cluster {row['cluster_id']} of {row['cluster_size']})",
                    record=rec,
                )


def _twin_detail(rec: Verified, row: dict[str, Any]) -> str:
    if row["twin_reason"] == WRAPPER:
        return f"{rec.entry_point} only calls the code of {row['twin_of']}, which is kept"
    return f"{row['twin_of']} is kept with the same instruction over different code"


# The Prefect tasks of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(NearDedup)
index = index_task(NearDedup)
