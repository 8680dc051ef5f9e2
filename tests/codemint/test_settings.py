"""Settings: the old `[curation]` section (config files, CODEMINT_CURATION__* variables, the
settings saved in older run.json files) still loads, into the per-stage sections."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from codemint.settings import CURATION_KEYS, PipelineSettings, SelectSettings, SettingsError

OLD = """
[curation]
workers = 2
near_dedup_threshold = 0.8
near_dedup_twins = false
benchmarks = [{name = "mbpp"}]
decontam_missing = "error"
select_budget = 50
embeddings_model = "m"
split_seed = 7
"""

NEW = """
index_workers = 2

[near_dedup]
threshold = 0.8
twins = false

[decontaminate]
benchmarks = [{name = "mbpp"}]
missing = "error"

[select]
budget = 50
embeddings_model = "m"

[export]
split_seed = 7
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_old_curation_section_loads_into_the_new_sections_with_a_warning_per_key(tmp_path: Path) -> None:
    with pytest.warns(FutureWarning) as caught:
        old = PipelineSettings.load(write(tmp_path, "old.toml", OLD))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names load without a word
        new = PipelineSettings.load(write(tmp_path, "new.toml", NEW))
    assert old == new  # same settings, so the same cache keys
    assert old.select.budget == 50 and old.near_dedup.twins is False and old.index_workers == 2
    assert [b.name for b in old.decontaminate.benchmarks] == ["mbpp"] and old.export.split_seed == 7
    messages = [str(w.message) for w in caught]
    assert len(messages) == 8
    assert "[curation] select_budget is now [select] budget (CODEMINT_SELECT__BUDGET)" in messages[5]
    assert "[curation] workers is now index_workers (CODEMINT_INDEX_WORKERS)" in messages[0]


def test_old_environment_variables_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEMINT_CURATION__SELECT_BUDGET", "9")
    monkeypatch.setenv("CODEMINT_CURATION__BENCHMARKS", '[{"name": "mbpp"}]')
    monkeypatch.setenv("CODEMINT_CURATION__NEAR_DEDUP_TWINS", "false")
    with pytest.warns(FutureWarning) as caught:
        settings = PipelineSettings()
    assert len(caught) == 3
    assert any("[near_dedup] twins (CODEMINT_NEAR_DEDUP__TWINS)" in str(w.message) for w in caught)
    assert settings.select.budget == 9 and settings.near_dedup.twins is False
    assert [b.name for b in settings.decontaminate.benchmarks] == ["mbpp"]


def test_new_environment_variables_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEMINT_SELECT__BUDGET", "4")
    monkeypatch.setenv("CODEMINT_DECONTAMINATE__NGRAM", "10")
    settings = PipelineSettings()
    assert settings.select.budget == 4 and settings.decontaminate.ngram == 10


def test_a_setting_given_both_ways_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = write(tmp_path, "both.toml", "[curation]\nselect_budget = 5\n\n[select]\nbudget = 3\n")
    with pytest.raises(ValueError) as info:
        PipelineSettings.load(both)
    assert str(info.value) == (
        f"{both}: [curation] select_budget and [select] budget (CODEMINT_SELECT__BUDGET) set the same "
        "setting: drop [curation] select_budget"
    )
    # The same across sources: the new name in the environment, the old one in the file.
    monkeypatch.setenv("CODEMINT_EXPORT__SPLIT_SEED", "1")
    with pytest.raises(ValueError, match=r"^\S+: \[curation\] split_seed and \[export\] split_seed "):
        PipelineSettings.load(write(tmp_path, "seed.toml", "[curation]\nsplit_seed = 2\n"))
    with pytest.raises(SettingsError, match="set the same setting"):
        PipelineSettings(curation={"select_budget": 5}, select=SelectSettings(budget=3))  # type: ignore[call-arg]


def test_an_unknown_curation_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[curation\] select_budgte: no such setting \(known: workers, "):
        PipelineSettings.load(write(tmp_path, "typo.toml", "[curation]\nselect_budgte = 5\n"))


def test_settings_saved_by_an_older_run_load(recwarn: pytest.WarningsRecorder) -> None:
    # run.json keeps the whole settings dump; `codemint rerun` validates it.
    saved = PipelineSettings().model_dump(mode="json")
    for section in ("near_dedup", "decontaminate", "select", "export"):
        del saved[section]
    del saved["index_workers"]
    saved["curation"] = {"select_fraction": 0.5, "validation_fraction": 0.1, "workers": None}
    settings = PipelineSettings.model_validate(saved)
    assert settings.select.fraction == 0.5 and settings.export.validation_fraction == 0.1
    assert len(recwarn.list) == 3


def test_every_old_key_has_a_home() -> None:
    for old, (section, key) in CURATION_KEYS.items():
        model = PipelineSettings if section is None else type(getattr(PipelineSettings(), section))
        assert key in model.model_fields, old
    # Each new field is named once.
    assert len(set(CURATION_KEYS.values())) == len(CURATION_KEYS)


def test_cli_prints_the_conflict_on_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from codemint.cli import app

    both = write(tmp_path, "both.toml", "[curation]\nsplit_seed = 5\n\n[export]\nsplit_seed = 3\n")
    result = CliRunner().invoke(app, ["run", "--config", str(both), "-p", "colorsys"])
    assert result.exit_code == 2
    line = " ".join(result.output.split())  # rich wraps long lines to the terminal width
    assert re.search(r"error: \S+both\.toml: \[curation\] split_seed and \[export\] split_seed", line)
    assert "validation error" not in result.output


def test_the_old_tasks_section_loads_as_exercises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "old.toml"
    config.write_text('[tasks]\nkinds = ["generation", "repair"]\nrepair_per_row = 3\n')
    with pytest.warns(FutureWarning, match=r"\[tasks\] is now \[exercises\]"):
        loaded = PipelineSettings.load(config)
    assert loaded.exercises.kinds == ["generation", "repair"] and loaded.exercises.repair_per_row == 3
    monkeypatch.setenv("CODEMINT_TASKS__KINDS", '["generation"]')
    with pytest.warns(FutureWarning):
        assert PipelineSettings().exercises.kinds == ["generation"]
    monkeypatch.delenv("CODEMINT_TASKS__KINDS")
    both = tmp_path / "both.toml"
    both.write_text('[tasks]\nkinds = ["generation"]\n\n[exercises]\nkinds = ["repair"]\n')
    with pytest.raises(ValueError, match=r"\[tasks\] and \[exercises\] are the same section"):
        PipelineSettings.load(both)
