"""execute.prescreen: a method row (no feedback testgen run) is first run on all its inputs in
one sandbox process; one that run dooms is dropped with the reason and message its full runs
give, and one it does not is the same, the screen standing for one of its runs (Docker, real testgen)."""

from __future__ import annotations

import functools
import textwrap

import pytest
from real_rows import rows_to_execute
from sandbox_support import IMAGE, require_docker

from codemint import exec_costs
from codemint.records import Executed, Rejected, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute.stage import Execute

CODE = textwrap.dedent(
    '''
    class Ledger:
        """Running balances by account."""

        def __init__(self, start=0):
            self.total = start
            self.balances = {}

        def deposit(self, account, amount=1):
            """Add amount to the account's balance and to the total; return the new balance."""
            if amount < 0:
                raise ValueError("negative amount")
            self.balances[account] = self.balances.get(account, 0) + amount
            self.total += amount
            return self.balances[account]

        def fee(self, account, amount=1):
            """Return the fee charged on a deposit of amount into account."""
            rate = 0.0 if account in self.balances else 0.0
            return round(amount * rate + self.total * 0, 2)

        def withdraw(self, account, amount=1):
            """Take amount out of an account's balance and the total; return the new balance."""
            if account not in self.balances:
                raise KeyError(account)
            self.balances[account] -= amount
            self.total -= amount
            return self.balances[account]
    '''
)


def settings(prescreen: bool = True) -> PipelineSettings:
    return PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        execute=ExecuteSettings(prescreen=prescreen),
    )


@functools.cache
def rows() -> dict[str, WithInputs]:
    """The method rows execute gets, by method name: testgen does not run them."""
    out = rows_to_execute(CODE, settings(), "ledger.py")
    assert set(out) == {"deposit", "fee", "withdraw"}
    assert all(r.sample_kind == "method" and not r.input_runs for r in out.values())
    return out


def execute(rec: WithInputs, prescreen: bool) -> tuple[Executed | Rejected, dict[str, float], float]:
    """Execute's verdict on `rec`, its metrics and the sandbox processes it ran."""
    stage = Execute(settings(prescreen))
    with exec_costs.collecting() as costs:
        (out,) = stage.run([rec])
    return out, dict(stage.metrics), costs["processes"]


@pytest.mark.parametrize(("name", "reason"), [("fee", "constant_outcome"), ("withdraw", "no_normal_returns")])
def test_a_doomed_method_row_is_dropped_after_one_process(name: str, reason: str) -> None:
    require_docker()
    rec = rows()[name]
    early, metrics, processes = execute(rec, prescreen=True)
    full, full_metrics, full_processes = execute(rec, prescreen=False)
    # Off: every input runs twice, a process each.
    assert isinstance(full, Rejected) and full.drop_reason == reason
    assert full_processes == 2 * len(rec.test_inputs) and full_metrics["prescreen_jobs"] == 0
    assert isinstance(early, Rejected) and early.model_dump() == full.model_dump()
    assert processes == 1 and metrics["prescreen_jobs"] == 1 and metrics[f"predecided:{reason}"] == 1


def test_a_kept_method_row_is_the_same_and_its_screen_stands_for_a_run() -> None:
    require_docker()
    rec = rows()["deposit"]
    on, metrics, processes = execute(rec, prescreen=True)
    off, _, off_processes = execute(rec, prescreen=False)
    assert isinstance(on, Executed) and on.model_dump() == off.model_dump()
    assert metrics["prescreen_jobs"] == 1 and not any(k.startswith("predecided") for k in metrics)
    # the screen's run stands for the first of the two (as testgen's does for a function), and
    # inputs raising what the prompt does not state run no more
    assert metrics["screen_runs_reused"] == 1 and off_processes == 2 * len(rec.test_inputs)
    skipped = metrics.get("inputs_skipped:unstated_exception", 0)
    assert processes == 1 + len(rec.test_inputs) - skipped
