"""Reading a finished run directory back: final rows and rejected rows across stages.

`final_rows` and `rejected_rows` hold a whole run (tests, small runs). `codemint inspect`
uses the others, which read what they show and count the rest from one column, so they
answer in the same memory for a run of 100k definitions as for the default run.
"""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow.compute as pc

from codemint import store
from codemint.flows.registry import PIPELINE

# What `codemint inspect` shows of a quarantined row; `record_json` (the whole row) is not read.
QUARANTINE_COLUMNS = ["stage", "status", "drop_reason", "detail", "provenance"]


def final_stage_dir(run_dir: store.RunPath) -> store.RunPath:
    return run_dir / PIPELINE[-1]


def _final_paths(run_dir: store.RunPath) -> list[store.RunPath]:
    return store.listing(final_stage_dir(run_dir), "part-*[0-9].parquet")


def final_rows(run_dir: store.RunPath) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in _final_paths(run_dir):
        rows.extend(store.read_rows(path))
    return rows


def first_final_rows(run_dir: store.RunPath, count: int) -> list[dict[str, Any]]:
    """The first `count` final rows (the report's samples), without reading the others."""
    rows = (row for path in _final_paths(run_dir) for row in store.read_rows(path))
    return list(itertools.islice(rows, count))


def final_row_count(run_dir: store.RunPath) -> int:
    """How many final rows the run has, counted from their ids."""
    return sum(store.read_table(path, columns=["id"]).num_rows for path in _final_paths(run_dir))


def rejected_rows(run_dir: store.RunPath) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for stage in PIPELINE:
        for path in store.listing(run_dir / stage, "part-*.rejected.parquet"):
            rows.extend(store.read_rows(path))
    return rows


def quarantined_rows(run_dir: store.RunPath, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """How many rows the run quarantined, and the first `limit` of them (stage by stage, shard
    by shard), with `QUARANTINE_COLUMNS` only."""
    total = 0
    shown: list[dict[str, Any]] = []
    for stage in PIPELINE:
        for path in store.listing(run_dir / stage, "part-*.rejected.parquet"):
            table = store.read_table(path, columns=QUARANTINE_COLUMNS)
            table = table.filter(pc.equal(table["status"], "quarantined"))
            total += table.num_rows
            if len(shown) < limit:
                shown.extend(table.slice(0, limit - len(shown)).to_pylist())
    return total, shown
