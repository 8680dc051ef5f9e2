"""Derive: the training rows of every configured exercise kind from each exported (selected)
verified row.

The kinds are modules beside this one, listed in `registry.py`: generation, summarization,
repair and translation (LLM). Each is a setting (`exercises.kinds`). One input row gives rows of
each kind (repair up to `exercises.repair_per_row`); a row that yields no row of some kind is not
dropped (it still has its others), it is counted in the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemint.llm.stage import LLMStage
from codemint.records import ExerciseRow, Rejected, Verified
from codemint.settings import ExercisesSettings
from codemint.stage_task import shard_task
from codemint.tasks.derive import registry


class Derive(LLMStage[Verified, ExerciseRow]):
    name = "derive"
    chunked = True  # rows are independent: a shard runs a chunk at a time
    input_model = Verified
    output_model = ExerciseRow
    settings_field = "exercises"

    @property
    def cfg(self) -> ExercisesSettings:
        return self.settings.exercises

    def llm_prompts(self) -> list[str]:
        return [p for kind in registry.configured(self.cfg.kinds) for p in kind.llm_prompts(self.cfg)]

    def other_fingerprint(self) -> list[Any]:
        return [
            part for kind in registry.configured(self.cfg.kinds) for part in kind.fingerprint(self.settings)
        ]

    def run(self, records: Iterable[Verified]) -> Iterator[ExerciseRow | Rejected]:
        records = list(records)
        made = [kind.derive(self, records) for kind in registry.configured(self.cfg.kinds)]
        for rec in records:
            for rows in made:
                yield from rows.get(rec.id, [])


shard = shard_task(Derive)
