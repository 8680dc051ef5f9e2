"""Translation rows (LLM): the function in JavaScript, kept only when Node in the sandbox runs
it through the row's tests (those with a JSON form) and it passes all of them (`javascript`).
Translations of weak rows are withheld from the config: weak tests are all that checked them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from codemint.curation.exercise_export import COMMON_FIELDS, EXERCISE_ROW_SCHEMA, common_record
from codemint.exercise import DeriveContext, ExerciseKind, exercise_row
from codemint.jsmap import JsTest
from codemint.llm import translate
from codemint.llm.errors import LLMError
from codemint.llm.strategies import LLMResult
from codemint.prompt_context import fenced
from codemint.records import ExerciseRow, TranslationDetail, Verified
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.images import image_identity
from codemint.sandbox.node_image import node_sandbox_settings
from codemint.settings import ExercisesSettings, PipelineSettings, SandboxSettings
from codemint.tasks.derive import javascript

_DETAIL = EXERCISE_ROW_SCHEMA.field("translation").type


def translation_prompt(code: str, entry_point: str, language: str = "JavaScript") -> str:
    return (
        f"Translate the Python function `{entry_point}` below into {language}. Keep its name "
        "and parameters; it must return the same results on the same arguments.\n\n"
        f"{fenced(code)}\n\n"
        f"Answer with the complete function in one ```{language.lower()} code block."
    )


def translation_row(rec: Verified, detail: TranslationDetail) -> ExerciseRow:
    prompt = translation_prompt(rec.original_code, rec.entry_point)
    response = fenced(detail.code, detail.language)
    return exercise_row(rec, "translation", prompt, response, detail.language, translation=detail)


_NODE: dict[str, SandboxSettings | None] = {}


def node_settings(sandbox: SandboxSettings) -> SandboxSettings | None:
    """The sandbox with Node (built on first use, then remembered per settings); None for the
    local backend."""
    key = sandbox.model_dump_json()
    if key not in _NODE:
        _NODE[key] = node_sandbox_settings(sandbox)
    return _NODE[key]


class Translation(ExerciseKind):
    name = "translation"
    schema = pa.schema(
        [
            *COMMON_FIELDS,
            pa.field("source_code", pa.string()),
            pa.field("language", pa.string()),
            pa.field("translated_code", pa.string()),
            *(
                _DETAIL.field(name)
                for name in ("tests_run", "tests_skipped", "runtime", "model", "prompt_version")
            ),
        ]
    )

    def llm_prompts(self, cfg: ExercisesSettings) -> list[str]:
        return list(translate.PROMPTS)

    def fingerprint(self, settings: PipelineSettings) -> list[Any]:
        node = node_settings(settings.sandbox)
        return [result_fingerprint(node) if node else "no-node"]

    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        found = self._translations(ctx, records)
        ctx.metrics["translation_kept"] += len(found)
        return {rec.id: [translation_row(rec, found[rec.id])] for rec in records if rec.id in found}

    def exported(self, row: ExerciseRow) -> bool:
        return row.adequate is not False

    def record(self, row: ExerciseRow) -> dict[str, Any]:
        if row.translation is None:
            raise ValueError(f"translation row {row.exercise_id} of {row.id} has no translation detail")
        t = row.translation
        return common_record(row) | {
            "source_code": row.original_code,
            "language": t.language,
            "translated_code": t.code,
            "tests_run": t.tests_run,
            "tests_skipped": t.tests_skipped,
            "runtime": t.runtime,
            "model": t.model,
            "prompt_version": t.prompt_version,
        }

    def _translatable(
        self, ctx: DeriveContext, records: Sequence[Verified]
    ) -> list[tuple[Verified, list[JsTest], int]]:
        """The records a translation can be checked for, with their runnable tests and how many
        were skipped; the others counted by reason."""
        out: list[tuple[Verified, list[JsTest], int]] = []
        for rec in records:
            if rec.sample_kind != "function":
                ctx.metrics["translation_skipped:method_sample"] += 1
                continue
            if rec.entry_point in javascript.JS_RESERVED:
                ctx.metrics["translation_skipped:reserved_name"] += 1
                continue
            tests, skipped = javascript.runnable_tests(rec)
            for reason, n in skipped.items():
                ctx.metrics[f"translation_tests_not_run:{reason}"] += n
            if len(tests) < ctx.cfg.translation_min_tests:
                ctx.metrics["translation_skipped:too_few_json_tests"] += 1
                continue
            out.append((rec, tests, sum(skipped.values())))
        return out

    def _translations(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, TranslationDetail]:
        """Per record id, the first of the LLM's translations that passes the row's tests."""
        node = node_settings(ctx.settings.sandbox)
        if node is None:
            ctx.metrics["translation_skipped:no_node_sandbox"] += len(records)
            return {}
        chosen = self._translatable(ctx, records)
        if not chosen:
            return {}
        cfg = ctx.cfg
        results = ctx.call_llm(
            lambda client: translate.javascript_translations(client, cfg, [rec for rec, _, _ in chosen])
        )
        jobs: list[tuple[str, str, str, list[JsTest]]] = []
        owners: list[tuple[Verified, int, LLMResult[list[str]]]] = []
        for (rec, tests, skipped), result in zip(chosen, results, strict=True):
            if isinstance(result, LLMError):
                ctx.metrics[f"translation_llm_failed:{result.reason}"] += 1
                continue
            for i, code in enumerate(result.value):
                jobs.append((f"{rec.id}:js{i}", code, rec.entry_point, tests))
                owners.append((rec, skipped, result))
        verdicts = javascript.check_translations(shared_sandbox(node), node.limits, jobs)
        runtime = image_identity(node)
        out: dict[str, TranslationDetail] = {}
        for (rec, skipped, result), job, verdict in zip(owners, jobs, verdicts, strict=True):
            ctx.metrics[f"translation_candidates:{verdict.reason}"] += 1
            if verdict.passed and rec.id not in out:
                out[rec.id] = TranslationDetail(
                    language=javascript.LANGUAGE,
                    code=job[1],
                    tests_run=verdict.tests_passed,
                    tests_skipped=skipped,
                    runtime=runtime,
                    model=result.model,
                    prompt_version=result.prompt_version,
                )
        return out
