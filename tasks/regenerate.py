"""The `regenerated` verify candidate: a fresh solution written by the LLM from the kept
instruction alone (the "proper instruction-code pair"), kept only if it reproduces the
original code's outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codemint.llm import strategies
from codemint.llm.errors import LLMError
from codemint.records import Executed
from codemint.tasks.llm_runtime import run_llm

if TYPE_CHECKING:
    from codemint.tasks.verify import Verify


def regenerated_candidates(stage: Verify, records: list[Executed]) -> dict[str, list[tuple[str, str, str]]]:
    """Per record id: (code, model, prompt version) of each regenerated solution."""
    n = max(1, stage.cfg.regenerate_n)
    results = run_llm(
        stage,
        records,
        lambda client, rec: strategies.regenerate(client, rec.instruction, rec.entry_point, rec.signature, n),
    )
    out: dict[str, list[tuple[str, str, str]]] = {}
    for rec, result in zip(records, results, strict=True):
        if isinstance(result, LLMError):
            stage.metrics[f"regenerate_failed:{result.reason}"] += 1
            out[rec.id] = []
        else:
            out[rec.id] = [(code, result.model, result.prompt_version) for code in result.value]
    return out
