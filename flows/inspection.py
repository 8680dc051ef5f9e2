"""Reading a finished run directory back: final rows and rejected rows across stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codemint import store
from codemint.flows.registry import PIPELINE


def final_stage_dir(run_dir: Path) -> Path:
    return run_dir / PIPELINE[-1]


def final_rows(run_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(final_stage_dir(run_dir).glob("part-*[0-9].parquet")):
        rows.extend(store.read_rows(path))
    return rows


def rejected_rows(run_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for stage in PIPELINE:
        for path in sorted((run_dir / stage).glob("part-*.rejected.parquet")):
            rows.extend(store.read_rows(path))
    return rows
