"""The hostile-mix load test, small enough for CI: a burst with 10% hostile jobs on every
backend. Every benign verdict must be correct and nothing may be left behind (the session
fixture in conftest.py checks processes and containers). The full 1,000-job run, with
benign throughput against an all-benign run, is benchmarks/sandbox_hostile_mix.py."""

from __future__ import annotations

import pytest
from hostile_mix import HOSTILE, MIX_LIMITS, make_mix, wrong_benign_verdicts
from sandbox_support import BACKENDS, assert_healthy, make_sandbox


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_burst_costs_no_benign_verdict(backend: str) -> None:
    # A tighter wall clock than the benchmark's: hostile hangs cost CI less.
    limits = MIX_LIMITS.model_copy(update={"timeout_s": 2.0})
    jobs, expected = make_mix(n_jobs=10 * len(HOSTILE), hostile_share=0.1, limits=limits)
    box = make_sandbox(backend, workers=2, jobs_per_worker=500)
    try:
        results = box.run_batch(jobs)
        assert wrong_benign_verdicts(jobs, results, expected) == []
        assert_healthy(box)
    finally:
        box.close()
