"""The base of LLM stages, on a small stage that asks the judge prompt about each row, against
a real OpenAI-compatible HTTP server with scripted replies: failed calls become rejections or
counts, usage reaches the metrics, rows carry the shard's provenance, and `uses_llm` and the
cache key follow the prompts the stage names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from factories import CLAMP, MEDIAN, verified, write_shards
from openai_server import DEFAULT_MODEL, OpenAIServer, Reply

from codemint import store
from codemint.llm import errors, prompts, verdicts
from codemint.llm.errors import LLMError
from codemint.llm.runtime import llm_fingerprint
from codemint.llm.stage import LLMStage
from codemint.records import Rejected, Verified
from codemint.settings import PipelineSettings
from codemint.stage import ShardResult
from codemint.tasks.judge.stage import Judge
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

VERDICT = json.dumps({"passed": True, "score": 0.8, "reasons": "Solves the instruction."})


def refuse_median(request: dict[str, Any]) -> Reply:
    """A verdict for every pair but the median's, which the model refuses."""
    user = request["messages"][-1]["content"]
    return Reply(content=None, refusal="I can't help with that.") if "median" in user else Reply(VERDICT)


class Ask(LLMStage[Verified, Verified]):
    """Scores each row with the judge prompt (on when `judge.enabled`); a failed call drops the
    row or, with `keep_failed`, is counted and the row goes on unscored."""

    name = "ask"
    input_model = Verified
    output_model = Verified
    settings_field = "judge"
    keep_failed = False
    other: list[Any] = []

    def llm_prompts(self) -> Sequence[str]:
        return verdicts.PROMPTS if self.settings.judge.enabled else ()

    def other_fingerprint(self) -> list[Any]:
        return list(self.other)

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        records = list(records)
        if not self.uses_llm():
            yield from records
            return
        judge = self.settings.judge
        results = self.call_llm(lambda client: verdicts.verdicts(client, judge, records))
        for rec, result in zip(records, results, strict=True):
            if not isinstance(result, LLMError):
                yield rec.model_copy(
                    update={"judge_score": result.value.score, "llm": self.with_llm(rec.llm)}
                )
            elif self.keep_failed:
                self.count_llm_failure("ask_failed", result)
                yield rec.model_copy(update={"llm": self.with_llm(rec.llm)})
            else:
                yield self.reject_llm_error(rec.id, result, record=rec)


class AskKeeping(Ask):
    keep_failed = True


def llm_settings(base_url: str, runs_dir: Path) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=runs_dir)
    settings.judge.enabled = True
    settings.llm.base_url = base_url
    settings.llm.model = DEFAULT_MODEL
    settings.llm.max_retries = 0
    return settings


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(refuse_median) as srv:
        yield srv


def process(stage: Ask, tmp_path: Path, shards: Sequence[Sequence[Verified]]) -> list[ShardResult]:
    paths = write_shards(tmp_path / "runs" / "r" / "in", shards)
    out = tmp_path / "runs" / "r" / stage.name
    return [stage.process_shard(path, out, i) for i, path in enumerate(paths)]


def rows(path: str, model: type[Verified] | type[Rejected]) -> list[Any]:
    return [model.model_validate(r) for r in store.read_rows(Path(path))]


def test_a_failed_call_drops_its_row_with_the_reason_and_usage_is_counted(
    server: OpenAIServer, tmp_path: Path
) -> None:
    clamp, median = verified(CLAMP), verified(MEDIAN)
    (result,) = process(Ask(llm_settings(server.base_url, tmp_path / "runs")), tmp_path, [[clamp, median]])
    assert result.dropped == {f"dropped:{errors.REFUSED}": 1}
    (rejected,) = rows(result.rejected_path, Rejected)
    assert (rejected.id, rejected.drop_reason, rejected.stage) == (median.id, errors.REFUSED, "ask")
    assert Verified.model_validate_json(rejected.record_json) == median
    (kept,) = rows(result.kept_path, Verified)
    assert (kept.id, kept.judge_score) == (clamp.id, 0.8)
    # The calls' usage, named by prompt, is in the shard's metrics (the run report's funnel).
    assert result.metrics["llm_judge_calls"] == 2
    assert result.metrics[f"llm_judge_failed:{errors.REFUSED}"] == 1
    assert result.metrics["llm_judge_prompt_tokens"] > 0
    # The kept row names the server's model and the prompt version that scored it.
    assert kept.llm is not None and kept.llm.model == DEFAULT_MODEL
    assert [use.prompt_version for use in kept.llm.prompts] == [prompts.version("judge")]


def test_the_run_cache_answers_a_second_pass_without_requests(server: OpenAIServer, tmp_path: Path) -> None:
    settings = llm_settings(server.base_url, tmp_path / "runs")
    (first,) = process(Ask(settings), tmp_path, [[verified(CLAMP)]])
    sent = server.chat_requests
    (again,) = process(Ask(settings), tmp_path, [[verified(CLAMP)]])
    assert sent == 1 and server.chat_requests == sent
    assert again.metrics["llm_judge_cache_hits"] == 1
    assert rows(again.kept_path, Verified) == rows(first.kept_path, Verified)
    assert (tmp_path / "runs" / "r" / "llm_cache.sqlite").is_file()  # beside the run, not the stage


def test_a_counted_failure_keeps_the_row(server: OpenAIServer, tmp_path: Path) -> None:
    clamp, median = verified(CLAMP), verified(MEDIAN)
    stage = AskKeeping(llm_settings(server.base_url, tmp_path / "runs"))
    (result,) = process(stage, tmp_path, [[clamp, median]])
    assert result.dropped == {}
    assert result.metrics[f"ask_failed:{errors.REFUSED}"] == 1
    by_id = {r.id: r for r in rows(result.kept_path, Verified)}
    assert by_id[median.id].judge_score is None and by_id[clamp.id].judge_score == 0.8


def test_each_shard_s_rows_carry_only_that_shard_s_calls(server: OpenAIServer, tmp_path: Path) -> None:
    stage = Ask(llm_settings(server.base_url, tmp_path / "runs"))
    (first,) = process(stage, tmp_path, [[verified(CLAMP)]])
    assert stage.llm_provenance is not None
    stage.settings.judge.enabled = False  # the next shard makes no call
    (second,) = process(stage, tmp_path / "off", [[verified(CLAMP)]])
    assert rows(first.kept_path, Verified)[0].llm is not None
    assert rows(second.kept_path, Verified)[0].llm is None
    assert stage.llm_provenance is None and second.metrics == {}


def test_uses_llm_and_the_cache_key_follow_the_prompts_the_stage_names() -> None:
    settings = PipelineSettings()
    off = Ask(settings)
    assert not off.uses_llm() and off.extra_fingerprint() == []
    other_model = settings.model_copy(deep=True)
    other_model.llm.model = "another-model"
    assert Ask(other_model).fingerprint() == off.fingerprint()  # no LLM call: its model is no input

    on_settings = settings.model_copy(deep=True)
    on_settings.judge.enabled = True
    on = Ask(on_settings)
    assert on.uses_llm()
    assert on.extra_fingerprint() == [llm_fingerprint(on_settings.llm, verdicts.PROMPTS)]
    changed = on_settings.model_copy(deep=True)
    changed.llm.model = "another-model"
    assert Ask(changed).fingerprint() != on.fingerprint()
    moved = on_settings.model_copy(deep=True)
    moved.llm.base_url = "http://elsewhere:8000/v1"
    assert Ask(moved).fingerprint() == on.fingerprint()  # where the server runs changes no answer

    # The stage's other inputs stay in the key, before the LLM's part.
    with_other = Ask(on_settings)
    with_other.other = ["index-digest"]
    assert with_other.extra_fingerprint() == ["index-digest", *on.extra_fingerprint()]
    assert with_other.fingerprint() != on.fingerprint()


@pytest.mark.parametrize("stage", [Judge, Summarize, Testgen, Verify])
def test_the_llm_stages_use_the_llm_only_with_their_llm_strategies_on(
    stage: type[LLMStage[Any, Any]],
) -> None:
    settings = PipelineSettings()
    assert not stage(settings).uses_llm() and not stage(settings).llm_prompts()
    settings.enable_llm()
    assert stage(settings).uses_llm()
    assert "uses_llm" not in vars(stage) and "extra_fingerprint" not in vars(stage)
