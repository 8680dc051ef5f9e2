"""The pipeline flow: wiring only. It submits each stage's Prefect task (declared in its
module in `tasks/`, cache policy included) once per shard, waits, and reports.

Task runs are cached on content (see codemint/stage_task.py): re-running a finished run is
all cache hits, re-running a failed one redoes only what failed or what depends on changed
content. Stages that need a view across shards (dedup, selection) get an index task first.
The flow never looks inside a shard.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import allow_failure, flow
from prefect.client.orchestration import get_client
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from pydantic import BaseModel

from codemint import __version__, modgraph, store
from codemint.flows import registry
from codemint.flows.funnel import StageFunnel, build_funnel, write_run_report
from codemint.flows.inspection import final_rows
from codemint.flows.registry import DERIVED, PIPELINE, stage_class
from codemint.flows.reporting import StageProgress, publish_run_artifacts
from codemint.flows.yields import yield_by_source
from codemint.sandbox.images import with_package_environment
from codemint.settings import PipelineSettings
from codemint.stage import ShardResult
from codemint.stage_task import ShardInput, cache_key, make_stage, results_dir
from codemint.tasks.export import export_task
from codemint.tasks.ingest import plan_sources, write_source_shards


class ShardsFailed(RuntimeError):
    """Some shard tasks failed; the others finished and the run report names the failures."""


class ShardFailure(BaseModel):
    stage: str
    shard: int
    error: str


class RunSummary(BaseModel):
    run_id: str
    run_dir: str
    funnel: list[StageFunnel]
    failures: list[ShardFailure]
    seconds: float
    dataset_dir: str | None = None


def submit_pipeline(
    run_dir: Path, settings: PipelineSettings, sources: Sequence[ShardInput], stages: Sequence[str]
) -> dict[str, dict[int, PrefectFuture[ShardResult]]]:
    """Submit every (stage, shard) task at once, each waiting on its own upstream shard only,
    so shard 0 can be in `execute` while shard 3 is still in `testgen`. Stages with an index
    wait for all upstream shards (a failed one is left out of the index)."""
    storage = results_dir(run_dir)
    settings_json = settings.model_dump_json()
    upstream: dict[int, Any] = dict(enumerate(sources))
    submitted: dict[str, dict[int, PrefectFuture[ShardResult]]] = {}
    for stage in stages:
        worker = make_stage(stage_class(stage), settings)
        fingerprint = worker.fingerprint()
        # --retry-llm-failures: the LLM stages run again (their cached answers that succeeded
        # still replay); a stage's cache key does not depend on the flag.
        refresh = settings.llm.retry_failures and worker.uses_llm()
        index = None
        index_task = registry.index_task(stage)
        if index_task is not None:
            index = index_task.with_options(result_storage=storage).submit(
                upstream=[allow_failure(upstream[s]) for s in sorted(upstream)],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=fingerprint,
            )
        shard_task = registry.shard_task(stage).with_options(result_storage=storage)
        if refresh:
            shard_task = shard_task.with_options(refresh_cache=True)
        submitted[stage] = {
            shard: shard_task.submit(
                shard=shard,
                upstream=upstream[shard],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=fingerprint,
                index=cast(Any, index),  # a future: Prefect resolves it before the task runs
            )
            for shard in sorted(upstream)
        }
        upstream = dict(submitted[stage])
    return submitted


def collect(
    run_id: str, submitted: dict[str, dict[int, PrefectFuture[ShardResult]]]
) -> tuple[dict[str, dict[int, ShardResult]], list[ShardFailure]]:
    """Wait for every task; a shard that failed is named once, at the stage where it failed."""
    results: dict[str, dict[int, ShardResult]] = {stage: {} for stage in submitted}
    failures: list[ShardFailure] = []
    failed_shards: set[int] = set()
    for stage, futures in submitted.items():
        progress = StageProgress(run_id, stage, len(futures))
        by_future = {future: shard for shard, future in futures.items()}
        for future in as_completed(list(by_future)):
            shard = by_future[future]
            try:
                results[stage][shard] = future.result()
            except Exception as exc:
                if shard not in failed_shards:  # downstream of a failure: not ready, not a new failure
                    failed_shards.add(shard)
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    failures.append(ShardFailure(stage=stage, shard=shard, error=error))
            progress.advance()
        results[stage] = dict(sorted(results[stage].items()))
    return results, failures


def run_export(
    run_dir: Path, settings: PipelineSettings, last: dict[int, ShardResult], funnel: list[StageFunnel]
) -> str:
    ordered = [last[shard] for shard in sorted(last)]
    funnel_rows = [
        f.model_dump(exclude={"seconds", "seconds_per_row"}) for f in funnel
    ]  # no timings: stable cache key
    # The card shows the funnel and the settings: both are part of the key.
    card_settings = settings.model_dump(mode="json", exclude={"runs_dir", "fail_shards"})
    code = modgraph.code_digest([export_task.fn.__module__])
    fingerprint = cache_key(card_settings, funnel_rows, __version__, code)
    export_task.with_options(result_storage=results_dir(run_dir))(
        paths=[r.kept_path for r in ordered],
        digests=[r.kept_digest for r in ordered],
        run_dir=str(run_dir),
        settings_json=settings.model_dump_json(),
        fingerprint=fingerprint,
        funnel=funnel_rows,
    )
    return str(run_dir / "dataset")


def tag_flow_run(run_id: str) -> None:
    """Tag the flow run (not each task run: tag concurrency checks cost ~0.3 s per task run)."""
    run_uuid = flow_run.get_id()
    if run_uuid is None:
        return
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(UUID(str(run_uuid))).tags
        client.update_flow_run(UUID(str(run_uuid)), tags=sorted({*current, "codemint", f"dataset:{run_id}"}))


def default_run_id(inputs: Sequence[str], packages: Sequence[str]) -> str:
    label = (packages[0] if packages else Path(inputs[0]).stem if inputs else "run").replace(".", "-")
    return f"{label}-{cache_key(sorted(inputs), sorted(packages))[:8]}"


@flow(name="codemint-pipeline", log_prints=True)
def pipeline(
    inputs: list[str] | None = None,
    packages: list[str] | None = None,
    run_id: str | None = None,
    settings: PipelineSettings | None = None,
) -> RunSummary:
    """Ingest -> reformat -> dedup -> summarize -> testgen -> execute -> verify, per shard."""
    started = time.perf_counter()
    settings = settings or PipelineSettings()
    inputs, packages = list(inputs or []), list(packages or [])
    run_id = run_id or default_run_id(inputs, packages)
    run_dir = (settings.runs_dir / run_id).resolve()
    store.sweep_temp_files(run_dir)
    tag_flow_run(run_id)
    if settings.uses_llm():
        from codemint.llm.health import check_server

        check_server(settings.llm)  # fail fast: server down, or serving another model
    refs = plan_sources(inputs, packages)
    # The sandbox gets the packages' exact environment; the derived image's tag enters every
    # cache key that covers the sandbox, so a new version re-runs execute and verify.
    settings = settings.model_copy(update={"sandbox": with_package_environment(settings.sandbox, packages)})
    sources = write_source_shards(refs, run_dir, settings.shards)
    stages = [*PIPELINE, *DERIVED]
    results, failures = collect(run_id, submit_pipeline(run_dir, settings, sources, stages))
    funnel = build_funnel(results, PIPELINE)
    dataset_dir = None
    if not failures:  # a dataset is exported from complete runs only
        dataset_dir = run_export(run_dir, settings, results[stages[-1]], funnel)
    summary = RunSummary(
        run_id=run_id,
        run_dir=str(run_dir),
        funnel=funnel,
        failures=failures,
        seconds=round(time.perf_counter() - started, 2),
        dataset_dir=dataset_dir,
    )
    write_run_report(
        run_dir, summary.model_dump(), settings, {"inputs": inputs, "packages": packages}, __version__
    )
    publish_run_artifacts(
        run_id,
        funnel,
        [f.model_dump() for f in failures],
        final_rows(run_dir)[:3],
        summary.seconds,
        yield_by_source(run_dir),
    )
    if failures:
        named = "; ".join(f"{f.stage} shard {f.shard}: {f.error}" for f in failures)
        raise ShardsFailed(f"{len(failures)} shard task(s) failed: {named}")
    return summary
