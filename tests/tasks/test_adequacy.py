"""The adequacy stage on real sandbox runs: figures on every row, weak rows dropped on request,
and the export carrying them (columns and the card's distribution)."""

from __future__ import annotations

import json
from pathlib import Path

from factories import CLAMP, MEDIAN, verified, write_shards

from codemint.codec import encode_input
from codemint.records import TestCase as Case
from codemint.records import Verified
from codemint.settings import PipelineSettings
from codemint.tasks.adequacy import Adequacy
from codemint.tasks.export import export_dataset


def _with_tests(row: Verified, inputs: list[list[object]], expected: list[str | None]) -> Verified:
    cases = [
        Case(input=encode_input(args), expected=exp, exception=None if exp else "ValueError")
        for args, exp in zip(inputs, expected, strict=True)
    ]
    return row.model_copy(update={"test_cases": cases, "tests_total": len(cases), "tests_passed": len(cases)})


def _rows() -> list[Verified]:
    median = verified(MEDIAN)
    clamp = verified(CLAMP)
    strong = _with_tests(median, [[[1, 3, 5]], [[1, 3, 5, 7]], [[4, 1]], [[9]]], ["3", "4.0", "2.5", "9"])
    # one input only: most mutants of clamp_all survive it
    weak = _with_tests(clamp, [[[], 0, 1]], ["[]"])
    return [strong, weak]


def _settings(tmp_path: Path, **adequacy: object) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=tmp_path / "runs")
    settings.sandbox.backend = "local"
    settings.sandbox.workers = 2
    for key, value in adequacy.items():
        setattr(settings.adequacy, key, value)
    return settings


def test_rows_carry_adequacy_and_weak_rows_drop_on_request(tmp_path: Path) -> None:
    strong, weak = _rows()
    out = list(Adequacy(_settings(tmp_path)).run([strong, weak]))
    assert all(isinstance(r, Verified) for r in out)
    measured = {r.entry_point: r for r in out if isinstance(r, Verified)}
    s, w = measured["median"], measured["clamp_all"]
    assert s.mutants > 5 and s.mutants_killed > 0 and s.mutation_score is not None
    assert w.mutation_score is not None and s.mutation_score > w.mutation_score
    assert s.line_coverage is not None and s.line_coverage > 0.5 and s.branch_coverage is not None
    assert all(c.covered_lines for c in s.test_cases)
    assert s.adequacy_seconds is not None and s.adequacy_seconds > 0

    stage = Adequacy(_settings(tmp_path, min_mutation_score=(w.mutation_score + s.mutation_score) / 2))
    again = list(stage.run([strong, weak]))
    kept = [r for r in again if isinstance(r, Verified)]
    dropped = [r for r in again if not isinstance(r, Verified)]
    assert [r.entry_point for r in kept] == ["median"]
    assert len(dropped) == 1 and dropped[0].drop_reason == "weak_tests"
    assert "mutation score" in dropped[0].detail


def test_export_carries_adequacy_columns_and_card_distribution(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    measured = [r for r in Adequacy(settings).run(_rows()) if isinstance(r, Verified)]
    paths = write_shards(tmp_path / "select", [measured])
    out = tmp_path / "dataset"
    export_dataset(settings, paths, out, {"funnel": [], "code_version": "test"})
    line = json.loads((out / "messages" / "train.jsonl").read_text().splitlines()[0])
    for name in ("mutation_score", "mutants", "mutants_killed", "line_coverage", "branch_coverage"):
        assert name in line
    assert line["test_cases"][0]["covered_lines"]
    card = (out / "README.md").read_text()
    assert "## Test adequacy" in card
    assert "| mutation_score | 2 |" in card
