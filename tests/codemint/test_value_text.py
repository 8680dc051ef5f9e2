"""Codec values and calls as Python text, as prompts show them."""

from __future__ import annotations

import io
import math

from codemint.codec import Construct, canonical_json, encode_input
from codemint.value_text import call_text, python_text, result_text, value_text


def test_values_read_as_python() -> None:
    for value in [
        ("x", None),
        b"",
        {1, 2},
        frozenset({3}),
        {"a": (1,)},
        [1.5, -2],
        bytearray(b"\x00"),
        1j,
        (),
    ]:
        text = value_text(canonical_json(value))
        assert eval(text) == value, text
    assert value_text(canonical_json(math.nan)) == "float('nan')"
    assert value_text(canonical_json(-math.inf)) == "-float('inf')"
    assert value_text(canonical_json(io.BytesIO(b"ab"))) == "io.BytesIO(b'ab')"
    assert value_text(canonical_json(Construct("Point", [1], {"y": 2}))) == "Point(1, y=2)"
    assert value_text(canonical_json(iter([1, 2]))) == "iter([1, 2])"
    assert python_text({"__object__": ["__codemint__.Node", [["value", 3]]]}) == "<Node object: value=3>"
    assert python_text({"__unknown__": 1}) == "<value>"


def test_calls_are_written_as_calls() -> None:
    assert call_text(encode_input(["a:b"]), "split") == "split('a:b')"
    assert call_text(encode_input([b"x"], {"sep": ("a", None)}), "f") == "f(b'x', sep=('a', None))"
    method = encode_input([[5], {}, [2], {"k": 1}])
    assert call_text(method, "add", "method", "Tally") == "obj = Tally(5); obj.add(2, k=1)"
    assert call_text(encode_input([[], {}, [2], {}]), "make", "classmethod", "T") == "T.make(2)"
    assert result_text(canonical_json(("a", "b"))) == "returns ('a', 'b')"
    harness = canonical_json({"returned": 7, "state": {"total": 7}})
    assert result_text(harness, "method") == "returns 7 (afterwards obj.total == 7)"
