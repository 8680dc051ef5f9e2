"""Export: the sink after the last curation stage, over all of its kept shards at once."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from codemint import __version__, store
from codemint.curation.export import SPLITS, export, split_of
from codemint.curation.split_runs import SplitRuns
from codemint.records import ExerciseRow, Verified
from codemint.settings import PipelineSettings
from codemint.stage_task import DEFAULT_RETRIES, RETRY_DELAY_S, cache_key, fetched, forget_if_missing
from codemint.tasks.derive import registry
from codemint.tasks.derive.generation import generation_row

# Exercise rows sorted and spilled to a scratch file at a time. Not a shard's rows: a shard
# holds more definitions as the corpus grows past `shards` x `shard_max_bytes` (7,300 exercise
# rows a shard at 10k generated definitions, twice that at 100k), and a row read back carries
# its code and tests (about 34 KB).
SPILL_ROWS = 4096


def export_dataset(
    settings: PipelineSettings,
    shard_paths: Sequence[Path | str | None],
    out_dir: Path,
    run_info: dict[str, Any],
) -> dict[str, Any]:
    """Write the dataset from kept shards of exercise rows (the derive stage) or of `Verified`
    rows (each becomes its generation row); returns the manifest.

    `run_info` carries `funnel` (a list of {stage, rows_in, rows_kept, dropped}, dicts or
    `StageFunnel`s) and `code_version` for the dataset card. A row seen in an earlier shard
    (the same exercise row id) is not exported twice (`duplicate_ids` counts them).
    """
    cfg = settings.export
    # Filled as the rows stream past; `export` reads it once every row is written.
    counts = {"duplicate_ids": 0}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Rows are sorted on disk, `SPILL_ROWS` at a time (split_runs): the export never holds them all.
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out_dir.parent) as scratch:
        runs = SplitRuns(
            Path(scratch), lambda row_id: split_of(row_id, cfg.split_seed, cfg.validation_fraction)
        )
        for path in shard_paths:
            if path is None:  # a shard that failed upstream
                continue
            rows: list[ExerciseRow] = []
            for raw in store.read_rows(store.location(path)):
                rec = (
                    ExerciseRow.model_validate(raw)
                    if "exercise" in raw
                    else generation_row(Verified.model_validate(raw))
                )
                rows.append(rec)
                if len(rows) == SPILL_ROWS:
                    runs.add(rows)
                    rows = []
            runs.add(rows)
        return export(
            {split: first_of_each(runs.merged(split), counts) for split in SPLITS},
            out_dir,
            validation_fraction=cfg.validation_fraction,
            seed=cfg.split_seed,
            funnel=list(run_info.get("funnel", [])),
            settings=settings.model_dump(mode="json"),
            code_version=str(run_info.get("code_version", "unknown")),
            extra=counts,
            kinds=registry.configured(settings.exercises.kinds),
        )


def first_of_each(rows: Iterator[ExerciseRow], counts: dict[str, int]) -> Iterator[ExerciseRow]:
    """The sorted rows, each exercise row id once: the first copy, from the earliest shard.

    An exercise row id is a hash of its function id, its exercise and its key, and rows are
    sorted by (function id, exercise, exercise row id): a row's copies arrive one after
    another, in shard order (the merge keeps equal rows in the order of their runs). So no
    set of every id seen is held, which would grow with the corpus."""
    last: str | None = None
    for row in rows:
        if row.exercise_id == last:
            counts["duplicate_ids"] += 1
            continue
        last = row.exercise_id
        yield row


def export_cache_key(context: TaskRunContext, params: dict[str, Any]) -> str:
    key = "export-" + cache_key(params["digests"], params["fingerprint"], params["run_dir"])
    manifest = store.location(params["run_dir"]) / "dataset" / "manifest.json"
    return forget_if_missing(params["run_dir"], key, manifest)


@task(
    task_run_name="export",
    cache_key_fn=export_cache_key,
    persist_result=True,
    retries=DEFAULT_RETRIES,
    retry_delay_seconds=RETRY_DELAY_S,
)
def export_task(
    paths: list[str],
    digests: list[str],
    run_dir: str,
    settings_json: str,
    fingerprint: str,
    funnel: list[Any],
) -> dict[str, Any]:
    """The dataset (messages and Alpaca formats, train/validation, card) from the last stage.
    `fingerprint` covers the settings, the funnel the card shows and this module's code."""
    settings = PipelineSettings.model_validate_json(settings_json)
    out = store.location(run_dir) / "dataset"
    run_info = {"funnel": funnel, "code_version": __version__}
    if isinstance(out, Path):
        return export_dataset(settings, paths, out, run_info)
    with fetched(run_dir) as scratch:  # a remote run directory: export locally, upload each file
        manifest = export_dataset(settings, paths, scratch, run_info)
        files = sorted(p for p in scratch.rglob("*") if p.is_file())
        # manifest.json last: it is what marks the export done (export_cache_key).
        for local in sorted(files, key=lambda p: p.name == "manifest.json"):
            store.upload(local, out / local.relative_to(scratch).as_posix())
    return manifest
