"""Stage names, in pipeline order, the classes behind them and their Prefect tasks."""

from __future__ import annotations

import sys
from typing import Any

from prefect import Task

from codemint.settings import PipelineSettings
from codemint.stage import IndexedStage, ShardResult, Stage
from codemint.stage_task import IndexResult, make_stage
from codemint.tasks.adequacy.stage import Adequacy
from codemint.tasks.decontaminate.stage import Decontaminate
from codemint.tasks.dedup.stage import ExactDedup
from codemint.tasks.derive.stage import Derive
from codemint.tasks.execute.stage import Execute
from codemint.tasks.ingest.stage import Ingest
from codemint.tasks.judge.stage import Judge
from codemint.tasks.near_dedup.stage import NearDedup
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.select.stage import Select
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

# Adequacy measures the verified rows' tests (mutants, coverage); curation follows:
# decontamination before near-dedup, so a contaminated row cannot become a cluster's
# representative; the (costly, optional) judge before the final selection.
STAGES: dict[str, type[Stage[Any, Any]]] = {
    cls.name: cls
    for cls in (
        Ingest, Reformat, ExactDedup, Summarize, Testgen, Execute, Verify, Adequacy,
        Decontaminate, NearDedup, Judge, Select, Derive,
    )
}  # fmt: skip
# Stages that make and curate the verified rows (the funnel); DERIVED stages run after them
# and turn each final verified row into the exercise rows the export writes.
DERIVED: list[str] = [Derive.name]
PIPELINE: list[str] = [name for name in STAGES if name not in DERIVED]


def stage_class(name: str) -> type[Stage[Any, Any]]:
    try:
        return STAGES[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; known: {', '.join(STAGES)}") from None


def uses_llm(settings: PipelineSettings) -> bool:
    """Whether any stage, as `settings` configure it, calls the LLM server (each stage says)."""
    return any(make_stage(cls, settings).uses_llm() for cls in STAGES.values())


def shard_task(name: str) -> Task[..., ShardResult]:
    """The Prefect task a stage's module declares (`shard = shard_task(TheStage)`)."""
    task: Task[..., ShardResult] = sys.modules[stage_class(name).__module__].shard
    return task


def index_task(name: str) -> Task[..., IndexResult] | None:
    """The index task of a stage that needs a view across shards, else None."""
    cls = stage_class(name)
    if not issubclass(cls, IndexedStage):
        return None
    task: Task[..., IndexResult] = sys.modules[cls.__module__].index
    return task
