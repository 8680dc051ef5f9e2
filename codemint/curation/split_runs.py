"""The export's external sort: exercise rows spilled to disk a batch at a time, merged back
in order.

The dataset lists each split's rows sorted by (function id, exercise, exercise row id), so
its files do not depend on how the corpus was sharded. Holding every row of a large corpus to
sort it would grow with the corpus (an exercise row carries its function's code and tests),
so rows are sorted and written to a scratch file per split a batch at a time (the export's
`SPILL_ROWS`: a shard's rows grow with the corpus too), and a split is read back as a k-way
merge of those files, a few rows of each at a time. More files than `FAN_IN` are first merged
in groups into fewer, so the rows held at once stay bounded however many batches there were.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from codemint.records import ExerciseRow, arrow_schema, to_table

# Rows read at a time from each scratch file while merging (and its row groups).
MERGE_BATCH_ROWS = 32
FAN_IN = 16  # scratch files merged at once
_SCHEMA = arrow_schema(ExerciseRow)


def sort_key(row: ExerciseRow) -> tuple[str, str, str]:
    return (row.id, row.exercise, row.exercise_id)


def _raw_key(raw: dict[str, Any]) -> tuple[str, str, str]:
    return (raw["id"], raw["exercise"], raw["exercise_id"])


class SplitRuns:
    """Sorted runs of exercise rows under `scratch`, by split (`split_of` a function id)."""

    def __init__(self, scratch: Path, split_of: Callable[[str], str]) -> None:
        self.scratch = scratch
        self.split_of = split_of
        self.runs: dict[str, list[Path]] = {}
        self._files = 0

    def add(self, rows: Iterable[ExerciseRow]) -> None:
        """A batch of rows: sorted, one scratch file per split they fall in."""
        by_split: dict[str, list[ExerciseRow]] = {}
        for row in sorted(rows, key=sort_key):
            by_split.setdefault(self.split_of(row.id), []).append(row)
        for split, part in by_split.items():
            path = self._new_file(split)
            pq.write_table(to_table(list(part), ExerciseRow), path, row_group_size=MERGE_BATCH_ROWS)
            self.runs.setdefault(split, []).append(path)

    def merged(self, split: str) -> Iterator[ExerciseRow]:
        """The split's rows in sort order, across every run."""
        runs = self.runs.get(split, [])
        while len(runs) > FAN_IN:
            runs = [self._merge_group(split, runs[i : i + FAN_IN]) for i in range(0, len(runs), FAN_IN)]
        self.runs[split] = runs
        merged = heapq.merge(*(_read_raw(path) for path in runs), key=_raw_key)
        return (ExerciseRow.model_validate(raw) for raw in merged)

    def _merge_group(self, split: str, group: list[Path]) -> Path:
        """One file of the group's rows in order (as stored: no model round trip)."""
        path = self._new_file(split)
        with pq.ParquetWriter(path, _SCHEMA) as writer:
            batch: list[dict[str, Any]] = []
            for raw in heapq.merge(*(_read_raw(p) for p in group), key=_raw_key):
                batch.append(raw)
                if len(batch) == MERGE_BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=_SCHEMA))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=_SCHEMA))
        for done in group:
            done.unlink()
        return path

    def _new_file(self, split: str) -> Path:
        self._files += 1
        return self.scratch / f"{split}-{self._files:06d}.parquet"


def _read_raw(path: Path) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=MERGE_BATCH_ROWS):
        yield from batch.to_pylist()
