"""LLMClient against the real test server: retries, timeouts, errors, truncation, refusals,
n samples, concurrency limit and stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openai_server import DEFAULT_MODEL, FailOnce, OpenAIServer, Reply, Scripted, fixed

from codemint.llm import errors
from codemint.llm.client import LLMClient, looks_like_refusal
from codemint.llm.errors import LLMError
from codemint.settings import LLMSettings

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say OK."}]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def settings(server: OpenAIServer, **overrides: Any) -> LLMSettings:
    base: dict[str, Any] = {
        "base_url": server.base_url,
        "model": DEFAULT_MODEL,
        "timeout_s": 2.0,
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "concurrency": 32,
    }
    return LLMSettings(**(base | overrides))


def chat(s: LLMSettings, messages: list[dict[str, str]] = MESSAGES, **kwargs: Any) -> Any:
    async def run() -> Any:
        async with LLMClient(s) as client:
            try:
                return await client.chat(messages, stage="test", **kwargs), client.stats_dict()["test"]
            except LLMError as exc:
                return exc, client.stats_dict()["test"]

    return asyncio.run(run())


@pytest.mark.parametrize("status", [500, 429, 503])
def test_retryable_status_then_success(server: OpenAIServer, status: int) -> None:
    server.responder = Scripted([Reply(status=status), Reply(status=status)], then=Reply(content="fine"))
    completion, stats = chat(settings(server))
    assert completion.texts == ["fine"]
    assert server.chat_requests == 3
    assert stats["retries"] == 2 and stats["http_requests"] == 3 and stats["failures"] == {}


def test_retry_after_header_is_honoured(server: OpenAIServer) -> None:
    server.responder = Scripted([Reply(status=429, headers={"Retry-After": "0.3"})], then=Reply(content="ok"))
    started = time.perf_counter()
    completion, _ = chat(settings(server, backoff_max_s=1.0))
    assert completion.texts == ["ok"]
    assert time.perf_counter() - started >= 0.3


def test_retries_exhausted_is_a_reason(server: OpenAIServer) -> None:
    server.responder = fixed(status=503, error="engine overloaded")
    exc, stats = chat(settings(server, max_retries=2))
    assert isinstance(exc, LLMError) and exc.reason == errors.REQUEST_FAILED
    assert "HTTP 503" in exc.detail and "engine overloaded" in exc.detail
    assert server.chat_requests == 3
    assert stats["failures"] == {errors.REQUEST_FAILED: 1}


def test_client_error_is_not_retried(server: OpenAIServer) -> None:
    server.responder = fixed(status=400, error="This model's maximum context length is 4096 tokens")
    exc, stats = chat(settings(server))
    assert isinstance(exc, LLMError) and exc.reason == errors.BAD_REQUEST
    assert "maximum context length" in exc.detail
    assert server.chat_requests == 1 and stats["retries"] == 0


def test_unknown_model_is_a_bad_request(server: OpenAIServer) -> None:
    exc, _ = chat(settings(server, model="other/model"))
    assert isinstance(exc, LLMError) and exc.reason == errors.BAD_REQUEST
    assert "does not exist" in exc.detail


def test_timeout_then_success(server: OpenAIServer) -> None:
    server.responder = Scripted([Reply(delay_s=5.0)], then=Reply(content="late but fine"))
    started = time.perf_counter()
    completion, stats = chat(settings(server, timeout_s=0.3))
    assert completion.texts == ["late but fine"]
    assert stats["retries"] == 1
    assert time.perf_counter() - started < 2.0


def test_timeouts_exhausted(server: OpenAIServer) -> None:
    server.responder = fixed(delay_s=5.0)
    exc, _ = chat(settings(server, timeout_s=0.2, max_retries=1))
    assert isinstance(exc, LLMError) and exc.reason == errors.REQUEST_FAILED
    assert "timed out" in exc.detail


def test_per_request_timeout_overrides_settings(server: OpenAIServer) -> None:
    server.responder = fixed(delay_s=0.4)
    exc, _ = chat(settings(server, timeout_s=5.0, max_retries=0), timeout_s=0.1)
    assert isinstance(exc, LLMError) and exc.reason == errors.REQUEST_FAILED


def test_dropped_connection_and_bad_body_are_retried(server: OpenAIServer) -> None:
    server.responder = Scripted(
        [Reply(drop_connection=True), Reply(raw_body=b"<html>proxy error</html>")], then=Reply(content="ok")
    )
    completion, stats = chat(settings(server))
    assert completion.texts == ["ok"] and stats["retries"] == 2


def test_connection_refused_is_a_reason() -> None:
    with OpenAIServer() as srv:
        url = srv.base_url
    s = LLMSettings(base_url=url, model=DEFAULT_MODEL, max_retries=1, backoff_base_s=0.01, timeout_s=1)
    exc, _ = chat(s)
    assert isinstance(exc, LLMError) and exc.reason == errors.REQUEST_FAILED
    assert "ConnectError" in exc.detail


@pytest.mark.parametrize(
    "failure",
    [
        Reply(status=500),
        Reply(status=429),
        Reply(status=503),
        Reply(delay_s=5.0),
        Reply(drop_connection=True),
    ],
    ids=["500", "429", "503", "hang", "drop"],
)
def test_failure_share_all_recover(server: OpenAIServer, failure: Reply) -> None:
    responder = FailOnce(fixed("fine"), share=0.3, failure=failure)
    server.responder = responder
    # Only the hang needs a short timeout; elsewhere a loaded machine must not time out a
    # healthy reply, which would be a retry no scripted failure caused.
    hang = failure.delay_s > 0

    async def run() -> tuple[list[Any], dict[str, Any]]:
        async with LLMClient(settings(server, timeout_s=1.0 if hang else 30.0)) as client:
            prompts = [[{"role": "user", "content": f"item {i}"}] for i in range(100)]
            out = await asyncio.gather(*(client.chat(p, stage="s") for p in prompts))
            return out, client.stats_dict()["s"]

    results, stats = asyncio.run(run())
    assert all(r.texts == ["fine"] for r in results)
    assert 15 <= responder.failed <= 45  # ~30% of 100 distinct prompts
    assert stats["retries"] == responder.failed
    assert server.chat_requests == 100 + responder.failed


def test_truncated_choices_dropped(server: OpenAIServer) -> None:
    server.responder = fixed(
        ["complete one", "cut off", "complete two"], finish_reason=["stop", "length", "stop"]
    )
    completion, stats = chat(settings(server), n=3)
    assert completion.texts == ["complete one", "complete two"]
    assert completion.dropped == [errors.TRUNCATED]
    assert stats["dropped_choices"] == {errors.TRUNCATED: 1}


def test_all_truncated_is_a_reason(server: OpenAIServer) -> None:
    server.responder = fixed("word " * 50)
    exc, stats = chat(settings(server), max_tokens=5)  # the server cuts at max_tokens
    assert isinstance(exc, LLMError) and exc.reason == errors.TRUNCATED
    assert stats["failures"] == {errors.TRUNCATED: 1}
    assert server.requests[0]["max_tokens"] == 5


def test_refusals(server: OpenAIServer) -> None:
    server.responder = fixed(None, refusal="I can't help with that.")
    exc, _ = chat(settings(server))
    assert isinstance(exc, LLMError) and exc.reason == errors.REFUSED
    server.responder = fixed("I'm sorry, but I can't help with that request.")
    exc, _ = chat(settings(server))
    assert isinstance(exc, LLMError) and exc.reason == errors.REFUSED
    server.responder = fixed(None, finish_reason="content_filter")
    exc, _ = chat(settings(server))
    assert isinstance(exc, LLMError) and exc.reason == errors.REFUSED


def test_refusal_heuristic_keeps_real_answers() -> None:
    assert looks_like_refusal("I cannot help with that.")
    assert not looks_like_refusal("Write a function that returns the sum of two numbers.")
    assert not looks_like_refusal("I'm sorry to say " + "x" * 700)


def test_empty_content_is_a_reason(server: OpenAIServer) -> None:
    server.responder = fixed("   ")
    exc, _ = chat(settings(server))
    assert isinstance(exc, LLMError) and exc.reason == errors.EMPTY


def test_n_samples_and_sampling_fields(server: OpenAIServer) -> None:
    server.responder = fixed(["a", "b", "c", "d"])
    completion, stats = chat(
        settings(server, temperature=0.8, top_p=0.9, max_tokens=64), n=4, stop=["```"], seed=7
    )
    assert completion.texts == ["a", "b", "c", "d"]
    body = server.requests[0]
    assert body["n"] == 4 and body["temperature"] == 0.8 and body["top_p"] == 0.9
    assert body["max_tokens"] == 64 and body["stop"] == ["```"] and body["seed"] == 7
    assert "guided_json" not in body and "logprobs" not in body
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] == 4


def test_logprobs_requested_and_parsed(server: OpenAIServer) -> None:
    server.responder = fixed("Yes", top_logprobs={"Yes": -0.1, "No": -2.5, " yes": -4.0})
    completion, _ = chat(settings(server, top_logprobs=3), logprobs=True, max_tokens=1, allow_truncated=True)
    body = server.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    assert completion.choices[0].top_logprobs == {"Yes": -0.1, "No": -2.5, " yes": -4.0}


def test_concurrency_limit_holds_with_hundreds_in_flight(server: OpenAIServer) -> None:
    async def run(limit: int, count: int, hold_s: float) -> None:
        options = {"concurrency": limit, "timeout_s": hold_s + 30.0, "max_retries": 0}
        async with LLMClient(settings(server, **options)) as client:
            await asyncio.gather(
                *(client.chat([{"role": "user", "content": str(i)}], stage="s") for i in range(count))
            )

    # The server holds every request until 300 are in flight: a client that serialised any
    # of them would leave the group waiting out the hold and max_in_flight below 300.
    server.hold_until_in_flight, server.hold_timeout_s = 300, 60.0
    asyncio.run(run(300, 300, 60.0))
    assert server.max_in_flight == 300

    server.reset_counts()
    server.hold_until_in_flight, server.hold_timeout_s = 10, 5.0
    asyncio.run(run(10, 40, 5.0))
    assert server.max_in_flight == 10  # reached (the hold) and never passed (the limit)


def test_client_survives_a_new_event_loop(server: OpenAIServer) -> None:
    client = LLMClient(settings(server))

    async def once(**kwargs: Any) -> list[str]:
        try:
            return (await client.chat(MESSAGES, **kwargs)).texts
        finally:
            await client.aclose()  # pools belong to this loop; the next run opens new ones

    assert asyncio.run(once()) == asyncio.run(once(temperature=0.0)) == ["OK"]
    assert client.stats_dict()["default"]["calls"] == 2


def test_embeddings(server: OpenAIServer) -> None:
    async def run() -> list[list[float]]:
        async with LLMClient(settings(server)) as client:
            return await client.embed(["alpha", "beta", "alpha"])

    vectors = asyncio.run(run())
    assert len(vectors) == 3 and len(vectors[0]) == 16
    assert vectors[0] == vectors[2] != vectors[1]
    assert server.embedding_requests == 1
