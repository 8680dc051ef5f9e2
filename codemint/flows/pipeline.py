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
from typing import Any

from prefect import flow, task
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


def shard_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    return f"{params['stage']}-{params['shard']:05d}-" + _key(
        params["input_digest"], params["fingerprint"], params["run_dir"], params.get("index_digest")
    )


def index_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    return f"{params['stage']}-index-" + _key(
        params["input_digests"], params["fingerprint"], params["run_dir"]
    )


def make_stage(name: str, settings: PipelineSettings, index_path: str | None = None) -> Stage[Any, Any]:
    cls = stage_class(name)
    if issubclass(cls, IndexedStage):
        return cls(settings, Path(index_path) if index_path else None)
    return cls(settings)


@task(task_run_name="{stage}-shard-{shard:05d}", cache_key_fn=shard_cache_key, persist_result=True, retries=0)
def run_stage_shard(
    stage: str,
    shard: int,
    input_path: str,
    input_digest: str,
    run_dir: str,
    settings_json: str,
    fingerprint: str,
    index_path: str | None = None,
    index_digest: str | None = None,
) -> ShardResult:
    settings = PipelineSettings.model_validate_json(settings_json)
    if f"{stage}:{shard}" in settings.fail_shards:
        raise RuntimeError(f"injected failure of {stage} shard {shard} (settings.fail_shards)")
    worker = make_stage(stage, settings, index_path)
    return worker.process_shard(Path(input_path), Path(run_dir) / stage, shard)


@task(task_run_name="{stage}-index", cache_key_fn=index_cache_key, persist_result=True)
def build_index(
    stage: str,
    input_paths: list[str],
    input_digests: list[str],
    run_dir: str,
    settings_json: str,
    fingerprint: str,
) -> IndexResult:
    settings = PipelineSettings.model_validate_json(settings_json)
    cls = stage_class(stage)
    assert issubclass(cls, IndexedStage)
    index_path = Path(run_dir) / stage / "index.parquet"
    figures = cls.build_index(settings, [Path(p) for p in input_paths], index_path)
    return IndexResult(
        stage=stage, index_path=str(index_path), digest=store.file_digest(index_path), figures=figures
    )


def write_source_shards(refs: list[SourceRef], run_dir: Path, shards: int) -> list[tuple[str, str]]:
    """The planned sources as Parquet shards; returns (path, digest) per shard."""
    out = []
    for i, bucket in enumerate(assign_shards(refs, shards)):
        path = store.kept_path(run_dir / "sources", i)
        store.write_table(path, to_table(list(bucket), SourceRef))
        out.append((str(path), store.file_digest(path)))
    return out


def _still_there(result: ShardResult) -> bool:
    return Path(result.kept_path).exists() and Path(result.rejected_path).exists()


def _run_shards(
    run_id: str,
    stage: str,
    inputs: dict[int, tuple[str, str]],
    run_dir: Path,
    settings: PipelineSettings,
    index: IndexResult | None,
    storage: Path,
) -> tuple[dict[int, ShardResult], list[ShardFailure]]:
    settings_json = settings.model_dump_json()
    fingerprint = make_stage(stage, settings, index.index_path if index else None).fingerprint()
    bound = run_stage_shard.with_options(result_storage=storage)

    def submit(shard: int, refresh: bool = False) -> PrefectFuture[ShardResult]:
        path, digest = inputs[shard]
        runner = bound.with_options(refresh_cache=True) if refresh else bound
        return runner.submit(
            stage=stage,
            shard=shard,
            input_path=path,
            input_digest=digest,
            run_dir=str(run_dir),
            settings_json=settings_json,
            fingerprint=fingerprint,
            index_path=index.index_path if index else None,
            index_digest=index.digest if index else None,
        )

    futures = {submit(shard): shard for shard in sorted(inputs)}
    progress = StageProgress(run_id, stage, len(futures))
    results: dict[int, ShardResult] = {}
    failures: list[ShardFailure] = []
    for future in as_completed(list(futures)):
        shard = futures[future]
        try:
            result = future.result()
            if not _still_there(result):
                # A cache hit whose files were deleted since: redo that shard.
                result = submit(shard, refresh=True).result()
            results[shard] = result
        except Exception as exc:
            failures.append(
                ShardFailure(stage=stage, shard=shard, error=f"{type(exc).__name__}: {exc}"[:500])
            )
        progress.advance()
    return dict(sorted(results.items())), failures


def run_pipeline_stages(
    run_id: str,
    run_dir: Path,
    settings: PipelineSettings,
    source_shards: Sequence[tuple[str, str]],
    stages: Sequence[str],
) -> tuple[dict[str, dict[int, ShardResult]], list[ShardFailure]]:
    # Cached results live with the run: deleting a run directory also forgets its cache.
    storage = run_dir / ".prefect-results"
    inputs: dict[int, tuple[str, str]] = dict(enumerate(source_shards))
    all_results: dict[str, dict[int, ShardResult]] = {}
    failures: list[ShardFailure] = []
    settings_json = settings.model_dump_json()
    for stage in stages:
        index: IndexResult | None = None
        cls = stage_class(stage)
        if issubclass(cls, IndexedStage) and inputs:
            ordered = sorted(inputs)
            index = build_index.with_options(result_storage=storage)(
                stage=stage,
                input_paths=[inputs[s][0] for s in ordered],
                input_digests=[inputs[s][1] for s in ordered],
                run_dir=str(run_dir),
                settings_json=settings_json,
                fingerprint=cls(settings).fingerprint(),
            )
        results, failed = _run_shards(run_id, stage, inputs, run_dir, settings, index, storage)
        all_results[stage] = results
        failures.extend(failed)
        # A failed shard stops there; the other shards go on.
        inputs = {shard: (r.kept_path, r.kept_digest) for shard, r in results.items()}
    return all_results, failures


def tag_flow_run(run_id: str) -> None:
    """Tag the flow run (not each task run: tag concurrency checks cost ~0.3 s per task run)."""
    run_uuid = flow_run.get_id()
    if run_uuid is None:
        return
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run_uuid).tags
        client.update_flow_run(run_uuid, tags=sorted({*current, "codemint", f"dataset:{run_id}"}))


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
    refs = plan_sources(inputs, packages)
    source_shards = write_source_shards(refs, run_dir, settings.shards)
    results, failures = run_pipeline_stages(run_id, run_dir, settings, source_shards, PIPELINE)
    funnel = build_funnel(results, PIPELINE)
    summary = RunSummary(
        run_id=run_id,
        run_dir=str(run_dir),
        funnel=funnel,
        failures=failures,
        seconds=round(time.perf_counter() - started, 2),
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
