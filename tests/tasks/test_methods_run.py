"""Method samples go through testgen, execute and verify like functions, state included."""

from __future__ import annotations

import json
import textwrap

from sandbox_support import IMAGE, require_docker

from codemint.codec import decode_value
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
from codemint.settings import PipelineSettings
from codemint.tasks.execute import Execute
from codemint.tasks.reformat import Reformat
from codemint.tasks.summarize import Summarize
from codemint.tasks.testgen import Testgen
from codemint.tasks.verify import Verify

MODULE = textwrap.dedent(
    '''
    class Counter:
        """Counts words.

        >>> c = Counter(["a"])
        >>> c.add("b", 2)
        3
        """

        def __init__(self, words=(), weight=1):
            self.counts = {}
            self.weight = weight
            for w in words:
                self.counts[w] = self.counts.get(w, 0) + weight

        def add(self, word, n=1):
            """Add `word` n times (times the weight); return the total count."""
            if n < 0:
                raise ValueError("negative count")
            self.counts[word] = self.counts.get(word, 0) + n * self.weight
            return self.total()

        def total(self):
            return sum(self.counts.values())
    '''
)


def _settings() -> PipelineSettings:
    return PipelineSettings(sandbox={"backend": "docker", "image": IMAGE, "workers": 1})


def _pipeline(settings: PipelineSettings) -> Executed:
    snippet = Snippet(
        id=content_id(MODULE), code=MODULE, provenance=Provenance(source_uri="test:", path="m.py")
    )
    (add,) = [
        f for f in Reformat(settings).run([snippet]) if isinstance(f, Function) and f.entry_point == "add"
    ]
    (instructed,) = [r for r in Summarize(settings).run([add]) if isinstance(r, Instructed)]
    assert "class `Counter`" in instructed.instruction and "`add(self, word, n=1)`" in instructed.instruction
    (with_inputs,) = [r for r in Testgen(settings).run([instructed]) if isinstance(r, WithInputs)]
    assert with_inputs.input_sources[0] == "doctest"
    first = json.loads(with_inputs.test_inputs[0])["args"]
    assert [decode_value(a) for a in first] == [[["a"]], {}, ["b", 2], {}]  # ctor args + call args
    (executed,) = list(Execute(settings).run([with_inputs]))
    assert isinstance(executed, Executed), executed
    return executed


def test_method_sample_executes_and_verifies_with_the_instance_state() -> None:
    require_docker()
    settings = _settings()
    executed = _pipeline(settings)
    assert executed.sandbox_image is not None and executed.sandbox_image.startswith(f"{IMAGE}@sha256:")
    doctest_case = decode_value(json.loads(executed.test_cases[0].expected or "null"))
    assert doctest_case == {"returned": 3, "state": {"counts": {"a": 1, "b": 2}, "weight": 1}}
    assert any(c.exception == "ValueError" for c in executed.test_cases) or len(executed.test_cases) >= 3
    (verified,) = list(Verify(settings).run([executed]))
    assert isinstance(verified, Verified) and verified.pass_fraction == 1.0

    # Same return values, different state afterwards: the candidate fails.
    wrong_state = executed.code.replace(
        "self.counts[word] = self.counts.get(word, 0) + n * self.weight\n        return self.total()",
        "return self.total() + n * self.weight",
    )
    assert wrong_state != executed.code
    (rejected,) = list(Verify(settings).run([executed.model_copy(update={"code": wrong_state})]))
    assert not isinstance(rejected, Verified) and rejected.drop_reason == "failed_verification"
