"""The `llm` summarize strategy (Inverse-Instruct): instruction candidates summarized from
the code alone, each scored by the model's own yes/no judgement; the best one is kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.records import Function, Instructed, Rejected
from codemint.tasks.llm_runtime import run_llm

if TYPE_CHECKING:
    from codemint.tasks.summarize import Summarize


@dataclass
class Best:
    instruction: str
    score: float
    model: str
    prompt_version: str


async def best_instruction(client: LLMClient, rec: Function, candidates: int) -> Best:
    found = await strategies.summarize(client, rec.code, rec.entry_point, candidates)
    scored = []
    for text in found.value:
        score = await strategies.self_evaluate(client, rec.code, text)
        scored.append((score.value, text, score.prompt_version))
    value, text, eval_version = max(scored, key=lambda t: (t[0], -len(t[1])))
    return Best(text, value, found.model, f"{found.prompt_version}+{eval_version}")


def summarize_with_llm(stage: Summarize, records: list[Function]) -> Iterator[Instructed | Rejected]:
    cfg = stage.cfg
    results = run_llm(stage, records, lambda client, rec: best_instruction(client, rec, cfg.candidates))
    for rec, result in zip(records, results, strict=True):
        if isinstance(result, LLMError):
            yield stage.reject(rec.id, result.reason, str(result), record=rec)
        elif result.score < cfg.min_score:
            yield stage.reject(
                rec.id, "low_instruction_score", f"best self-evaluation {result.score:.2f}", record=rec
            )
        else:
            yield Instructed(
                **rec.model_dump(),
                instruction=result.instruction,
                instruction_source="llm",
                instruction_score=result.score,
                llm_model=result.model,
                prompt_version=result.prompt_version,
            )
