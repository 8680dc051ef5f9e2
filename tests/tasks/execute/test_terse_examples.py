"""execute.terse_examples: a row whose words are too few to say what its tests expect also
shows a few of its tests as examples in its instruction (Docker sandbox, real testgen)."""

from __future__ import annotations

import functools
import json
import textwrap

from real_rows import rows_to_execute
from sandbox_support import IMAGE, require_docker

from codemint.records import Executed, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute.stage import Execute

CODE = textwrap.dedent(
    '''
    def day_label(day: int, width: int = 3) -> str:
        """Format a day."""
        if day == 0:
            return " " * width
        return f"{day:>{width}}"


    def clamp(x: int, lo: int, hi: int) -> int:
        """Return x limited to the range from lo to hi, both included."""
        if lo > hi:
            raise ValueError("empty range")
        return max(lo, min(x, hi))
    '''
)


def settings(terse: bool = True) -> PipelineSettings:
    return PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        testgen={"feedback_pool": 16, "feedback_mutants": 6},
        execute=ExecuteSettings(terse_examples=terse),
    )


@functools.cache
def rows() -> dict[str, WithInputs]:
    return rows_to_execute(CODE, settings())


def test_a_terse_row_shows_examples_of_its_own_tests_and_a_worded_one_does_not() -> None:
    require_docker()
    made = {
        terse: {r.entry_point: r for r in Execute(settings(terse)).run(rows().values())}
        for terse in (True, False)
    }
    terse, plain = made[True]["day_label"], made[False]["day_label"]
    assert isinstance(terse, Executed) and isinstance(plain, Executed)
    assert plain.instruction == rows()["day_label"].instruction
    head, _, shown = terse.instruction.partition("\n\nIt behaves as in these examples:\n\n")
    assert head == plain.instruction and shown.count(">>> day_label(") >= 2
    # every call shown is one of the row's tests, with the result that test expects
    calls = {line.removeprefix(">>> ") for line in shown.splitlines() if line.startswith(">>> ")}
    tested = {f"day_label({', '.join(map(repr, json.loads(c.input)['args']))})" for c in terse.test_cases}
    assert calls <= tested, (calls, tested)
    assert terse.test_cases == plain.test_cases
    # enough words: the instruction is the row's own
    assert made[True]["clamp"].instruction == made[False]["clamp"].instruction == rows()["clamp"].instruction
