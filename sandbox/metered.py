"""A sandbox that counts what it runs (`codemint.exec_meter`): every input of a plain job,
and every test a suite job (`sandbox/suite.py`) ran before it stopped."""

from __future__ import annotations

import json
from typing import Any

from codemint import exec_meter
from codemint.sandbox.api import ExecJob, ExecResult, Sandbox
from codemint.sandbox.suite import ENTRY, MULTI_ENTRY


def executions(job: ExecJob, result: ExecResult) -> int:
    """Inputs `job` ran: a suite job's tests, as many as its one outcome reports (the tests of
    each suite of a job running several)."""
    if job.entry_point not in (ENTRY, MULTI_ENTRY):
        return len(result.outcomes)
    if len(result.outcomes) != 1:
        return 0
    call = result.outcomes[0]
    if call.status != "ok" or call.result is None:
        return 1  # the job died during a test: that one ran
    try:
        tests = json.loads(call.result)
    except ValueError:
        return 0
    if not isinstance(tests, list):
        return 0
    if job.entry_point == MULTI_ENTRY:
        return sum(len(t) for t in tests if isinstance(t, list))
    return len(tests)


class Metered(Sandbox):
    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.backend_name = inner.backend_name

    def run_batch(self, jobs: list[ExecJob]) -> list[ExecResult]:
        results = self.inner.run_batch(jobs)
        exec_meter.add(sum(executions(j, r) for j, r in zip(jobs, results, strict=False)), len(jobs))
        return results

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # `closed`, pool figures and the like: the wrapped sandbox's
        return getattr(self.inner, name)
