"""Instructions for functions (Inverse-Instruct): candidates summarized from the code alone,
each scored by the model's own yes/no judgement; the best one per function is returned.

The raw P(yes) is not a score: a model biased toward "yes" says yes to gibberish too (a
random model scored about 0.70). The score is calibrated against a baseline, the same
instruction shown with ANOTHER function's code: `sigmoid(logit(P(yes | own code)) -
logit(P(yes | other code)))`. It is 0.5 when the model cannot tell the two apart and tends
to 1 when the instruction fits its own code only. The other code is the next record of the
shard by id (a fixed unrelated function when the shard has one record), so the choice is
deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import per_item
from codemint.records import Function
from codemint.settings import SummarizeSettings

PROMPTS = ("summarize", "self_evaluate")

# The baseline when a shard has a single function: code no instruction should describe.
FALLBACK_BASELINE = (
    "def interleave_checksum(blocks, width=7):\n"
    "    total = 0\n"
    "    for i, block in enumerate(blocks):\n"
    "        total = (total * 31 + len(block) * (i % width)) % 65521\n"
    "    return total\n"
)
_P_CLIP = 1e-3  # a yes/no read from text is 1.0 or 0.0: keep the logits finite


@dataclass(frozen=True)
class Best:
    instruction: str
    score: float  # calibrated (or the raw P(yes) when calibration is off)
    p_yes: float  # P(yes | instruction, own code)
    p_yes_baseline: float | None  # P(yes | instruction, another function's code)
    model: str
    prompt_version: str


def _logit(p: float) -> float:
    p = min(1.0 - _P_CLIP, max(_P_CLIP, p))
    return math.log(p / (1.0 - p))


def calibrated(p_own: float, p_baseline: float) -> float:
    return 1.0 / (1.0 + math.exp(-(_logit(p_own) - _logit(p_baseline))))


async def best_instruction(
    client: LLMClient, cfg: SummarizeSettings, rec: Function, baseline_code: str | None
) -> Best:
    found = await strategies.summarize(client, rec.code, rec.entry_point, cfg.candidates)
    scored: list[tuple[float, str, float, float | None, str]] = []
    for text in found.value:
        own = await strategies.self_evaluate(client, rec.code, text)
        if baseline_code is None:
            scored.append((own.value, text, own.value, None, own.prompt_version))
            continue
        other = await strategies.self_evaluate(client, baseline_code, text)
        score = calibrated(own.value, other.value)
        scored.append((score, text, own.value, other.value, own.prompt_version))
    score, text, p_own, p_base, eval_version = max(scored, key=lambda t: (t[0], -len(t[1])))
    return Best(text, score, p_own, p_base, found.model, f"{found.prompt_version}+{eval_version}")


def baselines(records: Sequence[Function]) -> dict[str, str]:
    """Per record id, the code it is contrasted with: the next record by id, wrapping around."""
    ordered = sorted(records, key=lambda r: r.id)
    if len(ordered) < 2:
        return {r.id: FALLBACK_BASELINE for r in ordered}
    return {rec.id: ordered[(i + 1) % len(ordered)].code for i, rec in enumerate(ordered)}


async def best_instructions(
    client: LLMClient, cfg: SummarizeSettings, records: Sequence[Function]
) -> list[Best | LLMError]:
    """Per record, its best instruction or the reason it has none."""
    other = baselines(records) if cfg.calibrate else {}
    return await per_item(records, lambda rec: best_instruction(client, cfg, rec, other.get(rec.id)))
