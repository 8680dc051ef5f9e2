"""A re-run's source shards: the plan and the shards' digests recorded beside them are trusted
while the files are as written (flows/pipeline.py, `source_shards`); otherwise the shards are
written again from the plan."""

from __future__ import annotations

import os
from pathlib import Path

from codemint import store
from codemint.flows.pipeline import source_shards
from codemint.settings import PipelineSettings
from codemint.tasks.ingest.stage import plan_sources


def test_the_same_plan_reuses_its_shards_and_a_changed_shard_is_written_again(tmp_path: Path) -> None:
    refs = plan_sources([], ["colorsys", "bisect", "heapq"])
    settings = PipelineSettings(shards=2)
    run_dir = tmp_path / "run"
    first = source_shards(refs, run_dir, settings)
    assert [store.file_digest(Path(s.path)) for s in first] == [s.digest for s in first]
    plan = run_dir / "sources" / ".plan.json"
    planned = plan.stat().st_mtime_ns

    assert source_shards(refs, run_dir, settings) == first
    assert plan.stat().st_mtime_ns == planned  # trusted: nothing built, nothing written

    # A shard changed since (same size, new mtime): not trusted, written again from the plan.
    shard = Path(first[1].path)
    shard.write_bytes(bytes(len(shard.read_bytes())))
    assert source_shards(refs, run_dir, settings) == first
    assert store.file_digest(shard) == first[1].digest

    # Another plan (one package less): other shards.
    fewer = source_shards(refs[:-1], run_dir, settings)
    assert fewer != first
    assert [store.file_digest(Path(s.path)) for s in fewer] == [s.digest for s in fewer]
    os.utime(shard)  # touched only: the digests on record no longer vouch for it
    assert source_shards(refs[:-1], run_dir, settings) == fewer
