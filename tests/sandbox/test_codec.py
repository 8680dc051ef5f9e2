"""The runner's value codec, used on the host by other stages: exact encodings and inputs."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

import pytest

from codemint.codec import canonical_json, decode_input, decode_value, encode_input, encode_value


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (-0.5, "-0.5"),
        ("é\n", '"é\\n"'),
        (math.nan, '{"__float__":"nan"}'),
        (math.inf, '{"__float__":"inf"}'),
        (-math.inf, '{"__float__":"-inf"}'),
        ([1, [2]], "[1,[2]]"),
        ((1, "a"), '{"__tuple__":[1,"a"]}'),
        ({3, 1, 2}, '{"__set__":[1,2,3]}'),
        (frozenset({"b", "a"}), '{"__frozenset__":["a","b"]}'),
        ({"b": 1, "a": 2}, '{"__dict__":[["a",2],["b",1]]}'),
        ({}, '{"__dict__":[]}'),
        (b"\x00\xff", '{"__bytes__":"AP8="}'),
        (bytearray(b"hi"), '{"__bytearray__":"aGk="}'),
        (1 + 2j, '{"__complex__":[1.0,2.0]}'),
        (complex(math.inf, 0), '{"__complex__":[{"__float__":"inf"},0.0]}'),
        (iter([1, (2,)]), '{"__iter__":[1,{"__tuple__":[2]}]}'),
        (map(str, [1, 2]), '{"__iter__":["1","2"]}'),
        ((x for x in range(3)), '{"__iter__":[0,1,2]}'),
        (range(2), '{"__repr__":"range(0, 2)","__type__":"range"}'),
        (OrderedDict(a=1), '{"__repr__":"OrderedDict([(\'a\', 1)])","__type__":"collections.OrderedDict"}'),
    ],
)
def test_canonical_json(value: Any, text: str) -> None:
    assert canonical_json(value) == text


def test_dict_keys_sorted_by_canonical_text_and_every_object_is_a_tag() -> None:
    value = {(1, 2): None, "z": 1, 2: [{"k": {1}}]}
    text = canonical_json(value)
    assert text == (
        '{"__dict__":[["z",1],[2,[{"__dict__":[["k",{"__set__":[1]}]]}]],[{"__tuple__":[1,2]},null]]}'
    )

    def objects(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            return [node, *(o for v in node.values() for o in objects(v))]
        if isinstance(node, list):
            return [o for v in node for o in objects(v)]
        return []

    for obj in objects(json.loads(text)):
        assert all(key.startswith("__") and key.endswith("__") for key in obj)


def test_set_order_is_independent_of_hash_order() -> None:
    assert (
        canonical_json({"b", "a", 10, 2}) == canonical_json({2, 10, "a", "b"}) == '{"__set__":["a","b",10,2]}'
    )


def test_repr_form_strips_addresses_and_names_the_type() -> None:
    encoded = encode_value(Point(1))
    assert encoded["__type__"] == f"{__name__}.Point"
    assert " at 0x" in encoded["__repr__"] and encoded["__repr__"].endswith(" at 0x>")
    assert canonical_json(Point(1)) == canonical_json(Point(2))  # default reprs carry no state


def test_iterators_are_capped() -> None:
    encoded = encode_value(iter(range(5000)))
    assert len(encoded["__iter__"]) == 1000


def test_fallbacks_for_failures() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert encode_value(Bad())["__repr__"].startswith("<unrepresentable ")
    huge = encode_value(10**100000)
    assert huge["__type__"] == "int" and len(huge["__repr__"]) < 200
    assert encode_value(10**100000) != encode_value(10**100000 + 1)
    long_repr = encode_value(range(10**6)).get("__repr__")
    assert long_repr == "range(0, 1000000)"
    nested: list[Any] = []
    for _ in range(1000):
        nested = [nested]
    assert canonical_json(nested)  # deep structures fall back instead of crashing


def test_long_reprs_are_truncated_but_stay_distinct() -> None:
    class Long:
        def __init__(self, tail: str) -> None:
            self.tail = tail

        def __repr__(self) -> str:
            return "x" * 5000 + self.tail

    a, b = encode_value(Long("a")), encode_value(Long("b"))
    assert len(a["__repr__"]) < 1200
    assert a != b


@pytest.mark.parametrize(
    "value",
    [
        None,
        [1, "a", None],
        (1, (2, 3)),
        {1, 2},
        frozenset({"x"}),
        {"a": [1, 2], (1, 2): {"n": None}},
        b"\x00\x01",
        bytearray(b"ab"),
        3 - 1j,
        -0.0,
        1e-300,
    ],
)
def test_roundtrip(value: Any) -> None:
    decoded = decode_value(json.loads(canonical_json(value)))
    assert decoded == value
    assert type(decoded) is type(value)


def test_roundtrip_non_finite_floats() -> None:
    out = decode_value(json.loads(canonical_json([math.nan, math.inf, -math.inf])))
    assert math.isnan(out[0]) and out[1:] == [math.inf, -math.inf]


def test_inputs() -> None:
    text = encode_input([1, (2, 3)], {"flag": {1}})
    assert text == '{"args":[1,{"__tuple__":[2,3]}],"kwargs":{"flag":{"__set__":[1]}}}'
    assert decode_input(text) == ([1, (2, 3)], {"flag": {1}})
    assert decode_input('{"args": []}') == ([], {})


@pytest.mark.parametrize(
    "text",
    [
        '{"args": [{"__iter__": [1]}]}',
        '{"args": [{"__repr__": "x", "__type__": "object"}]}',
        '{"args": [{"plain": "object"}]}',
        '{"args": [{"__set__": [[1]]}]}',
        '{"args": [NaN]}',
        '{"args": 1}',
        '{"argz": []}',
        "[1]",
        '{"args": [{"__bytes__": "***"}]}',
        '{"args": [' * 100000,
    ],
)
def test_bad_inputs_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decode_input(text)


def test_one_codec_module_staged_everywhere_the_runner_runs() -> None:
    from pathlib import Path

    from codemint.sandbox import runner
    from codemint.sandbox.files import RUNNER_FILES

    repo = Path(__file__).resolve().parents[2]
    assert runner.codec is codec_module()
    # The image's build context and Dockerfile carry every runtime file.
    script = (repo / "sandbox/build_image.sh").read_text()
    dockerfile = (repo / "sandbox/Dockerfile").read_text()
    for name, source in RUNNER_FILES.items():
        rel = source.relative_to(repo).as_posix()
        assert rel.replace("sandbox/", "$HERE/", 1) in script or f"$REPO/{rel}" in script, rel
        assert name in dockerfile.split("COPY", 1)[1].splitlines()[0]
    # No second encoder: nothing outside the codec defines the tag format.
    for path in [*repo.glob("codemint/**/*.py"), *repo.glob("sandbox/*.py"), *repo.glob("tasks/*.py")]:
        if path.name != "codec.py":
            assert '{"__float__"' not in path.read_text() and '"__dict__":' not in path.read_text(), path


def codec_module() -> object:
    from codemint import codec

    return codec
