"""Adequacy measured in a real sandbox: coverage of the original, mutants killed and equivalent."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator

import pytest
from sandbox_support import BACKENDS, make_sandbox

from codemint import exec_meter
from codemint.codec import encode_input
from codemint.sandbox.adequacy import MeasureConfig, Measurement, Suite, measure
from codemint.sandbox.api import ExecLimits, Sandbox
from codemint.sandbox.metered import Metered

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
        x = abs(x)
        if x >= 0:
            return x
        return -x
    """
)

SIGN = textwrap.dedent(
    """
    def sign_label(n):
        if n < 0:
            return "negative"
        if n == 0:
            return "zero"
        return "positive"
    """
)

TALLY = textwrap.dedent(
    """
    class Tally:
        def __init__(self, start=0):
            self.total = start

        def add(self, k):
            if k < 0:
                raise ValueError("negative")
            self.total += k
            return self.total
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


def test_only_mutants_whose_line_extra_inputs_reach_are_excused(box: Sandbox) -> None:
    suite = Suite("mag", MAGNITUDE, "magnitude", _inputs(3, -4, 0))
    cfg = MeasureConfig(max_mutants=40, equivalence_inputs=20)
    (m,) = measure(box, [suite], cfg, LIMITS)
    by_site = {(r.mutant.line, r.mutant.operator): r for r in m.mutants}
    # `x = abs(x)` (line 4; the source starts with a blank line) is redundant: deleting it
    # changes nothing, and the extra inputs that run line 4 show that
    redundant = by_site[(4, "delete")]
    assert redundant.status == "equivalent" and redundant.reaching_extras >= cfg.equivalence_min_reaching
    # `return -x` is unreachable (x >= 0 always holds): no input runs it, so nothing shows
    # its mutant equivalent: it stays a survivor and counts against the score
    unreachable = by_site[(7, "return_none")]
    assert unreachable.status == "survived" and not unreachable.reached and unreachable.reaching_extras == 0
    assert m.unreached >= 1
    assert all(
        r.reaching_extras >= cfg.equivalence_min_reaching for r in m.mutants if r.status == "equivalent"
    )
    # the score counts every mutant run; the excused figure leaves the equivalents out
    assert m.scored == len(m.mutants) and m.mutation_score == m.killed / len(m.mutants)
    assert m.mutation_score_excused == m.killed / (len(m.mutants) - m.equivalent)
    assert m.mutation_score < m.mutation_score_excused


def test_extra_inputs_that_never_reach_a_mutant_do_not_excuse_it(box: Sandbox) -> None:
    # The tests and the extra inputs are all positive: lines 4 and 6 never run. Before, every
    # survivor that matched on the extra inputs was excused, and this suite scored 1.0.
    suite = Suite("sign", SIGN, "sign_label", _inputs(1, 2, 7), extra_inputs=_inputs(3, 4, 10, 11))
    (m,) = measure(box, [suite], MeasureConfig(max_mutants=40, equivalence_inputs=20), LIMITS)
    unreached = [r for r in m.mutants if r.mutant.line in (4, 6)]
    assert len(unreached) == 4  # a constant and `return None` on each line
    assert all(r.status == "survived" and not r.reached and r.reaching_extras == 0 for r in unreached)
    assert m.unreached == 4
    assert m.mutation_score is not None and m.mutation_score <= 0.5
    # with extra inputs that do run those lines, their mutants are told apart there: survivors still
    (again,) = measure(
        box,
        [Suite("sign", SIGN, "sign_label", _inputs(1, 2, 7), extra_inputs=_inputs(-3, -1, 0, 0.0))],
        MeasureConfig(max_mutants=40, equivalence_inputs=20),
        LIMITS,
    )
    told = [r for r in again.mutants if r.mutant.line in (4, 6)]
    assert all(r.status == "survived" and r.reaching_extras >= 1 for r in told)
    assert again.mutation_score == m.mutation_score


def test_a_method_suite_is_measured_on_mutants_of_its_method(box: Sandbox) -> None:
    inputs = [
        encode_input([[0], {}, [3], {}]),
        encode_input([[5], {}, [2], {}]),
        encode_input([[1], {}, [-1], {}]),
    ]
    suite = Suite("tally", TALLY, "add", inputs, sample_kind="method", class_name="Tally")
    (m,) = measure(box, [suite], MeasureConfig(max_mutants=40, equivalence_inputs=20), LIMITS)
    assert m.original.job_status == "ok" and [o.kind for o in m.original.outcomes] == ["ok", "ok", "error"]
    assert m.original.outcomes[0].value is not None and '"state"' in m.original.outcomes[0].value
    # every mutant changes `add` (lines 6-10), none the constructor
    assert len(m.mutants) == 8 and all(6 <= r.mutant.line <= 10 for r in m.mutants)
    by_description = {r.mutant.description: r.status for r in m.mutants}
    # the instance's state is compared: deleting `self.total += k` is caught although
    # `return self.total` still returns a number
    assert by_description["delete augassign"] == "killed"
    assert by_description["Add= -> Sub="] == "killed"
    assert m.mutation_score is not None and 0.5 <= m.mutation_score < 1.0
    # coverage of the method's own statements (the harness and constructor are not counted)
    assert m.line_coverage == 1.0 and m.branch_coverage == 1.0
    # per test, lines of the row's code: the constructor's and the method's, not the harness's
    assert all(m.covered_lines()) and {4, 7, 10} <= set(m.covered_lines()[0])
    assert max(line for lines in m.covered_lines() for line in lines) <= len(TALLY.splitlines())


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


PUSH = textwrap.dedent(
    """
    def push_sorted(items, item):
        i = len(items)
        items.append(item)
        while i > 0 and items[i - 1] > item:
            items[i] = items[i - 1]
            i -= 1
        items[i] = item
    """
)


def test_a_suite_whose_tests_compare_arguments_tells_mutants_apart_by_them(box: Sandbox) -> None:
    """An in-place function returns None: only the state it leaves its arguments in tells a
    mutant apart, as verify tells a candidate apart by `args_after`."""
    inputs = [encode_input([[1, 3, 5], 4]), encode_input([[], 2]), encode_input([[2, 7], 1])]
    cfg = MeasureConfig(max_mutants=20, equivalence_inputs=0)
    blind, compared = measure(
        box,
        [
            Suite("blind", PUSH, "push_sorted", inputs),
            Suite("args", PUSH, "push_sorted", inputs, compare_args=True),
        ],
        cfg,
        LIMITS,
    )
    assert blind.mutation_score is not None and compared.mutation_score is not None
    assert len(blind.mutants) == len(compared.mutants) > 3
    assert compared.mutation_score > blind.mutation_score
    # The wrapper's lines are not the original's: coverage is reported on the original alone.
    assert max(line for lines in compared.covered_lines() for line in lines) <= len(PUSH.splitlines())


RATIO = textwrap.dedent(
    """
    def ratio(x, d):
        if d == 0:
            return None
        return x / d
    """
)


# A returned value holding an iterator: taking its text in the sandbox would consume it.
NESTED = textwrap.dedent(
    """
    def doubled(n):
        if n < 0:
            n = -n
        return {"n": n, "items": (2 * i for i in range(n))}
    """
)


def _verdicts(m: Measurement) -> list[tuple[str, int, str, bool]]:
    return [(r.mutant.description, r.mutant.line, r.status, r.reached) for r in m.mutants]


def test_first_failure_gives_the_same_verdicts_with_fewer_executions(box: Sandbox) -> None:
    """Tests reaching a mutant's change first, and a stop at the first failing one (a value
    too): the same mutants killed, survived, equivalent and unreached, for fewer executions.
    `x / d` -> `x * d` returns 4 for 4.0 on the first test (equal by the verdict's rule, not
    by text): the suite goes on and the second test kills it. A value holding an iterator is
    compared in the host only (taking its text in the sandbox would consume the iterator)."""
    suites = [
        Suite("median", MEDIAN, "median_low", _inputs([1, 3, 5], [1, 3, 5, 7], [], [4, 1])),
        Suite("mag", MAGNITUDE, "magnitude", _inputs(3, -4, 0)),
        Suite("sign", SIGN, "sign_label", _inputs(1, 2, 7)),
        Suite("ratio", RATIO, "ratio", [encode_input([4, 1]), encode_input([6, 2]), encode_input([1, 0])]),
        Suite("nested", NESTED, "doubled", _inputs(3, -2, 0)),
    ]
    cfg = MeasureConfig(max_mutants=40, equivalence_inputs=20)
    counted = Metered(box)
    with exec_meter.metering() as whole:
        old = measure(counted, suites, cfg, LIMITS)
    with exec_meter.metering() as first:
        new = measure(counted, suites, dataclasses.replace(cfg, first_failure=True), LIMITS)
    for a, b in zip(old, new, strict=True):
        assert _verdicts(a) == _verdicts(b)
        assert (a.mutation_score, a.mutation_score_excused, a.unreached) == (
            b.mutation_score,
            b.mutation_score_excused,
            b.unreached,
        )
    assert any(r.status == "equivalent" for r in new[1].mutants)
    assert ("Div -> Mult", 5, "killed", True) in _verdicts(new[3])
    assert first.executions < 0.8 * whole.executions


def test_an_expectation_leaves_out_a_value_no_job_can_carry() -> None:
    """A returned text with a lone surrogate (a decoded file name) cannot travel in a job's
    JSON: the harness is not told to stop on it (the host compares it), and the job encodes."""
    from codemint.sandbox.adequacy import expectation
    from codemint.sandbox.pool import encode_job
    from codemint.sandbox.suite import TestOutcome, suite_job

    outcomes = [
        TestOutcome("ok", '"a\udcffb"', 0.0),
        TestOutcome("ok", "3", 0.0),
        TestOutcome("error", "KeyError", 0.0),
    ]
    expect = expectation(outcomes, values=True)
    assert expect == [("ok", None, None), ("ok", None, "3"), ("error", "KeyError", None)]
    job = suite_job("k", "def f(x):\n    return x\n", "f", [encode_input([1], {})] * 3, budgets=[1.0] * 3,
                    expect=expect, trace=False, base=ExecLimits())  # fmt: skip
    assert encode_job(job).endswith(b"\n")
