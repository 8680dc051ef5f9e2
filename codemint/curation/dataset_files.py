"""One split of one dataset config, written as its rows stream past: Parquet, and JSON lines
for the configs that have them.

Rows are written a batch at a time (one Parquet row group each), so the export holds a batch
per file, not the dataset. Both files go to temporary names beside their final ones and are
renamed into place by `close`; `discard` removes them after an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from codemint import store

BATCH_ROWS = 256
FileInfo = dict[str, dict[str, Any]]  # path under the dataset directory -> rows, bytes, sha256


class SplitFiles:
    def __init__(self, out_dir: Path, folder: str, split: str, schema: pa.Schema, jsonl: bool) -> None:
        self.out_dir = out_dir
        self.schema = schema
        self.parquet = out_dir / folder / f"{split}.parquet"
        self.jsonl = out_dir / folder / f"{split}.jsonl" if jsonl else None
        self.parquet.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self._batch: list[dict[str, Any]] = []
        self._temps: list[tuple[Path, Path]] = []
        self._writer = pq.ParquetWriter(self._temp(self.parquet), schema, compression="zstd")
        self._lines: IO[str] | None = None
        if self.jsonl is not None:
            self._lines = self._temp(self.jsonl).open("w", encoding="utf-8")

    def _temp(self, final: Path) -> Path:
        fd, temp = store.temp_beside(final)
        os.close(fd)
        self._temps.append((temp, final))
        return temp

    def add(self, record: dict[str, Any]) -> None:
        self._batch.append(record)
        self.rows += 1
        if len(self._batch) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._writer.write_table(pa.Table.from_pylist(self._batch, schema=self.schema))
        if self._lines is not None:
            self._lines.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in self._batch)
        self._batch = []

    def close(self) -> FileInfo:
        """Write what is left, rename both files into place; returns what the manifest lists."""
        if self._batch or self.rows == 0:  # an empty config still gets a file with its schema
            self._flush()
        self._writer.close()
        if self._lines is not None:
            self._lines.close()
        info: FileInfo = {}
        for temp, final in self._temps:
            os.replace(temp, final)
            info[final.relative_to(self.out_dir).as_posix()] = {
                "rows": self.rows,
                "bytes": final.stat().st_size,
                "sha256": store.file_digest(final),
            }
        self._temps = []
        return info

    def discard(self) -> None:
        """After an error: close and remove the temporary files; nothing final is touched."""
        self._writer.close()
        if self._lines is not None:
            self._lines.close()
        for temp, _ in self._temps:
            temp.unlink(missing_ok=True)
        self._temps = []
