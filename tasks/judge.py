"""Judge (WaveCoder's discriminator, optional): an LLM checks each final pair against written
criteria and records a verdict with reasons; pairs it rejects are dropped with them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemint.llm import strategies
from codemint.llm.errors import LLMError
from codemint.records import Rejected, Verified
from codemint.settings import JudgeSettings
from codemint.stage import Stage
from codemint.tasks.llm_runtime import llm_fingerprint, run_llm


class Judge(Stage[Verified, Verified]):
    name = "judge"
    input_model = Verified
    output_model = Verified
    settings_field = "judge"

    @property
    def cfg(self) -> JudgeSettings:
        return self.settings.judge

    def extra_fingerprint(self) -> list[Any]:
        return [llm_fingerprint(self.settings, ["judge"])] if self.cfg.enabled else []

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        if not self.cfg.enabled:
            yield from records  # the pass is off: rows go through unjudged (judge_passed stays None)
            return
        records = list(records)
        verdicts = run_llm(
            self, records, lambda client, rec: strategies.judge(client, rec.instruction, rec.candidate_code)
        )
        for rec, result in zip(records, verdicts, strict=True):
            if isinstance(result, LLMError):
                yield self.reject(rec.id, result.reason, str(result), record=rec)
                continue
            verdict = result.value
            judged = rec.model_copy(
                update={
                    "judge_passed": verdict.passed,
                    "judge_score": verdict.score,
                    "judge_reasons": verdict.reasons,
                    "llm_models": sorted({*rec.llm_models, result.model}),
                    "prompt_versions": [*rec.prompt_versions, result.prompt_version],
                }
            )
            if not verdict.passed or verdict.score < self.cfg.min_score:
                yield self.reject(
                    rec.id, "judge_rejected", f"score {verdict.score:.2f}: {verdict.reasons}", record=judged
                )
            else:
                yield judged
