"""Yield of a run: how many of each source's definitions became final rows, and why the rest did not.

A source is a `provenance.source_uri` (`stdlib:textwrap`, `pypi:toolz`, `file:///repo`, ...).
Its definitions are what the reformat stage looked at one by one (kept samples, and drops
that name a definition: methods, closures, trivial bodies...; not whole-file quarantines).
Read from the run directory's Parquet files, only the columns needed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from codemint import store
from codemint.flows.registry import PIPELINE

FILE_LEVEL = {"no_functions", "syntax_error", "unparsable"}


class SourceYield(BaseModel):
    source: str
    definitions: int
    samples: int  # kept by reformat
    final_rows: int
    by_kind: dict[str, int]  # final rows per sample kind (function, method, lifted)

    @property
    def yield_pct(self) -> float:
        return 100.0 * self.final_rows / self.definitions if self.definitions else 0.0


class DropReason(BaseModel):
    stage: str
    reason: str
    count: int
    example: str  # where the first such row stands, and its detail


def _rows(paths: list[store.RunPath], columns: list[str]) -> Iterator[dict[str, Any]]:
    """The rows of every file, a file at a time: a big run's rows are never all held."""
    for path in paths:
        yield from store.read_table(path, columns).to_pylist()


def _source(row: dict[str, Any]) -> str:
    return (row.get("provenance") or {}).get("source_uri") or "?"


def yield_by_source(run_dir: store.RunPath) -> list[SourceYield]:
    reformat = run_dir / "reformat"
    kept = _rows(store.listing(reformat, "part-*[0-9].parquet"), ["provenance"])
    dropped = _rows(store.listing(reformat, "part-*.rejected.parquet"), ["provenance", "drop_reason"])
    final = _rows(store.listing(run_dir / PIPELINE[-1], "part-*[0-9].parquet"), ["provenance", "sample_kind"])
    samples = Counter(_source(r) for r in kept)
    definitions = samples.copy()
    definitions.update(_source(r) for r in dropped if r["drop_reason"] not in FILE_LEVEL)
    finals: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for r in final:
        finals[_source(r)] += 1
        kinds[_source(r)][r.get("sample_kind") or "function"] += 1
    return [
        SourceYield(
            source=s,
            definitions=definitions[s],
            samples=samples[s],
            final_rows=finals[s],
            by_kind=dict(kinds[s].most_common()),
        )
        for s in sorted(definitions | finals, key=lambda s: (-finals[s], s))
    ]


def top_drop_reasons(run_dir: store.RunPath, limit: int = 10) -> list[DropReason]:
    """The most frequent drop reasons across stages, each with one example row."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for stage in PIPELINE:
        paths = store.listing(run_dir / stage, "part-*.rejected.parquet")
        for r in _rows(paths, ["drop_reason", "detail", "provenance", "status"]):
            key = (stage, r["drop_reason"])
            counts[key] += 1
            if key not in examples:
                prov = r.get("provenance") or {}
                where = prov.get("path") or "?"
                if prov.get("line_start"):
                    where += f":{prov['line_start']}"
                examples[key] = f"{where}: {r.get('detail') or ''}"[:200]
    return [
        DropReason(stage=stage, reason=reason, count=n, example=examples[(stage, reason)])
        for (stage, reason), n in counts.most_common(limit)
    ]
