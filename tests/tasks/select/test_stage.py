"""Diversity selection: k-center greedy quality and speed, embeddings, and the Select stage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from factories import CLAMP, HEX, MEDIAN, PARSE, WRAP, verified, write_shards

from codemint import store
from codemint.curation.embed import embed, embed_to_file, local_vectors
from codemint.curation.kcenter import covering_radius, k_center_greedy
from codemint.records import Rejected, Verified
from codemint.settings import ExportSettings, PipelineSettings, SelectSettings
from codemint.tasks.export.stage import export_dataset
from codemint.tasks.select.stage import Select, budget


def blobs(n: int, dims: int, centers: int, seed: int = 0) -> np.ndarray:
    """Clustered data with very unequal cluster sizes (where random sampling does badly)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 10, (centers, dims))
    weights = rng.pareto(1.0, centers) + 0.01
    labels = rng.choice(centers, size=n, p=weights / weights.sum())
    return (means[labels] + rng.normal(0, 1, (n, dims))).astype(np.float32)


def test_k_center_covers_better_than_random() -> None:
    x = blobs(4000, 16, 60)
    k = 60
    selection = k_center_greedy(x, k)
    assert len(set(selection.order.tolist())) == k
    radius = covering_radius(x, selection.order)
    assert radius == pytest.approx(selection.radius, rel=1e-4)
    rng = np.random.default_rng(1)
    random_radii = [covering_radius(x, rng.choice(len(x), k, replace=False)) for _ in range(5)]
    print(f"covering radius: k-center {radius:.2f}, random samples {[round(r, 2) for r in random_radii]}")
    assert radius < min(random_radii)
    # The greedy guarantee: each pick was the farthest point, so distances never increase.
    assert np.all(np.diff(selection.pick_distance[1:]) <= 1e-4)


def test_k_center_fills_the_budget_on_duplicates() -> None:
    x = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)  # 3 distinct points, 4 copies each
    selection = k_center_greedy(x, 5)
    assert len(set(selection.order.tolist())) == 5
    assert len({tuple(x[i]) for i in selection.order[:3]}) == 3  # distinct points first
    assert selection.radius == 0.0


@pytest.mark.timeout(300)
def test_k_center_speed_100k_by_256() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 256), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = 2_000
    started = time.perf_counter()
    selection = k_center_greedy(x, k)
    seconds = time.perf_counter() - started
    per_pick = 1000 * seconds / k
    print(f"k-center greedy: 100000 x 256 float32, budget {k}: {seconds:.1f}s ({per_pick:.2f} ms/pick)")
    assert len(np.unique(selection.order)) == k
    assert seconds < 300


def test_local_vectors_are_normalised_and_similar_for_similar_code() -> None:
    texts = [WRAP, WRAP.replace("70", "72"), MEDIAN, PARSE]
    v = local_vectors(texts, dim=256)
    assert v.shape == (4, 256) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(v[0] - v[1]) < 0.5 * np.linalg.norm(v[0] - v[2])
    assert np.array_equal(v, local_vectors(texts, dim=256))  # deterministic


def test_remote_embeddings_are_batched_ordered_and_projected() -> None:
    requests: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        assert request.url.path == "/v1/embeddings"
        assert request.headers["Authorization"] == "Bearer k"
        # Answer out of order: the client must sort by index.
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0] + [0.0] * 510, "object": "embedding"}
            for i, t in enumerate(body["input"])
        ][::-1]
        return httpx.Response(200, json={"data": data, "model": body["model"], "object": "list"})

    texts = ["a" * (i + 1) for i in range(10)]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    v = embed(
        texts, dim=64, base_url="http://embed.test/v1", model="m", api_key="k", batch_size=4, client=client
    )
    assert [len(r["input"]) for r in requests] == [4, 4, 2]
    assert requests[0]["model"] == "m"
    assert v.shape == (10, 64)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(v[0] - v[1]) < np.linalg.norm(v[0] - v[9])  # order kept


def test_budget_rules() -> None:
    assert budget(SelectSettings(), 100) == 100
    assert budget(SelectSettings(budget=10), 100) == 10
    assert budget(SelectSettings(fraction=0.25), 100) == 25
    assert budget(SelectSettings(budget=10, fraction=0.05), 100) == 5
    assert budget(SelectSettings(budget=500), 100) == 100


def test_exported_rows_are_the_selected_rows(tmp_path: Path) -> None:
    # The first ten rows are near-copies of one function, so "the first k rows" (a known bug
    # of a published implementation) would export five copies of it.
    copies = [verified(WRAP.replace("width=70", f"width={70 + i}")) for i in range(10)]
    others = [verified(code) for code in (MEDIAN, PARSE, CLAMP, HEX)]
    rows = copies + others
    cfg = PipelineSettings(select=SelectSettings(budget=5), export=ExportSettings(validation_fraction=0.0))
    paths = write_shards(tmp_path / "near_dedup", [rows[:7], rows[7:]])
    index = tmp_path / "select" / "index.parquet"
    figures = Select.build_index(cfg, list(paths), index)
    assert figures["selected"] == 5 and figures["embedding"] == "local-hashed-tfidf"

    table = pq.read_table(index).to_pylist()
    selected = {r["id"] for r in table if r["selected"]}
    assert len(selected) == 5
    assert selected != {r.id for r in rows[:5]}
    assert {o.id for o in others} <= selected  # every distinct function is picked
    assert len(selected & {c.id for c in copies}) == 1  # and one of the copies

    kept_paths, rejected = [], []
    for shard, path in enumerate(paths):
        result = Select(cfg, index).process_shard(path, tmp_path / "select", shard)
        kept_paths.append(Path(result.kept_path))
        rejected += [Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))]
    assert {r.drop_reason for r in rejected} == {"not_selected"}
    assert all(r.detail.startswith("covered by selected row ") for r in rejected)

    manifest = export_dataset(cfg, kept_paths, tmp_path / "dataset", {"funnel": [], "code_version": "test"})
    exported = store.read_column(tmp_path / "dataset" / "messages" / "train.parquet", "id")
    assert set(exported) == selected and len(exported) == 5
    assert manifest["rows"] == 5


def test_zero_budget_drops_everything(tmp_path: Path) -> None:
    cfg = PipelineSettings(select=SelectSettings(budget=0))
    (path,) = write_shards(tmp_path / "in", [[verified(WRAP), verified(MEDIAN)]])
    index = tmp_path / "select" / "index.parquet"
    assert Select.build_index(cfg, [path], index)["selected"] == 0
    result = Select(cfg, index).process_shard(path, tmp_path / "select", 0)
    assert result.rows_kept == 0 and result.dropped == {"dropped:not_selected": 2}


def test_no_budget_keeps_everything_without_embedding(tmp_path: Path) -> None:
    rows = [verified(code) for code in (WRAP, MEDIAN, PARSE)]
    cfg = PipelineSettings(select=SelectSettings(embeddings_base_url="http://unreachable.invalid/v1"))
    (path,) = write_shards(tmp_path / "in", [rows])
    index = tmp_path / "select" / "index.parquet"
    figures = Select.build_index(cfg, [path], index)  # would fail if it tried the endpoint
    assert figures["selected"] == 3
    result = Select(cfg, index).process_shard(path, tmp_path / "select", 0)
    assert result.rows_kept == 3


def whole_corpus_vectors(texts: list[str], dim: int = 256) -> np.ndarray:
    """`local_vectors` as it was before it streamed: every text of the corpus in one pass."""
    from codemint.curation.embed import _BUCKETS, _PROBES, _TOKEN, l2_normalise
    from codemint.curation.tokens import hash_tokens, mix64

    n = len(texts)
    docs, feats = [], []
    for i, text in enumerate(texts):
        h = hash_tokens(_TOKEN.findall(text.lower()))
        with np.errstate(over="ignore"):
            bigrams = mix64(h[:-1] * np.uint64(0x100000001B3) + h[1:]) if len(h) > 1 else h[:0]
        f = np.concatenate([h, bigrams]) % np.uint64(_BUCKETS)
        feats.append(f.astype(np.int64))
        docs.append(np.full(len(f), i, dtype=np.int64))
    keys, tf = np.unique(np.concatenate(docs) * _BUCKETS + np.concatenate(feats), return_counts=True)
    doc, feat = keys // _BUCKETS, keys % _BUCKETS
    df = np.bincount(feat, minlength=_BUCKETS)
    weight = (1.0 + np.log(tf)) * (np.log((1.0 + n) / (1.0 + df[feat])) + 1.0)
    out = np.zeros(n * dim, dtype=np.float64)
    for probe in range(_PROBES):
        with np.errstate(over="ignore"):
            h = mix64(feat.astype(np.uint64) * np.uint64(_PROBES) + np.uint64(probe))
        coord = (h % np.uint64(dim)).astype(np.int64)
        sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
        out += np.bincount(doc * dim + coord, weights=weight * sign, minlength=n * dim)
    return l2_normalise(out.reshape(n, dim).astype(np.float32))


def varied_rows(count: int) -> list[Verified]:
    bases = [WRAP, MEDIAN, PARSE, CLAMP, HEX]
    return [
        verified(
            bases[i % len(bases)].replace("(", f"_{i % 7}(", 1).replace("2", str(i % 10), 1),
            row_id=f"row-{i:03d}",
            instruction=f"Task {i}: " + " ".join(["values", "text", "pairs", "items"][: 1 + i % 4]),
        )
        for i in range(count)
    ]


def test_streamed_selection_is_the_in_memory_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Select embeds a few rows at a time into a file and picks from it: the same vectors, bit
    for bit, and the same rows, ranks, nearest rows and distances as embedding every text at
    once and picking from memory (the code before it streamed)."""
    from codemint.tasks.select import stage as select_stage

    rows = varied_rows(60)
    monkeypatch.setattr(select_stage, "TEXT_BATCH", 7)  # batches end inside and across shards
    paths = write_shards(tmp_path / "in", [rows[:25], rows[25:26], rows[26:]])
    cfg = PipelineSettings(select=SelectSettings(budget=12))
    index = tmp_path / "select" / "index.parquet"
    figures = Select.build_index(cfg, [paths[0], None, paths[1], paths[2]], index)
    assert figures["selected"] == 12

    texts = [select_stage.embedding_text(r.instruction, r.candidate_code) for r in rows]
    before = whole_corpus_vectors(texts)
    assert np.array_equal(local_vectors(texts), before)
    streamed = np.asarray(
        select_stage.embed_to_file(
            lambda: select_stage.text_batches(paths), len(rows), tmp_path / "v.npy", dim=256
        )
    )
    assert np.array_equal(streamed, before)

    old = k_center_greedy(before, 12)
    table = pq.read_table(index).to_pylist()
    assert [r["id"] for r in table] == [r.id for r in rows]
    assert [r["shard"] for r in table] == [0] * 25 + [2] + [3] * 34
    by_rank = sorted((r for r in table if r["selected"]), key=lambda r: r["rank"])
    assert [r["id"] for r in by_rank] == [rows[i].id for i in old.order]
    assert [r["nearest_selected"] for r in table] == [rows[i].id for i in old.nearest]
    assert np.array_equal(np.array([r["distance"] for r in table], dtype=np.float32), old.distance)
    assert figures["covering_radius"] == round(old.radius, 6)


def test_streamed_remote_embeddings_match_and_keep_refused_rows_apart(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if any("refuse" in t for t in body["input"]):
            return httpx.Response(400, json={"error": {"message": "too long"}})
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0, float(t.count("x"))] + [0.5] * 509}
            for i, t in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"data": data})

    batches = [["a" * (i + 1) + "x" * (i % 3) for i in range(5)], ["refuse"], ["b" * i for i in range(1, 6)]]
    texts = [t for b in batches for t in b]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    kwargs = {"dim": 64, "base_url": "http://embed.test/v1", "model": "m", "batch_size": 4, "client": client}
    whole_failed: dict[int, str] = {}
    whole = embed(texts, failures=whole_failed, **kwargs)  # type: ignore[arg-type]
    failed: dict[int, str] = {}
    streamed = embed_to_file(lambda: batches, len(texts), tmp_path / "v.npy", failures=failed, **kwargs)  # type: ignore[arg-type]
    assert list(failed) == [5] and failed == whole_failed
    assert streamed.shape == (11, 64)
    assert np.allclose(streamed, whole, atol=1e-6)
    assert not streamed[5].any()
