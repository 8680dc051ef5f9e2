"""The funnel of a run (rows in, kept and dropped by reason per stage) and the run report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from codemint import store
from codemint.flows.yields import yield_by_source
from codemint.settings import PipelineSettings
from codemint.stage import ShardResult


class StageFunnel(BaseModel):
    stage: str
    shards: int
    rows_in: int
    rows_kept: int
    dropped: dict[str, int]  # "status:reason" -> count
    metrics: dict[str, float]
    seconds: float
    # The stage's cost per input row (task time summed over shards / rows in).
    seconds_per_row: float = 0.0


def build_funnel(results: dict[str, dict[int, ShardResult]], stages: Sequence[str]) -> list[StageFunnel]:
    funnel = []
    for stage in stages:
        shard_results = list(results.get(stage, {}).values())
        dropped: Counter[str] = Counter()
        metrics: Counter[str] = Counter()
        for r in shard_results:
            dropped.update(r.dropped)
            metrics.update(r.metrics)
        funnel.append(
            StageFunnel(
                stage=stage,
                shards=len(shard_results),
                rows_in=sum(r.rows_in for r in shard_results),
                rows_kept=sum(r.rows_kept for r in shard_results),
                dropped=dict(dropped.most_common()),
                metrics=dict(sorted(metrics.items())),
                seconds=round(sum(r.seconds for r in shard_results), 3),
                seconds_per_row=round(
                    sum(r.seconds for r in shard_results) / max(1, sum(r.rows_in for r in shard_results)), 4
                ),
            )
        )
    return funnel


def write_run_report(
    run_dir: Path, summary: dict[str, Any], settings: PipelineSettings, request: dict[str, Any], version: str
) -> None:
    yields = [y.model_dump() | {"yield_pct": round(y.yield_pct, 2)} for y in yield_by_source(run_dir)]
    store.write_json(
        run_dir / "run.json",
        {
            "summary": summary,
            "yield_by_source": yields,
            "settings": settings.model_dump(mode="json"),
            "request": request,
            "code_version": version,
        },
    )
