"""The base of every stage that calls the LLM server: prompts go out, parsed replies come back,
and usage, provenance and failures are handled here, the same way for every such stage.

How to write an LLM stage:

- Subclass `LLMStage[In, Out]` instead of `Stage[In, Out]`; name, models and `settings_field`
  as for any stage.
- Implement `llm_prompts()`: the prompts the stage sends as configured (its strategy module's
  `PROMPTS`), empty when its LLM strategies are off. `uses_llm()` and the LLM part of the
  cache key (model, sampling, prompt versions) follow from it; neither is written by a stage.
  Other inputs of the cache key (e.g. the sandbox's `result_fingerprint`) go in
  `other_fingerprint()`.
- In `run`, `self.call_llm(lambda client: strategy(client, cfg, records))` runs the work
  (an async function of the client, usually one `per_item` batch) with the run's request
  cache, counts its usage in the metrics (`llm_<prompt>_<counter>`) and returns its results.
  What the calls used (server, model, prompts) collects in `self.llm_provenance`, reset per
  shard; a row records it with `self.with_llm(rec.llm)`.
- A result that is an `LLMError` either drops its row, `self.reject_llm_error(rec.id, error,
  record=rec)` (the error's reason is the drop reason), or is counted while the row goes on
  without it, `self.count_llm_failure("regenerate_failed", error)`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, final

from pydantic import BaseModel

from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.runtime import cache_path, llm_fingerprint, run_llm_traced
from codemint.records import LLMProvenance, Rejected, merge_llm
from codemint.stage import InT, OutT, ShardResult, Stage

T = TypeVar("T")


class LLMStage(Stage[InT, OutT]):
    # What the LLM calls of the current shard used (server, model, prompts): for its rows.
    llm_provenance: LLMProvenance | None = None

    @abc.abstractmethod
    def llm_prompts(self) -> Sequence[str]:
        """The prompts this stage sends as configured; empty when it makes no LLM call."""

    def other_fingerprint(self) -> list[Any]:
        """Inputs of the cache key besides the settings, the code and the LLM's part."""
        return []

    @final
    def uses_llm(self) -> bool:
        return bool(self.llm_prompts())

    @final
    def extra_fingerprint(self) -> list[Any]:
        parts = self.other_fingerprint()
        names = self.llm_prompts()
        if names:
            parts = [*parts, llm_fingerprint(self.settings.llm, names)]
        return parts

    def process_shard(self, input_path: Path, output_dir: Path, shard: int) -> ShardResult:
        self.llm_provenance = None  # a shard's rows name only the calls made for that shard
        return super().process_shard(input_path, output_dir, shard)

    def call_llm(self, work: Callable[[LLMClient], Awaitable[T]]) -> T:
        """`work(client)` with the run's request cache; its usage goes to the metrics and its
        provenance to `llm_provenance` (merged with the shard's earlier calls)."""
        assert self.run_dir is not None, "called from process_shard"
        value, usage, provenance = run_llm_traced(self.settings.llm, cache_path(self.run_dir), work)
        self.metrics.update(usage)
        self.llm_provenance = merge_llm(self.llm_provenance, provenance)
        return value

    def with_llm(self, current: LLMProvenance | None) -> LLMProvenance | None:
        """A row's provenance with this shard's LLM calls added."""
        return merge_llm(current, self.llm_provenance)

    def reject_llm_error(self, row_id: str, error: LLMError, *, record: BaseModel | None = None) -> Rejected:
        """The row dropped for the reason its LLM call failed."""
        return self.reject(row_id, error.reason, str(error), record=record)

    def count_llm_failure(self, metric: str, error: LLMError) -> None:
        """A failed call the row survives (it goes on without that part): `<metric>:<reason>`."""
        self.metrics[f"{metric}:{error.reason}"] += 1
