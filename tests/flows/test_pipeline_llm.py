"""The whole pipeline with every LLM strategy on, against a real OpenAI-protocol server on
loopback that plays the model (tests/support/openai_server.py): instructions summarized from code,
LLM test inputs, regenerated code verified against the original, judged pairs; a re-run
makes no calls; a server that is down fails the run fast with a clear message."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import DEFAULT_MODEL, OpenAIServer, PipelineResponder

from codemint.cli import flow_settings
from codemint.flows.inspection import final_rows
from codemint.flows.pipeline import pipeline
from codemint.llm.health import ServerCheckError
from codemint.settings import PipelineSettings

pytestmark = pytest.mark.usefixtures("prefect_server")

PACKAGES = ["textwrap", "bisect", "fnmatch"]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(PipelineResponder()) as srv:
        yield srv


def llm_settings(runs_dir: Path, base_url: str) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=runs_dir, shards=2)
    settings.enable_llm()
    settings.llm.base_url = base_url
    settings.llm.model = DEFAULT_MODEL
    return settings


def run(settings: PipelineSettings, project: Path | None = None) -> None:
    with flow_settings(heartbeats=False):
        pipeline(inputs=[str(project)] if project else [], packages=PACKAGES, run_id="llm", settings=settings)


def test_llm_pipeline_end_to_end_and_rerun_makes_no_calls(server: OpenAIServer, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    # No docstring: only the LLM strategy can give this one an instruction.
    # (A loop: reformat drops one-statement bodies as trivial.)
    (project / "mathy.py").write_text(
        "def triple_sum(xs: list[int]) -> int:\n"
        "    total = 0\n"
        "    for x in xs:\n"
        "        total += 3 * x\n"
        "    return total\n"
    )
    settings = llm_settings(tmp_path / "runs", server.base_url)
    run(settings, project)
    rows = final_rows(tmp_path / "runs" / "llm")
    assert len(rows) >= 5
    assert all(r["instruction_source"] == "llm" and r["instruction_score"] >= 0.5 for r in rows)
    assert all(r["llm_model"] == DEFAULT_MODEL and DEFAULT_MODEL in r["llm_models"] for r in rows)
    assert all(r["prompt_version"] and len(r["prompt_versions"]) >= 2 for r in rows)
    assert all(r["judge_passed"] is True and r["judge_reasons"] for r in rows)
    assert "triple_sum" in {r["entry_point"] for r in rows}
    assert any("llm" in r["input_sources"] for r in rows)
    regenerated = [r for r in rows if r["candidate_kind"] == "regenerated"]
    assert regenerated and all(r["pass_fraction"] == 1.0 for r in regenerated)
    report = json.loads((tmp_path / "runs" / "llm" / "run.json").read_text())
    metrics = {f["stage"]: f["metrics"] for f in report["summary"]["funnel"]}
    assert metrics["summarize"]["llm_summarize_calls"] > 0
    assert metrics["summarize"]["llm_self_evaluate_completion_tokens"] > 0
    # The LLM-written input generators ran in the sandbox and produced inputs (this scripted
    # model proposes the same cases both ways, so dedup keeps the `llm` copies).
    assert metrics["testgen"]["llm_generator_ok"] >= len(rows)

    # Repair rows also come from realistic bugs the model wrote, kept only when a test catches them.
    from codemint import store

    dataset = tmp_path / "runs" / "llm" / "dataset"
    repairs = [
        r for s in ("train", "validation") for r in store.read_rows(dataset / "repair" / f"{s}.parquet")
    ]
    llm_bugs = [r for r in repairs if r["bug_source"] == "llm"]
    assert llm_bugs and all(r["tests_failed"] >= 1 for r in llm_bugs)
    assert {r["bug_source"] for r in repairs} == {"llm", "mutation"}
    # --llm adds translation: this model's JavaScript returns null, so Node running the
    # row's tests rejects it (a row whose function returns None every time would pass).
    derive: Counter[str] = Counter()
    for stats in sorted((tmp_path / "runs" / "llm" / "derive").glob("part-*.stats.json")):
        derive.update(json.loads(stats.read_text())["metrics"])
    assert derive["llm_translate_js_calls"] > 0
    judged = sum(v for k, v in derive.items() if k.startswith("translation_candidates:"))
    assert judged > 0 and derive.get("translation_candidates:js_failed_test", 0) > 0
    translations = [
        r for s in ("train", "validation") for r in store.read_rows(dataset / "translation" / f"{s}.parquet")
    ]
    assert (
        len(translations)
        == derive.get("translation_kept", 0)
        <= derive.get("translation_candidates:passed", 0)
    )

    calls = server.chat_requests
    assert calls > 0
    # Same run again: every task is cached; a changed judge threshold re-runs the judge
    # stage, whose requests all come from the request cache beside the run.
    run(settings, project)
    rejudged = settings.model_copy(deep=True)
    rejudged.judge.min_score = 0.4
    run(rejudged, project)
    assert server.chat_requests == calls


def test_server_down_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    settings = llm_settings(tmp_path / "runs", "http://127.0.0.1:9/v1")
    settings.llm.timeout_s = 2
    with pytest.raises(ServerCheckError, match=r"127\.0\.0\.1:9"):
        run(settings)


def test_server_serving_another_model_fails_fast(server: OpenAIServer, tmp_path: Path) -> None:
    settings = llm_settings(tmp_path / "runs", server.base_url)
    settings.llm.model = "some/other-model"
    with pytest.raises(ServerCheckError, match="some/other-model"):
        run(settings)


def test_generated_inputs_are_decoded_capped_and_deduplicated() -> None:
    from codemint.codec import canonical_json
    from codemint.tasks.testgen.stage import generated_inputs

    returned = [{"args": [i % 3], "kwargs": {}} for i in range(10)] + [
        "junk",
        {"args": "x"},
        {"args": [[1] * 500]},
    ]
    texts = generated_inputs(canonical_json(returned), cap=5, max_chars=200)
    assert [json.loads(t)["args"] for t in texts] == [[0], [1], [2]]
    assert generated_inputs(None, 5, 200) == [] and generated_inputs("not json", 5, 200) == []


def test_flaky_server_costs_retries_and_drops_only_failed_samples(tmp_path: Path) -> None:
    import hashlib

    from openai_server import FailOnce, Reply

    from codemint.llm import prompts

    judge_system = prompts.system_text("judge")
    inner = FailOnce(PipelineResponder(), share=0.3)  # 30% of prompts answer 500 on first sight
    refuse: dict[str, bool] = {}  # judge prompt -> refused (every other distinct one, always)

    def flaky(request: dict) -> Reply:
        messages = request.get("messages") or []
        if messages and messages[0]["content"] == judge_system:
            key = hashlib.sha256(messages[-1]["content"].encode()).hexdigest()
            if refuse.setdefault(key, len(refuse) % 2 == 0):
                return Reply(content="I'm sorry, but I can't help with that request.")
        return inner(request)

    with OpenAIServer(flaky) as srv:
        settings = llm_settings(tmp_path / "runs", srv.base_url)
        settings.llm.backoff_base_s = 0.01
        run(settings)
    report = json.loads((tmp_path / "runs" / "llm" / "run.json").read_text())
    assert not report["summary"]["failures"]  # no shard crashed
    funnel = {f["stage"]: f for f in report["summary"]["funnel"]}
    retries = sum(v for f in funnel.values() for k, v in f["metrics"].items() if k.endswith("_retries"))
    assert retries > 0 and inner.failed > 0
    judged = funnel["judge"]
    refused = {k: v for k, v in judged["dropped"].items() if k.startswith("dropped:llm_")}
    assert refused and judged["rows_kept"] > 0, judged


def test_killed_llm_run_resends_only_calls_that_had_not_completed(tmp_path: Path) -> None:
    """Kill `codemint run --llm` mid-run; the re-run sends only what was not answered and
    cached before the kill (at most what was in flight), then a third run sends nothing."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from openai_server import Reply, prompt_hash
    from prefect.settings import PREFECT_API_URL

    inner = PipelineResponder()
    answered: list[str] = []  # prompt hashes the server finished, in order
    lock = threading.Lock()

    def slow(request: dict) -> Reply:
        time.sleep(0.05)
        reply = inner(request)
        with lock:
            answered.append(prompt_hash(request.get("messages")))
        return reply

    concurrency, shards = 4, 2
    with OpenAIServer(slow) as srv:
        env = {
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "CODEMINT_SHARDS": str(shards),
            "CODEMINT_LLM__BASE_URL": srv.base_url,
            "CODEMINT_LLM__MODEL": DEFAULT_MODEL,
            "CODEMINT_LLM__CONCURRENCY": str(concurrency),
        }
        cmd = [
            sys.executable,
            "-m",
            "codemint",
            "run",
            "--llm",
            "--run-id",
            "killed",
            "--runs-dir",
            str(tmp_path),
        ]
        for package in PACKAGES:
            cmd += ["--from-package", package]
        proc = subprocess.Popen(
            cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 240
        while len(answered) < 40 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.3)  # let handlers of requests cut off by the kill finish
        with lock:
            before = list(answered)
            answered.clear()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        with lock:
            resent = set(before) & set(answered)
            after = len(answered)
            answered.clear()
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0
    # Answered before the kill but not yet in the cache: what was in flight in the shard
    # tasks running at that moment (each with its own client and limit), plus replies whose
    # cache write was still queued: the write follows the slot's release, so each slot's
    # previous holder may be writing as its next request goes out.
    assert len(resent) <= 2 * concurrency * shards, (len(resent), len(before), after)
    assert after > 0 and len(answered) == 0
    assert final_rows(tmp_path / "killed")
