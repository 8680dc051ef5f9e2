"""The registry's view of settings: each stage's cache key covers its own settings model only,
and whether a run needs the LLM server is what the stages say."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codemint.decontam_specs import BenchmarkSpec
from codemint.flows.registry import STAGES, uses_llm
from codemint.settings import PipelineSettings
from codemint.stage_task import make_stage


def fingerprints(settings: PipelineSettings) -> dict[str, str]:
    return {name: make_stage(cls, settings).fingerprint() for name, cls in STAGES.items()}


def changed_stages(change: Callable[[PipelineSettings], None]) -> set[str]:
    """The stages whose cache key `change` alters (the others stay cache hits)."""
    base = PipelineSettings()
    before = fingerprints(base)
    changed = base.model_copy(deep=True)
    change(changed)
    after = fingerprints(changed)
    return {name for name in STAGES if after[name] != before[name]}


def set_budget(s: PipelineSettings) -> None:
    s.select.budget = 5


def set_threshold(s: PipelineSettings) -> None:
    s.near_dedup.threshold = 0.9


def set_twins(s: PipelineSettings) -> None:
    s.near_dedup.twins = False


def set_ngram(s: PipelineSettings) -> None:
    s.decontaminate.ngram = 10


def set_benchmarks(s: PipelineSettings) -> None:
    s.decontaminate.benchmarks = [BenchmarkSpec(name="mbpp")]


def set_split(s: PipelineSettings) -> None:
    s.export.validation_fraction = 0.5


def set_workers(s: PipelineSettings) -> None:
    s.index_workers = 1


@pytest.mark.parametrize(
    ("change", "stages"),
    [
        (set_budget, {"select"}),  # near_dedup and decontaminate stay cached
        (set_threshold, {"near_dedup"}),  # decontaminate and select stay cached
        (set_twins, {"near_dedup"}),
        (set_ngram, {"decontaminate"}),
        (set_benchmarks, {"decontaminate"}),
        (set_split, set()),  # the export's own key covers it (the dataset card shows the settings)
        (set_workers, set()),  # a process count: the same index for any
    ],
)
def test_a_curation_setting_changes_its_own_stage_key_only(
    change: Callable[[PipelineSettings], None], stages: set[str]
) -> None:
    assert changed_stages(change) == stages


def test_uses_llm_follows_the_stages() -> None:
    assert not uses_llm(PipelineSettings())
    on: list[dict[str, object]] = [
        {"summarize": {"strategy": "llm"}},
        {"testgen": {"strategies": ["doctest", "llm_mutants"]}},
        {"verify": {"candidate": "regenerated"}},
        {"judge": {"enabled": True}},
        {"exercises": {"kinds": ["generation", "repair"], "llm_bugs": 1}},
        {"exercises": {"kinds": ["generation", "translation"]}},
    ]
    for section in on:
        assert uses_llm(PipelineSettings.model_validate(section)), section
    # LLM bugs are asked for repair rows only.
    assert not uses_llm(
        PipelineSettings.model_validate({"exercises": {"kinds": ["generation"], "llm_bugs": 2}})
    )
    everything = PipelineSettings()
    everything.enable_llm()
    assert uses_llm(everything)
