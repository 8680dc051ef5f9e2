"""Export: the sink after the last curation stage, over all of its kept shards at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codemint import store
from codemint.curation.export import export
from codemint.records import Verified
from codemint.settings import PipelineSettings


def export_dataset(
    settings: PipelineSettings,
    shard_paths: Sequence[Path | str | None],
    out_dir: Path,
    run_info: dict[str, Any],
) -> dict[str, Any]:
    """Write the dataset from kept `Verified` shards; returns the manifest.

    `run_info` carries `funnel` (a list of {stage, rows_in, rows_kept, dropped}, dicts or
    `StageFunnel`s) and `code_version` for the dataset card. A row id seen in an earlier
    shard is not exported twice (`duplicate_ids` in the manifest counts them).
    """
    rows: list[Verified] = []
    seen: set[str] = set()
    duplicates = 0
    for path in shard_paths:
        if path is None:  # a shard that failed upstream
            continue
        for raw in store.read_rows(Path(path)):
            rec = Verified.model_validate(raw)
            if rec.id in seen:
                duplicates += 1
                continue
            seen.add(rec.id)
            rows.append(rec)
    cfg = settings.curation
    return export(
        rows,
        Path(out_dir),
        validation_fraction=cfg.validation_fraction,
        seed=cfg.split_seed,
        funnel=list(run_info.get("funnel", [])),
        settings=settings.model_dump(mode="json"),
        code_version=str(run_info.get("code_version", "unknown")),
        extra={"duplicate_ids": duplicates},
    )
