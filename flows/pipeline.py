"""The pipeline flow: wiring only. It submits each stage's Prefect task (declared in its
module in `tasks/`, cache policy included) once per shard, waits, and reports.

Task runs are cached on content (see codemint/stage_task.py): re-running a finished run is
all cache hits, re-running a failed one redoes only what failed or what depends on changed
content. Before submitting, the leading stages whose every task would be a cache hit are
found from the result store and recorded as Cached task runs in one batch (cache_walk.py);
tasks are submitted from the first stage with a miss on. Stages that need a view across
shards (dedup, selection) get an index task first. The flow never looks inside a shard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from uuid import UUID

import pyarrow as pa
from prefect import Task, allow_failure, flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel

from codemint import __version__, modgraph, store
from codemint.flows import registry
from codemint.flows.cache_walk import SettledStage, record_cached, settled_stages
from codemint.flows.funnel import StageFunnel, build_funnel, write_run_report
from codemint.flows.inspection import first_final_rows
from codemint.flows.registry import DERIVED, PIPELINE, stage_class
from codemint.flows.reporting import StageProgress, publish_run_artifacts
from codemint.flows.yields import yield_by_source
from codemint.records import SourceRef
from codemint.sandbox.images import with_package_environment
from codemint.settings import PipelineSettings
from codemint.stage import ShardResult
from codemint.stage_task import ShardInput, cache_key, make_stage, result_storage
from codemint.tasks.export.stage import export_task
from codemint.tasks.ingest.stage import plan_sources, write_source_shards

R = TypeVar("R")


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
    until: str | None = None  # the last stage run (`--until`); None: every stage and the export


def stages_until(until: str | None) -> list[str]:
    """The stages a run goes through: all of them, or the first ones up to `until` included."""
    stages = [*PIPELINE, *DERIVED]
    if until is None:
        return stages
    if until not in stages:
        raise ValueError(f"--until {until!r}: no such stage; stages in order: {', '.join(stages)}")
    return stages[: stages.index(until) + 1]


def shard_runner(shards: int, settings: PipelineSettings) -> TaskRunner[Any] | None:
    """A thread pool bounded to `settings.shards` tasks when a big corpus was planned into more
    shards than that, so only that many shards are in memory at once (None: the flow's runner).

    No deadlock: tasks are submitted upstream first and the pool takes them in order, so a
    task waiting on its upstream holds a thread only while that upstream has one too."""
    context = FlowRunContext.get()
    flow_runner = context.task_runner if context else None
    if shards <= settings.shards or not isinstance(flow_runner, ThreadPoolTaskRunner):
        return None  # a Dask cluster bounds its work by its workers' threads
    return ThreadPoolTaskRunner(max_workers=max(2, settings.shards))


def stage_plans(settings: PipelineSettings, stages: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """Each stage's fingerprint (part of its cache keys), and the stages whose cache is bypassed:
    with --retry-llm-failures the LLM stages run again (their cached answers that succeeded
    still replay); a stage's cache key does not depend on the flag."""
    fingerprints: dict[str, str] = {}
    refresh: set[str] = set()
    for stage in stages:
        worker = make_stage(stage_class(stage), settings)
        fingerprints[stage] = worker.fingerprint()
        if settings.llm.retry_failures and worker.uses_llm():
            refresh.add(stage)
    return fingerprints, refresh


def submit_pipeline(
    run_dir: store.RunPath,
    settings: PipelineSettings,
    upstream: Mapping[int, ShardInput | ShardResult],
    stages: Sequence[str],
    plans: tuple[dict[str, str], set[str]],
    runner: TaskRunner[Any] | None = None,
) -> dict[str, dict[int, PrefectFuture[ShardResult]]]:
    """Submit every (stage, shard) task at once, each waiting on its own upstream shard only,
    so shard 0 can be in `execute` while shard 3 is still in `testgen`. Stages with an index
    wait for all upstream shards (a failed one is left out of the index). `upstream` is the
    source shards, or the results of the cached stages before `stages`."""
    storage = result_storage(run_dir)
    settings_json = settings.model_dump_json()
    fingerprints, refresh = plans
    inputs: dict[int, Any] = dict(upstream)
    submitted: dict[str, dict[int, PrefectFuture[ShardResult]]] = {}
    for stage in stages:
        fingerprint = fingerprints[stage]
        index = None
        index_task = registry.index_task(stage)
        if index_task is not None:
            index = _submit(
                index_task.with_options(result_storage=storage),
                runner,
                upstream=[allow_failure(inputs[s]) for s in sorted(inputs)],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=fingerprint,
            )
        shard_task = registry.shard_task(stage).with_options(result_storage=storage)
        if stage in refresh:
            shard_task = shard_task.with_options(refresh_cache=True)
        submitted[stage] = {
            shard: _submit(
                shard_task,
                runner,
                shard=shard,
                upstream=inputs[shard],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=fingerprint,
                index=cast(Any, index),  # a future: Prefect resolves it before the task runs
            )
            for shard in sorted(inputs)
        }
        inputs = dict(submitted[stage])
    return submitted


def _submit(task: Task[..., R], runner: TaskRunner[Any] | None, **parameters: Any) -> PrefectFuture[R]:
    if runner is None:
        return task.submit(**parameters)
    return runner.submit(task, parameters)  # what Task.submit does, on a runner of our own


def collect(
    run_id: str,
    submitted: dict[str, dict[int, PrefectFuture[ShardResult]]],
    cached: Sequence[SettledStage] = (),
) -> tuple[dict[str, dict[int, ShardResult]], list[ShardFailure]]:
    """Wait for every task; a shard that failed is named once, at the stage where it failed.
    The stages found cached before submitting come first, their results already known."""
    results: dict[str, dict[int, ShardResult]] = {done.stage: dict(done.results) for done in cached}
    for done in cached:
        progress = StageProgress(run_id, done.stage, len(done.results))
        for _ in done.results:
            progress.advance()
    results.update({stage: {} for stage in submitted})
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
    run_dir: store.RunPath,
    settings: PipelineSettings,
    last: dict[int, ShardResult],
    funnel: list[StageFunnel],
) -> str:
    ordered = [last[shard] for shard in sorted(last)]
    funnel_rows = [
        f.model_dump(exclude={"seconds", "seconds_per_row"}) for f in funnel
    ]  # no timings: stable cache key
    # The card shows the funnel and the settings: both are part of the key.
    card_settings = settings.model_dump(
        mode="json", exclude={"runs_dir", "fail_shards", "cache_walk", "index_workers"}
    )
    code = modgraph.code_digest([export_task.fn.__module__])
    fingerprint = cache_key(card_settings, funnel_rows, __version__, code)
    export_task.with_options(result_storage=result_storage(run_dir))(
        paths=[r.kept_path for r in ordered],
        digests=[r.kept_digest for r in ordered],
        run_dir=str(run_dir),
        settings_json=settings.model_dump_json(),
        fingerprint=fingerprint,
        funnel=funnel_rows,
    )
    return str(run_dir / "dataset")


def source_shards(
    refs: list[SourceRef], run_dir: store.RunPath, settings: PipelineSettings
) -> list[ShardInput]:
    """The planned sources as Parquet shards, written (write_source_shards) unless the same
    plan already wrote them. A re-run plans the same shards: building their tables only to
    find the same bytes costs ~0.4 s (pyarrow imports pandas on its first table), so the plan
    and the shards' digests and stats are recorded beside them and trusted while the files
    keep their size and mtime, as Python trusts its bytecode cache."""
    if not isinstance(run_dir, Path):
        return write_source_shards(refs, run_dir, settings.shards, settings.shard_max_bytes)
    plan_file = run_dir / "sources" / ".plan.json"
    key = cache_key(
        [r.model_dump(mode="json") for r in refs],
        settings.shards,
        settings.shard_max_bytes,
        modgraph.code_digest([write_source_shards.__module__]),  # what lays the shards out
        pa.__version__,  # and writes their bytes
    )
    try:
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        if plan["key"] == key and all(_same_file(s) for s in plan["shards"]):
            return [ShardInput(path=s["path"], digest=s["digest"]) for s in plan["shards"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no plan yet, or an unreadable one: write the shards
    sources = write_source_shards(refs, run_dir, settings.shards, settings.shard_max_bytes)
    shards = [s.model_dump() | _file_stat(Path(s.path)) for s in sources]
    store.write_json(plan_file, {"key": key, "shards": shards})
    return sources


def _file_stat(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _same_file(shard: dict[str, Any]) -> bool:
    try:
        return _file_stat(Path(shard["path"])) == {"size": shard["size"], "mtime_ns": shard["mtime_ns"]}
    except OSError:
        return False


def run_location(runs_dir: str | Path, run_id: str) -> store.RunPath:
    """The run's directory: an absolute local path, or a URL on a remote filesystem."""
    where = store.location(runs_dir) / run_id
    return where.resolve() if isinstance(where, Path) else where


def _flow_run_uuid() -> UUID | None:
    run_uuid = flow_run.get_id()
    return UUID(str(run_uuid)) if run_uuid is not None else None


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
    until: str | None = None,
) -> RunSummary:
    """Ingest -> reformat -> dedup -> summarize -> testgen -> execute -> verify, per shard.

    `until` names the last stage to run (the first stages only; no export)."""
    started = time.perf_counter()
    stages = stages_until(until)
    settings = settings or PipelineSettings()
    inputs, packages = list(inputs or []), list(packages or [])
    run_id = run_id or default_run_id(inputs, packages)
    run_dir = run_location(settings.runs_dir, run_id)
    store.sweep_temp_files(run_dir)
    tag_flow_run(run_id)
    if registry.uses_llm(settings):
        from codemint.llm.health import check_server

        check_server(settings.llm)  # fail fast: server down, or serving another model
    refs = plan_sources(inputs, packages)
    # The sandbox gets the packages' exact environment; the derived image's tag enters every
    # cache key that covers the sandbox, so a new version re-runs execute and verify.
    settings = settings.model_copy(update={"sandbox": with_package_environment(settings.sandbox, packages)})
    sources = source_shards(refs, run_dir, settings)
    plans = stage_plans(settings, stages)
    # A re-run: the leading stages whose every task would be a cache hit are recorded as
    # Cached in one batch, not run through the task engine one by one (flows/cache_walk.py).
    cached = settled_stages(run_dir, settings, sources, stages, *plans) if settings.cache_walk else []
    recorded = record_cached(cached, _flow_run_uuid())
    if recorded:
        get_run_logger().info(
            "%d task runs cached (%s): results persisted by an earlier run, recorded without running",
            recorded,
            ", ".join(done.stage for done in cached),
        )
    upstream: Mapping[int, ShardInput | ShardResult] = (
        cached[-1].results if cached else dict(enumerate(sources))
    )
    todo = stages[len(cached) :]
    runner = shard_runner(len(sources), settings) if todo else None
    if runner is None:
        results, failures = collect(run_id, submit_pipeline(run_dir, settings, upstream, todo, plans), cached)
    else:
        with runner:
            submitted = submit_pipeline(run_dir, settings, upstream, todo, plans, runner)
            results, failures = collect(run_id, submitted, cached)
    funnel = build_funnel(results, [s for s in PIPELINE if s in stages])
    dataset_dir = None
    if not failures and stages == stages_until(None):  # a dataset is exported from complete runs only
        dataset_dir = run_export(run_dir, settings, results[stages[-1]], funnel)
    summary = RunSummary(
        run_id=run_id,
        run_dir=str(run_dir),
        funnel=funnel,
        failures=failures,
        seconds=round(time.perf_counter() - started, 2),
        dataset_dir=dataset_dir,
        until=until,
    )
    request = {"inputs": inputs, "packages": packages, "until": until}
    write_run_report(run_dir, summary.model_dump(), settings, request, __version__)
    publish_run_artifacts(
        run_id,
        funnel,
        [f.model_dump() for f in failures],
        # Samples: an earlier full run's rows are not this run's.
        first_final_rows(run_dir, 3) if until is None else [],
        summary.seconds,
        yield_by_source(run_dir),
    )
    if failures:
        named = "; ".join(f"{f.stage} shard {f.shard}: {f.error}" for f in failures)
        raise ShardsFailed(f"{len(failures)} shard task(s) failed: {named}")
    return summary
