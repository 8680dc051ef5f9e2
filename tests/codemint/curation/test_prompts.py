"""Generation rows show the context code apart from the instruction, in every format."""

from __future__ import annotations

import json

from factories import COUNTER, MEDIAN, verified

from codemint.curation.exercise_export import ground_truth, rl_record
from codemint.curation.export import format_row
from codemint.curation.prompts import ANSWER_FORMAT, fenced, generation_prompt
from codemint.tasks.derive.generation import Generation, generation_row

CONTEXT = "class EmptyError(ValueError):\n    pass\n\nLIMIT = 10"


def test_without_context_the_prompt_is_as_before() -> None:
    assert generation_prompt("Do it.") == f"Do it.\n\n{ANSWER_FORMAT}"
    assert generation_prompt("Do it.", "") == f"Do it.\n\n{ANSWER_FORMAT}"
    row = verified(MEDIAN)
    assert format_row(generation_row(row), "messages")["messages"][0]["content"] == row.instruction
    assert format_row(generation_row(row), "alpaca")["input"] == ""


def test_every_generation_format_shows_the_context_block() -> None:
    row = verified(MEDIAN).model_copy(update={"context_code": CONTEXT})
    prompt = generation_prompt(row.instruction, CONTEXT)
    assert prompt.startswith(row.instruction.rstrip() + "\n\n") and fenced(CONTEXT) in prompt
    assert "complete code" in prompt.splitlines()[-1]
    task = generation_row(row)
    user = format_row(task, "messages")["messages"][0]["content"]
    assert user.startswith(row.instruction.rstrip()) and fenced(CONTEXT) in user
    alpaca = format_row(task, "alpaca")
    assert alpaca["instruction"] == row.instruction and fenced(CONTEXT) in alpaca["input"]
    assert task.prompt == user
    rl = rl_record(task, "train", 0, Generation())
    assert rl["prompt"][0]["content"] == prompt


def test_the_ground_truth_names_the_state_its_tests_compare() -> None:
    base = verified(MEDIAN)
    method = base.model_copy(
        update={
            "original_code": COUNTER,
            "code": COUNTER,
            "entry_point": "add",
            "sample_kind": "method",
            "class_name": "Counter",
            "context_code": "class Counter: ...",
        }
    )
    truth = json.loads(ground_truth(generation_row(method)))
    assert truth["state_attributes"] == ["total"]  # `_seen` only the target sets: not shown
    off = method.model_copy(update={"context_code": None})
    assert json.loads(ground_truth(generation_row(off)))["state_attributes"] is None
