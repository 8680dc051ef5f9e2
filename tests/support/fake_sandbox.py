"""A sandbox stand-in for unit tests of the stages that run code: each job's outcomes come from a
function of the job, so a test states exactly what the sandbox answered and checks the stage's
decision. The real backends are tested in tests/sandbox/."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codemint.sandbox.api import CallOutcome, ExecJob, ExecResult, Sandbox

Answer = Callable[[ExecJob], list[CallOutcome] | str]  # outcomes, or an infra error's text


class FakeSandbox(Sandbox):
    backend_name = "fake"

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.jobs: list[ExecJob] = []

    def run_batch(self, jobs: list[ExecJob]) -> list[ExecResult]:
        self.jobs.extend(jobs)
        results = []
        for job in jobs:
            got = self.answer(job)
            if isinstance(got, str):
                results.append(ExecResult(job_id=job.job_id, outcomes=[], infra_error=got))
            else:
                results.append(ExecResult(job_id=job.job_id, outcomes=got))
        return results


def install(monkeypatch: pytest.MonkeyPatch, module: str, answer: Answer) -> FakeSandbox:
    """Make `module` (a stage module) run its jobs on a FakeSandbox answering with `answer`."""
    box = FakeSandbox(answer)
    monkeypatch.setattr(f"{module}.shared_sandbox", lambda settings: box)
    return box


def ok(value: str) -> CallOutcome:
    return CallOutcome(status="ok", result=value)


def raised(exc_type: str, message: str = "") -> CallOutcome:
    return CallOutcome(status="error", exc_type=exc_type, exc_message=message)


def status(name: str) -> CallOutcome:
    return CallOutcome(status=name)  # type: ignore[arg-type]
