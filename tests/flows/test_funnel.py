"""The funnel's cost figures: sandbox executions per final row by stage, derive's included."""

from __future__ import annotations

import json
from pathlib import Path

from codemint.flows.funnel import build_funnel, cost_per_final_row
from codemint.stage import ShardResult


def _result(stage: str, shard: int, rows_in: int, kept: int, executions: int, seconds: float) -> ShardResult:
    metrics = {"sandbox_executions": float(executions)} if executions else {}
    return ShardResult(
        stage=stage, shard=shard, kept_path="", rejected_path="", kept_digest="", rows_in=rows_in,
        rows_kept=kept, dropped={}, metrics=metrics, seconds=seconds,
    )  # fmt: skip


def test_executions_per_final_row_by_stage_and_for_the_derived_stages(tmp_path: Path) -> None:
    results = {
        "execute": {0: _result("execute", 0, 10, 8, 300, 2.0), 1: _result("execute", 1, 10, 6, 100, 1.0)},
        "adequacy": {0: _result("adequacy", 0, 8, 8, 1000, 4.0), 1: _result("adequacy", 1, 6, 6, 600, 2.0)},
        "select": {0: _result("select", 0, 8, 5, 0, 0.1), 1: _result("select", 1, 6, 5, 0, 0.1)},
    }
    funnel = build_funnel(results, ["execute", "adequacy", "select"])
    assert [(f.stage, f.executions, f.executions_per_final_row) for f in funnel] == [
        ("execute", 400, 40.0), ("adequacy", 1600, 160.0), ("select", 0, 0.0)
    ]  # fmt: skip
    # derive runs after the funnel: its shards' stats files count too
    derive = tmp_path / "derive"
    derive.mkdir()
    for shard, n in ((0, 250), (1, 50)):
        stats = _result("derive", shard, 5, 5, n, 3.0).model_dump()
        (derive / f"shard-{shard:05d}.stats.json").write_text(json.dumps(stats))
    summary = {"funnel": [f.model_dump() for f in funnel], "seconds": 50.0}
    cost = cost_per_final_row(tmp_path, summary)
    assert cost["final_rows"] == 10 and cost["wall_seconds_per_final_row"] == 5.0
    assert cost["executions_per_final_row"] == {"execute": 40.0, "adequacy": 160.0, "derive": 30.0}
    assert cost["task_seconds_per_final_row"]["derive"] == 0.6
