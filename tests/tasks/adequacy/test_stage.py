"""The adequacy stage on real sandbox runs: figures on every row (method rows too), the floor
marking rows below it, which export puts in the `weak` config, and the card's adequacy section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import CLAMP, MEDIAN, verified, write_shards

from codemint import store
from codemint.codec import canonical_json, encode_input
from codemint.records import TestCase as Case
from codemint.records import Verified
from codemint.settings import AdequacySettings, PipelineSettings
from codemint.tasks.adequacy.stage import Adequacy, floor_verdict
from codemint.tasks.export.stage import export_dataset

GRADE = '''
def grade(score):
    """Letter grade of a score out of 100."""
    if score < 0 or score > 100:
        raise ValueError("score out of range")
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"
'''

TALLY = '''
class Tally:
    """A running total."""

    def __init__(self, start=0):
        self.total = start

    def add(self, k):
        """Add k (not negative) to the total and return the new total."""
        if k < 0:
            raise ValueError("negative amount")
        self.total += k
        return self.total
'''


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
    # one input only, and it raises: of clamp_all's four mutants only `low <= high` is caught
    weak = _with_tests(clamp, [[[], 5, 1]], [None])
    return [strong, weak]


def _settings(tmp_path: Path, **adequacy: object) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=tmp_path / "runs")
    settings.sandbox.backend = "local"
    settings.sandbox.workers = 2
    for key, value in adequacy.items():
        setattr(settings.adequacy, key, value)
    return settings


def test_rows_carry_adequacy_and_rows_below_the_floor_are_marked_not_dropped(tmp_path: Path) -> None:
    strong, weak = _rows()
    stage = Adequacy(_settings(tmp_path))  # the default floor: 0.5 over all mutants
    out = list(stage.run([strong, weak]))
    assert all(isinstance(r, Verified) for r in out) and len(out) == 2
    measured = {r.entry_point: r for r in out if isinstance(r, Verified)}
    s, w = measured["median"], measured["clamp_all"]
    assert s.mutants > 5 and s.mutants_killed > 0 and s.mutation_score is not None
    assert w.mutation_score is not None and s.mutation_score > w.mutation_score
    for r in (s, w):  # the score is killed over every mutant: none excused
        assert r.mutation_score == round(r.mutants_killed / r.mutants, 4)
        assert r.mutation_score_excused == round(r.mutants_killed / (r.mutants - r.mutants_equivalent), 4)
    assert s.line_coverage is not None and s.line_coverage > 0.5 and s.branch_coverage is not None
    assert all(c.covered_lines for c in s.test_cases)
    assert s.adequacy_seconds is not None and s.adequacy_seconds > 0
    assert (s.adequacy_basis, s.adequate) == ("mutants", True)
    assert (w.adequacy_basis, w.adequate) == ("mutants", False) and w.mutation_score < 0.5
    assert stage.metrics["weak"] == 1

    # A floor between the two scores marks the weaker row; no floor marks none.
    between = (w.mutation_score + s.mutation_score) / 2
    again = {
        r.entry_point: r
        for r in Adequacy(_settings(tmp_path, min_mutation_score=between)).run([strong, weak])
    }
    assert [(e, r.adequate) for e, r in again.items()] == [("median", True), ("clamp_all", False)]  # type: ignore[union-attr]
    off = list(Adequacy(_settings(tmp_path, min_mutation_score=None)).run([strong, weak]))
    assert [r.adequate for r in off] == [None, None]  # type: ignore[union-attr]
    assert [r.mutation_score for r in off] == [s.mutation_score, w.mutation_score]  # type: ignore[union-attr]


def test_a_row_whose_tests_never_reach_its_mutants_scores_low_and_is_exported_as_weak(tmp_path: Path) -> None:
    # Every test gets an "A": the lines after `return "A"` never run, and their mutants survive.
    # Extra inputs that run those lines tell the mutants apart, so none is excused as equivalent.
    row = _with_tests(verified(GRADE), [[95], [99], [91], [-5]], ['"A"', '"A"', '"A"', None])
    settings = _settings(tmp_path)
    (out,) = list(Adequacy(settings).run([row]))
    assert isinstance(out, Verified)
    assert out.mutants >= 10 and out.mutants_unreached >= 5
    assert out.mutation_score is not None and out.mutation_score < 0.5
    assert (out.adequacy_basis, out.adequate) == ("mutants", False)
    strong = [r for r in Adequacy(settings).run([_rows()[0]]) if isinstance(r, Verified)]
    assert strong[0].adequate is True
    paths = write_shards(tmp_path / "select", [[out, *strong]])
    dataset = tmp_path / "dataset"
    manifest = export_dataset(settings, paths, dataset, {"funnel": [], "code_version": "test"})

    def ids(config: str) -> set[str]:
        return {
            i
            for s in ("train", "validation")
            for i in store.read_column(dataset / config / f"{s}.parquet", "id")
        }

    assert ids("weak") == {out.id} and ids("messages") == ids("alpaca") == {strong[0].id}
    assert ids("examples") == set()
    rl = [r for s in ("train", "validation") for r in store.read_rows(dataset / "rl" / f"{s}.parquet")]
    assert {r["extra_info"]["function_id"] for r in rl} == {strong[0].id}
    assert manifest["rows"] == 2 and manifest["held_out"]["weak"] == {
        s: len(store.read_column(dataset / "weak" / f"{s}.parquet", "id")) for s in ("train", "validation")
    }


def test_a_method_row_is_measured_on_mutants_of_its_method(tmp_path: Path) -> None:
    base = verified(TALLY)
    calls = [([0], [3]), ([5], [2]), ([1], [0]), ([2], [-1])]
    cases = [
        Case(
            input=encode_input([init, {}, args, {}]),
            expected=None
            if args[0] < 0
            else canonical_json({"returned": init[0] + args[0], "state": {"total": init[0] + args[0]}}),
            exception="ValueError" if args[0] < 0 else None,
        )
        for init, args in calls
    ]
    row = base.model_copy(
        update={
            "entry_point": "add",
            "signature": "def add(self, k)",
            "sample_kind": "method",
            "class_name": "Tally",
            "test_cases": cases,
            "test_inputs": [c.input for c in cases],
        }
    )
    stage = Adequacy(_settings(tmp_path))
    (out,) = list(stage.run([row]))
    assert isinstance(out, Verified)
    assert stage.metrics["tests_differing_in_suite_run"] == 0 and stage.metrics["measured_method"] == 1
    # the mutants of `add` (compare x2, constant x2, augmented assignment, deletion, return,
    # the guard `if` removed): none of the constructor
    assert out.mutants == 8 and out.mutation_score is not None and out.adequacy_basis == "mutants"
    assert out.mutants_killed >= 5 and out.adequate is True
    assert out.line_coverage == 1.0 and all(c.covered_lines for c in out.test_cases)
    # lines of the row's original code (its harness, appended to run it, is not the row's)
    assert all(1 <= n <= len(row.original_code.splitlines()) for c in out.test_cases for n in c.covered_lines)


@pytest.mark.parametrize(
    ("scored", "score", "coverage", "floor", "expected"),
    [
        (10, 0.6, 0.5, {}, ("mutants", True)),
        (10, 0.4, 1.0, {}, ("mutants", False)),
        (2, 0.0, 0.9, {}, ("coverage", True)),  # too few mutants: judged by line coverage
        (2, 1.0, 0.5, {}, ("coverage", False)),
        (0, None, None, {}, ("coverage", False)),
        (2, 1.0, 0.5, {"min_line_coverage": None}, ("coverage", None)),
        (10, 0.1, 0.1, {"min_mutation_score": None}, ("mutants", None)),  # no floor at all
        (2, 0.1, 0.1, {"min_mutation_score": None}, ("coverage", None)),
        (4, 0.5, 0.1, {"min_mutants": 5}, ("coverage", False)),
    ],
)
def test_floor_verdict(
    scored: int, score: float | None, coverage: float | None, floor: dict[str, object], expected: tuple
) -> None:
    assert floor_verdict(AdequacySettings(**floor), scored, score, coverage) == expected  # type: ignore[arg-type]


def test_export_carries_adequacy_columns_and_card_distribution(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    measured = [r for r in Adequacy(settings).run(_rows()) if isinstance(r, Verified)]
    paths = write_shards(tmp_path / "select", [measured])
    out = tmp_path / "dataset"
    export_dataset(settings, paths, out, {"funnel": [], "code_version": "test"})
    lines = [
        json.loads(text)
        for config in ("messages", "weak")
        for split in ("train", "validation")
        for text in (out / config / f"{split}.jsonl").read_text().splitlines()
    ]
    assert len(lines) == 2
    for line in lines:
        for name in (
            "mutation_score",
            "mutation_score_excused",
            "mutants",
            "mutants_killed",
            "mutants_equivalent",
            "mutants_unreached",
            "line_coverage",
            "branch_coverage",
            "adequacy_basis",
            "adequate",
        ):
            assert name in line
        assert line["test_cases"][0]["covered_lines"]
    card = (out / "README.md").read_text()
    assert "## Test adequacy" in card
    assert "| mutation_score | 2 |" in card and "| mutation_score_excused | 2 |" in card
    assert "| mutation_score (generation) | 1 |" in card and "| mutation_score (weak) | 1 |" in card
    # the card states the score over all mutants, the equivalents apart, and the floor
    assert "over **all** of the row's mutants" in card and "`mutants_equivalent` counts, apart" in card
    assert "a mutation score of at least 0.5, killed over all mutants" in card
    assert "fewer than 3 mutants is judged by its line coverage instead, which must be at least 0.8" in card
    assert "- rows: 1 clear the floor, 1 are below it (`weak`), 0 not judged" in card


def test_fewer_executions_give_the_same_figures_on_a_real_corpus(tmp_path: Path) -> None:
    """colorsys and bisect through feedback testgen, execute, verify and adequacy, with
    execute and adequacy taking testgen's runs (and adequacy the mutants a kept input killed
    there) and mutants stopping at their first failing test, and without: the same rows,
    tests and figures, for fewer executions."""
    from codemint import exec_meter
    from codemint.records import Instructed, Rejected
    from codemint.tasks.execute.stage import Execute
    from codemint.tasks.ingest.stage import Ingest, plan_sources
    from codemint.tasks.reformat.stage import Reformat
    from codemint.tasks.summarize.stage import Summarize
    from codemint.tasks.testgen.stage import Testgen
    from codemint.tasks.verify.stage import Verify

    base = _settings(tmp_path)
    snippets = [
        r for r in Ingest(base).run(plan_sources([], ["colorsys", "bisect"])) if not isinstance(r, Rejected)
    ]
    functions = [r for r in Reformat(base).run(snippets) if not isinstance(r, Rejected)]
    rows = [r for r in Summarize(base).run(functions) if isinstance(r, Instructed)]
    with_inputs = [r for r in Testgen(base).run(rows) if not isinstance(r, Rejected)]
    assert len(with_inputs) >= 8 and sum(bool(r.input_runs) for r in with_inputs) >= 8
    figures, executions, reused, killed_known = {}, {}, {}, {}
    for new in (False, True):
        settings = _settings(tmp_path, first_failure=new, reuse_testgen_runs=new, reuse_testgen_kills=new)
        settings.execute.reuse_testgen_runs = new
        records: list[object] = with_inputs
        with exec_meter.metering() as meter:
            for stage_class in (Execute, Verify, Adequacy):
                stage = stage_class(settings)
                records = [r for r in stage.run(records) if not isinstance(r, Rejected)]  # type: ignore[arg-type]
                reused[(new, stage.name)] = sum(
                    v for k, v in stage.metrics.items() if "from_testgen" in k or k == "testgen_runs_reused"
                )
                if stage.name == "adequacy":
                    killed_known[new] = stage.metrics["mutants_killed_from_testgen"]
        executions[new] = meter.executions
        figures[new] = {
            r.id: (
                r.test_cases,
                r.mutation_score,
                r.mutation_score_excused,
                r.mutants_unreached,
                r.mutants_killed,
            )
            for r in records  # type: ignore[attr-defined]
        }
    assert len(figures[False]) >= 6
    assert figures[True] == figures[False]
    assert reused[(True, "execute")] >= 4 and reused[(True, "adequacy")] >= 4
    assert reused[(False, "execute")] == reused[(False, "adequacy")] == 0
    assert killed_known[True] >= 4 and killed_known[False] == 0
    assert executions[True] < 0.8 * executions[False]
