"""The Prefect tasks a stage module declares: one task run per (stage, shard), cached on content.

Each stage module, `tasks/<stage>/stage.py`, ends with `shard = shard_task(TheStage)` (and, for
a stage with a cross-shard index, `index = index_task(TheStage)`); the flow only submits them.
A task run's cache key is (stage, shard, the digest of its input shard, the stage's
fingerprint, the run directory, the index digest), so a re-run with the same code, settings
and inputs does no work, and a change anywhere upstream re-runs exactly what depends on it.
Results persist under the run directory; a cache record whose output files were deleted since
is forgotten, so the task runs again instead of returning paths to nothing.

A run directory on a remote filesystem (an fsspec URL, codemint/store.py): a task fetches its
input shard (and index) into a local working copy of the run directory, runs the stage there
as on a local run, and uploads what it wrote, one whole object each, the stats file last; the
LLM request cache stays in that local copy (SQLite: it needs a local filesystem).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import Task
from prefect.context import TaskRunContext
from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem
from pydantic import BaseModel
from upath import UPath

from codemint import store
from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage, ShardResult, Stage

# Retries cover what is transient (a sandbox worker that died, a server that hiccuped);
# a deterministic failure fails again and the run names the shard.
DEFAULT_RETRIES = 1
RETRY_DELAY_S = 2.0

R = TypeVar("R")
P = TypeVar("P", bound=Path | UPath)


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


def results_dir(run_dir: P) -> P:
    # Cached results live with the run: deleting a run directory also forgets its cache.
    return cast(P, run_dir / ".prefect-results")


def result_storage(run_dir: store.RunPath) -> Path | WritableFileSystem:
    """Where Prefect persists the run's task results: a local directory, or an fsspec-backed
    block on the run's remote filesystem (each record written with one PUT when closed)."""
    where = results_dir(run_dir)
    if isinstance(where, Path):
        return where
    # Prefect 3.8 takes a task's result storage only as a block saved on its server: one per
    # run directory, holding the URL only (each worker's credentials come from its environment).
    block = RemoteFileSystem(basepath=str(where))
    block.save(f"codemint-results-{cache_key(str(where))[:20]}", overwrite=True)
    return block


def result_block(run_dir: store.RunPath) -> WritableFileSystem:
    """The result store's filesystem for reading records outside a task (the cache walk)."""
    where = results_dir(run_dir)
    if isinstance(where, Path):
        return LocalFileSystem(basepath=str(where))
    return RemoteFileSystem(basepath=str(where))


def local_copy_dir(run_dir: str) -> Path:
    """The local working copy of a remote run directory on this machine: tasks stage their files
    there, and the LLM request cache lives there (`${XDG_CACHE_HOME:-~/.cache}/codemint/runs/`)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    scheme, _, rest = run_dir.partition("://")
    return cache / "codemint" / "runs" / scheme / rest.strip("/")


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


def shard_outputs(run_dir: str, stage: str, shard: int) -> tuple[store.RunPath, store.RunPath]:
    stage_dir = store.location(run_dir) / stage
    return store.kept_path(stage_dir, shard), store.rejected_path(stage_dir, shard)


def index_output(run_dir: str, stage: str) -> store.RunPath:
    return store.location(run_dir) / stage / "index.parquet"


def forget_if_missing(run_dir: str, key: str, *outputs: store.RunPath) -> str:
    """`key`, after dropping its cache record if any output file was deleted since."""
    if not all(p.exists() for p in outputs):
        (results_dir(store.location(run_dir)) / key).unlink(missing_ok=True)
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


def _path(upstream: ShardResult | ShardInput) -> store.RunPath:
    return store.location(upstream.kept_path if isinstance(upstream, ShardResult) else upstream.path)


def make_stage(
    cls: type[Stage[Any, Any]], settings: PipelineSettings, index_path: str | Path | None = None
) -> Any:
    if issubclass(cls, IndexedStage):
        return cls(settings, Path(index_path) if index_path else None)
    return cls(settings)


@contextmanager
def fetched(run_dir: str) -> Iterator[Path]:
    """A scratch directory for a task's downloaded inputs, removed when the task is done."""
    root = local_copy_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".fetched-", dir=root))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def publish_shard(result: ShardResult, local_dir: Path, stage_dir: store.RunPath) -> ShardResult:
    """Upload a shard a stage wrote in the local copy: rejected rows, kept rows, then the stats
    file (what marks the shard written), each one whole object; the local files are removed."""
    shard = result.shard
    local = [store.rejected_path(local_dir, shard), store.kept_path(local_dir, shard)]
    remote = [store.rejected_path(stage_dir, shard), store.kept_path(stage_dir, shard)]
    for src, dest in zip(local, remote, strict=True):
        store.upload(src, dest)
    published = result.model_copy(update={"rejected_path": str(remote[0]), "kept_path": str(remote[1])})
    store.write_json(store.stats_path(stage_dir, shard), published.model_dump())
    for src in [*local, store.stats_path(local_dir, shard)]:
        src.unlink(missing_ok=True)
    return published


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
        stage_dir = store.location(run_dir) / name
        if isinstance(input_path, Path) and isinstance(stage_dir, Path):
            worker = make_stage(cls, settings, index.index_path if index else None)
            return worker.process_shard(input_path, stage_dir, shard)
        with fetched(run_dir) as scratch:  # a remote run directory: work in the local copy
            local_index = store.download(store.location(index.index_path), scratch) if index else None
            worker = make_stage(cls, settings, local_index)
            local_dir = local_copy_dir(run_dir) / name
            result = worker.process_shard(store.download(input_path, scratch), local_dir, shard)
            return publish_shard(result, local_dir, stage_dir)

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
        if isinstance(index_path, Path) and all(isinstance(p, Path | None) for p in paths):
            figures = cls.build_index(
                settings, [p if isinstance(p, Path) else None for p in paths], index_path
            )
            digest = store.file_digest(index_path)
        else:  # a remote run directory: build it in the local copy, upload it whole
            with fetched(run_dir) as scratch:
                local = [
                    store.download(p, scratch / str(i)) if p is not None else None
                    for i, p in enumerate(paths)
                ]
                local_index = scratch / "out" / "index.parquet"
                local_index.parent.mkdir()
                figures = cls.build_index(settings, local, local_index)
                digest = store.file_digest(local_index)
                # What the build wrote beside the index too (near-dedup's clusters), the index last.
                for built in sorted(local_index.parent.iterdir(), key=lambda p: p == local_index):
                    if built.is_file() and not built.name.startswith("."):
                        store.upload(built, index_path.parent / built.name)
        return IndexResult(stage=name, index_path=str(index_path), digest=digest, figures=figures)

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
