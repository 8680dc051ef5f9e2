"""Running LLM work for one shard: one client and one request cache per call of `run_llm`.

The request cache lives beside the run (`runs/<id>/llm_cache.sqlite`), so a shard that
failed after 900 of 1000 calls re-runs only the missing 100 and a re-run makes none.
The work is a plain async function of the client (strategy batches in this package take
`(client, settings, records)`); a failed sample comes back as `LLMError` with a
machine-readable reason, and the stage that called decides what to drop and count.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from codemint.llm import prompts
from codemint.llm.cache import RequestCache
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.records import LLMProvenance, PromptUse
from codemint.settings import LLMSettings

T = TypeVar("T")
R = TypeVar("R")

CACHE_FILE = "llm_cache.sqlite"
_USAGE_KEYS = (
    "calls",
    "http_requests",
    "retries",
    "cache_hits",
    "repairs",
    "prompt_tokens",
    "completion_tokens",
)


def cache_path(run_dir: Path) -> Path:
    return run_dir / CACHE_FILE


def llm_fingerprint(settings: LLMSettings, prompt_names: Sequence[str]) -> list[Any]:
    """What changes an LLM stage's output: the model, its sampling and the prompt versions
    (not the URL, key or concurrency)."""
    return [
        settings.model,
        settings.temperature,
        settings.top_p,
        settings.max_tokens,
        settings.top_logprobs,
        [prompts.version(name) for name in prompt_names],
    ]


async def per_item(items: Iterable[T], call: Callable[[T], Awaitable[R]]) -> list[R | LLMError]:
    """`call(item)` for every item concurrently (the client bounds what is in flight); per item
    the value, or the `LLMError` that item ended with."""

    async def one(item: T) -> R | LLMError:
        try:
            return await call(item)
        except LLMError as exc:
            return exc

    return list(await asyncio.gather(*(one(item) for item in items)))


def run_llm(
    settings: LLMSettings, cache_file: Path, work: Callable[[LLMClient], Awaitable[T]]
) -> tuple[T, Counter[str]]:
    """`work(client)` on a fresh event loop, with its usage as `llm_<prompt>_<counter>` metrics."""
    value, usage, _provenance = run_llm_traced(settings, cache_file, work)
    return value, usage


def run_llm_traced(
    settings: LLMSettings, cache_file: Path, work: Callable[[LLMClient], Awaitable[T]]
) -> tuple[T, Counter[str], LLMProvenance]:
    """`run_llm`, and the provenance to put on the rows: the server's vLLM version, the model
    and its root, and every prompt version sent with its sampling."""

    async def main() -> tuple[T, Counter[str], LLMProvenance]:
        with RequestCache(cache_file) as cache:
            async with LLMClient(settings, cache) as client:
                usage: Counter[str] = Counter()
                try:
                    value = await work(client)
                finally:
                    usage.update(usage_metrics(client))
                return value, usage, await provenance(client)

    return asyncio.run(main())


async def provenance(client: LLMClient) -> LLMProvenance:
    version, root = await client.server_info()
    uses = [
        PromptUse(
            prompt_version=name,
            temperature=float(s.get("temperature", 0.0)),
            top_p=float(s.get("top_p", 1.0)),
            max_tokens=int(s.get("max_tokens", 0)),
            n=int(s.get("n", 1)),
        )
        for name, s in sorted(client.sampling.items())
    ]
    return LLMProvenance(model=client.model, model_root=root, server_version=version, prompts=uses)


def usage_metrics(client: LLMClient) -> Counter[str]:
    out: Counter[str] = Counter()
    for name, stats in client.stats_dict().items():
        for key in _USAGE_KEYS:
            out[f"llm_{name}_{key}"] += int(stats[key])
        for reason, n in stats["failures"].items():
            out[f"llm_{name}_failed:{reason}"] += int(n)
    return out
