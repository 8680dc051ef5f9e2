"""Running the LLM strategies from a stage: one client and one request cache per shard task.

The request cache lives beside the run (`runs/<id>/llm_cache.sqlite`), so a shard that
failed after 900 of 1000 calls re-runs only the missing 100 and a re-run makes none.
A failed sample surfaces as `LLMError` with a machine-readable reason; the stage drops that
sample with it, never the shard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from codemint.llm import prompts
from codemint.llm.cache import RequestCache
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.settings import PipelineSettings
from codemint.stage import Stage

T = TypeVar("T")
R = TypeVar("R")


def llm_fingerprint(settings: PipelineSettings, prompt_names: Sequence[str]) -> list[Any]:
    """What changes an LLM stage's output: the model, its sampling and the prompt versions
    (not the URL, key or concurrency)."""
    llm = settings.llm
    return [
        llm.model,
        llm.temperature,
        llm.top_p,
        llm.max_tokens,
        llm.top_logprobs,
        [prompts.version(name) for name in prompt_names],
    ]


def run_llm(
    stage: Stage[Any, Any], items: Iterable[T], call: Callable[[LLMClient, T], Awaitable[R]]
) -> list[R | LLMError]:
    """`call(client, item)` for every item concurrently (the client bounds what is in flight);
    per item the value, or the `LLMError` that item ended with. Usage lands in the stage's metrics."""
    items = list(items)
    if not items:
        return []
    assert stage.run_dir is not None, "run_llm is called from a stage's run()"
    cache_path = stage.run_dir / "llm_cache.sqlite"

    async def one(client: LLMClient, item: T) -> R | LLMError:
        try:
            return await call(client, item)
        except LLMError as exc:
            return exc

    async def main() -> list[R | LLMError]:
        with RequestCache(cache_path) as cache:
            async with LLMClient(stage.settings.llm, cache) as client:
                try:
                    return list(await asyncio.gather(*(one(client, item) for item in items)))
                finally:
                    record_usage(stage, client)

    return asyncio.run(main())


def record_usage(stage: Stage[Any, Any], client: LLMClient) -> None:
    for name, stats in client.stats_dict().items():
        for key in (
            "calls",
            "http_requests",
            "retries",
            "cache_hits",
            "repairs",
            "prompt_tokens",
            "completion_tokens",
        ):
            stage.metrics[f"llm_{name}_{key}"] += int(stats[key])
        for reason, n in stats["failures"].items():
            stage.metrics[f"llm_{name}_failed:{reason}"] += int(n)
