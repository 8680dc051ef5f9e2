"""The cache walk: which leading stages of a re-run are all cache hits, and what the re-run
then records and runs. A deleted output stops the walk at its stage and only its shard runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from codemint import store
from codemint.cli import flow_settings
from codemint.flows.cache_walk import settled_stages
from codemint.flows.pipeline import pipeline, stage_plans
from codemint.settings import PipelineSettings
from codemint.stage_task import ShardInput

pytestmark = pytest.mark.usefixtures("prefect_server")

MODULES = {
    "shapes.py": 'def area(w: int, h: int) -> int:\n    """Area of a w by h rectangle."""\n'
    "    if w < 0 or h < 0:\n        raise ValueError(w)\n    return w * h\n",
    "words.py": 'def shout(text: str) -> str:\n    """The text in capitals with an exclamation mark."""\n'
    "    words = [w.upper() for w in text.split()]\n    return ' '.join(words) + '!'\n",
}


async def _states(flow_run_id: Any, count: int = 7) -> dict[str, str]:
    """Task-run states once the server has recorded all `count` (it records them from events)."""
    async with get_client() as client:
        for _ in range(100):
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if len(runs) >= count and all(r.state and r.state.is_final() for r in runs):
                break
            await asyncio.sleep(0.2)
    return {r.name: r.state.name if r.state else "?" for r in runs}


def test_a_deleted_shard_output_stops_the_walk_and_reruns_that_shard_only(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, code in MODULES.items():
        (project / name).write_text(code)
    settings = PipelineSettings(runs_dir=tmp_path / "runs", shards=2)

    def run() -> tuple[Any, dict[str, str]]:
        with flow_settings(heartbeats=False):
            state = pipeline(
                inputs=[str(project)], run_id="walk", settings=settings, until="dedup", return_state=True
            )
        return state.result(), asyncio.run(_states(state.state_details.flow_run_id))

    first, _ = run()
    run_dir = Path(first.run_dir)
    sources = [
        ShardInput(path=str(p), digest=store.file_digest(p))
        for p in sorted((run_dir / "sources").glob("part-*[0-9].parquet"))
    ]
    stages = ["ingest", "reformat", "dedup"]
    # The saved settings are the ones the flow ran with (its sandbox image settings included).
    ran = PipelineSettings.model_validate(json.loads((run_dir / "run.json").read_text())["settings"])
    walked = settled_stages(run_dir, ran, sources, stages, *stage_plans(ran, stages))
    assert [w.stage for w in walked] == stages
    assert walked[-1].index is not None and sorted(walked[-1].results) == [0, 1]

    again, states = run()  # nothing changed: every task run recorded as Cached, none run
    assert set(states.values()) == {"Cached"} and len(states) == 3 * 2 + 1, states
    assert [f.rows_kept for f in again.funnel] == [f.rows_kept for f in first.funnel]

    (run_dir / "reformat" / "part-00001.parquet").unlink()
    walked = settled_stages(run_dir, ran, sources, stages, *stage_plans(ran, stages))
    assert [w.stage for w in walked] == ["ingest"]
    _, states = run()
    assert {name for name, state in states.items() if state != "Cached"} == {"reformat-shard-00001"}, states
    assert (run_dir / "reformat" / "part-00001.parquet").exists()
