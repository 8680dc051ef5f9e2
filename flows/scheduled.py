"""The flow that deployments schedule: plain parameters (input, output, shards, strategies)
mapped onto settings, and `rerun_failed` to re-run only the failed shards of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow

from codemint import store
from codemint.flows.pipeline import RunSummary, pipeline
from codemint.flows.rerun import rerun
from codemint.settings import DEFAULT_STDLIB_MODULES, PipelineSettings


@flow(name="codemint-scheduled")
def scheduled_pipeline(
    inputs: list[str] | None = None,
    packages: list[str] | None = None,
    output: str = "runs",
    run_id: str | None = None,
    shards: int = 4,
    summarize_strategy: Literal["docstring", "llm"] = "docstring",
    testgen_strategies: list[str] | None = None,
    verify_candidate: Literal["reformatted", "regenerated", "both"] = "reformatted",
    sandbox_backend: Literal["docker", "local", "auto"] = "auto",
    config: str | None = None,
    rerun_failed: bool = False,
) -> RunSummary:
    """Run the pipeline (or, with `rerun_failed`, re-run the failed shards of `run_id`)."""
    if rerun_failed:
        if not run_id:
            raise ValueError("rerun_failed needs the run_id of the run to re-run")
        return rerun(run_id=run_id, runs_dir=output)
    settings = PipelineSettings.load(Path(config) if config else None)
    settings.runs_dir = store.as_setting(output)
    settings.shards = shards
    settings.summarize.strategy = summarize_strategy
    if testgen_strategies:
        settings.testgen.strategies = testgen_strategies  # type: ignore[assignment]
    settings.verify.candidate = verify_candidate
    settings.sandbox.backend = sandbox_backend
    if not inputs and not packages:
        packages = list(DEFAULT_STDLIB_MODULES)
    return pipeline(inputs=inputs, packages=packages, run_id=run_id, settings=settings)
