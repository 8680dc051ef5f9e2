"""Generation rows: the instruction (with the code it works in) -> the verified code.

A function's generation row goes to one of three configs (`generation_config` in
`codemint/curation/exercise_export.py`): `generation`, `weak` or `examples`, written by
`codemint/curation/export.py` in the messages and Alpaca layouts. Only rows of the
`generation` config are RL rows, with the instruction and the answer format as the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from codemint.curation.exercise_export import generation_config
from codemint.curation.prompts import fenced, generation_prompt, with_context
from codemint.exercise import DeriveContext, ExerciseKind, exercise_row
from codemint.records import ExerciseRow, Verified


def generation_row(rec: Verified) -> ExerciseRow:
    """The generation row of a verified row: instruction -> the verified code."""
    return exercise_row(
        rec, "generation", with_context(rec.instruction, rec.context_code), fenced(rec.candidate_code)
    )


class Generation(ExerciseKind):
    name = "generation"
    rl = True

    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        return {rec.id: [generation_row(rec)] for rec in records}

    def rl_row(self, row: ExerciseRow) -> bool:
        # A reward needs tests that tell right from wrong and a prompt that does not show the
        # answers: the generation rows of `weak` and `examples` functions are not RL rows.
        return generation_config(row) == "generation"

    def rl_prompt(self, row: ExerciseRow) -> str:
        return generation_prompt(row.instruction, row.context_code)
