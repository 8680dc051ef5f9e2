"""The pipeline flow: wires stages as Prefect tasks, one task run per (stage, shard).

Each task run is cached on (stage, input shard digest, stage fingerprint = settings +
code version, run directory), with its `ShardResult` persisted under the run directory:
re-running a finished run is all cache hits, re-running a failed one redoes only what
failed or what depends on changed content. Stages that need a view across shards
(dedup, selection) get an index task first. The flow never looks inside a shard.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import allow_failure, flow, task
from prefect.client.orchestration import get_client
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from pydantic import BaseModel

from codemint import __version__, store
from codemint.flows.funnel import StageFunnel, build_funnel, write_run_report
from codemint.flows.inspection import final_rows
from codemint.flows.registry import PIPELINE, stage_class
from codemint.flows.reporting import StageProgress, publish_run_artifacts
from codemint.records import SourceRef, to_table
from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage, ShardResult, Stage
from codemint.tasks.export import export_dataset
from codemint.tasks.ingest import assign_shards, plan_sources


class ShardsFailed(RuntimeError):
    """Some shard tasks failed; the others finished and the run report names the failures."""


class IndexResult(BaseModel):
    stage: str
    index_path: str
    digest: str
    figures: dict[str, Any]


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


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class ShardInput(BaseModel):
    """A shard a stage reads: a planned source shard, or the kept rows of the stage before."""

    path: str
    digest: str


def _outputs_exist(params: dict[str, Any]) -> bool:
    stage_dir = Path(params["run_dir"]) / params["stage"]
    shard = params["shard"]
    return store.kept_path(stage_dir, shard).exists() and store.rejected_path(stage_dir, shard).exists()


def shard_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    upstream = params["upstream"]
    index = params.get("index")
    key = f"{params['stage']}-{params['shard']:05d}-" + _key(
        _digest(upstream), params["fingerprint"], params["run_dir"], index.digest if index else None
    )
    if not _outputs_exist(params):
        _forget(params["run_dir"], key)
    return key


def index_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    digests = [_digest(_unwrap(u)) for u in params["upstream"]]
    key = f"{params['stage']}-index-" + _key(digests, params["fingerprint"], params["run_dir"])
    if not (Path(params["run_dir"]) / params["stage"] / "index.parquet").exists():
        _forget(params["run_dir"], key)
    return key


def _forget(run_dir: str, key: str) -> None:
    """Drop a cache record whose output files were deleted since, so the task runs again."""
    (results_dir(Path(run_dir)) / key).unlink(missing_ok=True)


def results_dir(run_dir: Path) -> Path:
    # Cached results live with the run: deleting a run directory also forgets its cache.
    return run_dir / ".prefect-results"


def _digest(upstream: Any) -> str | None:
    if isinstance(upstream, ShardResult):
        return upstream.kept_digest
    if isinstance(upstream, ShardInput):
        return upstream.digest
    return None  # a failed upstream (allow_failure hands its exception over)


def _unwrap(upstream: Any) -> ShardResult | ShardInput | None:
    """An upstream passed through `allow_failure`: the result, or None where it failed.

    On Dask (prefect-dask) such a value arrives wrapped in a tuple with its state."""
    if isinstance(upstream, ShardResult | ShardInput):
        return upstream
    if isinstance(upstream, tuple):
        return next((u for u in upstream if isinstance(u, ShardResult | ShardInput)), None)
    return None


def _path(upstream: ShardResult | ShardInput) -> Path:
    return Path(upstream.kept_path if isinstance(upstream, ShardResult) else upstream.path)


def make_stage(name: str, settings: PipelineSettings, index_path: str | None = None) -> Stage[Any, Any]:
    cls = stage_class(name)
    if issubclass(cls, IndexedStage):
        return cls(settings, Path(index_path) if index_path else None)
    return cls(settings)


@task(task_run_name="{stage}-shard-{shard:05d}", cache_key_fn=shard_cache_key, persist_result=True)
def run_stage_shard(
    stage: str,
    shard: int,
    upstream: ShardResult | ShardInput,
    run_dir: str,
    settings_json: str,
    fingerprint: str,
    index: IndexResult | None = None,
) -> ShardResult:
    """One stage over one shard. `upstream` and `index` arrive as futures and are resolved first."""
    settings = PipelineSettings.model_validate_json(settings_json)
    if f"{stage}:{shard}" in settings.fail_shards:
        raise RuntimeError(f"injected failure of {stage} shard {shard} (settings.fail_shards)")
    input_path = _path(upstream)
    if not input_path.exists():
        raise FileNotFoundError(f"{input_path}: input shard of {stage} is gone; re-run to rebuild it")
    worker = make_stage(stage, settings, index.index_path if index else None)
    return worker.process_shard(input_path, Path(run_dir) / stage, shard)


@task(task_run_name="{stage}-index", cache_key_fn=index_cache_key, persist_result=True)
def build_index(
    stage: str, upstream: list[Any], run_dir: str, settings_json: str, fingerprint: str
) -> IndexResult:
    """A cross-shard index over the shards that succeeded upstream (failed ones are skipped)."""
    settings = PipelineSettings.model_validate_json(settings_json)
    cls = stage_class(stage)
    assert issubclass(cls, IndexedStage)
    index_path = Path(run_dir) / stage / "index.parquet"
    resolved = [_unwrap(u) for u in upstream]
    paths = [_path(u) if u is not None else None for u in resolved]
    figures = cls.build_index(settings, paths, index_path)
    return IndexResult(
        stage=stage, index_path=str(index_path), digest=store.file_digest(index_path), figures=figures
    )


def write_source_shards(refs: list[SourceRef], run_dir: Path, shards: int) -> list[ShardInput]:
    """The planned sources as Parquet shards."""
    out = []
    for i, bucket in enumerate(assign_shards(refs, shards)):
        path = store.kept_path(run_dir / "sources", i)
        store.write_table(path, to_table(list(bucket), SourceRef))
        out.append(ShardInput(path=str(path), digest=store.file_digest(path)))
    return out


def submit_pipeline(
    run_dir: Path, settings: PipelineSettings, sources: Sequence[ShardInput], stages: Sequence[str]
) -> dict[str, dict[int, PrefectFuture[ShardResult]]]:
    """Submit every (stage, shard) task at once, each waiting on its own upstream shard only,
    so shard 0 can be in `execute` while shard 3 is still in `testgen`. Stages with an index
    wait for all upstream shards (a failed one is left out of the index)."""
    storage = results_dir(run_dir)
    shard_task = run_stage_shard.with_options(result_storage=storage)
    index_task = build_index.with_options(result_storage=storage)
    settings_json = settings.model_dump_json()
    upstream: dict[int, Any] = dict(enumerate(sources))
    submitted: dict[str, dict[int, PrefectFuture[ShardResult]]] = {}
    for stage in stages:
        worker = make_stage(stage, settings)
        fingerprint = worker.fingerprint()
        # --retry-llm-failures: the LLM stages run again (their cached answers that succeeded
        # still replay); a stage's cache key does not depend on the flag.
        refresh = settings.llm.retry_failures and worker.uses_llm()
        index = None
        if issubclass(stage_class(stage), IndexedStage):
            index = index_task.submit(
                stage=stage,
                upstream=[allow_failure(upstream[s]) for s in sorted(upstream)],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=fingerprint,
            )
        stage_task = shard_task.with_options(refresh_cache=True) if refresh else shard_task
        submitted[stage] = {
            shard: stage_task.submit(
                stage=stage,
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


def export_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    key = "export-" + _key(params["digests"], params["fingerprint"], params["run_dir"])
    if not (Path(params["run_dir"]) / "dataset" / "manifest.json").exists():
        _forget(params["run_dir"], key)
    return key


@task(task_run_name="export", cache_key_fn=export_cache_key, persist_result=True)
def export_task(
    paths: list[str],
    digests: list[str],
    run_dir: str,
    settings_json: str,
    fingerprint: str,
    funnel: list[Any],
) -> dict[str, Any]:
    """The dataset (messages and Alpaca formats, train/validation, card) from the last stage."""
    settings = PipelineSettings.model_validate_json(settings_json)
    out = Path(run_dir) / "dataset"
    return export_dataset(settings, paths, out, {"funnel": funnel, "code_version": __version__})


def run_export(
    run_dir: Path, settings: PipelineSettings, last: dict[int, ShardResult], funnel: list[StageFunnel]
) -> str:
    ordered = [last[shard] for shard in sorted(last)]
    funnel_rows = [
        f.model_dump(exclude={"seconds", "seconds_per_row"}) for f in funnel
    ]  # no timings: stable cache key
    # The card shows the funnel and the settings: both are part of the key.
    card_settings = settings.model_dump(mode="json", exclude={"runs_dir", "fail_shards"})
    fingerprint = _key(card_settings, funnel_rows, __version__)
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
    return f"{label}-{_key(sorted(inputs), sorted(packages))[:8]}"


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
    sources = write_source_shards(refs, run_dir, settings.shards)
    results, failures = collect(run_id, submit_pipeline(run_dir, settings, sources, PIPELINE))
    funnel = build_funnel(results, PIPELINE)
    dataset_dir = None
    if not failures:  # a dataset is exported from complete runs only
        dataset_dir = run_export(run_dir, settings, results[PIPELINE[-1]], funnel)
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
        run_id, funnel, [f.model_dump() for f in failures], final_rows(run_dir)[:3], summary.seconds
    )
    if failures:
        named = "; ".join(f"{f.stage} shard {f.shard}: {f.error}" for f in failures)
        raise ShardsFailed(f"{len(failures)} shard task(s) failed: {named}")
    return summary
