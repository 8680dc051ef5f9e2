"""Adequacy measured in a real sandbox: coverage of the original, mutants killed and equivalent."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from sandbox_support import BACKENDS, make_sandbox

from codemint.codec import encode_input
from codemint.sandbox.adequacy import MeasureConfig, Suite, measure
from codemint.sandbox.api import ExecLimits, Sandbox

LIMITS = ExecLimits(timeout_s=2.0, cpu_s=2, memory_mb=256)

MEDIAN = textwrap.dedent(
    '''
    class StatisticsError(ValueError):
        pass


    def median_low(data):
        """Low median."""
        data = sorted(data)
        n = len(data)
        if n == 0:
            raise StatisticsError("no median for empty data")
        if n % 2 == 1:
            return data[n // 2]
        else:
            return data[n // 2 - 1]
    '''
)

MAGNITUDE = textwrap.dedent(
    """
    def magnitude(v):
        x = abs(v)
        if x >= 0:
            return x
        return -x
    """
)

COUNT_UP = textwrap.dedent(
    """
    def count_up(n):
        i = 0
        while i < n:
            i += 1
        return i
    """
)


@pytest.fixture(params=BACKENDS, scope="module")
def box(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    sandbox = make_sandbox(request.param, limits=LIMITS)
    with sandbox:
        yield sandbox


def _inputs(*values: object) -> list[str]:
    return [encode_input([v]) for v in values]


def test_strong_suite_kills_more_than_weak_and_reports_lines(box: Sandbox) -> None:
    strong = Suite("strong", MEDIAN, "median_low", _inputs([1, 3, 5], [1, 3, 5, 7], [], [4, 1]))
    weak = Suite("weak", MEDIAN, "median_low", _inputs([2, 2, 2]))
    cfg = MeasureConfig(max_mutants=40, equivalence_inputs=0)
    s, w = measure(box, [strong, weak], cfg, LIMITS)
    assert s.original.job_status == "ok"
    assert [o.kind for o in s.original.outcomes] == ["ok", "ok", "error", "ok"]
    assert s.original.outcomes[2].value == "__codemint__.StatisticsError"
    assert s.original.outcomes[0].value == "3"
    # per test, the lines of the original it runs: the empty list stops at the raise
    raise_line = MEDIAN.splitlines().index('        raise StatisticsError("no median for empty data")') + 1
    assert raise_line in s.covered_lines()[2] and raise_line not in s.covered_lines()[0]
    assert s.line_coverage == 1.0 and s.branch_coverage == 1.0
    assert w.line_coverage is not None and w.line_coverage < 1.0
    assert w.branch_coverage == 0.5  # each `if` went one way only
    assert s.mutation_score is not None and w.mutation_score is not None
    assert s.mutation_score >= 0.9 > w.mutation_score
    assert len(s.mutants) == len(w.mutants) > 10
    assert all(m.status in ("killed", "survived") for m in s.mutants)


def test_equivalent_mutants_are_reported_apart(box: Sandbox) -> None:
    suite = Suite("mag", MAGNITUDE, "magnitude", _inputs(3, -4, 0))
    (m,) = measure(box, [suite], MeasureConfig(max_mutants=40, equivalence_inputs=20), LIMITS)
    equivalent = [(r.mutant.line, r.mutant.operator) for r in m.mutants if r.status == "equivalent"]
    # `return -x` is unreachable (x >= 0 always holds): changing it changes nothing
    assert (6, "return_none") in equivalent  # the source starts with a blank line
    # `x >= 0` -> `x > 0` survives the int tests, but the extra inputs include floats, where
    # it returns -0.0 for 0.0: not equivalent, and not excused
    assert all(line == 6 for line, _ in equivalent)
    assert m.equivalent == len(equivalent) and m.mutation_score is not None
    assert m.mutation_score == m.killed / (len(m.mutants) - m.equivalent)
    assert any(r.status == "survived" for r in m.mutants) or m.mutation_score == 1.0


def test_a_looping_mutant_is_killed_within_its_time_budget(box: Sandbox) -> None:
    suite = Suite("loop", COUNT_UP, "count_up", _inputs(3, 0, 5))
    (m,) = measure(
        box, [suite], MeasureConfig(max_mutants=40, equivalence_inputs=0, time_floor_s=0.2), LIMITS
    )
    looping = [r for r in m.mutants if r.mutant.description == "Add= -> Sub="]
    assert looping and looping[0].status == "killed"
    assert m.killed >= len(m.mutants) - 2


def test_a_suite_with_expectations_stops_at_the_first_timeout(box: Sandbox) -> None:
    from codemint.sandbox.suite import parse, suite_job

    looping = COUNT_UP.replace("i += 1", "i += 0")
    inputs = _inputs(3, 0, 5, 7, 9)
    job = suite_job(
        "stop",
        looping,
        "count_up",
        inputs,
        budgets=[0.2] * 5,
        expect=[("ok", None)] * 5,
        trace=False,
        base=LIMITS,
    )
    (result,) = box.run_batch([job])
    run = parse(result, trace=False)
    # input 3 loops: one budget spent, the rest not run (the original finished every input)
    assert [o.kind for o in run.outcomes] == ["timeout"]
