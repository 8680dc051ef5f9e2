"""Near-dedup: code tokens, MinHash LSH clusters, the representative rule, the planted benchmark."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import (
    CLAMP,
    HEX,
    MEDIAN,
    MEDIAN_COPY,
    PARSE,
    WRAP,
    WRAP_EDITED,
    WRAP_RENAMED,
    verified,
    write_shards,
)

from codemint import store
from codemint.curation.minhash import MinHashParams, lsh_params, signatures
from codemint.curation.tokens import LOCAL, code_tokens
from codemint.records import Rejected
from codemint.settings import NearDedupSettings, PipelineSettings
from codemint.tasks.near_dedup.stage import NearDedup, clusters_path

REPO = Path(__file__).resolve().parents[3]


def settings(**near_dedup: object) -> PipelineSettings:
    return PipelineSettings(index_workers=1, near_dedup=NearDedupSettings(**near_dedup))  # type: ignore[arg-type]


def run_near_dedup(tmp_path: Path, shards: list[list], **near_dedup: object) -> tuple[dict, list, list, Path]:
    cfg = settings(**near_dedup)
    paths = write_shards(tmp_path / "verify", shards)
    index = tmp_path / "near_dedup" / "index.parquet"
    figures = NearDedup.build_index(cfg, list(paths), index)
    kept, rejected = [], []
    for shard, path in enumerate(paths):
        result = NearDedup(cfg, index).process_shard(path, tmp_path / "near_dedup", shard)
        kept += store.read_column(Path(result.kept_path), "id")
        rejected += [Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))]
    return figures, kept, rejected, index


def test_tokens_ignore_comments_layout_and_local_names() -> None:
    assert code_tokens(WRAP) == code_tokens(WRAP_RENAMED)
    tokens = code_tokens(WRAP)
    assert "wrap_words" in tokens and "split" in tokens and LOCAL in tokens  # names with meaning stay
    assert not any(t.startswith("#") for t in code_tokens(WRAP_RENAMED))
    assert code_tokens("x = 1_000\n") == code_tokens("x = 1000  # same\n")
    assert code_tokens("s = 'a  b'\n") == code_tokens('s = "a b"\n')


def test_code_that_does_not_tokenize_falls_back_to_regex() -> None:
    broken = "def f(a, b:\n    return a + b  # unclosed paren\n"
    tokens = code_tokens(broken)
    assert tokens[:3] == ["def", "f", "("] and "return" in tokens
    assert "unclosed" not in tokens  # comments dropped there too


def test_lsh_params_favour_recall_near_threshold() -> None:
    bands, rows = lsh_params(0.7, 128)
    assert bands * rows <= 128
    assert 1 - (1 - 0.7**rows) ** bands > 0.85  # a pair at the threshold is very likely a candidate


def test_clusters_keep_best_representative_across_shards(tmp_path: Path) -> None:
    # Cluster 1 (across shards): the edited copy passes all tests, the others do not.
    wrap = verified(WRAP, pass_fraction=0.8, n_tests=6)
    wrap_renamed = verified(WRAP_RENAMED, pass_fraction=0.8, n_tests=9)
    wrap_edited = verified(WRAP_EDITED, pass_fraction=1.0, n_tests=3)
    # Cluster 2: same pass fraction and test count, so the smaller id wins.
    median_a, median_b = verified(MEDIAN, row_id="b-median"), verified(MEDIAN_COPY, row_id="a-median")
    singles = [verified(PARSE), verified(CLAMP), verified(HEX)]
    figures, kept, rejected, index = run_near_dedup(
        tmp_path,
        [[wrap, median_a, singles[0]], [wrap_renamed, singles[1]], [wrap_edited, median_b, singles[2]]],
    )
    assert sorted(kept) == sorted([wrap_edited.id, "a-median", *(s.id for s in singles)])
    by_id = {r.id: r for r in rejected}
    assert set(by_id) == {wrap.id, wrap_renamed.id, "b-median"}
    assert all(r.drop_reason == "near_duplicate" and r.stage == "near_dedup" for r in rejected)
    assert by_id[wrap.id].detail.startswith(f"near duplicate of {wrap_edited.id}")
    assert by_id["b-median"].detail.startswith("near duplicate of a-median")
    assert figures["clusters"] == 2 and figures["near_duplicates"] == 3 and figures["rows"] == 8

    clusters = pq.read_table(clusters_path(index)).to_pylist()
    members = sorted((c["representative"], c["members"]) for c in clusters)
    # Members are listed best first: pass fraction, then number of tests.
    assert members == sorted(
        [("a-median", ["a-median", "b-median"]), (wrap_edited.id, [wrap_edited.id, wrap_renamed.id, wrap.id])]
    )
    rows = {r["id"]: r for r in pq.read_table(index).to_pylist()}
    assert rows[wrap.id]["representative"] == wrap_edited.id and not rows[wrap.id]["kept"]
    assert rows[singles[0].id]["cluster_size"] == 1 and rows[singles[0].id]["kept"]


def test_distinct_functions_are_all_kept(tmp_path: Path) -> None:
    rows = [verified(code) for code in (WRAP, MEDIAN, PARSE, CLAMP, HEX)]
    figures, kept, rejected, _ = run_near_dedup(tmp_path, [rows[:2], rows[2:]])
    assert sorted(kept) == sorted(r.id for r in rows) and not rejected
    assert figures["clusters"] == 0


def test_threshold_setting_decides_small_edits(tmp_path: Path) -> None:
    rows = [verified(WRAP), verified(WRAP_EDITED)]
    _, kept, _, _ = run_near_dedup(tmp_path / "strict", [rows], threshold=0.99)
    assert len(kept) == 2
    _, kept, _, _ = run_near_dedup(tmp_path / "loose", [rows], threshold=0.7)
    assert len(kept) == 1


def test_signatures_agree_across_worker_processes(tmp_path: Path) -> None:
    # Signatures computed in spawned workers must match the parent's (no salted hash()).
    shards = [[verified(WRAP), verified(MEDIAN)], [verified(WRAP_RENAMED), verified(PARSE)]]
    paths = write_shards(tmp_path / "verify", shards)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    NearDedup.build_index(settings(), list(paths), one)
    NearDedup.build_index(PipelineSettings(index_workers=2), list(paths), two)
    assert pq.read_table(one).equals(pq.read_table(two))
    sig = signatures([WRAP, WRAP_RENAMED], MinHashParams())
    assert (sig[0] == sig[1]).all()


def test_failed_upstream_shard_is_skipped(tmp_path: Path) -> None:
    paths = write_shards(tmp_path / "verify", [[verified(WRAP)], [verified(WRAP_RENAMED)]])
    index = tmp_path / "index.parquet"
    figures = NearDedup.build_index(settings(), [None, paths[1]], index)
    assert figures["rows"] == 1
    assert pq.read_table(index).column("shard").to_pylist() == [1]


def load_benchmark() -> object:
    spec = importlib.util.spec_from_file_location("dedup_benchmark", REPO / "benchmarks" / "dedup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_planted_near_duplicates_precision_and_recall() -> None:
    bench = load_benchmark()
    (result,) = bench.evaluate(2500, seed=7, baseline=False)  # type: ignore[attr-defined]
    print(f"planted near-dups: precision {result['precision']:.4f} recall {result['recall']:.4f}")
    assert result["planted"] > 1000
    assert result["precision"] >= 0.95
    assert result["recall"] >= 0.95


def test_clusters_joined_a_band_at_a_time_are_those_of_every_candidate_pair_at_once() -> None:
    """`cluster` takes pairs a band and a bucket distance at a time and skips pairs already in
    one component (memory: a corpus of alike rows has millions of candidate pairs); its
    components, their numbers, representatives and similarities are those of comparing every
    unique candidate pair at once, and it compares fewer pairs."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from codemint.curation import minhash

    def all_at_once(
        sig: np.ndarray, bands: int, rows: int, window: int, threshold: float
    ) -> tuple[np.ndarray, int]:
        n = len(sig)
        found = []
        for band in range(bands):
            order, sorted_h = minhash.band_order(sig, band, rows)
            for offset in range(1, window + 1):
                same = sorted_h[:-offset] == sorted_h[offset:]
                if not same.any():
                    break
                a, b = order[:-offset][same], order[offset:][same]
                found.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
        keys = np.unique(np.concatenate(found))
        left, right = keys // n, keys % n
        alike = minhash.estimated_jaccard(sig, left, right) >= threshold
        graph = coo_matrix(
            (np.ones(int(alike.sum()), dtype=np.int8), (left[alike], right[alike])), shape=(n, n)
        )
        return connected_components(graph, directed=False)[1].astype(np.int64), len(keys)

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 2**32, size=(300, 128), dtype=np.uint32)
    sig = groups[rng.integers(0, 300, 3000)]
    noise = rng.random(sig.shape) < 0.15  # alike rows' Jaccard near the threshold: some pairs miss
    sig[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
    params = MinHashParams(threshold=0.7, num_perm=128)
    rank = rng.permutation(len(sig)).astype(np.int64)
    found = minhash.cluster(sig, params, rank)
    labels, candidates = all_at_once(sig, found.bands, found.rows, params.bucket_window, params.threshold)
    assert candidates > 5_000 and 100 < labels.max() < 2_000  # many pairs, many clusters of several rows
    assert np.array_equal(found.labels, labels)
    assert 0 < found.similar_pairs <= found.pairs_compared < candidates
    for component in np.unique(labels):
        members = np.flatnonzero(labels == component)
        best = members[np.argmin(rank[members])]
        assert (found.representative[members] == best).all()
    expected = minhash.estimated_jaccard(sig, np.arange(len(sig), dtype=np.int64), found.representative)
    assert np.array_equal(found.similarity, expected)
    left, right = np.arange(0, 3000, 2, dtype=np.int64), np.arange(1, 3000, 2, dtype=np.int64)
    jaccard = minhash.estimated_jaccard(sig, left, right)
    assert np.array_equal(jaccard, minhash.estimated_jaccard(sig, left, right, chunk=1 << 17))
