"""Repair variants: the suite screen judges only the hardest caught variants, on the tests they
failed there, keeping the same ones."""

from __future__ import annotations

from collections.abc import Sequence

from factories import CLAMP, MEDIAN, PARSE
from real_rows import docker_settings, real_row

from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import ExecJob, ExecResult, Sandbox
from codemint.settings import ExercisesSettings
from codemint.tasks.derive.repair_variants import mutation_candidates, repair_details


class Counting(Sandbox):
    """The real sandbox, counting the processes its jobs start (one per job input)."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner, self.processes = inner, 0

    def run_batch(self, jobs: Sequence[ExecJob]) -> list[ExecResult]:
        self.processes += sum(len(job.inputs) for job in jobs)
        return self.inner.run_batch(jobs)

    def close(self) -> None:
        pass


def test_the_screen_keeps_the_variants_judging_every_one_keeps_for_fewer_processes() -> None:
    box = docker_settings()
    clamp = [([[1, 5, 9], 2, 8], {}), ([[0, 10], 0, 10], {}), ([[3], 4, 4], {}), ([[1], 5, 2], {})]
    median = [([[3, 1, 2]], {}), ([[4, 1, 3, 2]], {}), ([[7]], {}), ([[]], {}), ([[2, 2, 5, 9]], {})]
    parse = [(["a=1;b=2"], {}), (["x = y ; ;z"], {}), ([""], {}), (["k:v,m:n"], {"sep": ",", "kv": ":"})]
    rows = [real_row(CLAMP, clamp, box), real_row(MEDIAN, median, box), real_row(PARSE, parse, box)]
    cfg = ExercisesSettings(repair_mutants=12, repair_per_row=2)
    candidates = {rec.id: mutation_candidates(rec, cfg) for rec in rows}
    kept = {}
    for screen, failing_only in ((False, False), (True, False), (True, True)):
        sandbox = Counting(shared_sandbox(box))
        details, counts = repair_details(
            rows, candidates, sandbox, box.limits, 2, box, screen=screen, failing_only=failing_only
        )
        kept[screen, failing_only] = (details, counts, sandbox.processes)
    full, full_counts, full_processes = kept[False, False]
    for mode in ((True, False), (True, True)):
        screened, counts, _ = kept[mode]
        assert set(full) == set(screened) == {rec.id for rec in rows}
        for rec in rows:
            assert [(d.buggy_code, d.tests_failed, d.actual) for d in screened[rec.id]] == [
                (d.buggy_code, d.tests_failed, d.actual) for d in full[rec.id]
            ], (mode, rec.entry_point)
        assert counts["run"] == full_counts["run"] == sum(len(c) for c in candidates.values())
        assert counts["screened_out"] >= 1 and counts["caught"] == sum(len(d) for d in screened.values())
    screen_processes, failing_processes = kept[True, False][2], kept[True, True][2]
    assert screen_processes < 0.6 * full_processes
    assert failing_processes < 0.6 * screen_processes, (failing_processes, screen_processes)
