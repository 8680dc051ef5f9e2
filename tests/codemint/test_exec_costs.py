"""Sandbox costs summed per stage shard: only inside `collecting`, by part and per execution."""

from __future__ import annotations

import threading

from codemint import exec_costs
from codemint.sandbox.api import CallOutcome, ExecResult


def _result(n: int, imports: int, import_s: float = 0.0, fallback: str | None = None) -> ExecResult:
    outcome = CallOutcome(status="ok", spawn_s=0.001, import_s=0.01, call_s=0.002, teardown_s=0.003)
    return ExecResult(
        job_id="j", outcomes=[outcome] * n, imports=imports, import_s=import_s, import_fallback=fallback
    )


def test_costs_are_counted_per_block_and_nowhere_else() -> None:
    exec_costs.add([_result(3, 3)])  # outside any block: counted nowhere
    with exec_costs.collecting() as costs:
        exec_costs.add([_result(3, 3), _result(2, 1, import_s=0.5, fallback=None)])
        exec_costs.add([_result(4, 5, fallback="threads")])
        with exec_costs.collecting() as inner:
            exec_costs.add([_result(1, 1)])
    assert inner["processes"] == 1
    assert costs["processes"] == 9
    assert costs["imports"] == 9
    assert costs["import_fallbacks"] == 1
    assert round(costs["import_s"], 6) == round(0.5 + 9 * 0.01, 6)
    summary = exec_costs.summary(dict(costs))
    assert summary["call_s_per_process"] == 0.002
    assert summary["teardown_s_per_process"] == 0.003
    assert summary["import_s_per_process"] == round((0.5 + 0.09) / 9, 6)


def test_a_shard_in_another_thread_counts_apart() -> None:
    seen: dict[str, float] = {}

    def shard() -> None:
        with exec_costs.collecting() as costs:
            exec_costs.add([_result(5, 5)])
        seen.update(costs)

    with exec_costs.collecting() as mine:
        thread = threading.Thread(target=shard)
        thread.start()
        thread.join()
    assert seen["processes"] == 5
    assert "processes" not in mine
