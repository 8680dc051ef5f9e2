"""Repair rows: a buggy variant of the original plus a failing test -> the original.

A variant is kept only when the sandbox shows it failing a test and the original passing all
of them (`repair_variants`). Variants come from `codemint.mutants` and, with the LLM
(`exercises.llm_bugs`), from realistic-bug prompts (`codemint.llm.bugs`), under the same rule.
Up to `exercises.repair_per_row` rows per function; one with no variant is counted, not dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from codemint.curation.exercise_export import COMMON_FIELDS, EXERCISE_ROW_SCHEMA, common_record
from codemint.curation.prompts import ANSWER_FORMAT, ANSWER_FORMAT_CONTEXT
from codemint.exercise import DeriveContext, ExerciseKind, exercise_row
from codemint.llm import bugs
from codemint.llm.errors import LLMError
from codemint.prompt_context import fenced
from codemint.records import ExerciseRow, RepairDetail, TestCase, Verified
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.settings import ExercisesSettings, PipelineSettings
from codemint.tasks.derive.repair_variants import (
    BugCandidate,
    mutation_candidates,
    repair_details,
    without_job_module,
)
from codemint.value_text import call_text, result_text

_DETAIL = EXERCISE_ROW_SCHEMA.field("repair").type


def describe_call(
    case: TestCase, entry_point: str, sample_kind: str = "function", class_name: str | None = None
) -> str:
    """The test's call as Python source (never the codec's JSON)."""
    return call_text(case.input, entry_point, sample_kind, class_name)


def expected_text(case: TestCase, sample_kind: str = "function") -> str:
    if case.exception is not None:
        return f"raises `{without_job_module(case.exception)}`"
    return without_job_module(result_text(case.expected or "null", sample_kind))


def repair_prompt(
    buggy_code: str,
    entry_point: str,
    failing: TestCase,
    actual: str,
    sample_kind: str = "function",
    class_name: str | None = None,
) -> str:
    """`actual`: what the buggy code did, already as text (`repair_variants.actual_text`)."""
    method = sample_kind in ("method", "property", "classmethod") and class_name
    what = f"method `{class_name}.{entry_point}`" if method else f"function `{entry_point}`"
    answer = ANSWER_FORMAT_CONTEXT if method else ANSWER_FORMAT
    return (
        f"The Python {what} below has a bug. A test fails:\n\n"
        f"- call: `{describe_call(failing, entry_point, sample_kind, class_name)}`\n"
        f"- expected: {expected_text(failing, sample_kind)}\n"
        f"- actual: {actual}\n\n"
        f"{fenced(buggy_code)}\n\n"
        f"Fix the bug. {answer}"
    )


def repair_row(rec: Verified, detail: RepairDetail) -> ExerciseRow:
    prompt = repair_prompt(
        detail.buggy_code,
        rec.entry_point,
        detail.failing_test,
        detail.actual,
        rec.sample_kind,
        rec.class_name,
    )
    return exercise_row(rec, "repair", prompt, fenced(rec.original_code), detail.buggy_code, repair=detail)


class Repair(ExerciseKind):
    name = "repair"
    rl = True  # the failing test and the rest of the row's tests score a fix
    schema = pa.schema(
        [
            *COMMON_FIELDS,
            pa.field("buggy_code", pa.string()),
            pa.field("fixed_code", pa.string()),
            *(_DETAIL.field(name) for name in ("bug_source", "bug_kind", "bug_description")),
            *(_DETAIL.field(name) for name in ("failing_test", "actual", "tests_failed", "tests_total")),
        ]
    )

    def llm_prompts(self, cfg: ExercisesSettings) -> list[str]:
        return list(bugs.PROMPTS) if cfg.llm_bugs > 0 else []

    def fingerprint(self, settings: PipelineSettings) -> list[Any]:
        # Repair runs code: the limits and the image change which variants are caught.
        return list(result_fingerprint(settings.sandbox))

    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        candidates = {rec.id: mutation_candidates(rec, ctx.cfg) for rec in records}
        if self.llm_prompts(ctx.cfg) and records:
            for rec, found in zip(records, self._llm_bugs(ctx, records), strict=True):
                have = {c.code for c in candidates[rec.id]}
                fresh = [c for c in found if c.code not in have]  # a mutant the model also wrote
                ctx.metrics["llm_bugs_same_as_a_mutant"] += len(found) - len(fresh)
                candidates[rec.id].extend(fresh)
        sandbox = shared_sandbox(ctx.settings.sandbox)
        details, counts = repair_details(
            list(records),
            candidates,
            sandbox,
            ctx.settings.sandbox.limits,
            ctx.cfg.repair_per_row,
            ctx.settings.sandbox,
            screen=ctx.cfg.repair_screen,
            failing_only=ctx.cfg.repair_confirm_failing,
        )
        for key, n in counts.items():
            ctx.metrics[f"repair_variants_{key}"] += n
        out: dict[str, list[ExerciseRow]] = {}
        for rec in records:
            kept = details.get(rec.id, [])
            if not kept:
                ctx.metrics["repair_no_variant"] += 1
                continue
            for detail in kept:
                ctx.metrics[f"repair_kind:{detail.bug_kind}"] += 1
            out[rec.id] = [repair_row(rec, detail) for detail in kept]
        return out

    def _llm_bugs(self, ctx: DeriveContext, records: Sequence[Verified]) -> list[list[BugCandidate]]:
        """Per record, the LLM's realistic bugs (none where it failed; counted)."""
        cfg = ctx.cfg
        results = ctx.call_llm(lambda client: bugs.realistic_bugs(client, cfg, records))
        out: list[list[BugCandidate]] = []
        for result in results:
            if isinstance(result, LLMError):
                ctx.metrics[f"llm_bugs_failed:{result.reason}"] += 1
                out.append([])
                continue
            # Ordered after every mutant: on equal difficulty a mutant's clean one-node change wins.
            out.append(
                [
                    BugCandidate(b.code, "llm", b.kind, b.description, 10_000 + i)
                    for i, b in enumerate(result.value)
                ]
            )
        return out

    def record(self, row: ExerciseRow) -> dict[str, Any]:
        if row.repair is None:
            raise ValueError(f"repair row {row.exercise_id} of {row.id} has no repair detail")
        detail = row.repair.model_dump()
        return common_record(row) | {
            "buggy_code": detail.pop("buggy_code"),
            "fixed_code": row.original_code,
            **detail,
        }
