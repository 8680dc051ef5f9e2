"""Async client for an OpenAI-compatible server (vLLM): limits, retries, cache, structured output.

Why raw httpx and not `openai.AsyncOpenAI`: we need the raw reply JSON anyway (it is what
the cache stores, and vLLM's logprobs/finish_reason come through untouched), we own the
retry policy, and the SDK's per-request model parsing costs ~1.4 ms CPU against ~0.8 ms
here, which caps throughput with hundreds of requests in flight on one event loop.

Why many small httpx pools: httpcore 1.x scans every pooled connection (quadratically, and
with a poll() per idle one) on each request, so one pool of 256 connections costs ~8 ms CPU
per request; pools of 4 keep it near 0.1 ms (measured with benchmarks/llm_client.py).
Each concurrency slot is pinned to one pool, so a pool never has more requests than
connections and nobody waits on the pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import sqlite3
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from codemint.llm import errors
from codemint.llm.cache import RequestCache, request_key
from codemint.llm.errors import LLMError, dominant_reason
from codemint.llm.health import server_root
from codemint.llm.stats import LLMStats, StageStats
from codemint.llm.structured import JsonSchema, SchemaError, repair_message
from codemint.settings import LLMSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Message = Mapping[str, Any]

POOL_SIZE = 4
# The cache entry of a request the server rejected: {"__failure__": {"reason", "detail"}}.
_FAILURE = "__failure__"
CHAT_PATH = "chat/completions"
EMBED_PATH = "embeddings"
TOKENIZE_PATH = "/tokenize"  # vLLM's, at the server root

# Short replies that open like a refusal; long texts that merely start so are kept.
_REFUSAL = re.compile(
    r"^\s*(i['\u2019]?m sorry|i am sorry|i apologi[sz]e|sorry,? (but )?i|"
    r"i (can['\u2019]?t|cannot|won['\u2019]?t) (help|assist|comply|provide|do|write|create)|"
    r"i['\u2019]?m (unable|not able) to|i am (unable|not able) to|as an ai\b)",
    re.IGNORECASE,
)
_REFUSAL_MAX_CHARS = 600


def looks_like_refusal(text: str) -> bool:
    return len(text) <= _REFUSAL_MAX_CHARS and _REFUSAL.match(text) is not None


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    finish_reason: str | None
    # First generated token's alternatives (token -> logprob); None unless logprobs were asked.
    top_logprobs: dict[str, float] | None = None


@dataclass(frozen=True)
class Completion:
    """The usable choices of one reply, and why the others were dropped."""

    choices: list[Choice]
    dropped: list[str]
    model: str
    prompt_version: str
    cached: bool
    usage: dict[str, int]

    @property
    def texts(self) -> list[str]:
        return [choice.text for choice in self.choices]


@dataclass(frozen=True)
class JsonCompletion(Generic[T]):
    values: list[T]
    dropped: list[str]
    model: str
    prompt_version: str
    cached: bool
    repaired: bool


@dataclass(frozen=True)
class _Pending:
    """A reply to store once the caller accepted it."""

    key: str
    raw: dict[str, Any]
    model: str
    prompt_version: str


class _LoopTransport:
    """httpx pools and concurrency slots bound to one event loop (they cannot move loops)."""

    def __init__(self, settings: LLMSettings) -> None:
        self.loop = asyncio.get_running_loop()
        concurrency = max(1, settings.concurrency)
        n_pools = math.ceil(concurrency / POOL_SIZE)
        per_pool = math.ceil(concurrency / n_pools)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        headers = {"Authorization": f"Bearer {settings.api_key}", "Content-Type": "application/json"}
        # One TLS context for all pools (building one costs ~50 ms); none for plain http,
        # the usual case of a vLLM server on the local network.
        tls: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if settings.base_url.startswith("https:") else False
        )
        self.pools = [
            httpx.AsyncClient(
                headers=headers,
                limits=limits,
                timeout=settings.timeout_s,
                verify=tls,
            )
            for _ in range(n_pools)
        ]
        # A queue of slot ids is the semaphore; slot i always uses pool i % n_pools.
        self.slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(concurrency):
            self.slots.put_nowait(slot)

        # Absolute URLs built once: httpx's per-request merge with base_url is not free.
        self._urls: dict[str, httpx.URL] = {}
        self._base = settings.base_url.rstrip("/") + "/"
        self._root = server_root(settings.base_url)

    def url(self, path: str) -> httpx.URL:
        """`chat/completions` is under base_url (/v1); `/tokenize` is at the server root."""
        url = self._urls.get(path)
        if url is None:
            full = self._root + path if path.startswith("/") else self._base + path
            url = self._urls[path] = httpx.URL(full)
        return url

    def pool(self, slot: int) -> httpx.AsyncClient:
        return self.pools[slot % len(self.pools)]

    async def aclose(self) -> None:
        await asyncio.gather(*(pool.aclose() for pool in self.pools))


class LLMClient:
    """One client per pipeline process; safe for hundreds of concurrent calls on one loop.

    Use as `async with LLMClient(settings, cache) as client:`. Every call names its `stage`
    (stats are kept per stage) and the `prompt_version` that goes into its cache key.
    """

    def __init__(self, settings: LLMSettings, cache: RequestCache | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.stats = LLMStats()
        self._transport: _LoopTransport | None = None
        self._context_limit: int | None = None
        self._no_tokenize = False
        self._server_info: tuple[str | None, str | None] | None = None
        # Sampling of the first request per prompt version: provenance for the rows.
        self.sampling: dict[str, dict[str, Any]] = {}

    @property
    def model(self) -> str:
        return self.settings.model

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None and transport.loop is asyncio.get_running_loop():
            await transport.aclose()

    def stats_dict(self) -> dict[str, dict[str, Any]]:
        return self.stats.to_dict()

    def _note_sampling(self, prompt_version: str, body: Mapping[str, Any]) -> None:
        if prompt_version and prompt_version not in self.sampling:
            self.sampling[prompt_version] = {
                key: body[key] for key in ("temperature", "top_p", "max_tokens", "n") if key in body
            }

    async def server_info(self) -> tuple[str | None, str | None]:
        """(vLLM version from GET /version, the model's `root` from GET /v1/models), asked once
        per client; None where the server does not say."""
        if self._server_info is None:
            transport = self._transport_for_loop()
            pool, timeout = transport.pool(0), self.settings.timeout_s
            version: str | None = None
            root: str | None = None
            try:
                resp = await pool.get(transport.url("/version"), timeout=timeout)
                if resp.status_code == 200:
                    version = str(resp.json().get("version") or "") or None
                resp = await pool.get(transport.url("models"), timeout=timeout)
                for item in resp.json().get("data", []) if resp.status_code == 200 else []:
                    if isinstance(item, dict) and item.get("id") == self.settings.model:
                        root = str(item.get("root") or "") or None
                        limit = item.get("max_model_len")
                        if isinstance(limit, int) and self._context_limit is None:
                            self._context_limit = limit
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
            self._server_info = (version, root)
        return self._server_info

    async def context_limit(self) -> int | None:
        """The model's context in tokens: `settings.max_model_len`, else what the server says
        in `GET /v1/models` (vLLM's `max_model_len`, asked once), else None (unknown)."""
        if self.settings.max_model_len is not None:
            return self.settings.max_model_len
        if self._context_limit is None:
            self._context_limit = await self._served_limit()
        return self._context_limit or None

    async def _served_limit(self) -> int:
        transport = self._transport_for_loop()
        try:
            resp = await transport.pool(0).get(transport.url("models"), timeout=self.settings.timeout_s)
            items = resp.json().get("data", []) if resp.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return 0
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("id") == self.settings.model:
                limit = item.get("max_model_len")
                return int(limit) if isinstance(limit, int) else 0
        return 0

    async def count_tokens(self, messages: Sequence[Message]) -> int | None:
        """Tokens of the chat prompt, generation prompt included (vLLM's `POST /tokenize`;
        cached like every request); None when the server has no such endpoint."""
        if self._no_tokenize:
            return None
        body = {
            "model": self.settings.model,
            "messages": [dict(m) for m in messages],
            "add_generation_prompt": True,
        }
        try:
            raw, _cached, pending = await self._fetch(TOKENIZE_PATH, body, "tokenize", "", None, True)
        except LLMError as exc:
            if exc.status in (404, 405):  # an OpenAI-compatible server that is not vLLM
                self._no_tokenize = True
                return None
            raise
        count = raw.get("count")
        if not isinstance(count, int):
            self.stats.stage("tokenize").failures[errors.REQUEST_FAILED] += 1
            raise LLMError(errors.REQUEST_FAILED, f"/tokenize reply has no token count: {str(raw)[:200]}")
        await self._commit(pending, "tokenize")
        return count

    # -- public calls ------------------------------------------------------------------------

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        stage: str = "default",
        prompt_version: str = "",
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        response_format: Mapping[str, Any] | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
        allow_truncated: bool = False,
        timeout_s: float | None = None,
        use_cache: bool = True,
    ) -> Completion:
        """One chat completion with `n` samples. Raises LLMError when no choice is usable;
        truncated (unless `allow_truncated`), refused and empty choices are dropped with a reason."""
        body = self._chat_body(
            messages,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            response_format=response_format,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            seed=seed,
            extra=extra,
        )
        self._note_sampling(prompt_version, body)
        completion, pending = await self._complete(
            body, stage, prompt_version, allow_truncated, timeout_s, use_cache
        )
        await self._commit(pending, stage)
        return completion

    async def chat_json(
        self,
        messages: Sequence[Message],
        schema: JsonSchema[T],
        *,
        stage: str = "default",
        prompt_version: str = "",
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout_s: float | None = None,
        use_cache: bool = True,
    ) -> JsonCompletion[T]:
        """Structured output via `response_format` json_schema, validated; when no choice parses,
        one repair request shows the model its reply and the error, then LLMError(llm_malformed_json)."""
        stats = self.stats.stage(stage)
        fields = schema.request_fields()
        body = self._chat_body(
            messages,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=schema.max_tokens() if max_tokens is None else max_tokens,
            response_format=fields.get("response_format"),
            seed=seed,
            extra={k: v for k, v in fields.items() if k != "response_format"},
        )
        self._note_sampling(prompt_version, body)
        completion, pending = await self._complete(body, stage, prompt_version, False, timeout_s, use_cache)
        values, bad = _parse_choices(completion, schema)
        dropped = completion.dropped + [errors.MALFORMED_JSON] * len(bad)
        if values:
            stats.dropped_choices.update([errors.MALFORMED_JSON] * len(bad))
            await self._commit(pending, stage)
            return JsonCompletion(values, dropped, completion.model, prompt_version, completion.cached, False)

        stats.repairs += 1
        bad_text, error = bad[0]
        repair_body = dict(body)
        repair_body["messages"] = [
            *body["messages"],
            {"role": "assistant", "content": bad_text},
            repair_message(error),
        ]
        repair_body["n"] = 1
        repaired, repair_pending = await self._complete(
            repair_body, stage, prompt_version, False, timeout_s, use_cache
        )
        values, still_bad = _parse_choices(repaired, schema)
        if not values:
            stats.failures[errors.MALFORMED_JSON] += 1
            # Both answers are kept, the repair flagged: a re-run replays the failure.
            await self._commit(pending, stage)
            await self._commit(repair_pending, stage, failure=errors.MALFORMED_JSON)
            raise LLMError(errors.MALFORMED_JSON, f"after one repair: {still_bad[0][1]}")
        # Store the malformed reply with its repair: a re-run replays both without calls.
        await self._commit(pending, stage)
        await self._commit(repair_pending, stage)
        return JsonCompletion(values, dropped, repaired.model, prompt_version, repaired.cached, True)

    async def embed(
        self,
        texts: Sequence[str],
        *,
        stage: str = "embed",
        model: str | None = None,
        timeout_s: float | None = None,
        use_cache: bool = True,
    ) -> list[list[float]]:
        """Embeddings from `/v1/embeddings` (same retries, limits and cache as chat)."""
        body: dict[str, Any] = {"model": model or self.settings.model, "input": list(texts)}
        raw, _cached, pending = await self._fetch(EMBED_PATH, body, stage, "", timeout_s, use_cache)
        data = raw.get("data")
        if not isinstance(data, list) or len(data) != len(texts):
            self.stats.stage(stage).failures[errors.REQUEST_FAILED] += 1
            raise LLMError(errors.REQUEST_FAILED, "embeddings reply does not match the input count")
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in ordered]
        await self._commit(pending, stage)
        return vectors

    # -- internals ---------------------------------------------------------------------------

    def _chat_body(
        self,
        messages: Sequence[Message],
        *,
        n: int,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        stop: Sequence[str] | None = None,
        response_format: Mapping[str, Any] | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": [dict(m) for m in messages],
            "n": n,
            "temperature": s.temperature if temperature is None else temperature,
            "top_p": s.top_p if top_p is None else top_p,
            "max_tokens": s.max_tokens if max_tokens is None else max_tokens,
        }
        if stop:
            body["stop"] = list(stop)
        if response_format is not None:
            body["response_format"] = dict(response_format)
        if logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = s.top_logprobs if top_logprobs is None else top_logprobs
        if seed is not None:
            body["seed"] = seed
        if extra:
            body.update(extra)
        return body

    async def _complete(
        self,
        body: dict[str, Any],
        stage: str,
        prompt_version: str,
        allow_truncated: bool,
        timeout_s: float | None,
        use_cache: bool,
    ) -> tuple[Completion, _Pending | None]:
        raw, cached, pending = await self._fetch(CHAT_PATH, body, stage, prompt_version, timeout_s, use_cache)
        stats = self.stats.stage(stage)
        try:
            completion = _interpret(raw, prompt_version, cached, allow_truncated, self.settings.model)
        except LLMError as exc:
            stats.failures[exc.reason] += 1
            # The server answered; the same request would get the same kind of answer.
            await self._commit(pending, stage, failure=exc.reason)
            raise
        stats.dropped_choices.update(completion.dropped)
        return completion, pending

    async def _fetch(
        self,
        path: str,
        body: dict[str, Any],
        stage: str,
        prompt_version: str,
        timeout_s: float | None,
        use_cache: bool,
    ) -> tuple[dict[str, Any], bool, _Pending | None]:
        """The raw reply from the cache or the server; a server reply comes with its _Pending.

        A request the server rejected as invalid (400, 413, 422) is stored as a failure and
        raised again from the cache on later calls, unless `settings.retry_failures`."""
        stats = self.stats.stage(stage)
        stats.calls += 1
        cache = self.cache if use_cache else None
        key = request_key(path, body, prompt_version)
        if cache is not None:
            hit = await cache.aget(key, skip_failures=self.settings.retry_failures)
            if hit is not None:
                stats.cache_hits += 1
                failure = hit.get(_FAILURE)
                if isinstance(failure, dict):
                    reason = str(failure.get("reason") or errors.BAD_REQUEST)
                    stats.failures[reason] += 1
                    raise LLMError(
                        reason, f"{failure.get('detail', '')} (cached; --retry-llm-failures re-sends)"
                    )
                return hit, True, None
        started = time.perf_counter()
        try:
            raw = await self._post(path, json.dumps(body).encode("utf-8"), stats, timeout_s)
        except LLMError as exc:
            stats.failures[exc.reason] += 1
            if cache is not None and exc.deterministic:
                await self._commit(
                    _Pending(
                        key,
                        {_FAILURE: {"reason": exc.reason, "detail": exc.detail}},
                        str(body.get("model", "")),
                        prompt_version,
                    ),
                    stage,
                    failure=exc.reason,
                )
            raise
        finally:
            stats.record_latency(time.perf_counter() - started)
        stats.record_usage(raw.get("usage"))
        pending = (
            _Pending(key, raw, str(body.get("model", "")), prompt_version) if cache is not None else None
        )
        return raw, False, pending

    async def _commit(self, pending: _Pending | None, stage: str, *, failure: str = "") -> None:
        if pending is None or self.cache is None:
            return
        try:
            await self.cache.aput(
                pending.key,
                pending.raw,
                model=pending.model,
                prompt_version=pending.prompt_version,
                failure=failure,
            )
        except sqlite3.Error as exc:
            # A lost cache entry costs one call on the next run; not worth dropping the sample.
            self.stats.stage(stage).cache_errors += 1
            log.warning("LLM cache write failed: %s", exc)

    def _transport_for_loop(self) -> _LoopTransport:
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport.loop is not loop:
            # A client reused under a new asyncio.run(): the old pools belong to a dead loop.
            self._transport = _LoopTransport(self.settings)
        return self._transport

    async def _post(
        self, path: str, payload: bytes, stats: StageStats, timeout_s: float | None
    ) -> dict[str, Any]:
        transport = self._transport_for_loop()
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        attempt = 0
        while True:
            retry_after: float | None = None
            slot = await transport.slots.get()
            try:
                stats.http_requests += 1
                try:
                    # asyncio.timeout bounds the whole request; httpx's own timeouts are per phase.
                    async with asyncio.timeout(timeout):
                        resp = await transport.pool(slot).post(
                            transport.url(path), content=payload, timeout=timeout
                        )
                except TimeoutError:
                    last = f"timed out after {timeout:g}s"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    status = resp.status_code
                    if status == 200:
                        try:
                            data = json.loads(resp.content)
                        except ValueError:
                            data = None
                        if isinstance(data, dict):
                            return data
                        last = "HTTP 200 with a body that is not a JSON object"
                    elif status == 429 or status >= 500:
                        last = f"HTTP {status}: {_error_text(resp)}"
                        retry_after = _retry_after(resp)
                    else:
                        raise LLMError(
                            errors.BAD_REQUEST, f"HTTP {status}: {_error_text(resp)}", status=status
                        )
            finally:
                transport.slots.put_nowait(slot)
            if attempt >= self.settings.max_retries:
                raise LLMError(errors.REQUEST_FAILED, f"{last} (after {attempt + 1} attempts)")
            attempt += 1
            stats.retries += 1
            delay = self._backoff(attempt, retry_after)
            log.debug("LLM request failed (%s); retry %d in %.2fs", last, attempt, delay)
            # The slot is released while we sleep, so other requests keep the server busy.
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
        # "Equal jitter": spreads a burst of retries but never retries at once.
        delay = cap / 2 + random.uniform(0, cap / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.backoff_max_s))
        return delay


def _interpret(
    raw: dict[str, Any], prompt_version: str, cached: bool, allow_truncated: bool, model: str
) -> Completion:
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices:
        raise LLMError(errors.REQUEST_FAILED, "reply has no choices")
    kept: list[Choice] = []
    dropped: list[str] = []
    for position, item in enumerate(choices):
        message = item.get("message") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(message, dict):
            dropped.append(errors.EMPTY)
            continue
        text = message.get("content") or ""
        finish = item.get("finish_reason")
        top = _first_token_top_logprobs(item)
        if message.get("refusal") or finish == "content_filter":
            dropped.append(errors.REFUSED)
        elif finish == "length" and not allow_truncated:
            dropped.append(errors.TRUNCATED)
        elif not isinstance(text, str) or (not text.strip() and not top):
            dropped.append(errors.EMPTY)
        elif looks_like_refusal(text):
            dropped.append(errors.REFUSED)
        else:
            kept.append(Choice(int(item.get("index", position)), text, finish, top))
    if not kept:
        reason = dominant_reason(dropped, errors.EMPTY)
        raise LLMError(reason, f"all {len(dropped)} choice(s) dropped: {', '.join(dropped)}")
    usage = raw.get("usage")
    return Completion(
        choices=kept,
        dropped=dropped,
        model=str(raw.get("model") or model),
        prompt_version=prompt_version,
        cached=cached,
        usage={k: int(v) for k, v in usage.items() if isinstance(v, int)} if isinstance(usage, dict) else {},
    )


def _first_token_top_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    first = content[0]
    alternatives = list(first.get("top_logprobs") or [])
    alternatives.append({"token": first.get("token"), "logprob": first.get("logprob")})
    result: dict[str, float] = {}
    for alt in alternatives:
        if not isinstance(alt, dict) or not isinstance(alt.get("token"), str):
            continue
        try:
            value = float(alt["logprob"])
        except (TypeError, ValueError):
            continue
        result[alt["token"]] = max(value, result.get(alt["token"], -math.inf))
    return result or None


def _parse_choices(completion: Completion, schema: JsonSchema[T]) -> tuple[list[T], list[tuple[str, str]]]:
    values: list[T] = []
    bad: list[tuple[str, str]] = []
    for choice in completion.choices:
        try:
            values.append(schema.parse(choice.text))
        except SchemaError as exc:
            bad.append((choice.text, str(exc)))
    return values, bad


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return str(data)[:300]


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; rare from vLLM, ignore it
