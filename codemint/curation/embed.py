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
from collections.abc import Sequence
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


def local_vectors(texts: Sequence[str], dim: int = 256) -> F32:
    n = len(texts)
    docs, feats = [], []
    for i, text in enumerate(texts):
        h = hash_tokens(_TOKEN.findall(text.lower()))
        with np.errstate(over="ignore"):
            bigrams = mix64(h[:-1] * np.uint64(0x100000001B3) + h[1:]) if len(h) > 1 else h[:0]
        f = np.concatenate([h, bigrams]) % np.uint64(_BUCKETS)
        feats.append(f.astype(np.int64))
        docs.append(np.full(len(f), i, dtype=np.int64))
    if not n:
        return np.empty((0, dim), dtype=np.float32)
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

    rows: list[list[float] | None] = []
    try:
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            try:
                rows.extend(post(batch))
                continue
            except EmbeddingError as exc:
                if not exc.refused:
                    raise
            for offset, text in enumerate(batch):  # one bad row must not sink its batch
                try:
                    rows.extend(post([text]))
                except EmbeddingError as exc:
                    if failures is None or not exc.refused:
                        raise
                    failures[start + offset] = str(exc)
                    rows.append(None)
    finally:
        if own:
            http.close()
    width = next((len(r) for r in rows if r is not None), 0)
    return np.asarray([r if r is not None else [0.0] * width for r in rows], dtype=np.float32).reshape(
        len(texts), -1
    )


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
