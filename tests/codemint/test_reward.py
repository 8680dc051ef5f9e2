"""codemint.reward: the code out of a completion, the row's tests in the sandbox, the pass fraction."""

from __future__ import annotations

import json

import pytest
from factories import CLAMP, MEDIAN
from real_rows import docker_settings, real_row

from codemint import mutants
from codemint.curation.export import generation_task_row
from codemint.curation.task_export import ground_truth
from codemint.reward import compute_score, compute_scores, extract_code

CLAMP_CALLS = [([[1, 5, 9], 2, 8], {}), ([[0, 10], 0, 10], {}), ([[3], 4, 4], {}), ([[1], 5, 2], {})]
MEDIAN_CALLS = [([[3, 1, 2]], {}), ([[4, 1, 3, 2]], {}), ([[7]], {}), ([[]], {}), ([[2, 2, 5, 9]], {})]


def completion(code: str) -> str:
    thinking = "<think>\n```python\ndef clamp_all(items, low, high):\n    return []\n```\n</think>"
    return f"{thinking}\nHere it is:\n```python\n{code}```\nDone."


def test_extract_code_takes_the_final_block_that_defines_the_function() -> None:
    final = "def clamp_all(items, low, high):\n    return items\n"
    assert extract_code(completion(final), "clamp_all") == final  # not the one in <think>
    two = f"```python\ndef clamp_all(a, b, c):\n    return 1\n```\nBetter:\n```python\n{final}```"
    assert extract_code(two, "clamp_all") == final
    assert extract_code(final, "clamp_all") == final  # bare code
    assert extract_code("```python\ndef other(x):\n    return x\n```", "clamp_all") is None
    assert extract_code("I cannot do that.", "clamp_all") is None
    assert extract_code("```python\ndef clamp_all(:\n```", "clamp_all") is None


def test_reference_scores_one_and_mutants_less_through_the_sandbox() -> None:
    box = docker_settings()
    rows = [real_row(CLAMP, CLAMP_CALLS, box), real_row(MEDIAN, MEDIAN_CALLS, box)]
    for rec in rows:
        truth = ground_truth(generation_task_row(rec))
        info = {"entry_point": rec.entry_point}
        assert (
            compute_score("codemint/generation", completion(rec.candidate_code), truth, info, sandbox=box)
            == 1.0
        )
        assert compute_score("codemint/generation", "no code here", truth, info, sandbox=box) == 0.0
        found = mutants.generate(rec.original_code, rec.entry_point, max_mutants=12)
        texts = [completion(m.code) for m in found]
        continuous = compute_scores(texts, [truth] * len(texts), sandbox=box)
        strict = compute_scores(texts, [json.loads(truth)] * len(texts), mode="all_or_nothing", sandbox=box)
        caught = [s for s in continuous if s < 1.0]
        assert caught, f"no mutant of {rec.entry_point} fails a test"
        # All-or-nothing gives 0.0 exactly where the pass fraction is below 1.0.
        assert strict == [1.0 if s == 1.0 else 0.0 for s in continuous]
        # The score is the share of tests passed: some mutant passes some of them, not all.
        n = len(rec.test_cases)
        assert any(0.0 < s < 1.0 for s in continuous)
        assert all(s * n == pytest.approx(round(s * n)) for s in continuous)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="reward mode"):
        compute_scores(["x"], ['{"entry_point": "f", "test_cases": [{"input": "{}"}]}'], mode="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test JSON"):
        compute_score("codemint/generation", "x", '{"tests": []}')
    with pytest.raises(ValueError, match="no test cases"):
        compute_score("codemint/generation", "x", '{"entry_point": "f", "test_cases": []}')


COUNTER = '''
class Counter:
    """A running total."""

    def __init__(self, start=0):
        self.total = start

    def add(self, n):
        """Add n to the total and return the new total."""
        self.total += n
        return self.total
'''


def test_a_method_row_is_scored_through_verifys_harness() -> None:
    """Method samples: the completion defines the class; the reward builds the instance, calls
    the method and compares the value and the instance's state, as verify does."""
    from codemint.codec import encode_input
    from codemint.records import TestCase
    from codemint.samples import runnable
    from codemint.sandbox import shared_sandbox
    from codemint.sandbox.api import ExecJob

    box = docker_settings()
    calls = [([[1], {}, [2], {}], {}), ([[0], {}, [5], {}], {}), ([[], {}, [-3], {}], {})]
    inputs = [encode_input(args, kwargs) for args, kwargs in calls]
    code, entry = runnable(COUNTER, "method", "add", "Counter")
    job = ExecJob(job_id="ref", code=code, entry_point=entry, inputs=inputs)
    (result,) = shared_sandbox(box).run_batch([job])
    assert [o.status for o in result.outcomes] == ["ok"] * 3
    cases = [TestCase(input=i, expected=o.result) for i, o in zip(inputs, result.outcomes, strict=True)]
    truth = json.dumps(
        {"entry_point": "add", "sample_kind": "method", "class_name": "Counter",
         "test_cases": [c.model_dump(mode="json") for c in cases]}
    )  # fmt: skip
    right = completion(COUNTER)
    # Right return value, but the object is left unchanged: the state comparison catches it.
    no_state = COUNTER.replace("self.total += n\n        return self.total", "return self.total + n")
    stateless = completion(no_state)
    assert compute_score("codemint/generation", right, truth, sandbox=box) == 1.0
    assert compute_score("codemint/generation", stateless, truth, sandbox=box) == 0.0
    assert extract_code(right, "add") is None  # a method is not a top-level function
