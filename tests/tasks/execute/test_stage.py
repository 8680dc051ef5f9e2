"""Execute's decisions, with a fake sandbox at the boundary: what becomes a test case, and
when a sample is dropped (nondeterministic, missing_import, too_few_tests, no_normal_returns,
sandbox_error)."""

from __future__ import annotations

import json

import pytest
from factories import CLAMP, verified
from fake_sandbox import install, ok, raised, status

from codemint.records import Executed, InputRun, Provenance, Rejected, WithInputs
from codemint.sandbox.api import CallOutcome, ExecJob
from codemint.settings import ExecuteSettings, PipelineSettings, SandboxSettings
from codemint.tasks.execute.stage import Execute

MODULE = "codemint.tasks.execute.stage"


def row(n_inputs: int = 4) -> WithInputs:
    base = verified(CLAMP, n_tests=n_inputs)
    rec = WithInputs.model_validate(base.model_dump(include=set(WithInputs.model_fields)))
    # The prompt names the exceptions these tests raise: only stated exceptions become tests.
    rec.instruction += " Raises ValueError, KeyError or TypeError on bad input."
    return rec


def run(rec: WithInputs, **cfg: int) -> Executed | Rejected:
    # No screen (execute.prescreen, test_prescreen.py): its one suite job is not what this
    # fake answers, and these rows' runs are what is tested.
    (out,) = Execute(PipelineSettings(execute=ExecuteSettings(prescreen=False, **cfg))).run([rec])
    return out


def test_returns_and_raised_types_become_test_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    box = install(monkeypatch, MODULE, lambda job: [ok("[1]"), ok("[2]"), raised("ValueError"), ok("[]")])
    out = run(row(4))
    assert isinstance(out, Executed)
    assert [(c.expected, c.exception) for c in out.test_cases] == [
        ("[1]", None), ("[2]", None), (None, "ValueError"), ("[]", None)
    ]  # fmt: skip
    assert [c.input for c in out.test_cases] == out.test_inputs
    # The original code ran, once per repeat, on every input.
    assert len(box.jobs) == 2
    assert all(j.code == out.original_code and j.inputs == out.test_inputs for j in box.jobs)


def test_outputs_that_differ_between_runs_drop_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(job: ExecJob) -> list[CallOutcome]:
        first = job.job_id.endswith("#0")
        return [ok("1"), ok("2"), ok("3" if first else "4"), ok("5")]

    install(monkeypatch, MODULE, answer)
    out = run(row(4))
    assert isinstance(out, Rejected) and out.drop_reason == "nondeterministic"
    assert "input 2" in out.detail


def test_an_import_failure_on_every_input_names_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = raised("ModuleNotFoundError", "No module named 'numpy.linalg'")
    install(monkeypatch, MODULE, lambda job: [missing] * 4)
    out = run(row(4))
    assert isinstance(out, Rejected) and (out.drop_reason, out.detail) == ("missing_import", "numpy")


def test_timeouts_and_kills_are_discarded_not_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [ok("1"), status("timeout"), ok("3"), status("memory"), ok("5")]
    install(monkeypatch, MODULE, lambda job: outcomes)
    out = run(row(5), min_tests=3)
    assert isinstance(out, Executed)
    assert [c.expected for c in out.test_cases] == ["1", "3", "5"] and out.discarded_inputs == 2
    install(monkeypatch, MODULE, lambda job: outcomes)
    too_few = run(row(5), min_tests=4)
    assert isinstance(too_few, Rejected) and too_few.drop_reason == "too_few_tests"
    assert "2 discarded" in too_few.detail


def test_exception_tests_do_not_count_toward_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: [ok("1"), ok("2"), raised("ValueError"), raised("KeyError")])
    out = run(row(4), min_tests=3)
    assert isinstance(out, Rejected) and out.drop_reason == "too_few_tests"
    assert out.detail.startswith("2 normal-return tests < 3 (2 raising")


def test_exception_tests_are_capped_one_per_type_first(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [raised("ValueError"), raised("ValueError"), ok("1"), raised("KeyError"), ok("2"),
                ok("3"), ok("4"), ok("5"), ok("6"), raised("TypeError")]  # fmt: skip
    install(monkeypatch, MODULE, lambda job: outcomes)
    out = run(row(10))  # 6 normal returns, share 0.25 -> at most 2 exception tests
    assert isinstance(out, Executed)
    kinds = [c.exception for c in out.test_cases if c.exception]
    assert kinds == ["ValueError", "KeyError"]
    assert sum(c.exception is None for c in out.test_cases) == 6
    # Kept in input order: the first ValueError input (index 0) and the KeyError one (index 3).
    assert [c.input for c in out.test_cases][:1] == [out.test_inputs[0]]
    assert out.test_cases[2].input == out.test_inputs[3]


def test_an_original_that_only_raises_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: [raised("TypeError")] * 3 + [raised("KeyError")])
    out = run(row(4))
    assert isinstance(out, Rejected) and out.drop_reason == "no_normal_returns"
    assert "TypeError" in out.detail


def test_a_job_the_sandbox_could_not_run_is_a_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: "worker died twice")
    out = run(row(4))
    assert isinstance(out, Rejected)
    assert (out.drop_reason, out.detail) == ("sandbox_error", "worker died twice")
    # A run that returns fewer outcomes than inputs is no verdict either.
    install(monkeypatch, MODULE, lambda job: [ok("1")])
    short = run(row(4))
    assert isinstance(short, Rejected) and short.drop_reason == "sandbox_error"


def test_inputs_reach_the_sandbox_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    box = install(monkeypatch, MODULE, lambda job: [ok("0")] * len(job.inputs))
    rec = row(3)
    run(rec)
    assert [json.loads(t) for t in box.jobs[0].inputs] == [json.loads(t) for t in rec.test_inputs]


def test_the_row_records_where_a_reward_must_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect
    import statistics

    install(monkeypatch, MODULE, lambda job: [ok("1"), ok("2"), ok("3"), ok("4")])
    line = inspect.getsourcelines(statistics.median)[1]
    prov = Provenance(source_uri="stdlib:statistics", path="statistics.py", line_start=line)
    rec = row(4).model_copy(update={"provenance": prov, "entry_point": "median"})
    out = run(rec)
    assert isinstance(out, Executed)
    # The original is out of the jobs' reach, and the row says so for the reward.
    assert out.hidden is not None and (out.hidden.module, out.hidden.names) == ("statistics", ["median"])
    assert out.environment_requirements == []  # the plain image: nothing to rebuild
    off = Execute(PipelineSettings(sandbox=SandboxSettings(hide_original=False))).run([rec])
    assert [o.hidden for o in off if isinstance(o, Executed)] == [None]


# --- execute.reuse_testgen_runs: feedback testgen's run of the original stands for the first


def _with_runs(rec: WithInputs, runs: list[tuple[str, str]]) -> WithInputs:
    """`rec` carrying testgen's runs: (kind, value) per input, "ok" with a result's text or
    "error" with an exception type."""
    ran = [InputRun(kind=kind, value=value, seconds=0.01, lines=[2], arcs=[[-1, 2]]) for kind, value in runs]
    return rec.model_copy(update={"input_runs": ran})


ANSWER = [ok("[1]"), ok("[2]"), raised("ValueError"), ok("[]")]
TESTGEN_RAN = [("ok", "[1]"), ("ok", "[2]"), ("error", "ValueError"), ("ok", "[]")]


def _execute(rec: WithInputs, reuse: bool) -> tuple[Executed | Rejected, dict[str, float]]:
    stage = Execute(PipelineSettings(execute=ExecuteSettings(reuse_testgen_runs=reuse, prescreen=False)))
    (out,) = stage.run([rec])
    return out, dict(stage.metrics)


def test_testgen_runs_stand_for_the_first_run_and_give_the_same_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = _with_runs(row(4), TESTGEN_RAN)
    both = install(monkeypatch, MODULE, lambda job: ANSWER)
    before, _ = _execute(rec, reuse=False)
    assert [j.job_id.rsplit("#", 1)[1] for j in both.jobs] == ["0", "1"]
    one = install(monkeypatch, MODULE, lambda job: ANSWER)
    after, metrics = _execute(rec, reuse=True)
    # Only the second run, on its own zygote (another hash seed), checks testgen's.
    assert [(j.job_id.rsplit("#", 1)[1], j.zygote) for j in one.jobs] == [("1", 1)]
    assert metrics["testgen_runs_reused"] == 1
    assert isinstance(before, Executed) and isinstance(after, Executed)
    assert after.test_cases == before.test_cases


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ([ok("[1]"), ok("[9]"), raised("ValueError"), ok("[]")], "differs"),
        ([ok("[1]"), ok("[2]"), raised("KeyError"), ok("[]")], "differs"),
        (
            [
                ok("[1]"),
                CallOutcome(status="ok", result="[2]", stdout="hi\n"),
                raised("ValueError"),
                ok("[]"),
            ],
            "output",
        ),
        (
            [
                ok("[1]"),
                CallOutcome(status="ok", result="[2]", args_after="[[3]]"),
                raised("ValueError"),
                ok("[]"),
            ],
            "arguments_differ",
        ),
    ],
)
def test_a_run_testgen_cannot_stand_for_runs_first_here_and_is_decided_as_before(
    monkeypatch: pytest.MonkeyPatch, answer: list[CallOutcome], why: str
) -> None:
    """A run here that differs from testgen's, prints or changes its arguments: execute runs
    the first itself, and decides on its two runs exactly as without reuse (here the second
    run differs from the first on input 1 or 2: nondeterministic; or agrees: the same tests)."""
    rec = _with_runs(row(4), TESTGEN_RAN)

    def answer_of(job: ExecJob) -> list[CallOutcome]:
        return ANSWER if job.job_id.endswith("#0") else answer

    install(monkeypatch, MODULE, answer_of)
    before, _ = _execute(rec, reuse=False)
    box = install(monkeypatch, MODULE, answer_of)
    after, metrics = _execute(rec, reuse=True)
    assert [j.job_id.rsplit("#", 1)[1] for j in box.jobs] == ["1", "0"]
    assert metrics[f"testgen_runs_redone:{why}"] == 1 and metrics["testgen_runs_reused"] == 0
    assert type(after) is type(before)
    if isinstance(before, Rejected):
        assert isinstance(after, Rejected) and (after.drop_reason, after.detail) == (
            before.drop_reason,
            before.detail,
        )
    else:
        assert isinstance(after, Executed) and after.test_cases == before.test_cases


def test_argument_state_testgen_recorded_alike_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    state = '{"args":[[3]],"kwargs":{}}'
    answer = [
        ok("[1]"),
        CallOutcome(status="ok", result="[2]", args_after=state),
        raised("ValueError"),
        ok("[]"),
    ]
    rec = _with_runs(row(4), TESTGEN_RAN)
    rec.input_runs[1].args_after = state
    box = install(monkeypatch, MODULE, lambda job: answer)
    out, metrics = _execute(rec, reuse=True)
    assert len(box.jobs) == 1 and metrics["testgen_runs_reused"] == 1
    install(monkeypatch, MODULE, lambda job: answer)
    before, _ = _execute(rec, reuse=False)
    assert isinstance(out, Executed) and isinstance(before, Executed) and out.test_cases == before.test_cases


def test_a_row_without_testgen_runs_runs_both_here(monkeypatch: pytest.MonkeyPatch) -> None:
    box = install(monkeypatch, MODULE, lambda job: ANSWER)
    out, metrics = _execute(row(4), reuse=True)
    assert isinstance(out, Executed) and len(box.jobs) == 2 and metrics["testgen_runs_reused"] == 0
