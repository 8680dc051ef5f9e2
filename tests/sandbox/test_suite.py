"""sandbox/suite.py: a mutant is told apart from the original exactly when verify would fail
it as a candidate (the verdict's value rule, an iterator's error by type after its items)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_support import BACKENDS, make_sandbox

from codemint.codec import canonical_json, encode_input
from codemint.records import TestCase as Case
from codemint.sandbox.adequacy import differs
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, Sandbox
from codemint.sandbox.suite import OutcomeKey, SuiteRun, parse, suite_job
from codemint.sandbox.suite import TestOutcome as Outcome
from codemint.verdict import passes

LIMITS = ExecLimits(timeout_s=2.0, cpu_s=2, memory_mb=256)

ORIGINAL = (
    "def f(n):\n"
    "    if n < 0:\n"
    "        raise KeyError(n)\n"
    "    return doubles(n)\n"
    "\n"
    "\n"
    "def doubles(n):\n"
    "    for i in range(n):\n"
    "        yield i * 2\n"
    "    if n > 2:\n"
    "        raise ValueError(f'{n} is too many')\n"
)
MUTANTS = {
    "float items": ORIGINAL.replace("i * 2", "i * 2.0"),
    "other message": ORIGINAL.replace("is too many", "exceeds the limit"),
    "other items": ORIGINAL.replace("i * 2", "i * 3"),
    "other exception": ORIGINAL.replace("raise ValueError", "raise TypeError"),
    "stops early": ORIGINAL.replace("range(n)", "range(min(n, 3))"),
}


@pytest.fixture(params=BACKENDS, scope="module")
def box(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    sandbox = make_sandbox(request.param, limits=LIMITS)
    with sandbox:
        yield sandbox


def test_outcome_keys_compare_by_the_verdicts_value_rule() -> None:
    two, two_float = canonical_json(2), canonical_json(2.0)
    assert OutcomeKey("ok", two) == OutcomeKey("ok", two_float)
    assert hash(OutcomeKey("ok", two)) == hash(OutcomeKey("ok", two_float))
    assert OutcomeKey("ok", two) != OutcomeKey("ok", canonical_json(True))
    assert OutcomeKey("ok", two) != OutcomeKey("iter", two)
    assert OutcomeKey("error", "ValueError") != OutcomeKey("error", "TypeError")
    original = [Outcome("ok", two, 0.0), Outcome("error", "ValueError", 0.0)]
    same = SuiteRun([Outcome("ok", two_float, 0.0), Outcome("error", "ValueError", 0.0)], "ok")
    assert differs(original, same) == (False, [])
    other = SuiteRun([Outcome("ok", canonical_json(2.5), 0.0), Outcome("error", "KeyError", 0.0)], "ok")
    assert differs(original, other) == (True, [0, 1])


def test_a_mutant_is_killed_exactly_when_verify_fails_it(box: Sandbox) -> None:
    inputs = [encode_input([n]) for n in (-1, 2, 4)]

    def suite_run(code: str) -> SuiteRun:
        job = suite_job("s", code, "f", inputs, budgets=[1.0] * 3, expect=None, trace=False, base=LIMITS)
        (result,) = box.run_batch([job])
        return parse(result, trace=False)

    def verify_run(code: str) -> list[CallOutcome]:
        (result,) = box.run_batch(
            [ExecJob(job_id="v", code=code, entry_point="f", inputs=inputs, limits=LIMITS)]
        )
        assert result.infra_error is None, result.infra_error
        return result.outcomes

    base = suite_run(ORIGINAL)
    assert [o.kind for o in base.outcomes] == ["error", "iter", "iter"]
    cases = [
        Case(input=t, expected=o.result, exception=o.exc_type)
        for t, o in zip(inputs, verify_run(ORIGINAL), strict=True)
    ]
    assert cases[2].expected is not None and "__iter_raised__" in cases[2].expected
    killed = {name: differs(base.outcomes, suite_run(code))[1] for name, code in MUTANTS.items()}
    failed = {
        name: [i for i, (c, o) in enumerate(zip(cases, verify_run(code), strict=True)) if not passes(c, o)]
        for name, code in MUTANTS.items()
    }
    assert (
        killed
        == failed
        == {
            "float items": [],
            "other message": [],
            "other items": [1, 2],
            "other exception": [2],
            "stops early": [2],
        }
    )


def test_suites_run_several_to_a_process_give_each_its_own_result(box: Sandbox) -> None:
    """`run_suites`: the original and its mutants, 3 to a process, parse exactly as each run
    alone; a suite that takes its process down (os._exit) costs its group-mates nothing: they
    run again one per process, and it gets its own result. Rows are never mixed."""
    from codemint import exec_meter
    from codemint.sandbox.metered import Metered
    from codemint.sandbox.suite import run_suites

    inputs = [encode_input([n]) for n in (-1, 2, 4)]
    codes = [ORIGINAL, *MUTANTS.values()]
    codes.insert(2, ORIGINAL.replace("    return doubles(n)", "    import os\n    os._exit(3)"))
    codes.insert(4, ORIGINAL.replace("    return doubles(n)", "    while True:\n        pass"))
    jobs = [
        suite_job(f"s{k}", code, "f", inputs, budgets=[0.5] * 3, expect=None, trace=False, base=LIMITS)
        for k, code in enumerate(codes)
    ]
    alone = [parse(r, trace=False) for r in box.run_batch(jobs)]
    metered = Metered(box)
    with exec_meter.metering() as meter:
        rows = ["a"] * len(jobs)
        together = [parse(r, trace=False) for r in run_suites(metered, jobs, rows, per_process=3)]

    def shape(run: SuiteRun) -> tuple[object, ...]:
        return (run.job_status, [(o.kind, o.value) for o in run.outcomes])

    assert [shape(r) for r in together] == [shape(r) for r in alone]
    assert alone[2].job_status != "ok" and [o.kind for o in alone[4].outcomes] == [
        "error",
        "timeout",
        "timeout",
    ]
    # 3 processes of 3 suites, the first group's 3 again one by one (its process died)
    assert meter.jobs == 3 + 3
    # every test each ran, and the test os._exit ended: in its group's process and alone
    assert meter.executions == sum(len(r.outcomes) for r in together) + 2


def test_suites_of_different_rows_never_share_a_process(box: Sandbox) -> None:
    from codemint import exec_meter
    from codemint.sandbox.metered import Metered
    from codemint.sandbox.suite import run_suites

    inputs = [encode_input([n]) for n in (1, 2)]
    jobs = [
        suite_job(f"s{k}", ORIGINAL, "f", inputs, budgets=[0.5] * 2, expect=None, trace=False, base=LIMITS)
        for k in range(5)
    ]
    with exec_meter.metering() as meter:
        runs = [parse(r, trace=False) for r in run_suites(Metered(box), jobs, ["a", "a", "b", "a", "a"], 8)]
    assert meter.jobs == 3 and all(r.job_status == "ok" and len(r.outcomes) == 2 for r in runs)
