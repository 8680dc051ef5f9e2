"""Repair prompts show the failing call and values as Python, never the codec's JSON."""

from __future__ import annotations

from factories import COUNTER

from codemint.codec import canonical_json, encode_input
from codemint.records import TestCase as Case
from codemint.tasks.derive.repair import repair_prompt


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


def test_the_repair_prompt_names_the_codes_own_exception_by_its_name() -> None:
    case = Case(input=encode_input([[2]]), exception="__codemint__.StatisticsError")
    prompt = repair_prompt("def variance(data): ...", "variance", case, "raises `ZeroDivisionError`")
    assert "- expected: raises `StatisticsError`\n" in prompt and "__codemint__" not in prompt
