"""Verify's decisions, with a fake sandbox at the boundary: a candidate passes a test when it
returns the original's canonical value or raises the original's exception type; rows below
`keep_threshold` are dropped; a candidate that could not run is never a pass."""

from __future__ import annotations

import pytest
from factories import MEDIAN, verified
from fake_sandbox import install, ok, raised

from codemint import records
from codemint.records import Executed, Rejected, Verified
from codemint.sandbox.api import CallOutcome
from codemint.settings import PipelineSettings, VerifySettings
from codemint.tasks.verify.stage import Verify, passes

MODULE = "codemint.tasks.verify.stage"


def executed() -> Executed:
    rec = verified(MEDIAN, n_tests=3)
    data = rec.model_dump(include=set(Executed.model_fields))
    data["test_cases"] = [
        records.TestCase(input='{"args":[[1,2,3]],"kwargs":{}}', expected="2"),
        records.TestCase(input='{"args":[[1,2]],"kwargs":{}}', expected="1.5"),
        records.TestCase(input='{"args":[[]],"kwargs":{}}', exception="ValueError"),
    ]
    return Executed.model_validate(data)


def run(rec: Executed, threshold: float = 1.0) -> Verified | Rejected:
    (out,) = Verify(PipelineSettings(verify=VerifySettings(keep_threshold=threshold))).run([rec])
    return out


def test_passes_compares_values_and_exception_types() -> None:
    value = records.TestCase(input="{}", expected="2")
    error = records.TestCase(input="{}", exception="ValueError")
    assert passes(value, ok("2")) and passes(value, ok("2.0")) and not passes(value, raised("ValueError"))
    assert not passes(value, ok("true")) and not passes(value, ok("2.5"))
    assert passes(error, raised("ValueError")) and not passes(error, raised("TypeError"))
    assert not passes(error, ok("null")) and not passes(value, CallOutcome(status="timeout"))


def test_a_candidate_that_matches_every_test_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    box = install(monkeypatch, MODULE, lambda job: [ok("2"), ok("1.5"), raised("ValueError")])
    out = run(executed())
    assert isinstance(out, Verified)
    assert (out.pass_fraction, out.tests_passed, out.tests_total) == (1.0, 3, 3)
    assert out.candidate_kind == "reformatted" and out.candidate_code == out.code
    (job,) = box.jobs
    assert job.code == out.code and job.inputs == [c.input for c in out.test_cases]


def test_one_wrong_value_fails_verification_at_threshold_one(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: [ok("2"), ok("1"), raised("ValueError")])
    out = run(executed())
    assert isinstance(out, Rejected) and out.drop_reason == "failed_verification"
    assert out.detail == "reformatted passed 2/3"
    install(monkeypatch, MODULE, lambda job: [ok("2"), ok("1"), raised("ValueError")])
    lenient = run(executed(), threshold=0.6)
    assert isinstance(lenient, Verified) and lenient.tests_passed == 2


def test_a_different_exception_type_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: [ok("2"), ok("1.5"), raised("ZeroDivisionError")])
    out = run(executed())
    assert isinstance(out, Rejected) and out.detail == "reformatted passed 2/3"


def test_a_candidate_the_sandbox_could_not_run_is_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, MODULE, lambda job: "container lost")
    out = run(executed())
    assert isinstance(out, Rejected) and out.drop_reason == "sandbox_error"
