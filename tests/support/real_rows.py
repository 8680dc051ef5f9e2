"""Verified rows whose tests are what the code really does, run in the Docker sandbox."""

from __future__ import annotations

from typing import Any

from factories import verified
from sandbox_support import IMAGE, require_docker

from codemint.codec import encode_input
from codemint.records import (
    Function,
    Instructed,
    Provenance,
    Snippet,
    TestCase,
    Verified,
    WithInputs,
    content_id,
)
from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.settings import PipelineSettings, SandboxSettings
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen

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


def instructed_rows(code: str, settings: PipelineSettings, path: str = "m.py") -> list[Instructed]:
    """`code`'s samples as testgen gets them: through the real reformat and summarize."""
    snippet = Snippet(id=content_id(code), code=code, provenance=Provenance(source_uri="test:", path=path))
    functions = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    return [r for r in Summarize(settings).run(functions) if isinstance(r, Instructed)]


def rows_to_execute(code: str, settings: PipelineSettings, path: str = "m.py") -> dict[str, WithInputs]:
    """`code`'s samples as execute gets them, by entry point: through the real reformat,
    summarize and testgen."""
    made = Testgen(settings).run(instructed_rows(code, settings, path))
    return {r.entry_point: r for r in made if isinstance(r, WithInputs)}
