"""The LLM test-input strategies: inputs proposed as JSON (`llm`), and an input-generator
function the sandbox runs to produce many small inputs (`llm_generator`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from codemint.codec import decode_value, encode_input
from codemint.llm import strategies
from codemint.llm.errors import LLMError
from codemint.records import Instructed
from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.tasks.llm_runtime import run_llm

if TYPE_CHECKING:
    from codemint.tasks.testgen import Testgen

NO_ARGS = '{"args":[],"kwargs":{}}'


def generated_inputs(result_json: str | None, cap: int, max_chars: int) -> list[str]:
    """Inputs from what `generate_inputs()` returned: well-formed, small, distinct, capped."""
    if result_json is None:
        return []
    try:
        items = decode_value(json.loads(result_json))
    except (ValueError, TypeError):
        return []
    out: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("args", []), list | tuple):
            continue
        kwargs = item.get("kwargs", {})
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            continue
        try:
            text = encode_input(list(item.get("args", [])), kwargs)
        except (TypeError, ValueError, RecursionError):
            continue
        if len(text) <= max_chars and '"__repr__"' not in text and text not in out:
            out.append(text)
        if len(out) >= cap:
            break
    return out


def llm_inputs(stage: Testgen, records: list[Instructed]) -> dict[str, list[tuple[str, str]]]:
    """Encoded inputs with their source per record id; a failed sample just gets none."""
    cfg = stage.cfg
    out: dict[str, list[tuple[str, str]]] = {rec.id: [] for rec in records}
    # Each LLM strategy gets up to a third of the cap; offline inputs fill the rest.
    k = max(1, cfg.max_inputs // 3)
    if "llm" in cfg.strategies:
        proposed = run_llm(
            stage,
            records,
            lambda client, rec: strategies.propose_inputs(
                client, rec.code, rec.entry_point, rec.signature, k
            ),
        )
        for rec, result in zip(records, proposed, strict=True):
            if isinstance(result, LLMError):
                stage.metrics[f"llm_inputs_failed:{result.reason}"] += 1
                continue
            out[rec.id].extend((text, "llm") for text in result.value)
    if "llm_generator" in cfg.strategies:
        sources = run_llm(
            stage,
            records,
            lambda client, rec: strategies.write_input_generator(
                client, rec.code, rec.entry_point, rec.signature
            ),
        )
        jobs: list[ExecJob] = []
        owners: list[Instructed] = []
        for rec, source in zip(records, sources, strict=True):
            if isinstance(source, LLMError):
                stage.metrics[f"llm_generator_failed:{source.reason}"] += 1
                continue
            jobs.append(
                ExecJob(
                    job_id=f"{rec.id}#gen",
                    code=source.value,
                    entry_point=strategies.GENERATOR_NAME,
                    inputs=[NO_ARGS],
                    limits=stage.settings.sandbox.limits,
                )
            )
            owners.append(rec)
        # The generator is LLM-written code: it runs in the sandbox like everything else.
        results = shared_sandbox(stage.settings.sandbox).run_batch(jobs) if jobs else []
        for rec, run in zip(owners, results, strict=True):
            outcome = run.outcomes[0] if run.outcomes else None
            texts = generated_inputs(
                outcome.result if outcome and outcome.status == "ok" else None, k, cfg.max_input_chars
            )
            stage.metrics["llm_generator_ok" if texts else "llm_generator_no_inputs"] += 1
            out[rec.id].extend((text, "llm_generator") for text in texts)
    return out


def llm_stage_inputs(stage: Any) -> list[str]:
    names = []
    if "llm" in stage.cfg.strategies:
        names.append("propose_inputs")
    if "llm_generator" in stage.cfg.strategies:
        names.append("input_generator")
    return names
