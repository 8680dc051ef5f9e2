"""Verdicts of the judge (WaveCoder's discriminator) on final (instruction, code) pairs."""

from __future__ import annotations

from collections.abc import Sequence

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import per_item
from codemint.llm.strategies import LLMResult, Verdict
from codemint.records import Verified
from codemint.settings import JudgeSettings

PROMPTS = ("judge",)


async def verdicts(
    client: LLMClient, cfg: JudgeSettings, records: Sequence[Verified]
) -> list[LLMResult[Verdict] | LLMError]:
    """Per record, the judge's verdict or the reason it has none; `cfg.min_score` is the stage's."""
    del cfg
    return await per_item(records, lambda rec: strategies.judge(client, rec.instruction, rec.candidate_code))
