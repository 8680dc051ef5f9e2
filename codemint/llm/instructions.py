"""Instructions for functions (Inverse-Instruct): candidates summarized from the code alone,
each scored by the model's own yes/no judgement; the best one per function is returned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import per_item
from codemint.records import Function
from codemint.settings import SummarizeSettings

PROMPTS = ("summarize", "self_evaluate")


@dataclass(frozen=True)
class Best:
    instruction: str
    score: float
    model: str
    prompt_version: str


async def best_instruction(client: LLMClient, cfg: SummarizeSettings, rec: Function) -> Best:
    found = await strategies.summarize(client, rec.code, rec.entry_point, cfg.candidates)
    scored = []
    for text in found.value:
        score = await strategies.self_evaluate(client, rec.code, text)
        scored.append((score.value, text, score.prompt_version))
    value, text, eval_version = max(scored, key=lambda t: (t[0], -len(t[1])))
    return Best(text, value, found.model, f"{found.prompt_version}+{eval_version}")


async def best_instructions(
    client: LLMClient, cfg: SummarizeSettings, records: Sequence[Function]
) -> list[Best | LLMError]:
    """Per record, its best instruction or the reason it has none."""
    return await per_item(records, lambda rec: best_instruction(client, cfg, rec))
