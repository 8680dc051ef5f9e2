"""Decontaminate: drop rows whose instruction or code overlaps a benchmark (HumanEval, MBPP, ...).

Per row, word 13-grams of the instruction and of the code are looked up in the hashed
n-grams of every benchmark item's prompt, solution and tests, and the code is searched
for every normalised solution (Aho-Corasick). Dropped rows get reason `contaminated` and
a detail naming the item, e.g. `HumanEval/12 (solution 13-gram overlap 0.62, 8 matched)`.
The benchmark files' digests are part of the cache key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from codemint import store
from codemint.curation.decontam import BenchmarkIndex, BenchmarkUnavailable, load_items, resolve_path, verdict
from codemint.decontam_specs import BenchmarkSpec
from codemint.records import Rejected, Verified
from codemint.settings import DecontaminateSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task

log = logging.getLogger("codemint.decontaminate")

BATCH = 1024


def resolve_benchmarks(cfg: DecontaminateSettings) -> tuple[list[tuple[BenchmarkSpec, Path, str]], list[str]]:
    """(spec, file, sha256) of every benchmark found, and the reasons of those missing.

    Raises `BenchmarkUnavailable` for a missing one when `missing` is "error".
    """
    found, missing = [], []
    for spec in cfg.benchmarks:
        try:
            path = resolve_path(spec)
        except BenchmarkUnavailable as exc:
            if cfg.missing == "error":
                raise
            missing.append(str(exc))
            continue
        found.append((spec, path, store.file_digest(path)))
    return found, missing


@lru_cache(maxsize=8)
def _index(specs_json: tuple[tuple[str, str, str], ...], ngram: int, min_words: int) -> BenchmarkIndex:
    # Keyed on (spec JSON, path, digest): a changed file builds a new index.
    items = []
    for spec_json, path, _digest in specs_json:
        items.extend(load_items(BenchmarkSpec.model_validate_json(spec_json), Path(path)))
    return BenchmarkIndex(items, ngram=ngram, min_substring_words=min_words)


def benchmark_index(cfg: DecontaminateSettings) -> tuple[BenchmarkIndex, list[str]]:
    found, missing = resolve_benchmarks(cfg)
    key = tuple((spec.model_dump_json(), str(path), digest) for spec, path, digest in found)
    return _index(key, cfg.ngram, cfg.min_substring_words), missing


class Decontaminate(Stage[Verified, Verified]):
    name = "decontaminate"
    input_model = Verified
    output_model = Verified
    settings_field = "decontaminate"

    @property
    def cfg(self) -> DecontaminateSettings:
        return self.settings.decontaminate

    def extra_fingerprint(self) -> list[Any]:
        found, missing = resolve_benchmarks(self.cfg)
        return [[spec.name, digest] for spec, _, digest in found] + [["missing", m] for m in missing]

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        index, missing = benchmark_index(self.cfg)
        for reason in missing:
            log.warning("decontamination skips a benchmark: %s", reason)
        if self.shard == 0:  # run-wide figures: once, since the funnel sums metrics over shards
            self.metrics["benchmarks_missing"] += len(missing)
            self.metrics["benchmark_items"] += len(index)
        rows = iter(records)
        while batch := list(islice(rows, BATCH)):
            texts = []
            for rec in batch:
                row: list[tuple[str, bool]] = [(rec.instruction, False), (rec.code, True)]
                if rec.candidate_code != rec.code:
                    row.append((rec.candidate_code, True))
                texts.append(row)
            for rec, matches in zip(batch, index.matches(texts), strict=True):
                hit = verdict(matches, overlap=self.cfg.overlap, min_matches=self.cfg.min_matches)
                if hit is None:
                    yield rec
                else:
                    self.metrics[f"contaminated:{hit.benchmark}"] += 1
                    yield self.reject(rec.id, "contaminated", hit.describe(), record=rec)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Decontaminate)
