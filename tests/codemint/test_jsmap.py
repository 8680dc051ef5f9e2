"""The codec's values as JSON for JavaScript translations: what maps, what does not, and how
values compare across the one-number-type boundary."""

from __future__ import annotations

import pytest

from codemint import jsmap
from codemint.codec import canonical_json, encode_input, encode_value
from codemint.records import TestCase as Case


@pytest.mark.parametrize(
    ("value", "mapped"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (-2.5, -2.5),
        ("é", "é"),
        ([1, (2, 3)], [1, [2, 3]]),
        ({"a": [None], "b": {"c": 1.0}}, {"a": [None], "b": {"c": 1.0}}),
        (2**53 - 1, 2**53 - 1),
    ],
)
def test_json_values_map_to_themselves_and_tuples_to_arrays(value: object, mapped: object) -> None:
    assert jsmap.to_json(encode_value(value)) == mapped


@pytest.mark.parametrize(
    "value", [2**53, {1, 2}, b"x", float("nan"), float("inf"), {1: "a"}, {"__js__": 1}, 1j, frozenset()]
)
def test_values_without_a_faithful_json_form_are_unmappable(value: object) -> None:
    with pytest.raises(jsmap.Unmappable):
        jsmap.to_json(encode_value(value))


def test_a_finished_iterator_maps_to_an_array_only_as_an_expected_value() -> None:
    data = encode_value(iter([1, 2]))
    assert jsmap.to_json(data, output=True) == [1, 2]
    with pytest.raises(jsmap.Unmappable):
        jsmap.to_json(data)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (2, 2.0, True),
        (1, True, False),
        (0, None, False),
        ([1, [2]], [1.0, [2]], True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": 1}, [["a", 1]], False),
        ("1", 1, False),
        (None, None, True),
        (0.1 + 0.2, 0.3, True),  # verify's number rule: within codemint.verdict's tolerance
        (1.0, 1.0001, False),
    ],
)
def test_json_equality_has_one_number_type_but_keeps_bool_null_and_shape(
    a: object, b: object, equal: bool
) -> None:
    assert jsmap.json_equal(a, b) is equal
    assert jsmap.json_equal(b, a) is equal


def test_tests_that_cannot_cross_say_why() -> None:
    ok = Case(
        input=encode_input([[3, 1]]), expected=canonical_json((1, 3)), args_after=encode_input([[1, 3]])
    )
    got = jsmap.js_test(4, ok)
    assert got == jsmap.JsTest(4, [[3, 1]], [1, 3], [[1, 3]])
    assert jsmap.js_test(0, Case(input=encode_input([1]), exception="ValueError")) == "exception"
    assert jsmap.js_test(0, Case(input=encode_input([1]), expected="1", stdout="x\n")) == "stdout"
    assert jsmap.js_test(0, Case(input=encode_input([b"a"]), expected="1")) == "unmappable"
    assert jsmap.js_test(0, Case(input=encode_input([1], {"k": 2}), expected="1")) == "unmappable"
    assert jsmap.js_test(0, Case(input=encode_input([1]), expected=canonical_json({1, 2}))) == "unmappable"


def test_an_outcome_passes_only_with_the_expected_value_and_argument_state() -> None:
    test = jsmap.JsTest(0, [[3, 1]], [1, 3], [[1, 3]])
    assert jsmap.passes(test, {"ok": [1, 3], "args": [[1, 3]]})
    assert not jsmap.passes(test, {"ok": [1, 3], "args": [[3, 1]]})  # did not sort in place
    assert not jsmap.passes(test, {"ok": [3, 1], "args": [[1, 3]]})
    assert not jsmap.passes(test, {"error": "TypeError: x"})
    assert not jsmap.passes(test, {"ok": {"__js__": "[object Map]"}, "args": [[1, 3]]})
    no_state = jsmap.JsTest(0, [[3, 1]], None, None)
    assert jsmap.passes(no_state, {"ok": None, "args": [[3, 1]]})
