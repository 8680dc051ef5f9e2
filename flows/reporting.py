"""What a run shows while and after it runs: progress per stage (Prefect progress artifacts,
and rich bars on a terminal) and, at the end, the funnel table and a markdown report as
Prefect artifacts, readable in the UI and through the API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from codemint.flows.funnel import StageFunnel
from codemint.flows.yields import SourceYield


class ProgressSink(Protocol):
    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str) -> None: ...


_sinks: list[ProgressSink] = []


@contextmanager
def progress_sink(sink: ProgressSink) -> Iterator[None]:
    """Let a front end (the CLI's rich bars) follow the flow it runs in-process."""
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)


def artifact_key(*parts: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")[:100]


class StageProgress:
    """Progress of one stage's shards: local sinks on every shard, and a Prefect progress
    artifact once the stage has run for a while (each artifact call is an API round trip,
    which a re-run of cached shards should not pay 30 times)."""

    ARTIFACT_AFTER_S = 2.0
    UPDATE_EVERY_S = 1.0

    def __init__(self, run_id: str, stage: str, total: int) -> None:
        self.run_id, self.stage, self.total, self.done = run_id, stage, max(total, 1), 0
        self.started = time.monotonic()
        self.last_update = 0.0
        self.artifact_id: UUID | None = None
        for sink in _sinks:
            sink.start(stage, total)

    def advance(self) -> None:
        self.done += 1
        for sink in _sinks:
            sink.advance(self.stage)
        now = time.monotonic()
        finished = self.done >= self.total
        if self.artifact_id is None and not finished and now - self.started > self.ARTIFACT_AFTER_S:
            self._create()
        if self.artifact_id is not None and (finished or now - self.last_update > self.UPDATE_EVERY_S):
            update_progress_artifact(self.artifact_id, progress=100.0 * self.done / self.total)
            self.last_update = now

    def _create(self) -> None:
        try:
            artifact = create_progress_artifact(
                progress=100.0 * self.done / self.total,
                key=artifact_key(self.run_id, self.stage, "progress"),
                description=f"{self.stage}: shards done",
            )
        except Exception:  # outside a flow run (direct calls in tests) there is nothing to report to
            return
        self.artifact_id = artifact if isinstance(artifact, UUID) else getattr(artifact, "id", None)
        self.last_update = time.monotonic()


def _reasons(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in dropped.items()) or "-"


def publish_run_artifacts(
    run_id: str,
    funnel: list[StageFunnel],
    failures: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    seconds: float,
    yields: list[SourceYield] | None = None,
) -> None:
    table = [
        {
            "stage": f.stage,
            "rows_in": f.rows_in,
            "rows_kept": f.rows_kept,
            "dropped": sum(f.dropped.values()),
            "by_reason": _reasons(f.dropped),
        }
        for f in funnel
    ]
    create_table_artifact(
        table=table, key=artifact_key(run_id, "funnel"), description=f"Funnel of run {run_id}"
    )
    create_markdown_artifact(
        markdown=render_report(run_id, funnel, failures, samples, seconds, yields),
        key=artifact_key(run_id, "report"),
        description=f"Report of run {run_id}",
    )


def render_report(
    run_id: str,
    funnel: list[StageFunnel],
    failures: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    seconds: float,
    yields: list[SourceYield] | None = None,
) -> str:
    lines = [f"# codemint run `{run_id}`", "", f"Wall time: {seconds:.1f} s", ""]
    if yields:
        lines += [
            "## Yield per source",
            "",
            "| source | definitions | samples | final rows | yield | final rows by kind |",
            "|---|---|---|---|---|---|",
        ]
        for y in yields:
            kinds = ", ".join(f"{k} {n}" for k, n in y.by_kind.items()) or "-"
            counts = f"{y.definitions} | {y.samples} | {y.final_rows}"
            lines.append(f"| {y.source} | {counts} | {y.yield_pct:.1f}% | {kinds} |")
        lines.append("")
    lines += [
        "## Throughput per stage",
        "",
        "| stage | rows in | kept | task seconds | rows/s |",
        "|---|---|---|---|---|",
    ]
    for f in funnel:
        rate = f.rows_in / f.seconds if f.seconds else 0.0
        lines.append(f"| {f.stage} | {f.rows_in} | {f.rows_kept} | {f.seconds:.1f} | {rate:.1f} |")
    costly = [f for f in funnel if f.executions]
    if costly:  # what the sandbox did per row kept in the end (derive's is in run.json's cost)
        lines += ["", "## Sandbox executions per final row", "", "| stage | executions | per final row |"]
        lines += [
            "|---|---|---|",
            *(f"| {f.stage} | {f.executions} | {f.executions_per_final_row:g} |" for f in costly),
        ]
    for title, prefixes in (
        ("Sandbox statuses", ("original_", "candidate_", "sandbox_")),
        ("LLM usage and cache", ("llm_",)),
        ("Missing imports in the sandbox", ("missing_import:",)),
    ):
        rows = [(f.stage, k, v) for f in funnel for k, v in f.metrics.items() if k.startswith(prefixes)]
        if rows:
            lines += ["", f"## {title}", "", "| stage | metric | value |", "|---|---|---|"]
            lines += [f"| {s} | {k} | {v:g} |" for s, k, v in rows]
    if failures:
        lines += ["", "## Failed shards", ""]
        lines += [f"- {f['stage']} shard {f['shard']}: {f['error']}" for f in failures]
    if samples:
        lines += ["", "## Sample rows", ""]
        for row in samples:
            lines += [
                f"### `{row['entry_point']}` ({row['provenance']['path']})",
                "",
                row["instruction"],
                "",
                "```python",
                row["candidate_code"].rstrip(),
                "```",
                "",
                f"{row['tests_passed']}/{row['tests_total']} tests passed; first test: "
                f"`{json.dumps(row['test_cases'][0])[:300]}`",
                "",
            ]
    return "\n".join(lines) + "\n"
