"""execute.predecide: a row feedback testgen's run of the original already dooms is dropped
without running it, with the reason and message its run would give; other rows run as
before (Docker sandbox, real feedback testgen)."""

from __future__ import annotations

import functools
import textwrap

import pytest
from real_rows import rows_to_execute
from sandbox_support import IMAGE, require_docker

from codemint import exec_meter
from codemint.records import Executed, Rejected, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute.stage import Execute, may_print

CODE = textwrap.dedent(
    '''
    def default_port(scheme):
        """Return the port a server listens on when none is configured for a URL scheme."""
        ports = {"http": 8080, "https": 8080}
        return ports.get(str(scheme).lower(), 8080)


    def announce(names):
        """Print a greeting for each of names."""
        for name in names:
            print("hello", name)


    def clamp(x: int, lo: int, hi: int) -> int:
        """Return x limited to the range [lo, hi]."""
        if lo > hi:
            raise ValueError("empty range")
        return max(lo, min(x, hi))


    def check_level(level):
        """Validate a log level name; this build accepts none and raises ValueError."""
        if not level:
            raise ValueError("no level")
        raise ValueError(f"unknown level: {level!r}")
    '''
)


def settings(predecide: bool = True) -> PipelineSettings:
    return PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        testgen={"feedback_pool": 16, "feedback_mutants": 6},
        execute=ExecuteSettings(predecide=predecide),
    )


@functools.cache
def rows() -> dict[str, WithInputs]:
    """The rows execute gets, by entry point, each with testgen's run of every input."""
    out = rows_to_execute(CODE, settings())
    assert set(out) == {"default_port", "announce", "clamp", "check_level"}
    assert all(len(r.input_runs) == len(r.test_inputs) for r in out.values())
    return out


def execute(rec: WithInputs, predecide: bool) -> tuple[Executed | Rejected, dict[str, float], int]:
    """Execute's verdict on `rec`, its metrics and the sandbox jobs it ran."""
    stage = Execute(settings(predecide))
    with exec_meter.metering() as meter:
        (out,) = stage.run([rec])
    return out, dict(stage.metrics), meter.jobs


@pytest.mark.parametrize(
    ("name", "reason"), [("default_port", "constant_outcome"), ("check_level", "no_normal_returns")]
)
def test_a_doomed_row_is_dropped_unrun_with_the_verdict_its_run_gives(name: str, reason: str) -> None:
    require_docker()
    early, metrics, jobs = execute(rows()[name], predecide=True)
    # Off: today's behaviour, the row runs here (testgen's run stands for the first of two).
    full, full_metrics, full_jobs = execute(rows()[name], predecide=False)
    assert isinstance(full, Rejected) and full.drop_reason == reason and full_jobs == 1
    assert not any(k.startswith("predecided") for k in full_metrics)
    assert isinstance(early, Rejected) and jobs == 0
    assert early.model_dump() == full.model_dump()  # the same reason, message and record
    assert metrics[f"predecided:{reason}"] == 1 and not any(k.startswith("original_") for k in metrics)


def test_a_kept_row_and_a_row_that_prints_run_as_before() -> None:
    require_docker()
    for name in ("clamp", "announce"):
        rec = rows()[name]
        on, metrics, jobs = execute(rec, predecide=True)
        off, _, off_jobs = execute(rec, predecide=False)
        assert jobs == off_jobs >= 1 and not any(k.startswith("predecided") for k in metrics)
        assert isinstance(on, Executed) and on.model_dump() == off.model_dump()
    # Testgen does not record stdout: on its outcomes alone a printer returning None looks
    # constant, but its tests compare what it prints, so it is not pre-decided.
    assert may_print(rows()["announce"]) and not may_print(rows()["clamp"])
    announced = execute(rows()["announce"], predecide=True)[0]
    assert isinstance(announced, Executed) and len({c.stdout for c in announced.test_cases}) > 2


def test_inputs_raising_what_the_prompt_does_not_state_run_no_more_and_the_row_is_the_same() -> None:
    """execute.skip_unstated: an input on which testgen's run raised an exception the prompt
    does not state is not run again (its test is dropped either way); the row is the same."""
    require_docker()
    rec = rows()["clamp"]
    made = {}
    for skip in (True, False):
        stage = Execute(settings())
        stage.settings.execute.skip_unstated = skip
        with exec_meter.metering() as meter:
            (made[skip],) = stage.run([rec])
        made[skip, "metrics"], made[skip, "executions"] = dict(stage.metrics), meter.executions
    skipped = made[True, "metrics"]["inputs_skipped:unstated_exception"]
    assert skipped >= 1 and "inputs_skipped:unstated_exception" not in made[False, "metrics"]
    assert made[True, "executions"] == made[False, "executions"] - skipped
    on, off = made[True], made[False]
    assert isinstance(on, Executed) and on.model_dump() == off.model_dump()
    assert made[True, "metrics"]["test_dropped:unstated_exception"] == skipped
