"""Re-running a run: the same flow with the request and settings saved in its run.json.

Every shard that finished is a cache hit (no work); the shards that failed, and what
depends on them, run again. Injected failures (`fail_shards`) are cleared.
"""

from __future__ import annotations

import json
from typing import Any

from prefect import flow

from codemint import store
from codemint.flows.pipeline import RunSummary, pipeline
from codemint.settings import PipelineSettings


def load_run(run_dir: store.RunPath) -> tuple[dict[str, Any], PipelineSettings]:
    report_file = run_dir / "run.json"
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{report_file}: cannot read the run report: {exc}") from exc
    settings = PipelineSettings.model_validate(report["settings"])
    settings.fail_shards = []
    return report, settings


@flow(name="codemint-rerun")
def rerun(run_id: str, runs_dir: str = "runs") -> RunSummary:
    """Re-run `run_id`: only its failed shards (and their downstream) do any work."""
    run_dir = store.location(runs_dir) / run_id
    report, settings = load_run(run_dir)
    settings.runs_dir = store.as_setting(runs_dir)
    request = report["request"]
    return pipeline(
        inputs=request["inputs"],
        packages=request["packages"],
        run_id=run_id,
        settings=settings,
        until=request.get("until"),
    )
