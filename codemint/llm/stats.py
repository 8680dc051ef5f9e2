"""Per-stage counters of LLM traffic: calls, retries, cache hits, tokens, latency, failures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageStats:
    calls: int = 0  # logical requests (one per chat()/embed(), repairs included)
    http_requests: int = 0  # attempts that reached the transport
    retries: int = 0
    cache_hits: int = 0
    repairs: int = 0  # structured-output re-asks after a malformed reply
    cache_errors: int = 0  # cache writes that failed (the reply was still used)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s_sum: float = 0.0  # wall time of server calls, retries and backoff included
    latency_s_max: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)  # LLMError reasons raised
    dropped_choices: Counter[str] = field(default_factory=Counter)  # choices discarded, by reason

    def record_latency(self, seconds: float) -> None:
        self.latency_s_sum += seconds
        self.latency_s_max = max(self.latency_s_max, seconds)

    def record_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)

    def to_dict(self) -> dict[str, Any]:
        served = self.calls - self.cache_hits
        return {
            "calls": self.calls,
            "http_requests": self.http_requests,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "repairs": self.repairs,
            "cache_errors": self.cache_errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s_mean": round(self.latency_s_sum / served, 4) if served > 0 else 0.0,
            "latency_s_max": round(self.latency_s_max, 4),
            "failures": dict(self.failures),
            "dropped_choices": dict(self.dropped_choices),
        }


class LLMStats:
    """Stats keyed by stage name; `to_dict()` is what a run report stores."""

    def __init__(self) -> None:
        self._stages: dict[str, StageStats] = {}

    def stage(self, name: str) -> StageStats:
        stats = self._stages.get(name)
        if stats is None:
            stats = self._stages[name] = StageStats()
        return stats

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: stats.to_dict() for name, stats in sorted(self._stages.items())}
