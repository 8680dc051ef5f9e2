"""The funnel of a run (rows in, kept and dropped by reason per stage) and the run report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from codemint import exec_costs, store
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
    # Inputs it ran in the sandbox (a suite job's tests count one each), summed over shards,
    # and per final row of the run (rows kept by the funnel's last stage).
    executions: int = 0
    executions_per_final_row: float = 0.0


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
    final = funnel[-1].rows_kept if funnel else 0
    for f in funnel:
        f.executions = int(f.metrics.get("sandbox_executions", 0))
        f.executions_per_final_row = round(f.executions / max(1, final), 2)
    return funnel


def cost_per_final_row(run_dir: store.RunPath, summary: dict[str, Any]) -> dict[str, Any]:
    """What a final row cost: pipeline wall time, and task seconds and sandbox executions by
    stage (the derived stages' from their shard stats files, which the funnel leaves out)."""
    funnel = summary.get("funnel", [])
    final = funnel[-1]["rows_kept"] if funnel else 0
    seconds = {f["stage"]: float(f["seconds"]) for f in funnel}
    executions = {f["stage"]: int(f.get("executions", 0)) for f in funnel}
    for stage_dir in (
        sorted((p for p in run_dir.iterdir() if p.is_dir()), key=str) if run_dir.is_dir() else []
    ):
        if stage_dir.name in seconds:
            continue
        stats = [json.loads(p.read_text()) for p in store.listing(stage_dir, "*.stats.json")]
        if stats and all("metrics" in s and "seconds" in s for s in stats):
            seconds[stage_dir.name] = sum(float(s["seconds"]) for s in stats)
            executions[stage_dir.name] = int(sum(s["metrics"].get("sandbox_executions", 0) for s in stats))
    per = max(1, final)
    return {
        "final_rows": final,
        "wall_seconds_per_final_row": round(float(summary.get("seconds", 0.0)) / per, 3),
        "task_seconds_per_final_row": {k: round(v / per, 3) for k, v in seconds.items() if v},
        "executions_per_final_row": {k: round(v / per, 2) for k, v in executions.items() if v},
        "executions": {k: v for k, v in executions.items() if v},
    }


def sandbox_costs(run_dir: store.RunPath) -> dict[str, dict[str, float]]:
    """Per stage, its shards' sandbox job processes and their seconds by part (spawn, import,
    call, teardown; totals and per process), summed from the shards' stats files; stages
    that ran no code are left out."""
    out: dict[str, dict[str, float]] = {}
    for stage_dir in (
        sorted((p for p in run_dir.iterdir() if p.is_dir()), key=str) if run_dir.is_dir() else []
    ):
        total: Counter[str] = Counter()
        for path in store.listing(stage_dir, "*.stats.json"):
            costs = json.loads(path.read_text()).get("sandbox_costs") or {}
            total.update({k: float(v) for k, v in costs.items() if not k.endswith("_per_process")})
        if total.get("processes"):
            out[stage_dir.name] = exec_costs.summary(dict(total))
    return out


def write_run_report(
    run_dir: store.RunPath,
    summary: dict[str, Any],
    settings: PipelineSettings,
    request: dict[str, Any],
    version: str,
) -> None:
    yields = [y.model_dump() | {"yield_pct": round(y.yield_pct, 2)} for y in yield_by_source(run_dir)]
    store.write_json(
        run_dir / "run.json",
        {
            "summary": summary,
            "yield_by_source": yields,
            "cost": cost_per_final_row(run_dir, summary),
            "sandbox_costs": sandbox_costs(run_dir),
            "settings": settings.model_dump(mode="json"),
            "request": request,
            "code_version": version,
        },
    )
