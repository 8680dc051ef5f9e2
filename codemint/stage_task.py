"""The Prefect tasks a stage module declares: one task run per (stage, shard), cached on content.

Each stage module, `tasks/<stage>/stage.py`, ends with `shard = shard_task(TheStage)` (and, for
a stage with a cross-shard index, `index = index_task(TheStage)`); the flow only submits them.
A task run's cache key is (stage, shard, the digest of its input shard, the stage's
fingerprint, the run directory, the index digest), so a re-run with the same code, settings
and inputs does no work, and a change anywhere upstream re-runs exactly what depends on it.
Results persist under the run directory; a cache record whose output files were deleted since
is forgotten, so the task runs again instead of returning paths to nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prefect import Task
from prefect.context import TaskRunContext
from pydantic import BaseModel

from codemint import store
from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage, ShardResult, Stage

# Retries cover what is transient (a sandbox worker that died, a server that hiccuped);
# a deterministic failure fails again and the run names the shard.
DEFAULT_RETRIES = 1
RETRY_DELAY_S = 2.0

R = TypeVar("R")


class ShardInput(BaseModel):
    """A shard a stage reads: a planned source shard, or the kept rows of the stage before."""

    path: str
    digest: str


class IndexResult(BaseModel):
    stage: str
    index_path: str
    digest: str
    figures: dict[str, Any]


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def results_dir(run_dir: Path) -> Path:
    # Cached results live with the run: deleting a run directory also forgets its cache.
    return run_dir / ".prefect-results"


def shard_key(
    stage: str,
    shard: int,
    digest: str | None,
    fingerprint: str,
    run_dir: str,
    index_digest: str | None,
) -> str:
    """The cache key of a (stage, shard) task run; the flow's cache walk computes the same."""
    return f"{stage}-{shard:05d}-" + cache_key(digest, fingerprint, run_dir, index_digest)


def index_key(stage: str, upstream_digests: list[str | None], fingerprint: str, run_dir: str) -> str:
    """The cache key of a stage's index task run."""
    return f"{stage}-index-" + cache_key(upstream_digests, fingerprint, run_dir)


def shard_outputs(run_dir: str, stage: str, shard: int) -> tuple[Path, Path]:
    stage_dir = Path(run_dir) / stage
    return store.kept_path(stage_dir, shard), store.rejected_path(stage_dir, shard)


def index_output(run_dir: str, stage: str) -> Path:
    return Path(run_dir) / stage / "index.parquet"


def forget_if_missing(run_dir: str, key: str, *outputs: Path) -> str:
    """`key`, after dropping its cache record if any output file was deleted since."""
    if not all(p.exists() for p in outputs):
        (results_dir(Path(run_dir)) / key).unlink(missing_ok=True)
    return key


def unwrap(upstream: Any) -> ShardResult | ShardInput | None:
    """An upstream passed through `allow_failure`: the result, or None where it failed.

    On Dask (prefect-dask) such a value arrives wrapped in a tuple with its state."""
    if isinstance(upstream, ShardResult | ShardInput):
        return upstream
    if isinstance(upstream, tuple):
        return next((u for u in upstream if isinstance(u, ShardResult | ShardInput)), None)
    return None


def upstream_digest(upstream: Any) -> str | None:
    found = unwrap(upstream)
    if isinstance(found, ShardResult):
        return found.kept_digest
    return found.digest if found is not None else None  # None: a failed upstream


def _path(upstream: ShardResult | ShardInput) -> Path:
    return Path(upstream.kept_path if isinstance(upstream, ShardResult) else upstream.path)


def make_stage(cls: type[Stage[Any, Any]], settings: PipelineSettings, index_path: str | None = None) -> Any:
    if issubclass(cls, IndexedStage):
        return cls(settings, Path(index_path) if index_path else None)
    return cls(settings)


def shard_task(cls: type[Stage[Any, Any]], retries: int = DEFAULT_RETRIES) -> Task[..., ShardResult]:
    """The Prefect task that runs stage `cls` over one shard."""
    name = cls.name

    def key_fn(context: TaskRunContext, params: dict[str, Any]) -> str:
        index = params.get("index")
        digest = upstream_digest(params["upstream"])
        run_dir, shard = params["run_dir"], params["shard"]
        key = shard_key(name, shard, digest, params["fingerprint"], run_dir, index.digest if index else None)
        return forget_if_missing(run_dir, key, *shard_outputs(run_dir, name, shard))

    def run_shard(
        shard: int,
        upstream: ShardResult | ShardInput,
        run_dir: str,
        settings_json: str,
        fingerprint: str,
        index: IndexResult | None = None,
    ) -> ShardResult:
        """One stage over one shard. `upstream` and `index` arrive as futures, resolved first."""
        settings = PipelineSettings.model_validate_json(settings_json)
        if f"{name}:{shard}" in settings.fail_shards:
            raise RuntimeError(f"injected failure of {name} shard {shard} (settings.fail_shards)")
        input_path = _path(upstream)
        if not input_path.exists():
            raise FileNotFoundError(f"{input_path}: input shard of {name} is gone; re-run to rebuild it")
        worker = make_stage(cls, settings, index.index_path if index else None)
        return worker.process_shard(input_path, Path(run_dir) / name, shard)

    return _cached_task(cls, run_shard, "shard", f"{name}-shard-{{shard:05d}}", key_fn, retries)


def index_task(cls: type[IndexedStage[Any, Any]], retries: int = DEFAULT_RETRIES) -> Task[..., IndexResult]:
    """The Prefect task that builds stage `cls`'s index over every upstream shard that succeeded."""
    name = cls.name

    def key_fn(context: TaskRunContext, params: dict[str, Any]) -> str:
        digests = [upstream_digest(u) for u in params["upstream"]]
        key = index_key(name, digests, params["fingerprint"], params["run_dir"])
        return forget_if_missing(params["run_dir"], key, index_output(params["run_dir"], name))

    def build(upstream: list[Any], run_dir: str, settings_json: str, fingerprint: str) -> IndexResult:
        """The cross-shard index (a failed upstream shard is left out of it)."""
        settings = PipelineSettings.model_validate_json(settings_json)
        index_path = index_output(run_dir, name)
        resolved = [unwrap(u) for u in upstream]
        paths = [_path(u) if u is not None else None for u in resolved]
        figures = cls.build_index(settings, paths, index_path)
        return IndexResult(
            stage=name, index_path=str(index_path), digest=store.file_digest(index_path), figures=figures
        )

    return _cached_task(cls, build, "index", f"{name}-index", key_fn, retries)


def _cached_task(
    cls: type[Stage[Any, Any]],
    fn: Callable[..., R],
    kind: str,
    run_name: str,
    key_fn: Callable[[TaskRunContext, dict[str, Any]], str],
    retries: int,
) -> Task[..., R]:
    """`fn` as a Prefect task of stage `cls`'s module, cached by `key_fn`, its result persisted."""
    # Prefect keys a task by its function's qualified name: one per stage and kind.
    fn.__name__ = fn.__qualname__ = f"{cls.name}_{kind}"
    fn.__module__ = cls.__module__
    return Task(
        fn,
        name=f"{cls.name}-{kind}",
        task_run_name=run_name,
        cache_key_fn=key_fn,
        persist_result=True,
        retries=retries,
        retry_delay_seconds=RETRY_DELAY_S,
    )
