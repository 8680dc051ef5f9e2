"""Derive: generation, summarization and repair rows from verified rows; repair proven in the sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from factories import CLAMP, MEDIAN, PARSE, verified
from real_rows import docker_settings, real_row

from codemint import mutants, records, store
from codemint.records import ExerciseRow, Verified, to_table
from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import CallOutcome, ExecJob, ExecResult
from codemint.settings import ExercisesSettings, PipelineSettings
from codemint.tasks.derive.repair_variants import BugCandidate, judge_variants, pick
from codemint.tasks.derive.stage import Derive
from codemint.tasks.derive.summarization import summarization_prompt
from codemint.verdict import passes

CODEC_TAG = re.compile(r'"__[a-z_]+__"\s*:')


def differs_only_in_the_bug(row: ExerciseRow, cfg: ExercisesSettings) -> bool:
    """The buggy code is the original with only the mutant's span replaced: found again among
    the row's mutants, everything before and after the span is the original's text."""
    assert row.repair is not None
    target = row.class_name if row.sample_kind in ("method", "property", "classmethod") else None
    found = mutants.generate(
        row.original_code,
        row.entry_point,
        max_mutants=cfg.repair_mutants,
        seed=cfg.repair_seed,
        class_name=target,
    )
    (mutant,) = [m for m in found if m.code == row.repair.buggy_code]
    original, buggy, tail = row.original_code, row.repair.buggy_code, len(row.original_code) - mutant.end
    return (
        buggy[: mutant.start] == original[: mutant.start]
        and buggy[len(buggy) - tail :] == original[mutant.end :]
    )


CLAMP_CALLS = [([[1, 5, 9], 2, 8], {}), ([[0, 10], 0, 10], {}), ([[3], 4, 4], {}), ([[1], 5, 2], {})]
MEDIAN_CALLS = [([[3, 1, 2]], {}), ([[4, 1, 3, 2]], {}), ([[7]], {}), ([[]], {}), ([[2, 2, 5, 9]], {})]
PARSE_CALLS = [(["a=1;b=2"], {}), (["x = y ; ;z"], {}), ([""], {}), (["k:v,m:n"], {"sep": ",", "kv": ":"})]


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Verified], list[ExerciseRow], dict]:
    box = docker_settings()
    rows = [
        real_row(CLAMP, CLAMP_CALLS, box),
        real_row(MEDIAN, MEDIAN_CALLS, box),
        real_row(PARSE, PARSE_CALLS, box),
    ]
    tmp = tmp_path_factory.mktemp("derive")
    shard = store.kept_path(tmp / "select", 0)
    store.write_table(shard, to_table(rows, Verified))
    settings = PipelineSettings(sandbox=box, exercises=ExercisesSettings(repair_mutants=12, repair_per_row=2))
    result = Derive(settings).process_shard(shard, tmp / "derive", 0)
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    return rows, out, result.metrics


def test_every_row_gets_generation_and_summarization(derived: tuple) -> None:
    rows, out, _ = derived
    for rec in rows:
        mine = {r.exercise: r for r in out if r.id == rec.id}
        gen, summ = mine["generation"], mine["summarization"]
        assert gen.prompt == rec.instruction and rec.candidate_code.strip() in gen.response
        assert summ.summary is not None and summ.summary.target == "docstring"
        assert summ.response == rec.docstring and rec.docstring not in summ.prompt  # answer not shown
        assert f"def {rec.entry_point}(" in summ.summary.code and summ.summary.code in summ.prompt
        # The ask matches the answer: a one-line docstring is asked for as one.
        one_line = "\n" not in rec.docstring.strip()
        assert ("one-line docstring" in summ.prompt) == one_line
        assert ("its arguments and what it returns" in summ.prompt) == (not one_line)
    assert len({r.exercise_id for r in out}) == len(out)


def test_a_summarization_prompt_asks_for_the_form_of_its_answer() -> None:
    code = "def f(x):\n    return x\n"
    one = summarization_prompt(code, "f", "docstring", "Return x unchanged.")
    full = summarization_prompt(code, "f", "docstring", "Return x.\n\nArgs:\n    x: anything.")
    assert "one-line docstring" in one and "its arguments" not in one
    assert "its arguments and what it returns" in full and "one-line" not in full
    assert "instruction" in summarization_prompt(code, "f", "instruction", "Write f.")


def test_repair_rows_fail_a_test_and_their_fix_passes_all_when_re_executed(derived: tuple) -> None:
    rows, out, metrics = derived
    repairs = [r for r in out if r.exercise == "repair"]
    assert {r.id for r in repairs} == {r.id for r in rows}  # each of these functions has a catchable bug
    assert all(len([r for r in repairs if r.id == rec.id]) <= 2 for rec in rows)
    assert metrics["repair_variants_caught"] >= len(repairs) and metrics["repair_variants_run"] > 0
    jobs = []
    for r in repairs:
        assert r.repair is not None and r.repair.buggy_code != r.original_code
        inputs = [c.input for c in r.test_cases]
        jobs += [
            ExecJob(
                job_id=f"{r.exercise_id}-bug",
                code=r.repair.buggy_code,
                entry_point=r.entry_point,
                inputs=inputs,
            ),
            ExecJob(
                job_id=f"{r.exercise_id}-fix", code=r.original_code, entry_point=r.entry_point, inputs=inputs
            ),
        ]
    results = shared_sandbox(docker_settings()).run_batch(jobs)
    for r, bug, fix in zip(repairs, results[::2], results[1::2], strict=True):
        assert r.repair is not None
        bug_passed = [passes(c, o) for c, o in zip(r.test_cases, bug.outcomes, strict=True)]
        assert not all(bug_passed), r.repair.bug_description
        assert bug_passed.count(False) == r.repair.tests_failed
        assert all(passes(c, o) for c, o in zip(r.test_cases, fix.outcomes, strict=True))
        shown = r.test_cases.index(r.repair.failing_test)
        assert not bug_passed[shown]  # the test in the prompt is one the bug fails
        # the call and the values read as Python, never the codec's JSON
        assert f"- call: `{r.entry_point}(" in r.prompt and r.repair.actual in r.prompt
        assert not CODEC_TAG.search(r.prompt) and r.repair.failing_test.input not in r.prompt
        assert differs_only_in_the_bug(r, ExercisesSettings(repair_mutants=12))
        assert r.repair.buggy_code.strip() in r.prompt and r.original_code.strip() in r.response
    hardest = {}
    for r in repairs:
        assert r.repair is not None
        hardest.setdefault(r.id, []).append(r.repair.tests_failed)
    assert all(v == sorted(v) for v in hardest.values())


def _result(outcomes: list[CallOutcome]) -> ExecResult:
    return ExecResult(job_id="x", outcomes=outcomes)


OK1 = CallOutcome(status="ok", result="1")
OK2 = CallOutcome(status="ok", result="2")


def test_variants_are_judged_by_the_tests_and_ranked_by_how_few_catch_them() -> None:
    rec = verified(CLAMP, n_tests=3)
    rec = rec.model_copy(
        update={"test_cases": [records.TestCase(input=f"{i}", expected="1") for i in range(3)]}
    )
    cands = [BugCandidate(f"code{i}", "mutation", kind, "", i) for i, kind in enumerate("abcde")]
    runs = [
        _result([OK2, OK2, OK2]),  # caught by every test
        _result([OK1, OK1, OK1]),  # survives: equivalent or untested
        _result([OK1, CallOutcome(status="timeout"), OK1]),  # only a timeout: not proven
        _result([OK1, CallOutcome(status="error", exc_type="TypeError", exc_message="bad"), OK1]),
        ExecResult(job_id="x", outcomes=[], infra_error="container died"),
    ]
    details, counts = judge_variants(rec, cands, _result([OK1, OK1, OK1]), runs)
    assert counts == {"run": 5, "caught": 2, "survived": 2, "unjudged": 1, "fix_failed": 0, "sandbox_only": 0}
    assert [d.bug_kind for d in details] == ["d", "a"]  # the one a single test catches first
    assert details[0].tests_failed == 1 and details[0].actual == "raises `TypeError`: bad"
    assert details[0].failing_test.input == "1" and details[1].actual == "returns 2"
    # An original that fails its own tests gives no repair rows at all.
    assert judge_variants(rec, cands, _result([OK2, OK1, OK1]), runs) == (
        [],
        {"run": 5, "caught": 0, "survived": 0, "unjudged": 0, "fix_failed": 1, "sandbox_only": 0},
    )
    # One bug of each kind before a second of any kind; the result stays hardest first.
    base = details[0]
    same = [
        base.model_copy(update={"bug_kind": k, "tests_failed": n}) for k, n in [("a", 1), ("a", 2), ("b", 3)]
    ]
    assert [(d.bug_kind, d.tests_failed) for d in pick(same, 2)] == [("a", 1), ("b", 3)]


def test_the_failing_test_shown_holds_nothing_only_the_sandbox_knows() -> None:
    rec = verified(CLAMP, n_tests=3)
    rec = rec.model_copy(
        update={"test_cases": [records.TestCase(input=f"{i}", expected='"x"') for i in range(3)]}
    )
    ok = CallOutcome(status="ok", result='"x"')
    workdir = CallOutcome(status="ok", result='"..\\\\tmp\\\\job-1-3415\\\\x"')
    own_error = CallOutcome(status="error", exc_type="__codemint__.StatisticsError", exc_message="no data")
    cands = [BugCandidate(f"code{i}", "mutation", kind, "", i) for i, kind in enumerate("ab")]
    runs = [
        _result([workdir, own_error, ok]),  # the work dir is passed over for the next failure
        _result([workdir, ok, workdir]),  # every failure shows the work dir: no row
    ]
    details, counts = judge_variants(rec, cands, _result([ok, ok, ok]), runs)
    assert counts["caught"] == 1 and counts["sandbox_only"] == 1
    (shown,) = details
    # The code's own exception class by its name, not the job module's qualified name.
    assert shown.failing_test.input == "1" and shown.actual == "raises `StatisticsError`: no data"


def test_tasks_are_settings(tmp_path: Path) -> None:
    rows = [
        verified(CLAMP),
        verified(MEDIAN).model_copy(update={"docstring": None, "instruction_source": "llm"}),
    ]
    shard = store.kept_path(tmp_path / "select", 0)
    store.write_table(shard, to_table(rows, Verified))
    settings = PipelineSettings(exercises=ExercisesSettings(kinds=["summarization"]))
    result = Derive(settings).process_shard(shard, tmp_path / "derive", 0)
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    assert [r.exercise for r in out] == ["summarization", "summarization"]
    llm = out[1]
    assert llm.summary is not None and llm.summary.target == "instruction"
    assert llm.response == rows[1].instruction.strip()
    assert Derive(settings).fingerprint() != Derive(PipelineSettings()).fingerprint()
    assert json.loads(json.dumps(result.metrics)) == {}


def test_llm_bugs_are_kept_only_when_a_test_catches_them(tmp_path: Path) -> None:
    from openai_server import DEFAULT_MODEL, OpenAIServer, PipelineResponder

    box = docker_settings()
    rows = [real_row(CLAMP, CLAMP_CALLS, box), real_row(MEDIAN, MEDIAN_CALLS, box)]
    shard = store.kept_path(tmp_path / "select", 0)
    store.write_table(shard, to_table(rows, Verified))
    settings = PipelineSettings(
        sandbox=box, exercises=ExercisesSettings(repair_mutants=1, repair_per_row=4, llm_bugs=2)
    )
    assert Derive(settings).uses_llm()
    with OpenAIServer(PipelineResponder()) as server:
        settings.llm.base_url, settings.llm.model = server.base_url, DEFAULT_MODEL
        result = Derive(settings).process_shard(shard, tmp_path / "derive", 0)
        calls = server.chat_requests
        again = Derive(settings).process_shard(shard, tmp_path / "again", 0)
        assert server.chat_requests == calls == len(rows)  # one request per row, then the cache
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    llm = [r for r in out if r.repair is not None and r.repair.bug_source == "llm"]
    assert llm and result.metrics["repair_variants_run"] > len(rows)  # mutants and LLM bugs
    for r in llm:
        assert r.repair is not None and r.repair.bug_kind in {"wrong_condition", "off_by_one"}
        assert r.repair.bug_description
        assert r.repair.tests_failed >= 1 and r.repair.buggy_code != r.original_code
    assert result.metrics["llm_realistic_bug_calls"] == len(rows)
    assert again.rows_kept == result.rows_kept


@pytest.mark.parametrize("source", ["examples", "protocol", "inherited"])
def test_words_that_are_not_the_functions_own_get_no_summarization(source: str) -> None:
    # Example calls, the data model's words and a base method's docstring describe no code.
    rec = verified(CLAMP).model_copy(update={"instruction_source": source})
    stage = Derive(PipelineSettings(exercises=ExercisesSettings(kinds=["generation", "summarization"])))
    out = list(stage.run([rec]))
    assert [r.exercise for r in out if isinstance(r, ExerciseRow)] == ["generation"]
    assert stage.metrics[f"summarization_skipped:not_own_words:{source}"] == 1
    rows = [r for r in Derive(stage.settings).run([verified(CLAMP)]) if isinstance(r, ExerciseRow)]
    (summ,) = [r for r in rows if r.exercise == "summarization"]
    assert summ.response


def test_a_summary_target_keeps_only_the_doctest_outputs_its_code_shows() -> None:
    doc = "Say which side of zero x is.\n\nExamples:\n    >>> side(5)\n    5\n\n"
    doc += "    Below zero:\n    >>> side(-1)\n    'below'\n"
    code = f'def side(x):\n    """{doc}"""\n    return \'below\' if x < 0 else min(x, 7)\n'
    rec = verified(code).model_copy(update={"docstring": doc, "instruction_source": "docstring"})
    stage = Derive(PipelineSettings(exercises=ExercisesSettings(kinds=["summarization"])))
    (summ,) = [r for r in stage.run([rec]) if isinstance(r, ExerciseRow)]
    # `5` is an output no token of the code shows; `'below'` is a literal the code returns.
    # The two examples are two sessions (text between them): only the first is cut.
    kept = "Say which side of zero x is.\n\nExamples:\n\n    Below zero:\n    >>> side(-1)\n    'below'"
    assert summ.response == kept
    assert ">>>" not in summ.prompt and stage.metrics["summarization_doctests_cut"] == 1
