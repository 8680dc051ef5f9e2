"""Verify: run the candidate code on every test case and keep the fraction it passes.

A test passes when the candidate returns a value equal to the original's (`codemint.verdict`:
2 equals 2.0, floats within a tolerance, dicts and sets in any order), or raises the same
exception type, and, where the test records them, prints the same stdout
and leaves its arguments in the same state. The comparison happens here, in the trusted
process, on the serialized outcomes: nothing the executed code prints or overrides can forge it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from codemint.llm import solutions
from codemint.llm.errors import LLMError
from codemint.llm.stage import LLMStage
from codemint.records import Executed, Rejected, Verified
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.sandbox.row_jobs import RowJobs
from codemint.settings import VerifySettings
from codemint.stage_task import shard_task
from codemint.verdict import passes  # the one verdict (reward, repair, adequacy use it too)


@dataclass(frozen=True)
class Candidate:
    kind: str  # "reformatted" or "regenerated"
    code: str
    model: str | None = None
    prompt_version: str | None = None


class Verify(LLMStage[Executed, Verified]):
    name = "verify"
    chunked = True  # rows are independent: a shard runs a chunk at a time
    input_model = Executed
    output_model = Verified
    settings_field = "verify"

    @property
    def cfg(self) -> VerifySettings:
        return self.settings.verify

    def llm_prompts(self) -> Sequence[str]:
        return solutions.PROMPTS if self.cfg.candidate != "reformatted" else ()

    def other_fingerprint(self) -> list[Any]:
        return result_fingerprint(self.settings.sandbox)

    def candidates(self, records: list[Executed]) -> dict[str, list[Candidate]]:
        """Candidates per record id, regenerated first: on a tie the LLM's clean rewrite wins."""
        out: dict[str, list[Candidate]] = {rec.id: [] for rec in records}
        if self.cfg.candidate in ("regenerated", "both"):
            for rec, found in zip(records, self.regenerated(records), strict=True):
                out[rec.id].extend(found)
        if self.cfg.candidate in ("reformatted", "both"):
            for rec in records:
                out[rec.id].append(Candidate("reformatted", rec.code))
        return out

    def regenerated(self, records: list[Executed]) -> list[list[Candidate]]:
        """Per record, the LLM's solutions written from the instruction (none if it failed)."""
        cfg = self.cfg
        results = self.call_llm(lambda client: solutions.regenerated(client, cfg, records))
        out: list[list[Candidate]] = []
        for result in results:
            if isinstance(result, LLMError):
                self.count_llm_failure("regenerate_failed", result)
                out.append([])
            else:
                out.append(
                    [
                        Candidate("regenerated", code, result.model, result.prompt_version)
                        for code in result.value
                    ]
                )
        return out

    def run(self, records: Iterable[Executed]) -> Iterator[Verified | Rejected]:
        records = list(records)
        by_record = self.candidates(records)
        jobs: list[ExecJob] = []
        owners: list[tuple[Executed, Candidate]] = []
        for rec in records:
            row = RowJobs.of(rec, self.settings.sandbox)
            inputs = [c.input for c in rec.test_cases]
            for n, cand in enumerate(by_record[rec.id]):
                jobs.append(
                    row.job(cand.code, f"{rec.id}#{cand.kind}{n}", inputs, self.settings.sandbox.limits)
                )
                owners.append((rec, cand))
        results = shared_sandbox(self.settings.sandbox).run_batch(jobs) if jobs else []
        best: dict[str, Verified] = {}
        for (rec, cand), result in zip(owners, results, strict=True):
            for o in result.outcomes:
                self.metrics[f"candidate_{o.status}"] += 1
            if result.infra_error:
                continue
            passed = sum(passes(c, o) for c, o in zip(rec.test_cases, result.outcomes, strict=False))
            total = len(rec.test_cases)
            current = best.get(rec.id)
            if current is None or passed > current.tests_passed:
                models = [m for m in (rec.llm_model, cand.model) if m]
                llm = self.with_llm(rec.llm)
                versions = (
                    [use.prompt_version for use in llm.prompts]
                    if llm is not None
                    else [v for v in (rec.prompt_version, cand.prompt_version) if v]
                )
                best[rec.id] = Verified(
                    **{**rec.model_dump(), "llm": llm},
                    candidate_kind=cand.kind,
                    candidate_code=cand.code,
                    llm_models=sorted(set(models)),
                    prompt_versions=versions,
                    pass_fraction=passed / total if total else 0.0,
                    tests_passed=passed,
                    tests_total=total,
                )
        for rec in records:
            verified = best.get(rec.id)
            if verified is None:
                reason = "no_candidate" if not by_record[rec.id] else "sandbox_error"
                yield self.reject(rec.id, reason, "no candidate could be run", record=rec)
            elif verified.pass_fraction < self.cfg.keep_threshold:
                yield self.reject(
                    rec.id,
                    "failed_verification",
                    f"{verified.candidate_kind} passed {verified.tests_passed}/{verified.tests_total}",
                    record=rec,
                )
            else:
                yield verified


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Verify)
