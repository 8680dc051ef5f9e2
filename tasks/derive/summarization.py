"""Summarization rows: the code, docstrings stripped -> its own docstring or comment (doctest
examples whose output the code does not show cut) or its LLM-written instruction (with the
self-evaluation score on the row). None for words that are not the function's own (the data
model's, a base method's, example calls): see `summary_target`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from codemint.curation.exercise_export import COMMON_FIELDS, common_record
from codemint.exercise import DeriveContext, ExerciseKind, exercise_row
from codemint.llm.codetext import strip_docstrings
from codemint.prompt_context import fenced
from codemint.records import ExerciseRow, SummaryDetail, Verified
from codemint.tasks.derive.summary_target import summary_target


def summarization_prompt(code: str, entry_point: str, target: str, text: str) -> str:
    """`target` is "docstring" (the function's own docstring) or "instruction"; `text` is the
    target's text: a one-line docstring is asked for as one, since a model taught to answer
    "its arguments and what it returns" with one line learns to leave them out."""
    if target == "docstring" and "\n" not in text.strip():
        ask = f"Write a one-line docstring for the Python function `{entry_point}` below: what it does."
    elif target == "docstring":
        ask = (
            f"Write the docstring of the Python function `{entry_point}` below: "
            "what it does, its arguments and what it returns."
        )
    else:
        ask = (
            f"Write an instruction that asks a programmer to implement the Python function "
            f"`{entry_point}` below, precise enough to write it from the instruction alone."
        )
    return f"{ask}\n\n{fenced(code)}"


def summarization_row(rec: Verified, own_words: bool = True) -> tuple[ExerciseRow, int] | str:
    """The row and how many doctest sessions were cut from its target, or why there is none:
    the code does not parse (it cannot be shown without its answer), or it has no words of its
    own to summarize (`summary_target`)."""
    try:
        code = strip_docstrings(rec.candidate_code)
    except (SyntaxError, ValueError):
        return "unparsable"
    found = summary_target(
        rec.instruction_source, rec.docstring, rec.comment, rec.instruction, code, own_words
    )
    if isinstance(found, str):
        return found
    prompt = summarization_prompt(code, rec.entry_point, found.target, found.text)
    detail = SummaryDetail(code=code, target=found.target)
    return exercise_row(rec, "summarization", prompt, found.text, summary=detail), found.examples_cut


class Summarization(ExerciseKind):
    name = "summarization"
    schema = pa.schema(
        [
            *COMMON_FIELDS,
            pa.field("code", pa.string()),
            pa.field("target", pa.string()),
            pa.field("summary", pa.string()),
            pa.field("instruction_source", pa.string()),
            pa.field("instruction_score", pa.float64()),
        ]
    )

    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        out: dict[str, list[ExerciseRow]] = {}
        for rec in records:
            made = summarization_row(rec, ctx.cfg.summary_own_words)
            if isinstance(made, str):
                ctx.metrics[f"summarization_skipped:{made}"] += 1
                continue
            row, cut = made
            if cut:
                ctx.metrics["summarization_doctests_cut"] += cut
            out[rec.id] = [row]
        return out

    def record(self, row: ExerciseRow) -> dict[str, Any]:
        if row.summary is None:
            raise ValueError(f"summarization row {row.exercise_id} of {row.id} has no summary detail")
        return common_record(row) | {
            "code": row.summary.code,
            "target": row.summary.target,
            "summary": row.response,
            "instruction_source": row.instruction_source,
            "instruction_score": row.instruction_score,
        }
