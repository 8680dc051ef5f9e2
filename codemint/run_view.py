"""A run directory as pandas DataFrames, for a notebook: `codemint.open_run("runs/<id>")`.

    run = codemint.open_run("runs/nightly-01")
    run.funnel()                      # one row per stage: rows in, kept, dropped, seconds
    run.drops()                       # one row per (stage, status, reason) with its count
    run.kept("verify")                # the rows the verify stage kept
    run.rejected("execute")           # what execute dropped, with reason, detail, provenance
    run.dataset("train")              # the exported dataset (messages config)

Everything is read from the files the pipeline wrote (the per-shard stats, kept and rejected
Parquet files, run.json), so a run in progress or one whose flow failed can be opened too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

FUNNEL_COLUMNS = ["stage", "shards", "rows_in", "rows_kept", "rows_dropped", "seconds"]


class RunView:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: no such run directory")

    @property
    def report(self) -> dict[str, Any]:
        """run.json (funnel, failures, settings, request), or {} while the run has not ended."""
        path = self.path / "run.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @property
    def stages(self) -> list[str]:
        """Stages that wrote shards, in pipeline order when run.json gives it."""
        written = {p.parent.name for p in self.path.glob("*/part-*.stats.json")}
        order = [f["stage"] for f in self.report.get("summary", {}).get("funnel", [])]
        return [s for s in order if s in written] + sorted(written - set(order))

    def _stats(self, stage: str) -> list[dict[str, Any]]:
        files = sorted((self.path / stage).glob("part-*.stats.json"))
        return [json.loads(p.read_text(encoding="utf-8")) for p in files]

    def funnel(self) -> pd.DataFrame:
        rows = []
        for stage in self.stages:
            stats = self._stats(stage)
            rows.append(
                {
                    "stage": stage,
                    "shards": len(stats),
                    "rows_in": sum(s["rows_in"] for s in stats),
                    "rows_kept": sum(s["rows_kept"] for s in stats),
                    "rows_dropped": sum(sum(s["dropped"].values()) for s in stats),
                    "seconds": round(sum(s["seconds"] for s in stats), 3),
                }
            )
        return pd.DataFrame(rows, columns=FUNNEL_COLUMNS)

    def drops(self) -> pd.DataFrame:
        """Rows dropped or quarantined, per stage and reason, most first within a stage."""
        rows = []
        for stage in self.stages:
            counts: Counter[str] = Counter()
            for stats in self._stats(stage):
                counts.update(stats["dropped"])
            for key, n in counts.most_common():
                status, _, reason = key.partition(":")
                rows.append({"stage": stage, "status": status, "reason": reason, "rows": n})
        return pd.DataFrame(rows, columns=["stage", "status", "reason", "rows"])

    def _read(self, stage: str, pattern: str) -> pd.DataFrame:
        if stage not in self.stages:
            raise KeyError(f"{self.path}: no stage {stage!r} here; stages: {', '.join(self.stages)}")
        files = sorted((self.path / stage).glob(pattern))
        tables = [pq.read_table(p) for p in files]
        frames = [t.to_pandas() for t in tables if t.num_rows]
        if not frames:
            return tables[0].to_pandas() if tables else pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def kept(self, stage: str) -> pd.DataFrame:
        """The rows `stage` kept, across its shards."""
        return self._read(stage, "part-*[0-9].parquet")

    def rejected(self, stage: str | None = None) -> pd.DataFrame:
        """The rows `stage` (or every stage) dropped or quarantined, with reason and detail."""
        stages = [stage] if stage else self.stages
        frames = [f for s in stages if not (f := self._read(s, "part-*.rejected.parquet")).empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def dataset(self, split: str = "train", config: str = "messages") -> pd.DataFrame:
        """One split of one exported config (dataset/<config>/<split>.parquet)."""
        path = self.path / "dataset" / config / f"{split}.parquet"
        if not path.exists():
            raise FileNotFoundError(f"{path}: not exported (the run has not finished, or no such config)")
        return pd.read_parquet(path)

    def __repr__(self) -> str:
        return f"RunView({str(self.path)!r}, stages={self.stages})"


def open_run(path: str | Path) -> RunView:
    """Open a run directory (`runs/<run_id>`) for exploration with pandas."""
    return RunView(path)
