"""Embeddings for diversity selection: an OpenAI-compatible `/v1/embeddings` endpoint when
configured, else a local hashed TF-IDF vectorizer (no model to download).

The local vectors are TF-IDF over hashed word unigrams and bigrams (punctuation kept as
tokens, so code structure counts), projected to `dim` dimensions by a sparse random
projection (each feature adds +-w to 4 hashed coordinates, a count-sketch JL transform)
and L2-normalised. Everything after tokenizing is NumPy over the whole corpus.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from codemint.curation.tokens import hash_tokens, mix64

F32 = npt.NDArray[np.float32]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_BUCKETS = 1 << 22  # hashed feature space for document frequencies
_PROBES = 4  # coordinates each feature lands on in the projection


def l2_normalise(x: F32) -> F32:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def _keys(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted unique (doc * _BUCKETS + feature) keys of a batch and each one's term count."""
    docs, feats = [], []
    for i, text in enumerate(texts):
        h = hash_tokens(_TOKEN.findall(text.lower()))
        with np.errstate(over="ignore"):
            bigrams = mix64(h[:-1] * np.uint64(0x100000001B3) + h[1:]) if len(h) > 1 else h[:0]
        f = np.concatenate([h, bigrams]) % np.uint64(_BUCKETS)
        feats.append(f.astype(np.int64))
        docs.append(np.full(len(f), i, dtype=np.int64))
    if not texts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    keys, tf = np.unique(np.concatenate(docs) * _BUCKETS + np.concatenate(feats), return_counts=True)
    return keys, tf.astype(np.int64)


def document_frequencies(batches: Iterable[Sequence[str]]) -> tuple[npt.NDArray[np.int64], int]:
    """Per hashed feature, how many documents hold it, and how many documents there are:
    the IDF half of `local_vectors`, one batch of texts at a time (4M counters, 32 MB)."""
    df = np.zeros(_BUCKETS, dtype=np.int64)
    n = 0
    for texts in batches:
        keys, _ = _keys(texts)
        df += np.bincount(keys % _BUCKETS, minlength=_BUCKETS)
        n += len(texts)
    return df, n


def local_batch_vectors(texts: Sequence[str], df: npt.NDArray[np.int64], n: int, dim: int = 256) -> F32:
    """`local_vectors` rows of `texts`, with document frequencies counted over all `n` documents.

    Each row depends only on its own text and `df`, and its sums run in the same order as
    over the whole corpus, so batching changes no bit of any vector."""
    rows = len(texts)
    if not rows:
        return np.empty((0, dim), dtype=np.float32)
    keys, tf = _keys(texts)
    doc, feat = keys // _BUCKETS, keys % _BUCKETS
    weight = (1.0 + np.log(tf)) * (np.log((1.0 + n) / (1.0 + df[feat])) + 1.0)
    out = np.zeros(rows * dim, dtype=np.float64)
    for probe in range(_PROBES):
        with np.errstate(over="ignore"):
            h = mix64(feat.astype(np.uint64) * np.uint64(_PROBES) + np.uint64(probe))
        coord = (h % np.uint64(dim)).astype(np.int64)
        sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
        out += np.bincount(doc * dim + coord, weights=weight * sign, minlength=rows * dim)
    return l2_normalise(out.reshape(rows, dim).astype(np.float32))


def local_vectors(texts: Sequence[str], dim: int = 256) -> F32:
    df, n = document_frequencies([texts])
    return local_batch_vectors(texts, df, n, dim)


def project(x: F32, dim: int, seed: int = 0) -> F32:
    """Gaussian random projection to `dim` columns (distances kept up to small distortion)."""
    if x.shape[1] <= dim:
        return x
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((x.shape[1], dim), dtype=np.float32) / np.float32(np.sqrt(dim))
    return (x @ matrix).astype(np.float32)


class EmbeddingError(RuntimeError):
    """The embeddings server refused or failed a request; the message carries its own words."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """The server rejected the input (4xx): sending it again will not help."""
        return self.status is not None and 400 <= self.status < 500


def _server_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict) and "message" in err:
        return str(err["message"])[:300]
    return str(err)[:300]


def remote_vectors(
    texts: Sequence[str],
    *,
    base_url: str,
    model: str,
    api_key: str = "EMPTY",
    batch_size: int = 64,
    timeout_s: float = 120.0,
    retries: int = 4,
    client: httpx.Client | None = None,
    truncate: bool = True,
    failures: dict[int, str] | None = None,
) -> F32:
    """Embeddings from an OpenAI-compatible `POST {base_url}/embeddings`, in batches.

    `truncate` asks the server to cut inputs longer than the model's context (vLLM's
    `truncate_prompt_tokens: -1`) instead of refusing the batch. When the server still
    refuses a batch (4xx), its rows are sent one by one; with `failures` given, a row refused
    alone gets a zero vector and its index maps to the server's message, else EmbeddingError.
    """
    rows = [
        row
        for batch in remote_batches(
            [texts],
            base_url=base_url,
            model=model,
            api_key=api_key,
            batch_size=batch_size,
            timeout_s=timeout_s,
            retries=retries,
            client=client,
            truncate=truncate,
            failures=failures,
        )
        for row in batch
    ]
    width = next((len(r) for r in rows if r is not None), 0)
    return np.asarray([r if r is not None else [0.0] * width for r in rows], dtype=np.float32).reshape(
        len(texts), -1
    )


def rebatch(batches: Iterable[Sequence[str]], size: int) -> Iterator[list[str]]:
    """The texts of `batches`, in order, regrouped into lists of `size` (the last may be short)."""
    pending: list[str] = []
    for texts in batches:
        for text in texts:
            pending.append(text)
            if len(pending) == size:
                yield pending
                pending = []
    if pending:
        yield pending


def remote_batches(
    batches: Iterable[Sequence[str]],
    *,
    base_url: str,
    model: str,
    api_key: str = "EMPTY",
    batch_size: int = 64,
    timeout_s: float = 120.0,
    retries: int = 4,
    client: httpx.Client | None = None,
    truncate: bool = True,
    failures: dict[int, str] | None = None,
) -> Iterator[list[list[float] | None]]:
    """`remote_vectors`' rows, one request batch at a time (None for a row refused alone), so
    a caller can write them out instead of holding every text and vector of a corpus."""
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    url = base_url.rstrip("/") + "/embeddings"
    headers = {"Authorization": f"Bearer {api_key}"}
    extra: dict[str, Any] = {"truncate_prompt_tokens": -1} if truncate else {}

    def post(batch: list[str]) -> list[list[float]]:
        for attempt in range(retries + 1):
            response = http.post(url, json={"model": model, "input": batch, **extra}, headers=headers)
            # Rate limits and server errors are worth a retry; anything else is not.
            if response.status_code in (429, 500, 502, 503, 504) and attempt < retries:
                time.sleep(min(30.0, 0.5 * 2**attempt))
                continue
            if response.status_code != 200:
                raise EmbeddingError(
                    f"{url}: HTTP {response.status_code}: {_server_text(response)}", response.status_code
                )
            break
        data = sorted(response.json()["data"], key=lambda d: d["index"])
        if len(data) != len(batch):
            raise EmbeddingError(f"{url}: {len(data)} embeddings for {len(batch)} inputs")
        return [d["embedding"] for d in data]

    start = 0
    try:
        for batch in rebatch(batches, batch_size):
            try:
                yield list(post(batch))
                start += len(batch)
                continue
            except EmbeddingError as exc:
                if not exc.refused:
                    raise
            rows: list[list[float] | None] = []
            for offset, text in enumerate(batch):  # one bad row must not sink its batch
                try:
                    rows.extend(post([text]))
                except EmbeddingError as exc:
                    if failures is None or not exc.refused:
                        raise
                    failures[start + offset] = str(exc)
                    rows.append(None)
            yield rows
            start += len(batch)
    finally:
        if own:
            http.close()


def embed(
    texts: Sequence[str],
    *,
    dim: int = 256,
    base_url: str | None = None,
    model: str = "",
    api_key: str = "EMPTY",
    batch_size: int = 64,
    client: httpx.Client | None = None,
    failures: dict[int, str] | None = None,
) -> F32:
    """L2-normalised vectors of at most `dim` columns: remote when `base_url` is set, else local.
    Rows the server refuses land in `failures` (index -> its message) when that is given."""
    if base_url is None:
        return local_vectors(texts, dim)
    vectors = remote_vectors(
        texts,
        base_url=base_url,
        model=model,
        api_key=api_key,
        batch_size=batch_size,
        client=client,
        failures=failures,
    )
    return l2_normalise(project(l2_normalise(vectors), dim))


def embed_to_file(
    batches: Callable[[], Iterable[Sequence[str]]],
    rows: int,
    path: Path,
    *,
    dim: int = 256,
    base_url: str | None = None,
    model: str = "",
    api_key: str = "EMPTY",
    batch_size: int = 64,
    client: httpx.Client | None = None,
    failures: dict[int, str] | None = None,
) -> F32:
    """`embed` of every text `batches()` yields (`rows` in all), written to the `.npy` file
    `path` as they come and returned memory-mapped: neither the texts nor the vectors of the
    whole corpus are held. The vectors are `embed`'s, bit for bit on the local path. The
    local path reads the batches twice (document frequencies first), so `batches` is a
    function that starts them over."""
    if base_url is None:
        df, n = document_frequencies(batches())
        if n != rows:
            raise ValueError(f"{n} texts to embed, expected {rows}")
        out = _open(path, rows, dim)
        start = 0
        for texts in batches():
            out[start : start + len(texts)] = local_batch_vectors(texts, df, n, dim)
            start += len(texts)
        return _close(out, path)
    written: np.memmap[Any, np.dtype[np.float32]] | None = None
    start, zeros, width_in = 0, 0, 0  # zeros: leading rows refused before any width was known
    for batch in remote_batches(
        batches(),
        base_url=base_url,
        model=model,
        api_key=api_key,
        batch_size=batch_size,
        client=client,
        failures=failures,
    ):
        width = next((len(r) for r in batch if r is not None), 0)
        if written is None and not width:
            zeros += len(batch)
            continue
        if written is None:
            written = _open(path, rows, min(width, dim))  # `project` cuts wider vectors to dim
            written[:zeros] = 0.0
            start = zeros
            width_in = width
        raw = np.asarray([r if r is not None else [0.0] * width_in for r in batch], dtype=np.float32)
        written[start : start + len(batch)] = l2_normalise(project(l2_normalise(raw), dim))
        start += len(batch)
    if written is None:  # nothing embedded: as `embed`, zero columns
        return np.zeros((rows, 0), dtype=np.float32)
    return _close(written, path)


def _open(path: Path, rows: int, dim: int) -> np.memmap[Any, np.dtype[np.float32]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dim))


def _close(out: np.memmap[Any, np.dtype[np.float32]], path: Path) -> F32:
    out.flush()
    del out
    vectors: F32 = np.load(path, mmap_mode="r")
    return vectors
