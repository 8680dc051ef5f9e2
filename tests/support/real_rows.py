"""Verified rows whose tests are what the code really does, run in the Docker sandbox."""

from __future__ import annotations

from typing import Any

from factories import verified
from sandbox_support import IMAGE, require_docker

from codemint.codec import encode_input
from codemint.records import TestCase, Verified
from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.settings import SandboxSettings

Call = tuple[list[Any], dict[str, Any]]


def docker_settings() -> SandboxSettings:
    """The test image on Docker (fails on CI, skips elsewhere, when Docker cannot run)."""
    require_docker()
    return SandboxSettings(backend="docker", image=IMAGE, workers=2)


def real_row(code: str, calls: list[Call], box: SandboxSettings) -> Verified:
    """A verified row of `code` whose test cases come from running it on `calls`, as execute makes them."""
    row = verified(code)
    inputs = [encode_input(args, kwargs) for args, kwargs in calls]
    job = ExecJob(job_id="reference", code=row.original_code, entry_point=row.entry_point, inputs=inputs)
    (result,) = shared_sandbox(box).run_batch([job])
    cases = [
        TestCase(input=i, expected=o.result) if o.status == "ok" else TestCase(input=i, exception=o.exc_type)
        for i, o in zip(inputs, result.outcomes, strict=True)
    ]
    n = len(cases)
    data = row.model_dump() | {"test_cases": cases, "test_inputs": inputs, "input_sources": ["test"] * n}
    return Verified.model_validate(data | {"tests_passed": n, "tests_total": n})
