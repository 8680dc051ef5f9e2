"""The codec's values mapped to JSON, so a row's tests can run against a JavaScript translation.

Mappable: None (null), bools, ints a JS number holds exactly (|n| <= 2**53 - 1), finite floats,
strings, lists and tuples (arrays), dicts with string keys (objects); as an expected value
also a finished iterator (an array). Everything else (sets, bytes, NaN, big ints, instances
...) has no faithful JSON form: a test that needs one is not run against a translation.
Compared values must match in type family (bool is not a number, null is not a list) and
numbers numerically, since JavaScript has one number type (Python's 2 and 2.0 are both 2),
and floats within the verdict's tolerance (`codemint.verdict.numbers_equal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from codemint.records import TestCase
from codemint.verdict import numbers_equal

MAX_SAFE_INT = 2**53 - 1
# The tag the JavaScript harness writes for a value JSON cannot hold (NaN, Map, a function ...):
# it equals no mapped value, and a dict that has it as a key is not mapped.
JS_TAG = "__js__"


class Unmappable(ValueError):
    """A value with no faithful JSON form; the message says which."""


def to_json(data: Any, *, output: bool = False) -> Any:
    """Codec data (as `codec.encode_value` writes it) -> plain JSON data, or `Unmappable`."""
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int):
        if abs(data) > MAX_SAFE_INT:
            raise Unmappable(f"int {data} is beyond a JS number's exact range")
        return data
    if isinstance(data, float):
        return data  # the codec writes NaN and the infinities as tags
    if isinstance(data, list):
        return [to_json(x, output=output) for x in data]
    if isinstance(data, dict) and len(data) == 1:
        ((tag, payload),) = data.items()
        if tag == "__tuple__" or (output and tag == "__iter__"):
            return [to_json(x, output=output) for x in payload]
        if tag == "__dict__":
            out: dict[str, Any] = {}
            for key, value in payload:
                if not isinstance(key, str) or key == JS_TAG:
                    raise Unmappable(f"dict key {key!r} is not a plain string")
                out[key] = to_json(value, output=output)
            return out
        raise Unmappable(f"{tag} values have no JSON form")
    raise Unmappable(f"codec data {data!r:.60} is not a value")


def json_equal(a: Any, b: Any) -> bool:
    """Equality of plain JSON data with JavaScript's one number type."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return numbers_equal(a, b)  # verify's number rule: float tolerance, 2 == 2.0
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class JsTest:
    """One of a row's tests in JSON: the call's arguments, the expected return value and,
    when the test compares them, the arguments' state after the call."""

    index: int  # the test's position in the row's test_cases
    args: list[Any]
    expected: Any
    args_after: list[Any] | None


def _args(text: str) -> list[Any]:
    data = json.loads(text)
    if data.get("kwargs"):
        raise Unmappable("keyword arguments have no JavaScript form")
    args = to_json(data.get("args", []))
    assert isinstance(args, list)
    return args


def js_test(index: int, case: TestCase) -> JsTest | str:
    """The test in JSON, or why it cannot run against a translation."""
    if case.exception is not None or case.expected is None:
        return "exception"  # Python's exception types have no JavaScript counterpart
    if case.stdout is not None:
        return "stdout"  # print's text and console.log's differ for every non-string
    try:
        args = _args(case.input)
        expected = to_json(json.loads(case.expected), output=True)
        after = _args(case.args_after) if case.args_after is not None else None
    except Unmappable:
        return "unmappable"
    return JsTest(index, args, expected, after)


def passes(test: JsTest, outcome: Any) -> bool:
    """Whether the harness's outcome for one call (`{"ok": value, "args": [...]}` or
    `{"error": text}`) is the test's expected behaviour."""
    if not isinstance(outcome, dict) or "ok" not in outcome:
        return False
    if not json_equal(outcome["ok"], test.expected):
        return False
    return test.args_after is None or json_equal(outcome.get("args"), test.args_after)
