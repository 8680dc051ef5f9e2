"""The one shape every pipeline stage has.

A stage is a class with a single `run(records) -> records | Rejected` over the rows of one
shard. The base class does the rest, the same way for every stage: reads and validates the
input shard (rows that fail validation are quarantined), writes kept rows and rejected rows
to their Parquet files atomically, and counts rows in, kept, and dropped by reason.
Flows only wire stages; they never look inside a shard.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from codemint import __version__, exec_costs, exec_meter, store
from codemint.modgraph import code_digest
from codemint.records import Provenance, Rejected, RejectStatus, arrow_schema, to_table
from codemint.settings import PipelineSettings

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

log = logging.getLogger("codemint.stage")


class ShardResult(BaseModel):
    """What a (stage, shard) task returns; persisted by Prefect as the task's cached result."""

    stage: str
    shard: int
    kept_path: str
    rejected_path: str
    kept_digest: str
    rows_in: int
    rows_kept: int
    dropped: dict[str, int]  # "status:reason" -> count
    metrics: dict[str, float]
    seconds: float
    worker: str = ""  # host:pid that did the work (shows how shards spread over workers)
    # Sandbox executions of the shard and their seconds by part (codemint/exec_costs.py);
    # timings, so not in `metrics` (the dataset card's funnel and its cache key).
    sandbox_costs: dict[str, float] = {}


def describe(provenance: Provenance | None) -> str:
    """`file[:row][:line]` for one-line messages about a row."""
    if provenance is None:
        return "<unknown>"
    where = provenance.path
    if provenance.row is not None:
        where += f", row {provenance.row}"
    if provenance.line_start is not None:
        where += f", line {provenance.line_start}"
    return where


def unencodable_field(model: BaseModel) -> str | None:
    """The dotted path of the first text in `model` that UTF-8 cannot encode, if any."""

    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, str):
            if value.isascii():
                return None
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path
            return None
        if isinstance(value, dict):
            items: Iterable[tuple[Any, Any]] = value.items()
        else:
            items = enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            found = walk(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
        return None

    return walk(model.model_dump(), "")


class Stage(abc.ABC, Generic[InT, OutT]):
    name: ClassVar[str]
    input_model: ClassVar[type[BaseModel]]
    output_model: ClassVar[type[BaseModel]]
    # Attribute of PipelineSettings holding this stage's settings (part of its cache key).
    settings_field: ClassVar[str | None] = None
    # Whether `run` may be given a shard a chunk of rows at a time (`chunk_rows`): its rows'
    # outcomes do not depend on which other rows share the call (per-row seeds, no shared
    # budget), so the kept rows are the same for any chunk size.
    chunked: ClassVar[bool] = False

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.metrics: Counter[str] = Counter()
        self.shard = 0  # set by process_shard before run()
        self.run_dir: Path | None = None  # likewise: where the stage's shard files go, one level up

    # --- what a stage writes -------------------------------------------------------------

    @abc.abstractmethod
    def run(self, records: Iterable[InT]) -> Iterator[OutT | Rejected]:
        """Yield one output row or one `Rejected` per input row (or several per row)."""

    def reject(
        self,
        row_id: str,
        reason: str,
        detail: str = "",
        *,
        record: BaseModel | None = None,
        provenance: Provenance | None = None,
        status: RejectStatus = "dropped",
    ) -> Rejected:
        if provenance is None and record is not None:
            provenance = getattr(record, "provenance", None)
        if status == "quarantined":
            # One line naming file, row and reason; it also reaches the Prefect task log.
            log.warning(
                "quarantined: %s: %s%s", describe(provenance), reason, f": {detail}" if detail else ""
            )
        return Rejected(
            id=row_id,
            stage=self.name,
            status=status,
            drop_reason=reason,
            detail=detail[:2000],
            provenance=provenance,
            record_json=record.model_dump_json() if record is not None else "",
        )

    # --- what the base class does for every stage ---------------------------------------

    def fingerprint(self) -> str:
        """Hash of this stage's settings and code: part of every cache key."""
        parts: list[Any] = [self.name, __version__, self.code_version()]
        if self.settings_field:
            parts.append(getattr(self.settings, self.settings_field).model_dump(mode="json"))
        parts.extend(self.extra_fingerprint())
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]

    def extra_fingerprint(self) -> list[Any]:
        """Further inputs of the cache key (e.g. a global index a stage reads)."""
        return []

    def uses_llm(self) -> bool:
        """Whether this stage, as configured, calls the LLM server."""
        return False

    def code_version(self) -> str:
        """Hash of every project module this stage can execute: its own module and, found from
        the code, everything that imports inside the project (lazy imports included)."""
        return code_digest([type(self).__module__])

    def read_input(self, path: Path) -> Iterator[InT | Rejected]:
        for index, row in enumerate(store.read_rows(path)):
            try:
                yield self.input_model.model_validate(row)  # type: ignore[misc]
            except ValidationError as exc:
                first = exc.errors()[0]
                yield self.reject(
                    str(row.get("id", f"row-{index}")),
                    "invalid_row",
                    f"{path.name} row {index}: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                    status="quarantined",
                )

    def _quarantine_unencodable(self, rows: list[BaseModel], rejected: list[Rejected]) -> list[BaseModel]:
        """The rows UTF-8 can hold; the others go to `rejected`, quarantined with the field."""
        writable: list[BaseModel] = []
        for out in rows:
            field = unencodable_field(out)
            if field is None:
                writable.append(out)
                continue
            detail = f"{field}: text with a lone surrogate, which UTF-8 cannot hold"
            where = getattr(out, "provenance", None)
            row_id = str(getattr(out, "id", "?"))
            bad = self.reject(row_id, "unencodable_text", detail, provenance=where, status="quarantined")
            rejected.append(bad)
        return writable

    def chunk_rows(self) -> int | None:
        """Rows `run` is given at once: a sandbox stage's batch holds its rows' jobs and
        results, so a shard is run a chunk at a time (`stage_chunk_rows`) to keep memory
        independent of shard size. None: the whole shard in one call."""
        return self.settings.stage_chunk_rows if self.chunked else None

    def process_shard(self, input_path: Path, output_dir: Path, shard: int) -> ShardResult:
        started = time.perf_counter()
        self.metrics.clear()
        self.shard = shard
        self.run_dir = output_dir.parent
        rejected: list[Rejected] = []
        rows_in = rows_kept = 0
        dropped: Counter[str] = Counter()

        def valid_inputs() -> Iterator[InT]:
            nonlocal rows_in
            for item in self.read_input(input_path):
                rows_in += 1
                if isinstance(item, Rejected):
                    rejected.append(item)
                else:
                    yield item

        kept_file = store.kept_path(output_dir, shard)
        rejected_file = store.rejected_path(output_dir, shard)
        # Both files are renamed into place only when every chunk is written (store.parquet_writer).
        with (
            exec_costs.collecting() as costs,
            exec_meter.metering() as meter,
            store.parquet_writer(rejected_file, arrow_schema(Rejected)) as rejected_out,
            store.parquet_writer(kept_file, arrow_schema(self.output_model)) as kept_out,
        ):
            for chunk in _chunks(valid_inputs(), self.chunk_rows()):
                kept: list[BaseModel] = []
                for out in self.run(chunk):
                    if isinstance(out, Rejected):
                        rejected.append(out)
                    else:
                        kept.append(out)
                try:
                    kept_table = to_table(kept, self.output_model)
                except UnicodeEncodeError:
                    # Parquet holds UTF-8 only: one such row must not cost the shard its other
                    # rows. Rare, so rows are searched only when a chunk's table cannot be built.
                    kept = self._quarantine_unencodable(kept, rejected)
                    kept_table = to_table(kept, self.output_model)
                if kept:
                    kept_out.write_table(kept_table)
                    rows_kept += len(kept)
                if rejected:
                    rejected_out.write_table(to_table(list(rejected), Rejected))
                    dropped.update(f"{r.status}:{r.drop_reason}" for r in rejected)
                    rejected.clear()
            if rows_kept == 0:  # an empty file still holds its schema, as a table of no rows
                kept_out.write_table(to_table([], self.output_model))
            if not dropped:
                rejected_out.write_table(to_table([], Rejected))
        if meter.jobs:  # inputs run in the sandbox: executions per final row in the run report
            self.metrics["sandbox_executions"] += meter.executions

        result = ShardResult(
            stage=self.name,
            shard=shard,
            kept_path=str(kept_file),
            rejected_path=str(rejected_file),
            kept_digest=store.file_digest(kept_file),
            rows_in=rows_in,
            rows_kept=rows_kept,
            dropped=dict(sorted(dropped.items())),
            metrics={k: float(v) for k, v in sorted(self.metrics.items())},
            seconds=round(time.perf_counter() - started, 3),
            worker=f"{socket.gethostname()}:{os.getpid()}",
            sandbox_costs=exec_costs.summary(dict(costs)),
        )
        store.write_json(store.stats_path(output_dir, shard), result.model_dump())
        return result


def _chunks(rows: Iterator[InT], size: int | None) -> Iterator[Iterable[InT]]:
    if size is None:
        yield rows
        return
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


class IndexedStage(Stage[InT, OutT]):
    """A stage whose per-shard decisions need one view across all shards (dedup, selection).

    The flow first calls `build_index` once over every input shard (a task of its own,
    cached on the digests of all shards), then runs the stage per shard with that index.
    """

    def __init__(self, settings: PipelineSettings, index_path: Path | None = None) -> None:
        super().__init__(settings)
        self.index_path = index_path

    @classmethod
    @abc.abstractmethod
    def build_index(
        cls, settings: PipelineSettings, shard_paths: list[Path | None], index_path: Path
    ) -> dict[str, Any]:
        """Write the index file atomically; return figures worth reporting.

        `shard_paths[i]` is shard i's input, or None where that shard failed upstream.
        """

    def extra_fingerprint(self) -> list[Any]:
        if self.index_path is None:
            return []
        return [store.file_digest(self.index_path)]

    def require_index(self) -> Path:
        if self.index_path is None:
            raise RuntimeError(f"stage {self.name} needs its index; build_index was not run")
        return self.index_path
