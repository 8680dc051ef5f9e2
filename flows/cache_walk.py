"""A re-run's cached stages, found before any task is submitted, and recorded in one batch.

Walking the stages in order, each (stage, shard) cache key is computed as its task computes
it (codemint/stage_task.py: digests of inputs already on disk, never the run id) and looked
up in the run's result store. A stage is settled when every shard (and its index) has a
persisted result whose files are still there, and every stage before it is settled. Running
a settled task through the task engine would only return that result, at ~0.2 s a task run;
instead the flow records each one as a Cached task run in a single batch of events (the
events the task engine itself sends), so the UI and the API show the same task runs, names
and states as before, and submits tasks from the first unsettled stage on. A stage with an
injected failure or a forced refresh is never settled, so a failed shard still runs alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from prefect import Task
from prefect.client.schemas.objects import (
    State,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunPolicy,
    TaskRunResult,
)
from prefect.results import ResultRecord, ResultStore
from prefect.utilities.engine import emit_task_run_state_change_event

from codemint import store as run_store
from codemint.flows import registry
from codemint.settings import PipelineSettings
from codemint.stage import ShardResult
from codemint.stage_task import (
    IndexResult,
    ShardInput,
    index_key,
    index_output,
    result_block,
    shard_key,
    shard_outputs,
    upstream_digest,
)

M = TypeVar("M", ShardResult, IndexResult)


@dataclass
class SettledStage:
    """A stage whose every task run would be a cache hit: its results and their cache keys."""

    stage: str
    results: dict[int, ShardResult]
    keys: dict[int, str]
    records: dict[int, ResultRecord[Any]]
    index: IndexResult | None = None
    index_key: str | None = None
    index_record: ResultRecord[Any] | None = None
    task_run_ids: dict[int, UUID] = field(default_factory=dict)


def _read(store: ResultStore, key: str, model: type[M]) -> tuple[M, ResultRecord[Any]] | None:
    try:
        if not store.exists(key):
            return None
        record = store.read(key)
    except Exception:  # an unreadable record is a cache miss: the task runs and rewrites it
        return None
    return (record.result, record) if isinstance(record.result, model) else None


def settled_stages(
    run_dir: run_store.RunPath,
    settings: PipelineSettings,
    sources: Sequence[ShardInput],
    stages: Sequence[str],
    fingerprints: Mapping[str, str],
    refresh: set[str],
) -> list[SettledStage]:
    """The longest run of leading stages whose every task run is a cache hit."""
    store = ResultStore(result_storage=result_block(run_dir))
    where = str(run_dir)
    upstream: dict[int, ShardResult | ShardInput] = dict(enumerate(sources))
    settled: list[SettledStage] = []
    for stage in stages:
        if stage in refresh or any(f"{stage}:{shard}" in settings.fail_shards for shard in upstream):
            break
        fingerprint = fingerprints[stage]
        done = SettledStage(stage=stage, results={}, keys={}, records={})
        if registry.index_task(stage) is not None:
            digests = [upstream_digest(upstream[s]) for s in sorted(upstream)]
            done.index_key = index_key(stage, digests, fingerprint, where)
            found = _read(store, done.index_key, IndexResult)
            if found is None or not index_output(where, stage).exists():
                break
            done.index, done.index_record = found
        for shard in sorted(upstream):
            index_digest = done.index.digest if done.index else None
            key = shard_key(stage, shard, upstream_digest(upstream[shard]), fingerprint, where, index_digest)
            hit = _read(store, key, ShardResult)
            if hit is None or not all(p.exists() for p in shard_outputs(where, stage, shard)):
                return settled
            done.results[shard], done.records[shard] = hit
            done.keys[shard] = key
        settled.append(done)
        upstream = dict(done.results)
    return settled


def _record(
    task: Task[..., Any],
    name: str,
    dynamic_key: str,
    flow_run_id: UUID,
    key: str,
    record: ResultRecord[Any],
    inputs: dict[str, list[Any]],
) -> UUID:
    """One Cached task run, sent as the task engine sends it: a state-change event."""
    run_id = uuid4()
    stamp = datetime.now(UTC)
    # The task engine's cache hit: a Completed state named Cached, holding the result record.
    state: State[Any] = State(
        type=StateType.COMPLETED,
        name="Cached",
        timestamp=stamp,
        data=record,
        message="cached: result persisted by an earlier run (recorded without running)",
        state_details=StateDetails(task_run_id=run_id, flow_run_id=flow_run_id, cache_key=key),
    )
    task_run = TaskRun(
        id=run_id,
        name=name,
        flow_run_id=flow_run_id,
        task_key=task.task_key,
        dynamic_key=dynamic_key,
        task_version=task.version,
        empirical_policy=TaskRunPolicy(retries=task.retries),
        tags=sorted(task.tags),
        task_inputs=inputs,
        state=state,
    )
    emit_task_run_state_change_event(task_run=task_run, initial_state=None, validated_state=state)
    return run_id


def record_cached(settled: Sequence[SettledStage], flow_run_id: UUID | None) -> int:
    """Record every settled task run as Cached in the flow run; returns how many were recorded."""
    if flow_run_id is None:
        return 0
    previous: dict[int, UUID] = {}
    count = 0
    for done in settled:
        index_run = None
        index_task = registry.index_task(done.stage)
        if index_task is not None and done.index_key and done.index_record:
            ups = [TaskRunResult(id=previous[s]) for s in sorted(previous)]
            index_run = _record(
                index_task, f"{done.stage}-index", "cached-index", flow_run_id, done.index_key,
                done.index_record, {"upstream": ups},
            )  # fmt: skip
            count += 1
        shard_task = registry.shard_task(done.stage)
        for shard, key in done.keys.items():
            inputs: dict[str, list[Any]] = {
                "upstream": [TaskRunResult(id=previous[shard])] if shard in previous else []
            }
            if index_run is not None:
                inputs["index"] = [TaskRunResult(id=index_run)]
            done.task_run_ids[shard] = _record(
                shard_task, f"{done.stage}-shard-{shard:05d}", f"cached-{shard}", flow_run_id, key,
                done.records[shard], inputs,
            )  # fmt: skip
            count += 1
        previous = done.task_run_ids
    return count
