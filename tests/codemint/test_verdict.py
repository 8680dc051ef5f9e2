"""codemint.verdict: one rule for whether an outcome is what a test expects, with numbers
compared as users compare them and container kinds kept apart."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from codemint.codec import canonical_json, encode_input, encode_state
from codemint.records import TestCase as Case
from codemint.sandbox.api import CallOutcome
from codemint.verdict import numbers_equal, passes, same_input, same_value


def same(got: Any, want: Any) -> bool:
    return same_value(canonical_json(got), canonical_json(want))


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (2.0, 2),
        (2, 2.0),
        (0.1 + 0.2, 0.3),
        (1e-13, 0.0),  # the absolute tolerance near 0
        (-0.0, 0.0),
        (math.nan, math.nan),
        (math.inf, math.inf),
        (10**20, 1e20),
        (complex(1.0 + 1e-12, 2), 1 + 2j),
        ([1, (2.0, [3.0000000000001])], [1.0, (2, [3])]),
        ({"a": 1.0, "b": [2]}, {"a": 1, "b": [2.0]}),
        ({2.0: "x"}, {2: "x"}),  # one key in Python
        ({1, 2.5}, {1.0, 2.5000000000001}),
        (frozenset({0.1 + 0.2}), frozenset({0.3})),
        (iter([1.0, 2.0]), iter([1, 2])),
        (
            {"returned": None, "state": {"total": 0.1 + 0.2, "n": 2}},
            {"returned": None, "state": {"total": 0.3, "n": 2.0}},
        ),
    ],
)
def test_equal_numbers_pass_whatever_their_type_or_last_bits(got: Any, want: Any) -> None:
    assert same(got, want)


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (1, True),  # bool is not a number for a test
        (True, 1),
        (1.0, True),
        (0, False),
        (1.0, 1.0001),
        (1e-6, 0.0),
        (math.nan, 1.0),
        (math.inf, -math.inf),
        (math.inf, 1e308),
        (10**20 + 1, 10**20),  # ints compare exactly
        (1 + 2j, 1 + 3j),
        (1 + 0j, 1.0),  # a complex is not a real
        ((1, 2), [1, 2]),  # container kinds must match
        ({1, 2}, frozenset({1, 2})),
        ([1, 2], iter([1, 2])),
        ("2", 2),
        (None, 0),
        ([1, 2], [1, 2, 3]),
        ([1, 2], [2, 1]),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": 1}, {"b": 1}),
        ({"a": 1.0}, {"a": 1.1}),
        ({1, 2.5}, {1, 2.6}),
        ({"returned": None, "state": {"total": 3.0}}, {"returned": None, "state": {"total": 4}}),
        ({"returned": 1, "state": {}}, {"returned": True, "state": {}}),
    ],
)
def test_different_values_fail(got: Any, want: Any) -> None:
    assert not same(got, want)


def test_dict_order_is_no_part_of_a_value() -> None:
    reordered = '{"__dict__":[["b",1.0],["a",{"__dict__":[["y",2],["x",1]]}]]}'
    assert same_value(reordered, canonical_json({"a": {"x": 1, "y": 2}, "b": 1}))
    assert not same_value(reordered, canonical_json({"a": {"x": 1, "y": 3}, "b": 1}))


def test_large_sets_of_nearly_equal_floats_match_item_for_item() -> None:
    want = {i / 7 for i in range(500)}
    got = {math.nextafter(x, math.inf) for x in want}  # every item one ulp off
    assert canonical_json(got) != canonical_json(want)
    assert same(got, want)
    assert not same(got | {1000.5}, want | {1000.25})


def test_an_iterator_that_raised_compares_items_and_type_not_message() -> None:
    def raised(items: list[Any], exc: str, message: str) -> str:
        return json.dumps({"__iter_raised__": [items, exc, message]})

    want = raised([1, 2], "ValueError", "bad item 3")
    assert same_value(raised([1, 2.0], "ValueError", "item #3 is invalid"), want)
    assert not same_value(raised([1, 2], "KeyError", "bad item 3"), want)
    assert not same_value(raised([1], "ValueError", "bad item 3"), want)
    assert not same_value(json.dumps({"__iter__": [1, 2]}), want)


def test_identical_text_passes_and_malformed_text_matches_nothing_else() -> None:
    assert same_value("not json", "not json")  # the fast path does not decode
    assert not same_value("not json", "1")
    assert not same_value('{"args": [NaN]}', '{"args": [NaN]}'.replace("NaN", "1"))
    assert not same_value(None, "1")
    deep = "[" * 5000 + "]" * 5000
    assert not same_value(deep, deep.replace("[]", "[1]"))  # too deep to decode: no crash


def test_numbers_equal() -> None:
    assert numbers_equal(2, 2.0) and numbers_equal(1e300, 1e300 * (1 + 1e-12))
    assert numbers_equal(math.nan, math.nan)
    assert not numbers_equal(10**400, math.inf)  # beyond any float: exact only
    assert numbers_equal(10**400, 10**400)


def test_argument_states_compare_by_the_same_rule() -> None:
    assert same_input(
        encode_input([[1, 2.0]], {"k": {"b": 1, "a": 2}}), encode_state([[1.0, 2]], {"k": {"a": 2, "b": 1}})
    )
    assert not same_input(encode_input([[1, 2]]), encode_input([(1, 2)]))
    assert not same_input(encode_input([], {"a": 1}), encode_input([], {"b": 1}))


def ok(result: Any, **fields: Any) -> CallOutcome:
    return CallOutcome(status="ok", result=canonical_json(result), **fields)


def test_passes_judges_returns_exceptions_states_and_stdout() -> None:
    text = encode_input([{"b": 1, "a": 2}])
    case = Case(input=text, expected=canonical_json(2))
    assert passes(case, ok(2.0))
    assert not passes(case, ok(True))
    assert not passes(case, CallOutcome(status="error", exc_type="ValueError"))
    assert not passes(case, CallOutcome(status="timeout"))

    raising = Case(input=text, exception="ValueError")
    assert passes(raising, CallOutcome(status="error", exc_type="ValueError", exc_message="other words"))
    assert not passes(raising, CallOutcome(status="error", exc_type="TypeError"))
    assert not passes(raising, ok(None))

    # The original added c=3.0; a candidate adding c=3 passes, one leaving the dict as it was fails.
    changed = encode_state([{"b": 1, "a": 2, "c": 3.0}])
    stateful = Case(input=text, expected=canonical_json(None), args_after=changed)
    assert passes(stateful, ok(None, args_after=encode_state([{"a": 2, "b": 1, "c": 3}])))
    assert not passes(stateful, ok(None))
    unchanged = Case(input=text, expected=canonical_json(None), args_after=text)
    assert passes(unchanged, ok(None))
    assert passes(unchanged, ok(None, args_after=encode_state([{"a": 2.0, "b": 1}])))  # reordered only

    printing = Case(input=text, expected=canonical_json(None), stdout="2\n")
    assert passes(printing, ok(None, stdout="2\n"))
    assert not passes(printing, ok(None, stdout="2.0\n"))  # printed text is compared as text
