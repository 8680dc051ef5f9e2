"""Derive: the training rows of every configured exercise kind from each exported (selected)
verified row.

The kinds are modules beside this one, listed in `registry.py`: generation, summarization,
repair and translation (LLM). Each is a setting (`tasks.kinds`). One input row gives rows of
each kind (repair up to `tasks.repair_per_row`); a row that yields no row of some kind is not
dropped (it still has its others), it is counted in the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemint.llm.stage import LLMStage
from codemint.records import Rejected, TaskRow, Verified
from codemint.settings import TasksSettings
from codemint.stage_task import shard_task
from codemint.tasks.derive import registry


class Derive(LLMStage[Verified, TaskRow]):
    name = "derive"
    input_model = Verified
    output_model = TaskRow
    settings_field = "tasks"

    @property
    def cfg(self) -> TasksSettings:
        return self.settings.tasks

    def llm_prompts(self) -> list[str]:
        return [p for kind in registry.configured(self.cfg.kinds) for p in kind.llm_prompts(self.cfg)]

    def other_fingerprint(self) -> list[Any]:
        return [
            part for kind in registry.configured(self.cfg.kinds) for part in kind.fingerprint(self.settings)
        ]

    def run(self, records: Iterable[Verified]) -> Iterator[TaskRow | Rejected]:
        records = list(records)
        made = [kind.derive(self, records) for kind in registry.configured(self.cfg.kinds)]
        for rec in records:
            for rows in made:
                yield from rows.get(rec.id, [])


shard = shard_task(Derive)
