"""The code's own exception class is in the prompt's context, and a candidate defining it
passes the tests that expect it (Docker sandbox)."""

from __future__ import annotations

import textwrap

from sandbox_support import IMAGE, require_docker

from codemint.codec import encode_input
from codemint.curation.prompts import generation_prompt
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
from codemint.tasks.execute.stage import Execute
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.verify.stage import Verify

MODULE = textwrap.dedent(
    '''
    class RangeError(ValueError):
        """A value above the limit."""

    LIMIT = 10

    def doubled(x):
        """Return x doubled; raise RangeError when x is above LIMIT."""
        if x > LIMIT:
            raise RangeError(x)
        return 2 * x
    '''
)
# What a solver writes from the prompt: the context it was shown, and its own function.
ANSWER = textwrap.dedent(
    '''
    class RangeError(ValueError):
        """A value above the limit."""

    LIMIT = 10

    def doubled(x):
        if x <= LIMIT:
            return x + x
        raise RangeError(f"{x} > {LIMIT}")
    '''
)


def test_a_candidate_defining_the_shown_exception_class_passes_its_exception_tests() -> None:
    require_docker()
    settings = PipelineSettings(sandbox={"backend": "docker", "image": IMAGE, "workers": 1})
    snippet = Snippet(
        id=content_id(MODULE), code=MODULE, provenance=Provenance(source_uri="test:", path="m.py")
    )
    (doubled,) = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    (instructed,) = [r for r in Summarize(settings).run([doubled]) if isinstance(r, Instructed)]
    assert instructed.context_code is not None and "class RangeError(ValueError):" in instructed.context_code
    assert "class RangeError" in generation_prompt(instructed.instruction, instructed.context_code)

    inputs = [encode_input([x]) for x in (1, 2, 3, 4, 11)]
    with_inputs = WithInputs(**instructed.model_dump(), test_inputs=inputs, input_sources=["test"] * 5)
    (row,) = list(Execute(settings).run([with_inputs]))
    assert isinstance(row, Executed), row
    # The code's own class, recorded under the job's module name.
    assert [c.exception for c in row.test_cases if c.exception] == ["__codemint__.RangeError"]

    (passed,) = list(Verify(settings).run([row.model_copy(update={"code": ANSWER})]))
    assert isinstance(passed, Verified) and passed.pass_fraction == 1.0
    builtin = ANSWER.replace("raise RangeError(", "raise ValueError(")
    (failed,) = list(Verify(settings).run([row.model_copy(update={"code": builtin})]))
    assert not isinstance(failed, Verified)
