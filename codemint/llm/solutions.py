"""Regenerated solutions (verify candidate `regenerated`): fresh code written by the LLM from
the kept instruction and the context code its prompt shows (as a trainee sees the row); the
verify stage keeps one only if it reproduces the original."""

from __future__ import annotations

from collections.abc import Sequence

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import per_item
from codemint.llm.strategies import LLMResult
from codemint.prompt_context import with_context
from codemint.records import Executed
from codemint.settings import VerifySettings

PROMPTS = ("regenerate",)


async def regenerated(
    client: LLMClient, cfg: VerifySettings, records: Sequence[Executed]
) -> list[LLMResult[list[str]] | LLMError]:
    """Per record, up to `cfg.regenerate_n` distinct solutions, or the reason there are none."""
    n = max(1, cfg.regenerate_n)
    return await per_item(
        records,
        lambda rec: strategies.regenerate(
            client, with_context(rec.instruction, rec.context_code), rec.entry_point, rec.signature, n
        ),
    )
