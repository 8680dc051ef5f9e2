"""The request cache: hits make no calls, keys cover every sampling field, transport failures
are not stored while the server's own failed answers are (and replayed unless retried), a
killed run re-runs only the missing calls, and several threads/processes share it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from openai_server import DEFAULT_MODEL, OpenAIServer, Reply, Scripted, fixed, prompt_hash

from codemint.llm import errors
from codemint.llm.cache import RequestCache, request_key
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.strategies import Verdict
from codemint.llm.structured import JsonSchema
from codemint.settings import LLMSettings

PROMPTS = [[{"role": "user", "content": f"task {i}"}] for i in range(100)]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(fixed("answer")) as srv:
        yield srv


def settings(server: OpenAIServer, **overrides: Any) -> LLMSettings:
    base: dict[str, Any] = {
        "base_url": server.base_url,
        "model": DEFAULT_MODEL,
        "timeout_s": 2.0,
        "max_retries": 1,
        "backoff_base_s": 0.01,
        "concurrency": 16,
    }
    return LLMSettings(**(base | overrides))


def run_all(
    s: LLMSettings, cache: RequestCache, prompts: list[list[dict[str, str]]], **kwargs: Any
) -> tuple[list[Any], dict[str, Any]]:
    """Every prompt once, concurrently; an LLMError comes back in place of its result."""

    async def run() -> tuple[list[Any], dict[str, Any]]:
        async with LLMClient(s, cache) as client:
            out = await asyncio.gather(
                *(client.chat(p, stage="s", prompt_version="p@v1", **kwargs) for p in prompts),
                return_exceptions=True,
            )
            return out, client.stats_dict().get("s", {})

    return asyncio.run(run())


def test_rerun_is_all_cache_hits(server: OpenAIServer, tmp_path: Path) -> None:
    with RequestCache(tmp_path / "llm.sqlite") as cache:
        first, stats1 = run_all(settings(server), cache, PROMPTS[:20], n=2)
        assert server.chat_requests == 20 and stats1["cache_hits"] == 0
        second, stats2 = run_all(settings(server), cache, PROMPTS[:20], n=2)
    assert server.chat_requests == 20  # no new calls
    assert stats2["cache_hits"] == 20 and stats2["http_requests"] == 0
    assert [c.texts for c in first] == [c.texts for c in second]
    assert all(c.cached for c in second) and not any(c.cached for c in first)


def test_key_covers_every_field_that_shapes_a_reply() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "n": 1,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 100,
    }
    base = request_key("chat/completions", body, "p@v1")
    changes: list[dict[str, Any]] = [
        {"model": "m2"},
        {"messages": [{"role": "user", "content": "y"}]},
        {"n": 2},
        {"temperature": 0.0},
        {"top_p": 1.0},
        {"max_tokens": 101},
        {"stop": ["```"]},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}},
        {"logprobs": True, "top_logprobs": 5},
        {"seed": 1},
    ]
    keys = {request_key("chat/completions", body | change, "p@v1") for change in changes}
    assert base not in keys and len(keys) == len(changes)
    assert request_key("chat/completions", body, "p@v2") != base
    assert request_key("embeddings", body, "p@v1") != base
    assert request_key("chat/completions", dict(reversed(list(body.items()))), "p@v1") == base


def test_changed_sampling_settings_miss(server: OpenAIServer, tmp_path: Path) -> None:
    with RequestCache(tmp_path / "llm.sqlite") as cache:
        run_all(settings(server), cache, PROMPTS[:5])
        run_all(settings(server, temperature=0.1), cache, PROMPTS[:5])
        run_all(settings(server, concurrency=3, timeout_s=9), cache, PROMPTS[:5])  # transport only
    assert server.chat_requests == 10


def test_transport_failures_are_not_cached_but_failed_answers_are(
    server: OpenAIServer, tmp_path: Path
) -> None:
    with RequestCache(tmp_path / "llm.sqlite") as cache:
        server.responder = fixed(status=500)
        out, _ = run_all(settings(server, max_retries=0), cache, PROMPTS[:3])
        assert all(isinstance(e, LLMError) and e.reason == errors.REQUEST_FAILED for e in out)
        assert len(cache) == 0  # a 5xx may pass: asked again next time
        server.responder = fixed("cut", finish_reason="length")
        out, _ = run_all(settings(server), cache, PROMPTS[:3])
        assert all(isinstance(e, LLMError) and e.reason == errors.TRUNCATED for e in out)
        server.responder = fixed(status=400, error="This model's maximum context length is 4096 tokens")
        out, _ = run_all(settings(server), cache, PROMPTS[3:5])
        assert all(isinstance(e, LLMError) and "maximum context length" in str(e) for e in out)
        assert cache.failures() == {errors.TRUNCATED: 3, errors.BAD_REQUEST: 2}
        # A re-run replays every failure, with its reason and the server's text, and sends nothing.
        server.responder = fixed("answer")
        server.reset_counts()
        out, stats = run_all(settings(server), cache, PROMPTS[:5])
        assert server.chat_requests == 0 and stats["cache_hits"] == 5
        assert [e.reason for e in out] == [errors.TRUNCATED] * 3 + [errors.BAD_REQUEST] * 2
        assert "maximum context length" in str(out[4]) and "cached" in str(out[4])
        # --retry-llm-failures: sent again, and the good answers replace the failures.
        out, _ = run_all(settings(server, retry_failures=True), cache, PROMPTS[:5])
        assert server.chat_requests == 5 and all(c.texts == ["answer"] for c in out)
        assert cache.failures() == {}
        server.reset_counts()
        run_all(settings(server), cache, PROMPTS[:5])
    assert server.chat_requests == 0


def test_partly_failed_shard_reruns_only_the_failures(server: OpenAIServer, tmp_path: Path) -> None:
    # The 900-of-1000 case, scaled down: 10 of 100 calls fail (timeouts) in the first run.
    failing = {prompt_hash(p) for p in PROMPTS[::10]}

    def flaky(request: dict[str, Any]) -> Reply:
        bad = prompt_hash(request["messages"]) in failing
        return Reply(status=503, error="overloaded") if bad else Reply(content="answer")

    server.responder = flaky
    with RequestCache(tmp_path / "llm.sqlite") as cache:
        first, _ = run_all(settings(server, max_retries=0), cache, PROMPTS)
        assert sum(isinstance(r, LLMError) for r in first) == 10
        server.responder = fixed("answer")
        server.reset_counts()
        second, stats = run_all(settings(server), cache, PROMPTS)
        assert server.chat_requests == 10
        assert {h for h, c in server.counts.items() if c} == failing
        assert stats["cache_hits"] == 90
        server.reset_counts()
        run_all(settings(server), cache, PROMPTS)
    assert server.chat_requests == 0
    assert all(not isinstance(r, LLMError) for r in second)


def test_repaired_json_rerun_makes_no_calls(server: OpenAIServer, tmp_path: Path) -> None:
    good = json.dumps({"passed": False, "score": 0.2, "reasons": "vague"})
    server.responder = Scripted([Reply(content="{bad")], then=Reply(content=good))
    schema = JsonSchema.from_model(Verdict)

    async def run(cache: RequestCache) -> Verdict:
        async with LLMClient(settings(server), cache) as client:
            result = await client.chat_json(PROMPTS[0], schema, prompt_version="judge@v1")
            return result.values[0]

    with RequestCache(tmp_path / "llm.sqlite") as cache:
        assert asyncio.run(run(cache)).reasons == "vague"
        assert server.chat_requests == 2
        assert asyncio.run(run(cache)).reasons == "vague"
    assert server.chat_requests == 2


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from codemint.llm.cache import RequestCache
    from codemint.llm.client import LLMClient
    from codemint.settings import LLMSettings

    async def main() -> None:
        s = LLMSettings(base_url=sys.argv[1], model=sys.argv[2], concurrency=8, max_retries=0)
        prompts = [[{"role": "user", "content": f"task {i}"}] for i in range(100)]
        async with LLMClient(s, RequestCache(sys.argv[3])) as client:
            await asyncio.gather(*(client.chat(p, stage="s", prompt_version="p@v1") for p in prompts))

    asyncio.run(main())
    """
)


def test_killed_run_reruns_only_missing_calls(server: OpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    child: list[subprocess.Popen[bytes]] = []
    seen = 0
    lock = threading.Lock()

    def kill_at_40(request: dict[str, Any]) -> Reply:
        nonlocal seen
        with lock:
            seen += 1
            if seen == 40:
                os.kill(child[0].pid, signal.SIGKILL)  # mid-run, 8 requests in flight
        return Reply(content="answer", delay_s=0.01)

    server.responder = kill_at_40
    proc = subprocess.Popen([sys.executable, "-c", CHILD, server.base_url, DEFAULT_MODEL, str(path)])
    child.append(proc)
    assert proc.wait(timeout=60) == -signal.SIGKILL

    with RequestCache(path) as cache:
        done = len(cache)
        assert 20 <= done < 40  # kept what finished before the kill
        server.responder = fixed("answer")
        server.reset_counts()
        out, stats = run_all(settings(server), cache, PROMPTS)
        assert server.chat_requests == 100 - done  # only the missing calls
        assert stats["cache_hits"] == done
        assert all(c.texts == ["answer"] for c in out)
        assert len(cache) == 100


def test_threads_share_one_cache(tmp_path: Path) -> None:
    with RequestCache(tmp_path / "llm.sqlite") as cache:

        def work(worker: int) -> int:
            for i in range(100):
                cache.put(f"k{worker}-{i}", {"i": i})
                assert cache.get(f"k{worker}-{i}") == {"i": i}
            return worker

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        assert len(cache) == 800


WRITER = textwrap.dedent(
    """
    import sys
    from codemint.llm.cache import RequestCache
    cache = RequestCache(sys.argv[1])
    for i in range(200):
        cache.put(f"{sys.argv[2]}-{i}", {"i": i}, model="m", prompt_version="v")
        assert cache.get(f"{sys.argv[2]}-{i}") == {"i": i}
    """
)


def test_processes_share_one_cache(tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{w}"]) for w in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    with RequestCache(path) as cache:
        assert len(cache) == 800 and cache.count(prompt_version="v") == 800
        journal = cache._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"
