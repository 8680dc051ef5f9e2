"""Generation rows show the context code apart from the instruction, in every format."""

from __future__ import annotations

import json

from factories import MEDIAN, verified

from codemint.codec import canonical_json, encode_input
from codemint.curation.export import format_row, generation_task_row
from codemint.curation.task_export import ground_truth, rl_record
from codemint.curation.task_prompts import ANSWER_FORMAT, fenced, generation_prompt, repair_prompt
from codemint.records import TestCase as Case

CONTEXT = "class EmptyError(ValueError):\n    pass\n\nLIMIT = 10"
COUNTER = '''
class Counter:
    """Counts."""

    def __init__(self):
        self.total = 0

    def add(self, n):
        """Add n; return the total."""
        self._seen = n
        self.total += n
        return self.total
'''


def test_without_context_the_prompt_is_as_before() -> None:
    assert generation_prompt("Do it.") == f"Do it.\n\n{ANSWER_FORMAT}"
    assert generation_prompt("Do it.", "") == f"Do it.\n\n{ANSWER_FORMAT}"
    row = verified(MEDIAN)
    assert format_row(row, "messages")["messages"][0]["content"] == row.instruction
    assert format_row(row, "alpaca")["input"] == ""


def test_every_generation_format_shows_the_context_block() -> None:
    row = verified(MEDIAN).model_copy(update={"context_code": CONTEXT})
    prompt = generation_prompt(row.instruction, CONTEXT)
    assert prompt.startswith(row.instruction.rstrip() + "\n\n") and fenced(CONTEXT) in prompt
    assert "complete code" in prompt.splitlines()[-1]
    user = format_row(row, "messages")["messages"][0]["content"]
    assert user.startswith(row.instruction.rstrip()) and fenced(CONTEXT) in user
    alpaca = format_row(row, "alpaca")
    assert alpaca["instruction"] == row.instruction and fenced(CONTEXT) in alpaca["input"]
    task = generation_task_row(row)
    assert task.prompt == user
    rl = rl_record(task, "train", 0)
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
    truth = json.loads(ground_truth(generation_task_row(method)))
    assert truth["state_attributes"] == ["total"]  # `_seen` only the target sets: not shown
    off = method.model_copy(update={"context_code": None})
    assert json.loads(ground_truth(generation_task_row(off)))["state_attributes"] is None


def test_the_repair_prompt_shows_the_call_and_values_as_python() -> None:
    case = Case(input=encode_input(["a:b"]), expected=canonical_json(("a", "b")))
    prompt = repair_prompt("def f(s): ...", "f", case, "returns None")
    assert "- call: `f('a:b')`\n- expected: returns ('a', 'b')\n- actual: returns None" in prompt
    assert "__tuple__" not in prompt and "JSON" not in prompt
    method = Case(
        input=encode_input([[1], {}, [b""], {}]),
        expected=canonical_json({"returned": None, "state": {"n": 1}}),
    )
    shown = repair_prompt(COUNTER, "add", method, "returns None", "method", "Counter")
    assert "method `Counter.add`" in shown and "`obj = Counter(1); obj.add(b'')`" in shown
    assert "returns None (afterwards obj.n == 1)" in shown and "complete code" in shown
