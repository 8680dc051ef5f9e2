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
from codemint.samples import runnable
from codemint.sandbox import shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.settings import PipelineSettings
from codemint.tasks.execute.stage import Execute
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

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

        @classmethod
        def from_text(cls, text, sep=","):
            """Build a Counter from the words of `text` separated by `sep`."""
            words = [w.strip() for w in text.split(sep) if w.strip()]
            return cls(words)

        @property
        def most_common(self):
            """The most frequent word (the first in sorted order on a tie), or None when empty."""
            if not self.counts:
                return None
            return max(sorted(self.counts), key=self.counts.get)
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


def test_class_methods_and_properties_run_through_their_harness() -> None:
    require_docker()
    settings = _settings()
    snippet = Snippet(
        id=content_id(MODULE), code=MODULE, provenance=Provenance(source_uri="test:", path="m.py")
    )
    samples = {f.entry_point: f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)}
    assert samples["from_text"].sample_kind == "classmethod"
    assert samples["most_common"].sample_kind == "property"
    instructed = [r for r in Summarize(settings).run([samples["from_text"], samples["most_common"]])]
    assert all(isinstance(r, Instructed) for r in instructed)
    assert "the class method `from_text(cls, text, sep=',')`" in instructed[0].instruction  # type: ignore[union-attr]
    testgen = Testgen(settings)
    with_inputs = [r for r in testgen.run(instructed) if isinstance(r, WithInputs)]  # type: ignore[arg-type]
    # Harness samples keep their harness inputs: never run as plain functions by feedback.
    assert "feedback" in settings.testgen.strategies and testgen.metrics["feedback_executions"] == 0
    executed = [r for r in Execute(settings).run(with_inputs) if isinstance(r, Executed)]
    assert len(executed) == 2, executed
    built = [c.expected for c in executed[0].test_cases if c.expected]
    # called on the class: a returned value (an instance, encoded with its state), no instance state
    assert built and all('"returned"' in b and '"state"' not in b and "__object__" in b for b in built)
    verified = [r for r in Verify(settings).run(executed) if isinstance(r, Verified)]
    assert [v.pass_fraction for v in verified] == [1.0, 1.0]


SPAN = textwrap.dedent(
    '''
    class Span:
        """A closed interval of numbers."""

        def __init__(self, spec):
            self.lo = spec[0]
            self.hi = spec[-1]

        def clamp(self, x):
            """x moved into the interval."""
            return min(max(x, self.lo), self.hi)
    '''
)


def test_typed_proposals_find_argument_types_the_signature_guesses_miss() -> None:
    # The name `x` says nothing and the signature guesses lists for it, which min/max with
    # the bounds reject; the type search over the parameters proposes numbers too, and the
    # calls are paired with constructors across hypotheses (a list `spec` with a number `x`).
    require_docker()
    settings = _settings()
    snippet = Snippet(id=content_id(SPAN), code=SPAN, provenance=Provenance(source_uri="test:", path="m.py"))
    (clamp,) = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    (instructed,) = [r for r in Summarize(settings).run([clamp]) if isinstance(r, Instructed)]
    (with_inputs,) = [r for r in Testgen(settings).run([instructed]) if isinstance(r, WithInputs)]
    assert "typed" in with_inputs.input_sources
    code, entry = runnable(clamp.original_code, clamp.sample_kind, clamp.entry_point, clamp.class_name)
    job = ExecJob(job_id="span", code=code, entry_point=entry, inputs=with_inputs.test_inputs)
    (result,) = shared_sandbox(settings.sandbox).run_batch([job])
    # Before typed proposals and pairing across hypotheses, every call raised.
    returned = [o for o in result.outcomes if o.status == "ok"]
    assert returned, [o.exc_type for o in result.outcomes]


SHELF = textwrap.dedent(
    '''
    class Shelf:
        """Books by title."""

        def __init__(self, titles):
            self.books = list(titles)
            self.lent = []

        def borrow(self, title):
            """Lend the book called `title`: off the shelf, onto the lent list; return how many are lent."""
            self.books.remove(title)
            self.lent.append(title)
            return len(self.lent)
    '''
)


def test_method_arguments_include_members_of_the_instance() -> None:
    # A lookup returns normally only for a key the instance holds: members of the
    # constructor's argument are proposed as the call's argument, and they return.
    require_docker()
    settings = _settings()
    where = Provenance(source_uri="test:", path="m.py")
    snippet = Snippet(id=content_id(SHELF), code=SHELF, provenance=where)
    (borrow,) = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    (instructed,) = [r for r in Summarize(settings).run([borrow]) if isinstance(r, Instructed)]
    (with_inputs,) = [r for r in Testgen(settings).run([instructed]) if isinstance(r, WithInputs)]
    sourced = zip(with_inputs.test_inputs, with_inputs.input_sources, strict=True)
    members = [text for text, source in sourced if source == "member"]
    assert members
    code, entry = runnable(borrow.original_code, borrow.sample_kind, borrow.entry_point, borrow.class_name)
    job = ExecJob(job_id="shelf", code=code, entry_point=entry, inputs=members)
    (result,) = shared_sandbox(settings.sandbox).run_batch([job])
    assert sum(o.status == "ok" for o in result.outcomes) >= 2, [o.exc_type for o in result.outcomes]
    (executed,) = list(Execute(settings).run([with_inputs]))
    assert isinstance(executed, Executed), executed
