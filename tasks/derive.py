"""Derive: the training rows of every task from each exported (selected) verified row.

- generation: the instruction -> the verified code (today's pair);
- summarization: the code, docstrings stripped -> its docstring (docstring-sourced rows) or
  its instruction (LLM-written, with the self-evaluation score on the row);
- repair: a buggy variant of the original plus a failing test -> the original, kept only
  when the sandbox shows the variant failing a test and the original passing all of them
  (see `derive_repair`). Variants come from `codemint.mutants` and, with the LLM
  (`tasks.llm_bugs`), from realistic-bug prompts (`codemint.llm.bugs`), under the same rule.

Each task is a setting (`tasks.kinds`). One input row gives one row per task and up to
`tasks.repair_per_row` repair rows; a row that yields no repair variant is not dropped (it
still has its other tasks), it is counted in the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemint.curation.export import generation_task_row
from codemint.curation.task_prompts import fenced, repair_prompt, summarization_prompt
from codemint.llm import bugs
from codemint.llm.codetext import strip_docstrings
from codemint.llm.errors import LLMError
from codemint.llm.runtime import cache_path, llm_fingerprint, run_llm
from codemint.records import Rejected, RepairDetail, SummaryDetail, TaskRow, Verified, content_id
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.settings import TasksSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task
from codemint.tasks.derive_repair import BugCandidate, mutation_candidates, repair_details


def task_row(rec: Verified, task: str, prompt: str, response: str, key: str = "", **extra: Any) -> TaskRow:
    return TaskRow(
        **rec.model_dump(),
        task=task,
        task_id=content_id(f"{task}:{rec.id}:{key}"),
        prompt=prompt,
        response=response,
        **extra,
    )


def summarization_row(rec: Verified) -> TaskRow | None:
    """None when the code cannot be shown without its answer (it does not parse)."""
    try:
        code = strip_docstrings(rec.candidate_code)
    except (SyntaxError, ValueError):
        return None
    doc = (rec.docstring or "").strip()
    if rec.instruction_source == "docstring" and doc:
        target, response = "docstring", doc
    else:
        target, response = "instruction", rec.instruction.strip()
    prompt = summarization_prompt(code, rec.entry_point, target)
    return task_row(rec, "summarization", prompt, response, summary=SummaryDetail(code=code, target=target))


def repair_row(rec: Verified, detail: RepairDetail) -> TaskRow:
    prompt = repair_prompt(detail.buggy_code, rec.entry_point, detail.failing_test, detail.actual)
    return task_row(rec, "repair", prompt, fenced(rec.original_code), detail.buggy_code, repair=detail)


class Derive(Stage[Verified, TaskRow]):
    name = "derive"
    input_model = Verified
    output_model = TaskRow
    settings_field = "tasks"

    @property
    def cfg(self) -> TasksSettings:
        return self.settings.tasks

    def uses_llm(self) -> bool:
        return "repair" in self.cfg.kinds and self.cfg.llm_bugs > 0

    def extra_fingerprint(self) -> list[Any]:
        if "repair" not in self.cfg.kinds:
            return []
        # Repair runs code: the limits and the image change which variants are caught.
        parts: list[Any] = result_fingerprint(self.settings.sandbox)
        if self.uses_llm():
            parts.append(llm_fingerprint(self.settings.llm, bugs.PROMPTS))
        return parts

    def run(self, records: Iterable[Verified]) -> Iterator[TaskRow | Rejected]:
        records = list(records)
        repairs: dict[str, list[RepairDetail]] = {}
        if "repair" in self.cfg.kinds:
            repairs = self._repairs(records)
        for rec in records:
            if "generation" in self.cfg.kinds:
                yield generation_task_row(rec)
            if "summarization" in self.cfg.kinds:
                row = summarization_row(rec)
                if row is None:
                    self.metrics["summarization_unparsable"] += 1
                else:
                    yield row
            for detail in repairs.get(rec.id, []):
                self.metrics[f"repair_kind:{detail.bug_kind}"] += 1
                yield repair_row(rec, detail)
            if "repair" in self.cfg.kinds and not repairs.get(rec.id):
                self.metrics["repair_no_variant"] += 1

    def _repairs(self, records: list[Verified]) -> dict[str, list[RepairDetail]]:
        candidates = {rec.id: mutation_candidates(rec, self.cfg) for rec in records}
        if self.uses_llm() and records:
            for rec, found in zip(records, self._llm_bugs(records), strict=True):
                have = {c.code for c in candidates[rec.id]}
                fresh = [c for c in found if c.code not in have]  # a mutant the model also wrote
                self.metrics["llm_bugs_same_as_a_mutant"] += len(found) - len(fresh)
                candidates[rec.id].extend(fresh)
        sandbox = shared_sandbox(self.settings.sandbox)
        details, counts = repair_details(
            records, candidates, sandbox, self.settings.sandbox.limits, self.cfg.repair_per_row
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


shard = shard_task(Derive)
