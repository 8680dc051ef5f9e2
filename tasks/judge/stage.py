"""Judge (WaveCoder's discriminator, optional): an LLM checks each final pair against written
criteria and records a verdict with reasons; pairs it rejects are dropped with them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from codemint.llm import verdicts
from codemint.llm.errors import LLMError
from codemint.llm.stage import LLMStage
from codemint.records import Rejected, Verified
from codemint.settings import JudgeSettings
from codemint.stage_task import shard_task


class Judge(LLMStage[Verified, Verified]):
    name = "judge"
    input_model = Verified
    output_model = Verified
    settings_field = "judge"

    @property
    def cfg(self) -> JudgeSettings:
        return self.settings.judge

    def llm_prompts(self) -> Sequence[str]:
        return verdicts.PROMPTS if self.cfg.enabled else ()

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        if not self.cfg.enabled:
            yield from records  # the pass is off: rows go through unjudged (judge_passed stays None)
            return
        records = list(records)
        cfg = self.cfg
        results = self.call_llm(lambda client: verdicts.verdicts(client, cfg, records))
        for rec, result in zip(records, results, strict=True):
            if isinstance(result, LLMError):
                yield self.reject_llm_error(rec.id, result, record=rec)
                continue
            verdict = result.value
            judged = rec.model_copy(
                update={
                    "judge_passed": verdict.passed,
                    "judge_score": verdict.score,
                    "judge_reasons": verdict.reasons,
                    "llm_models": sorted({*rec.llm_models, result.model}),
                    "prompt_versions": [*rec.prompt_versions, result.prompt_version],
                    "llm": self.with_llm(rec.llm),
                }
            )
            if not verdict.passed or verdict.score < self.cfg.min_score:
                yield self.reject(
                    rec.id, "judge_rejected", f"score {verdict.score:.2f}: {verdict.reasons}", record=judged
                )
            else:
                yield judged


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Judge)
