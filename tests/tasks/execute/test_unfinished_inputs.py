"""Execute runs a row without a reference run twice, the second time only on the inputs its
first run finished: an input that ran out of time there is discarded whatever the second run
gives (Docker sandbox)."""

from __future__ import annotations

import textwrap

from real_rows import instructed_rows
from sandbox_support import IMAGE, require_docker

from codemint import exec_meter
from codemint.codec import encode_input
from codemint.records import Executed, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute.stage import Execute

CODE = textwrap.dedent(
    '''
    def spin(n: int) -> int:
        """Return n doubled, or keep going forever when n is negative."""
        while n < 0:
            pass
        return 2 * n
    '''
)


def test_an_input_the_first_run_did_not_finish_is_not_run_again() -> None:
    require_docker()
    settings = PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1, "limits": {"timeout_s": 1.0, "cpu_s": 1}},
        execute=ExecuteSettings(prescreen=False),
    )
    (instructed,) = instructed_rows(CODE, settings)
    inputs = [encode_input([n], {}) for n in (1, 2, 3, -1, 4, 5)]
    row = WithInputs(**instructed.model_dump(), test_inputs=inputs, input_sources=["typed"] * len(inputs))
    stage = Execute(settings)
    with exec_meter.metering() as meter:
        (out,) = stage.run([row])
    assert isinstance(out, Executed) and [c.input for c in out.test_cases] == [*inputs[:3], *inputs[4:]]
    assert out.discarded_inputs == 1 and stage.metrics["inputs_not_rerun:unfinished"] == 1
    assert meter.executions == 2 * len(inputs) - 1  # the second run left the looping input out
