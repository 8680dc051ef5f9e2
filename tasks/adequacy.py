"""Adequacy: how well each verified row's tests tell the original from its mutants.

Per row, in the sandbox (see `codemint/sandbox/adequacy.py`): line and branch coverage of
the entry point under the tests, the lines each test executes, and the mutation score
(killed / non-equivalent mutants). Every figure lands on the row. With
`adequacy.min_mutation_score` set, rows below it are dropped as `weak_tests`; rows whose
original cannot be run as a suite are kept with no figures and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemint.records import Rejected, Verified
from codemint.samples import CLASS_KINDS
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.adequacy import MeasureConfig, Measurement, Suite, measure
from codemint.settings import AdequacySettings
from codemint.stage import Stage
from codemint.stage_task import shard_task


def measure_config(cfg: AdequacySettings) -> MeasureConfig:
    return MeasureConfig(
        max_mutants=cfg.max_mutants,
        seed=cfg.seed,
        equivalence_inputs=cfg.equivalence_inputs,
        time_factor=cfg.time_factor,
        time_floor_s=cfg.time_floor_s,
    )


class Adequacy(Stage[Verified, Verified]):
    name = "adequacy"
    input_model = Verified
    output_model = Verified
    settings_field = "adequacy"

    @property
    def cfg(self) -> AdequacySettings:
        return self.settings.adequacy

    def extra_fingerprint(self) -> list[Any]:
        return result_fingerprint(self.settings.sandbox)

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        records = list(records)
        if not self.cfg.enabled:
            yield from records
            return
        # Mutants are made of a top-level function named by the entry point; a method sample runs
        # through a harness (codemint/samples.py), so it is passed on unmeasured for now.
        methods = [r for r in records if r.sample_kind in CLASS_KINDS]
        self.metrics["not_measured_method"] += len(methods)
        yield from methods
        records = [r for r in records if r.sample_kind not in CLASS_KINDS]
        suites = [
            Suite(r.id, r.original_code, r.entry_point, [c.input for c in r.test_cases]) for r in records
        ]
        box = shared_sandbox(self.settings.sandbox)
        found = measure(box, suites, measure_config(self.cfg), self.settings.sandbox.limits) if suites else []
        for rec, m in zip(records, found, strict=True):
            yield from self._decide(rec, m)

    def _decide(self, rec: Verified, m: Measurement) -> Iterator[Verified | Rejected]:
        self.metrics["sandbox_ms"] += round(m.seconds * 1000)
        if m.original.job_status != "ok" or len(m.original.outcomes) != len(rec.test_cases):
            self.metrics["not_measured"] += 1
            yield rec.model_copy(update={"adequacy_seconds": m.seconds})
            return
        mismatched = sum(
            1
            for case, o in zip(rec.test_cases, m.original.outcomes, strict=True)
            if (o.kind == "error" and case.exception != o.value)
            or (o.normal and case.expected != o.value)
            or not (o.normal or o.kind == "error")
        )
        self.metrics["tests_differing_in_suite_run"] += mismatched
        cases = [
            case.model_copy(update={"covered_lines": lines})
            for case, lines in zip(rec.test_cases, m.covered_lines(), strict=True)
        ]
        score = m.mutation_score
        row = rec.model_copy(
            update={
                "test_cases": cases,
                "mutation_score": None if score is None else round(score, 4),
                "mutants": len(m.mutants),
                "mutants_killed": m.killed,
                "mutants_equivalent": m.equivalent,
                "line_coverage": _round(m.line_coverage),
                "branch_coverage": _round(m.branch_coverage),
                "adequacy_seconds": m.seconds,
            }
        )
        self.metrics["mutants"] += len(m.mutants)
        self.metrics["mutants_killed"] += m.killed
        self.metrics["mutants_equivalent"] += m.equivalent
        self.metrics["mutants_unknown"] += sum(1 for x in m.mutants if x.status == "unknown")
        threshold = self.cfg.min_mutation_score
        if threshold is not None and score is not None and score < threshold:
            yield self.reject(
                rec.id,
                "weak_tests",
                f"mutation score {score:.2f} < {threshold:.2f}"
                f" ({m.killed}/{len(m.mutants) - m.equivalent} killed)",
                record=row,
            )
            return
        yield row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Adequacy)
