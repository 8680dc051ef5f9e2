"""A method row's tests compare only the instance state its prompt shows (Docker sandbox)."""

from __future__ import annotations

import json
import re
import textwrap

from sandbox_support import IMAGE, require_docker

from codemint.codec import decode_value
from codemint.curation.exercise_export import ground_truth
from codemint.curation.prompts import fenced, generation_prompt
from codemint.records import (
    Executed,
    Function,
    Instructed,
    Provenance,
    Snippet,
    Verified,
    WithInputs,
    content_id,
)
from codemint.reward import compute_score
from codemint.settings import PipelineSettings, SandboxSettings, SummarizeSettings
from codemint.tasks.derive.generation import generation_row
from codemint.tasks.execute.stage import Execute
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

TALLY = textwrap.dedent(
    '''
    class Tally:
        """Running counts by key."""

        def __init__(self, start=0):
            self.total = start
            self.counts = {}

        def add(self, key, n=1):
            """Add n to the count of key and to the total; return the key's new count."""
            if n < 0:
                raise ValueError("negative count")
            self._last = (key, n)  # a private cache nothing shown sets or reads
            self.counts[key] = self.counts.get(key, 0) + n
            self.total += n
            return self.counts[key]
    '''
)


def without(code: str, statement: str) -> str:
    """`code` without the line holding `statement`."""
    return "".join(line for line in code.splitlines(keepends=True) if line.strip() != statement)


def executed(context_prompts: bool) -> Executed:
    settings = PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        summarize=SummarizeSettings(context_prompts=context_prompts),
    )
    where = Provenance(source_uri="test:", path="tally.py")
    snippet = Snippet(id=content_id(TALLY), code=TALLY, provenance=where)
    (add,) = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    (instructed,) = [r for r in Summarize(settings).run([add]) if isinstance(r, Instructed)]
    (with_inputs,) = [r for r in Testgen(settings).run([instructed]) if isinstance(r, WithInputs)]
    (row,) = list(Execute(settings).run([with_inputs]))
    assert isinstance(row, Executed), row
    return row


def verify(row: Executed, code: str) -> Verified | None:
    settings = PipelineSettings(sandbox={"backend": "docker", "image": IMAGE, "workers": 1})
    (out,) = list(Verify(settings).run([row.model_copy(update={"code": code})]))
    return out if isinstance(out, Verified) else None


def compared(row: Executed) -> set[str]:
    """The attribute names the row's tests compare (the state in their expected values)."""
    names: set[str] = set()
    for case in row.test_cases:
        if case.expected is not None:
            names |= set(decode_value(json.loads(case.expected))["state"])
    return names


def test_a_candidate_without_the_private_cache_passes_and_every_compared_attribute_is_shown() -> None:
    require_docker()
    row = executed(context_prompts=True)
    assert compared(row) == {"total", "counts"}
    prompt = generation_prompt(row.instruction, row.context_code)
    for name in compared(row):
        assert re.search(rf"self\.{name}\b", prompt), name  # the prompt shows what is compared
    assert "_last" not in prompt  # the cache is the target's own business: not shown, not compared

    without_cache = without(row.code, "self._last = (key, n)")
    assert without_cache != row.code
    passed = verify(row, without_cache)
    assert passed is not None and passed.pass_fraction == 1.0
    # Shown state still counts: a candidate that leaves the total alone fails.
    no_total = without(without_cache, "self.total += n")
    assert no_total != without_cache and verify(row, no_total) is None

    # The RL reward compares what verify compares: the ground truth names the shown state.
    truth = ground_truth(generation_row(passed))
    assert json.loads(truth)["state_attributes"] == ["counts", "total"]
    box = SandboxSettings(backend="docker", image=IMAGE, workers=1)
    assert compute_score("codemint/generation", fenced(without_cache), truth, sandbox=box) == 1.0
    assert compute_score("codemint/generation", fenced(no_total), truth, sandbox=box) < 1.0


def test_with_context_prompts_off_the_whole_state_is_compared() -> None:
    require_docker()
    row = executed(context_prompts=False)
    assert row.context_code is None and compared(row) == {"total", "counts", "_last"}
    assert verify(row, without(row.code, "self._last = (key, n)")) is None
