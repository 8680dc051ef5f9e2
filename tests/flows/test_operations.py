"""Operations: a deployment run through a real worker, artifacts through the API, re-running
failed shards only. (The run on a Dask cluster: test_dask_cluster.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from codemint.flows.inspection import final_rows
from codemint.flows.pipeline import pipeline
from codemint.settings import AdequacySettings, ExercisesSettings, PipelineSettings, TestgenSettings

pytestmark = pytest.mark.usefixtures("prefect_server")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def prefect_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run(
        [str(BIN / "prefect"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


async def _task_runs(flow_run_id: Any) -> list[Any]:
    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


async def _artifact(key: str) -> Any:
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return found[0] if found else None


def test_deploy_and_run_through_a_worker_with_artifacts(tmp_path: Path) -> None:
    prefect_cli("work-pool", "create", "codemint-process", "--type", "process", "--overwrite")
    prefect_cli("--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--name", "nightly")
    params = {
        "packages": ["colorsys", "bisect"],
        "output": str(tmp_path / "runs"),
        "shards": 2,
        "run_id": "deployed",
    }
    prefect_cli("deployment", "run", "codemint-scheduled/nightly", "--params", json.dumps(params))
    prefect_cli("worker", "start", "--pool", "codemint-process", "--run-once", timeout=600)
    rows = final_rows(tmp_path / "runs" / "deployed")
    names = {r["entry_point"] for r in rows}
    # bisect_left/right are near-duplicates: either may represent them, by its tests
    assert "insort_right" in names and names & {"bisect_left", "bisect_right"}
    funnel = asyncio.run(_artifact("deployed-funnel"))
    assert funnel is not None and funnel.type == "table"
    table = json.loads(funnel.data) if isinstance(funnel.data, str) else funnel.data
    assert [row["stage"] for row in table][-1] == "select"
    assert table[-1]["rows_kept"] == len(rows)
    report = asyncio.run(_artifact("deployed-report"))
    assert report is not None and "Throughput per stage" in report.data


def test_failed_shard_is_named_and_rerun_touches_only_it(tmp_path: Path) -> None:
    settings = PipelineSettings(
        runs_dir=tmp_path / "runs",
        shards=3,
        fail_shards=["execute:1"],
        # What is tested is which task runs fail and re-run, not the rows' tests: fewer test
        # inputs tried per row, no adequacy and generation rows only (most of a run's time).
        testgen=TestgenSettings(feedback_pool=12, feedback_mutants=6, feedback_targeted=6),
        adequacy=AdequacySettings(enabled=False),
        exercises=ExercisesSettings(kinds=["generation"]),
    )
    packages = ["textwrap", "colorsys", "bisect", "fnmatch"]
    state = pipeline(packages=packages, run_id="flaky", settings=settings, return_state=True)
    assert state.is_failed()
    assert "execute shard 1" in (state.message or "")
    report = json.loads((tmp_path / "runs" / "flaky" / "run.json").read_text())
    assert [(f["stage"], f["shard"]) for f in report["summary"]["failures"]] == [("execute", 1)]
    assert not (tmp_path / "runs" / "flaky" / "verify" / "part-00001.parquet").exists()

    done = subprocess.run(
        [sys.executable, "-m", "codemint", "rerun", "flaky", "--runs-dir", str(tmp_path / "runs")],
        env={**os.environ, "PREFECT_API_URL": _api_url()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    flow_run_id = asyncio.run(_latest_flow_run("codemint-pipeline"))
    states = {r.name: r.state.name for r in asyncio.run(_task_runs(flow_run_id))}
    per_shard = ("ingest", "reformat", "dedup", "summarize", "testgen", "execute", "verify", "decontaminate")
    redone = sorted(n for n, st in states.items() if st != "Cached" and n.startswith(per_shard))
    # Only shard 1 from the failed stage on; the cross-shard steps after it (near-dedup,
    # select, export) see new rows and are redone, as they must be.
    assert redone == ["decontaminate-shard-00001", "execute-shard-00001", "verify-shard-00001"], states
    assert (tmp_path / "runs" / "flaky" / "verify" / "part-00001.parquet").exists()


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


async def _latest_flow_run(flow_name: str) -> Any:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return runs[0].id
