"""Per-shard work across all shards of a stage, in worker processes when there are several."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("codemint.curation")

T = TypeVar("T")
A = TypeVar("A")


def read_columns(path: Path, columns: list[str]) -> pa.Table:
    return pq.read_table(path, columns=columns)


def map_parallel(fn: Callable[[A], T], items: list[A], workers: int | None) -> list[T]:
    """`fn` over every item (e.g. a shard path), in order; a process pool when more than one
    worker and item. `fn` and the items must pickle (a module-level function or a partial).

    Worker processes are spawned, not forked: the flow runs tasks in threads, and forking
    a threaded process can deadlock the child. Spawned workers import the main module, so
    a script calling this needs an `if __name__ == "__main__":` guard. Inside a daemonic
    process (e.g. a Dask worker), which may not have children, the work runs in-process.
    """
    n = min(len(items), workers or os.cpu_count() or 1)
    if n <= 1 or multiprocessing.current_process().daemon:
        return [fn(item) for item in items]
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(fn, items))
    except BrokenProcessPool as exc:
        # A worker died (killed, out of memory, or a main module that cannot be re-imported):
        # the work is pure, so redo it here rather than fail the index build.
        log.warning("process pool broke (%s); computing %d items in-process", exc, len(items))
        return [fn(item) for item in items]
