"""Test inputs from the LLM: inputs proposed as JSON (testgen strategy `llm`), and the source
of an input-generator function (`llm_generator`) that the stage runs in the sandbox."""

from __future__ import annotations

from collections.abc import Sequence

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import per_item
from codemint.llm.strategies import LLMResult
from codemint.records import Instructed
from codemint.settings import TestgenSettings

PROMPT_OF_STRATEGY = {
    "llm": "propose_inputs",
    "llm_generator": "input_generator",
    "llm_mutants": "kill_mutants",
}


def prompt_names(cfg: TestgenSettings) -> list[str]:
    """The prompts the configured LLM strategies use (none when only offline ones are on)."""
    return [prompt for strategy, prompt in PROMPT_OF_STRATEGY.items() if strategy in cfg.strategies]


def share_per_strategy(cfg: TestgenSettings) -> int:
    """Each LLM strategy gets up to a third of the cap; offline inputs fill the rest."""
    return max(1, cfg.max_inputs // 3)


async def proposed_inputs(
    client: LLMClient, cfg: TestgenSettings, records: Sequence[Instructed]
) -> list[LLMResult[list[str]] | LLMError]:
    """Per record, encoded inputs (`{"args": [...], "kwargs": {...}}` text) or the reason."""
    k = share_per_strategy(cfg)
    return await per_item(
        records, lambda rec: strategies.propose_inputs(client, rec.code, rec.entry_point, rec.signature, k)
    )


async def input_generators(
    client: LLMClient, cfg: TestgenSettings, records: Sequence[Instructed]
) -> list[LLMResult[str] | LLMError]:
    """Per record, the source of `generate_inputs()` (to run in the sandbox) or the reason."""
    del cfg  # the generator prompt takes nothing from the settings today
    return await per_item(
        records,
        lambda rec: strategies.write_input_generator(client, rec.code, rec.entry_point, rec.signature),
    )


async def mutant_killing_inputs(
    client: LLMClient, cfg: TestgenSettings, requests: Sequence[tuple[Instructed, list[str]]]
) -> list[LLMResult[list[str]] | LLMError]:
    """Per (record, diffs of the mutants its inputs miss), inputs meant to tell them apart."""
    return await per_item(
        requests,
        lambda req: strategies.propose_killing_inputs(
            client, req[0].original_code, req[0].entry_point, req[0].signature, req[1], cfg.llm_mutants_inputs
        ),
    )
