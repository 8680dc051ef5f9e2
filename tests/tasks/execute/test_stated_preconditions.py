"""A row's tests stay inside the preconditions its docstring states ("Assume y1 <= y2",
"assuming a is sorted"): testgen keeps such inputs out, and execute drops a test outside
them whatever made its input (real testgen, execute in Docker)."""

from __future__ import annotations

import functools
import json
import textwrap

from real_rows import instructed_rows
from sandbox_support import IMAGE, require_docker

from codemint.records import Executed, Instructed, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute.stage import Execute
from codemint.tasks.testgen.stage import Testgen

CODE = textwrap.dedent(
    '''
    def leap_years_between(y1, y2):
        """Return the number of leap years in range [y1, y2).
        Assume y1 <= y2."""
        y1 -= 1
        y2 -= 1
        return (y2 // 4 - y1 // 4) - (y2 // 100 - y1 // 100) + (y2 // 400 - y1 // 400)


    def insert_point(a, x):
        """Return the index where to insert x in list a, assuming a is sorted."""
        lo, hi = 0, len(a)
        while lo < hi:
            mid = (lo + hi) // 2
            if a[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo
    '''
)


def settings(contract_inputs: bool) -> PipelineSettings:
    return PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        testgen={"feedback_pool": 24, "feedback_mutants": 6, "contract_inputs": contract_inputs},
        execute=ExecuteSettings(),
    )


@functools.cache
def instructed() -> tuple[Instructed, ...]:
    return tuple(instructed_rows(CODE, settings(True)))


@functools.cache
def with_inputs(contract_inputs: bool) -> tuple[dict[str, WithInputs], dict[str, float]]:
    stage = Testgen(settings(contract_inputs))
    made = {r.entry_point: r for r in stage.run(list(instructed())) if isinstance(r, WithInputs)}
    return made, dict(stage.metrics)


def inside(entry_point: str, input_text: str) -> bool:
    args = json.loads(input_text)["args"]
    return args[0] <= args[1] if entry_point == "leap_years_between" else args[0] == sorted(args[0])


def test_testgen_keeps_inputs_outside_a_stated_precondition_out() -> None:
    require_docker()
    made, _ = with_inputs(True)
    assert set(made) == {"leap_years_between", "insert_point"}
    # The feedback pool never proposes them (without the contract it does: the next test).
    assert all(inside(r.entry_point, text) for r in made.values() for text in r.test_inputs)


def test_execute_drops_tests_outside_a_stated_precondition() -> None:
    require_docker()
    made, _ = with_inputs(False)  # testgen let them through: execute is the last check
    outside = sum(not inside(r.entry_point, t) for r in made.values() for t in r.test_inputs)
    assert outside > 0
    stage = Execute(settings(False))
    executed = {r.entry_point: r for r in stage.run(made.values())}
    for name, row in executed.items():
        assert isinstance(row, Executed), (name, row)
        assert all(inside(name, c.input) for c in row.test_cases)
    assert stage.metrics["test_dropped:outside_precondition"] > 0
