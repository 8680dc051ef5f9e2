"""Reading a finished run directory back: final rows and rejected rows across stages."""

from __future__ import annotations

from typing import Any

from codemint import store
from codemint.flows.registry import PIPELINE


def final_stage_dir(run_dir: store.RunPath) -> store.RunPath:
    return run_dir / PIPELINE[-1]


def final_rows(run_dir: store.RunPath) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in store.listing(final_stage_dir(run_dir), "part-*[0-9].parquet"):
        rows.extend(store.read_rows(path))
    return rows


def rejected_rows(run_dir: store.RunPath) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for stage in PIPELINE:
        for path in store.listing(run_dir / stage, "part-*.rejected.parquet"):
            rows.extend(store.read_rows(path))
    return rows
