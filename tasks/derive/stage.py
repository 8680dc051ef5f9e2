"""Derive: the training rows of every task from each exported (selected) verified row.

- generation: the instruction -> the verified code (today's pair);
- summarization: the code, docstrings stripped -> its own docstring or comment (doctest
  examples whose output the code does not show cut) or its LLM-written instruction (with the
  self-evaluation score on the row); none for words that are not this function's own (the
  data model's, a base method's, example calls): see `derive_summary`;
- repair: a buggy variant of the original plus a failing test -> the original, kept only
  when the sandbox shows the variant failing a test and the original passing all of them
  (see `derive_repair`). Variants come from `codemint.mutants` and, with the LLM
  (`tasks.llm_bugs`), from realistic-bug prompts (`codemint.llm.bugs`), under the same rule;
- translation (LLM): the function in JavaScript, kept only when Node in the sandbox runs it
  through the row's tests (those with a JSON form) and it passes all of them (see
  `derive_translation`).

Each task is a setting (`tasks.kinds`). One input row gives one row per task and up to
`tasks.repair_per_row` repair rows; a row that yields no repair variant or no translation is
not dropped (it still has its other tasks), it is counted in the metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from codemint.curation.export import generation_task_row
from codemint.curation.task_prompts import fenced, repair_prompt, summarization_prompt, translation_prompt
from codemint.jsmap import JsTest
from codemint.llm import bugs, translate
from codemint.llm.codetext import strip_docstrings
from codemint.llm.errors import LLMError
from codemint.llm.runtime import cache_path, llm_fingerprint, run_llm
from codemint.llm.strategies import LLMResult
from codemint.records import (
    Rejected,
    RepairDetail,
    SummaryDetail,
    TaskRow,
    TranslationDetail,
    Verified,
    content_id,
)
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.images import image_identity
from codemint.sandbox.node_image import node_sandbox_settings
from codemint.settings import SandboxSettings, TasksSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task
from codemint.tasks.derive import translation
from codemint.tasks.derive.repair import BugCandidate, mutation_candidates, repair_details
from codemint.tasks.derive.summary import summary_target


def task_row(rec: Verified, task: str, prompt: str, response: str, key: str = "", **extra: Any) -> TaskRow:
    return TaskRow(
        **rec.model_dump(),
        task=task,
        task_id=content_id(f"{task}:{rec.id}:{key}"),
        prompt=prompt,
        response=response,
        **extra,
    )


def summarization_row(rec: Verified, own_words: bool = True) -> tuple[TaskRow, int] | str:
    """The row, or why there is none: the code does not parse (it cannot be shown without its
    answer), or it has no words of its own to summarize (`derive_summary.summary_target`)."""
    try:
        code = strip_docstrings(rec.candidate_code)
    except (SyntaxError, ValueError):
        return "unparsable"
    found = summary_target(
        rec.instruction_source, rec.docstring, rec.comment, rec.instruction, code, own_words
    )
    if isinstance(found, str):
        return found
    prompt = summarization_prompt(code, rec.entry_point, found.target)
    detail = SummaryDetail(code=code, target=found.target)
    return task_row(rec, "summarization", prompt, found.text, summary=detail), found.examples_cut


def repair_row(rec: Verified, detail: RepairDetail) -> TaskRow:
    prompt = repair_prompt(
        detail.buggy_code,
        rec.entry_point,
        detail.failing_test,
        detail.actual,
        rec.sample_kind,
        rec.class_name,
    )
    return task_row(rec, "repair", prompt, fenced(rec.original_code), detail.buggy_code, repair=detail)


def translation_row(rec: Verified, detail: TranslationDetail) -> TaskRow:
    prompt = translation_prompt(rec.original_code, rec.entry_point)
    response = fenced(detail.code, detail.language)
    return task_row(rec, "translation", prompt, response, detail.language, translation=detail)


class Derive(Stage[Verified, TaskRow]):
    name = "derive"
    input_model = Verified
    output_model = TaskRow
    settings_field = "tasks"

    @property
    def cfg(self) -> TasksSettings:
        return self.settings.tasks

    def uses_llm(self) -> bool:
        return self._llm_bugs_on() or "translation" in self.cfg.kinds

    def _llm_bugs_on(self) -> bool:
        return "repair" in self.cfg.kinds and self.cfg.llm_bugs > 0

    @functools.cached_property
    def node_settings(self) -> SandboxSettings | None:
        """The sandbox with Node (built on first use); None for the local backend."""
        return node_sandbox_settings(self.settings.sandbox)

    def extra_fingerprint(self) -> list[Any]:
        parts: list[Any] = []
        if "repair" in self.cfg.kinds:
            # Repair runs code: the limits and the image change which variants are caught.
            parts += result_fingerprint(self.settings.sandbox)
        if self._llm_bugs_on():
            parts.append(llm_fingerprint(self.settings.llm, bugs.PROMPTS))
        if "translation" in self.cfg.kinds:
            node = self.node_settings
            parts += [result_fingerprint(node) if node else "no-node"]
            parts.append(llm_fingerprint(self.settings.llm, translate.PROMPTS))
        return parts

    def run(self, records: Iterable[Verified]) -> Iterator[TaskRow | Rejected]:
        records = list(records)
        repairs: dict[str, list[RepairDetail]] = {}
        if "repair" in self.cfg.kinds:
            repairs = self._repairs(records)
        translations: dict[str, TranslationDetail] = {}
        if "translation" in self.cfg.kinds:
            translations = self._translations(records)
        for rec in records:
            if "generation" in self.cfg.kinds:
                yield generation_task_row(rec)
            if "summarization" in self.cfg.kinds:
                made = summarization_row(rec, self.cfg.summary_own_words)
                if isinstance(made, str):
                    self.metrics[f"summarization_skipped:{made}"] += 1
                else:
                    row, cut = made
                    if cut:
                        self.metrics["summarization_doctests_cut"] += cut
                    yield row
            for detail in repairs.get(rec.id, []):
                self.metrics[f"repair_kind:{detail.bug_kind}"] += 1
                yield repair_row(rec, detail)
            if "repair" in self.cfg.kinds and not repairs.get(rec.id):
                self.metrics["repair_no_variant"] += 1
            if rec.id in translations:
                self.metrics["translation_kept"] += 1
                yield translation_row(rec, translations[rec.id])

    def _repairs(self, records: list[Verified]) -> dict[str, list[RepairDetail]]:
        candidates = {rec.id: mutation_candidates(rec, self.cfg) for rec in records}
        if self._llm_bugs_on() and records:
            for rec, found in zip(records, self._llm_bugs(records), strict=True):
                have = {c.code for c in candidates[rec.id]}
                fresh = [c for c in found if c.code not in have]  # a mutant the model also wrote
                self.metrics["llm_bugs_same_as_a_mutant"] += len(found) - len(fresh)
                candidates[rec.id].extend(fresh)
        sandbox = shared_sandbox(self.settings.sandbox)
        details, counts = repair_details(
            records,
            candidates,
            sandbox,
            self.settings.sandbox.limits,
            self.cfg.repair_per_row,
            self.settings.sandbox,
        )
        for key, n in counts.items():
            self.metrics[f"repair_variants_{key}"] += n
        return details

    def _llm_bugs(self, records: list[Verified]) -> list[list[BugCandidate]]:
        """Per record, the LLM's realistic bugs (none where it failed; counted)."""
        assert self.run_dir is not None, "called from process_shard"
        cfg = self.cfg
        results, usage = run_llm(
            self.settings.llm,
            cache_path(self.run_dir),
            lambda client: bugs.realistic_bugs(client, cfg, records),
        )
        self.metrics.update(usage)
        out: list[list[BugCandidate]] = []
        for result in results:
            if isinstance(result, LLMError):
                self.metrics[f"llm_bugs_failed:{result.reason}"] += 1
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

    def _translatable(self, records: list[Verified]) -> list[tuple[Verified, list[JsTest], int]]:
        """The records a translation can be checked for, with their runnable tests and how many
        were skipped; the others counted by reason."""
        out: list[tuple[Verified, list[JsTest], int]] = []
        for rec in records:
            if rec.sample_kind != "function":
                self.metrics["translation_skipped:method_sample"] += 1
                continue
            if rec.entry_point in translation.JS_RESERVED:
                self.metrics["translation_skipped:reserved_name"] += 1
                continue
            tests, skipped = translation.runnable_tests(rec)
            for reason, n in skipped.items():
                self.metrics[f"translation_tests_not_run:{reason}"] += n
            if len(tests) < self.cfg.translation_min_tests:
                self.metrics["translation_skipped:too_few_json_tests"] += 1
                continue
            out.append((rec, tests, sum(skipped.values())))
        return out

    def _translations(self, records: list[Verified]) -> dict[str, TranslationDetail]:
        """Per record id, the first of the LLM's translations that passes the row's tests."""
        assert self.run_dir is not None, "called from process_shard"
        node = self.node_settings
        if node is None:
            self.metrics["translation_skipped:no_node_sandbox"] += len(records)
            return {}
        chosen = self._translatable(records)
        if not chosen:
            return {}
        cfg = self.cfg
        results, usage = run_llm(
            self.settings.llm,
            cache_path(self.run_dir),
            lambda client: translate.javascript_translations(client, cfg, [rec for rec, _, _ in chosen]),
        )
        self.metrics.update(usage)
        jobs: list[tuple[str, str, str, list[JsTest]]] = []
        owners: list[tuple[Verified, int, LLMResult[list[str]]]] = []
        for (rec, tests, skipped), result in zip(chosen, results, strict=True):
            if isinstance(result, LLMError):
                self.metrics[f"translation_llm_failed:{result.reason}"] += 1
                continue
            for i, code in enumerate(result.value):
                jobs.append((f"{rec.id}:js{i}", code, rec.entry_point, tests))
                owners.append((rec, skipped, result))
        verdicts = translation.check_translations(shared_sandbox(node), node.limits, jobs)
        runtime = image_identity(node)
        out: dict[str, TranslationDetail] = {}
        for (rec, skipped, result), job, verdict in zip(owners, jobs, verdicts, strict=True):
            self.metrics[f"translation_candidates:{verdict.reason}"] += 1
            if verdict.passed and rec.id not in out:
                out[rec.id] = TranslationDetail(
                    language=translation.LANGUAGE,
                    code=job[1],
                    tests_run=verdict.tests_passed,
                    tests_skipped=skipped,
                    runtime=runtime,
                    model=result.model,
                    prompt_version=result.prompt_version,
                )
        return out


shard = shard_task(Derive)
