"""Adequacy: how well each verified row's tests tell the original from its mutants.

Per row, in the sandbox (see `codemint/sandbox/adequacy.py`): line and branch coverage of
the entry point under the tests, the lines each test executes, and the mutation score:
killed over every mutant, none excused. Mutants that survive the tests while extra inputs
that run their changed lines agree with the original are counted apart
(`mutants_equivalent`, and `mutation_score_excused` leaves them out). Method samples are
measured the same way, through their harness. Every figure lands on the row.

The floor (`adequacy.min_mutation_score`, default 0.5) marks each row `adequate` or not; a
row with fewer than `min_mutants` mutants is judged by its line coverage instead
(`min_line_coverage`; `adequacy_basis` says which). No row is dropped: export puts the rows
below the floor in the `weak` config, out of `generation` and `rl`. A row whose original
cannot be run as a suite gets no figures and, with a floor, counts as below it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator
from typing import Any

from codemint.codec import encode_input
from codemint.offline.method_inputs import method_inputs
from codemint.records import Rejected, Verified
from codemint.samples import CLASS_KINDS
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.adequacy import MeasureConfig, Measurement, Suite, measure, row_suite
from codemint.sandbox.suite import TestOutcome
from codemint.settings import AdequacySettings
from codemint.stage import Stage
from codemint.stage_task import shard_task
from codemint.verdict import same_value


def measure_config(cfg: AdequacySettings) -> MeasureConfig:
    return MeasureConfig(
        max_mutants=cfg.max_mutants,
        seed=cfg.seed,
        equivalence_inputs=cfg.equivalence_inputs,
        time_factor=cfg.time_factor,
        time_floor_s=cfg.time_floor_s,
        equivalence_min_reaching=cfg.equivalence_min_reaching,
        first_failure=cfg.first_failure,
    )


def testgen_kills(rec: Verified) -> list[list[str]] | None:
    """Per test, the mutants feedback testgen saw its input tell apart from the original, when
    it ran them all as the suite runs them (`testgen_runs`)."""
    if testgen_runs(rec) is None:
        return None
    by_input = dict(zip(rec.test_inputs, rec.input_runs, strict=True))
    return [list(by_input[c.input].kills) for c in rec.test_cases]


def testgen_runs(rec: Verified) -> list[TestOutcome] | None:
    """The original's traced outcome on each test as feedback testgen ran it, when it ran
    them all as the suite runs them: the function itself, no argument state compared."""
    if rec.sample_kind in CLASS_KINDS or any(c.args_after is not None for c in rec.test_cases):
        return None
    by_input = dict(zip(rec.test_inputs, rec.input_runs, strict=False)) if rec.input_runs else {}
    if len(rec.input_runs) != len(rec.test_inputs) or any(c.input not in by_input for c in rec.test_cases):
        return None
    return [
        TestOutcome(r.kind, r.value, r.seconds, list(r.lines), [(a, b) for a, b in r.arcs])
        for r in (by_input[c.input] for c in rec.test_cases)
    ]


def floor_verdict(
    cfg: AdequacySettings, scored: int, score: float | None, line_coverage: float | None
) -> tuple[str, bool | None]:
    """(basis, adequate) of a measured row: its mutation score against the floor, or its line
    coverage when it has too few mutants for a score to mean much. None: no floor applies."""
    floor: float | None
    value: float | None
    if scored >= cfg.min_mutants and score is not None:
        floor, value, basis = cfg.min_mutation_score, score, "mutants"
    else:
        floor, value, basis = cfg.min_line_coverage, line_coverage, "coverage"
    if cfg.min_mutation_score is None or floor is None:
        return basis, None  # no floor: nothing is judged
    return basis, value is not None and value >= floor


def method_extras(rec: Verified, count: int, seed: int) -> list[str]:
    """Extra harness inputs for a method sample's equivalence check: new constructor and call
    arguments as testgen proposes them (the suite's own inputs are left out by `measure`)."""
    rng = random.Random(f"{seed}:{rec.id}")
    out: list[str] = []
    for harness_args, _source in method_inputs(rec, 2 * count, 2, rng):
        try:
            out.append(encode_input(harness_args, {}))
        except (TypeError, ValueError, RecursionError):
            continue
    return out


class Adequacy(Stage[Verified, Verified]):
    name = "adequacy"
    chunked = True  # rows are independent: a shard runs a chunk at a time
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
        suites = [self._suite(r) for r in records]
        self.metrics["measured_method"] += sum(1 for r in records if r.sample_kind in CLASS_KINDS)
        box = shared_sandbox(self.settings.sandbox)
        cfg = dataclasses.replace(
            measure_config(self.cfg), suites_per_process=self.settings.sandbox.suites_per_process
        )
        found = measure(box, suites, cfg, self.settings.sandbox.limits) if suites else []
        for rec, m in zip(records, found, strict=True):
            # the original's runs were for this stage and execute: later stages carry no traces
            yield from self._decide(rec.model_copy(update={"input_runs": []}), m)

    def _suite(self, rec: Verified) -> Suite:
        suite = row_suite(rec)
        if rec.sample_kind not in CLASS_KINDS:
            ran = testgen_runs(rec) if self.cfg.reuse_testgen_runs else None
            self.metrics["original_runs_from_testgen"] += ran is not None
            kills = testgen_kills(rec) if self.cfg.reuse_testgen_kills else None
            return dataclasses.replace(suite, original_runs=ran, known_kills=kills)
        # A method's extra inputs are its harness's, made as testgen makes them.
        return dataclasses.replace(
            suite, extra_inputs=method_extras(rec, self.cfg.equivalence_inputs, self.cfg.seed)
        )

    def _decide(self, rec: Verified, m: Measurement) -> Iterator[Verified | Rejected]:
        self.metrics["sandbox_ms"] += round(m.seconds * 1000)
        if m.original.job_status != "ok" or len(m.original.outcomes) != len(rec.test_cases):
            self.metrics["not_measured"] += 1
            # With a floor, a row whose tests could not be measured cannot show it clears it.
            adequate = None if self.cfg.min_mutation_score is None else False
            self.metrics["weak"] += adequate is False
            yield rec.model_copy(update={"adequacy_seconds": m.seconds, "adequate": adequate})
            return
        mismatched = sum(
            1
            for case, o in zip(rec.test_cases, m.original.outcomes, strict=True)
            if (o.kind == "error" and case.exception != o.value)
            or (o.normal and not same_value(o.value, case.expected))
            or not (o.normal or o.kind == "error")
        )
        self.metrics["tests_differing_in_suite_run"] += mismatched
        cases = [
            case.model_copy(update={"covered_lines": lines})
            for case, lines in zip(rec.test_cases, m.covered_lines(), strict=True)
        ]
        line_coverage = _round(m.line_coverage)
        basis, adequate = floor_verdict(self.cfg, m.scored, m.mutation_score, line_coverage)
        row = rec.model_copy(
            update={
                "test_cases": cases,
                "mutation_score": _round(m.mutation_score),
                "mutation_score_excused": _round(m.mutation_score_excused),
                "mutants": m.scored,
                "mutants_killed": m.killed,
                "mutants_equivalent": m.equivalent,
                "mutants_unreached": m.unreached,
                "line_coverage": line_coverage,
                "branch_coverage": _round(m.branch_coverage),
                "adequacy_basis": basis,
                "adequate": adequate,
                "adequacy_seconds": m.seconds,
            }
        )
        self.metrics["mutants"] += m.scored
        self.metrics["mutants_killed"] += m.killed
        self.metrics["mutants_equivalent"] += m.equivalent
        self.metrics["mutants_unreached"] += m.unreached
        self.metrics["mutants_killed_from_testgen"] += sum(r.known for r in m.mutants)
        self.metrics["mutants_unknown"] += len(m.mutants) - m.scored
        self.metrics[f"basis_{basis}"] += 1
        self.metrics["weak"] += adequate is False
        yield row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Adequacy)
