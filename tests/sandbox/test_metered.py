"""The metered sandbox counts what ran: each input of a plain job, each test a suite job ran."""

from __future__ import annotations

from sandbox_support import make_sandbox

from codemint import exec_meter
from codemint.codec import encode_input
from codemint.sandbox.api import ExecJob, ExecLimits
from codemint.sandbox.metered import Metered
from codemint.sandbox.suite import parse, suite_job

LIMITS = ExecLimits(timeout_s=2.0, cpu_s=2, memory_mb=256)
CODE = "def twice(x):\n    return 2 * x\n"


def test_plain_inputs_and_the_tests_a_suite_ran_are_counted_for_the_block_they_ran_in() -> None:
    inputs = [encode_input([n]) for n in (1, 2, 3)]
    plain = ExecJob(job_id="plain", code=CODE, entry_point="twice", inputs=inputs, limits=LIMITS)
    # Expecting 2 then 5 (the original returns 2 and 4): the suite stops at its second test.
    expect = [("ok", None, "2"), ("ok", None, "5"), ("ok", None, "6")]
    suite = suite_job(
        "suite", CODE, "twice", inputs, budgets=[1.0] * 3, expect=expect, trace=False, base=LIMITS
    )
    with make_sandbox("local", workers=1, limits=LIMITS) as inner:
        box = Metered(inner)
        box.run_batch([plain])  # outside a metering block: counted nowhere
        with exec_meter.metering() as meter:
            results = box.run_batch([plain, suite])
        assert [o.status for o in results[0].outcomes] == ["ok"] * 3
        assert [o.value for o in parse(results[1], trace=False).outcomes] == ["2", "4"]
        assert (meter.executions, meter.jobs) == (3 + 2, 2)
        assert box.backend_name == inner.backend_name
    assert box.closed  # what the shared sandbox checks before handing it out again
