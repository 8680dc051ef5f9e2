"""The runner's value codec, used on the host by other stages: exact encodings and inputs."""

from __future__ import annotations

import io
import itertools
import json
import math
import re
from collections import OrderedDict
from typing import Any

import pytest
from sandbox_support import FAST, run_one, sandbox

from codemint import codec, samples
from codemint.codec import (
    canonical_json,
    decode_input,
    decode_value,
    encode_input,
    encode_state,
    encode_value,
)
from codemint.records import TestCase as Case
from codemint.sandbox.api import ExecJob, Sandbox
from codemint.verdict import passes

__all__ = ["sandbox"]  # the fixture, imported from the shared module


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


class Slotted:
    __slots__ = ("_hidden", "empty", "value")

    def __init__(self, value: object) -> None:
        self.value = value
        self._hidden = 7


class Linked:
    def __init__(self, nxt: object = None) -> None:
        self.next = nxt if nxt is not None else self


class Sneaky(Point):
    def __getattribute__(self, name: str) -> object:
        raise RuntimeError("no peeking")

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


def test_instances_encode_their_type_and_state() -> None:
    assert encode_value(Point(1)) == {"__object__": [f"{__name__}.Point", [["x", 1]]]}
    assert canonical_json(Point(1)) != canonical_json(Point(2))
    assert canonical_json(Point([1, (2,)])) == canonical_json(Point([1, (2,)]))
    # Slots count, private ones too; empty slots do not; the class's own hooks are bypassed.
    assert encode_value(Slotted("v")) == {
        "__object__": [f"{__name__}.Slotted", [["_hidden", 7], ["value", "v"]]]
    }
    assert canonical_json(Sneaky(1)) != canonical_json(Sneaky(2))
    # Same state, different class: different.
    assert canonical_json(Sneaky(1)).replace("Sneaky", "Point") == canonical_json(Point(1))
    assert canonical_json(Sneaky(1)) != canonical_json(Point(1))
    # A self-reference is a cycle marker (how many levels up); long chains end at the depth cap.
    assert canonical_json(Linked()) == f'{{"__object__":["{__name__}.Linked",[["next",{{"__cycle__":1}}]]]}}'
    chain = Linked()
    for _ in range(10):
        chain = Linked(chain)
    text = canonical_json(chain)
    assert text.count("__object__") == 7 and text.endswith('Linked",null]}' + "]]]}" * 6)
    assert canonical_json(Linked(Linked(Point(1)))) != canonical_json(Linked(Linked(Point(2))))


class Dist:
    """statistics.NormalDist's layout: slots given as a dict of docstrings, private names."""

    __module__ = codec.JOB_MODULE  # the code's own class: encoded by state whatever its repr says
    __slots__ = {"_mu": "mean", "_sigma": "standard deviation"}

    def __init__(self, mu: float, sigma: float) -> None:
        self._mu = mu
        self._sigma = sigma

    def __repr__(self) -> str:
        return "Dist()"


class Base:
    __slots__ = "a"  # one slot, as a str


class Middle(Base):
    __slots__ = ["__m", "__weakref__", "unset"]  # a mangled name (_Middle__m), one never filled


class Leaf(Middle):
    __slots__ = ("__dict__", "_c")


class Meta(type):
    """A metaclass that would hide the class's layout from anything that asks it."""

    def __eq__(cls, other: object) -> bool:
        raise AssertionError("the metaclass's __eq__ ran")

    __hash__ = type.__hash__

    @property
    def __mro__(cls) -> tuple[type, ...]:
        raise AssertionError("the metaclass's __mro__ ran")


class Hooked(Base, metaclass=Meta):
    __slots__ = ("__dict__", "b")

    @property
    def a(self) -> int:  # shadows Base's slot
        raise AssertionError("a property ran")

    def __getattribute__(self, name: str) -> object:
        raise AssertionError("__getattribute__ ran")


class StandIn:
    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        raise AssertionError("a property standing in for __dict__ ran")


def test_slots_of_every_spelling_along_the_mro_are_state() -> None:
    # NormalDist's __neg__ returning an un-negated copy differed from the right one by no byte.
    assert encode_value(Dist(1.0, 2.0)) == {
        "__object__": ["__codemint__.Dist", [["_mu", 1.0], ["_sigma", 2.0]]]
    }
    assert canonical_json(Dist(-1.0, 2.0)) != canonical_json(Dist(1.0, 2.0))
    half = Dist.__new__(Dist)
    half._mu = 1.0  # _sigma never set: left out, not an error
    assert encode_value(half) == {"__object__": ["__codemint__.Dist", [["_mu", 1.0]]]}
    leaf = Leaf()
    leaf.a, leaf._Middle__m, leaf._c = 1, 2, 3  # type: ignore[attr-defined]
    leaf.extra, leaf._private = 4, 5  # type: ignore[attr-defined]
    pairs = [["_Middle__m", 2], ["_c", 3], ["_private", 5], ["a", 1], ["extra", 4]]
    assert encode_value(leaf) == {"__object__": [f"{__name__}.Leaf", pairs]}
    # Slots and the instance dict are read through their own descriptors: no hook runs.
    hooked = object.__new__(Hooked)
    Base.__dict__["a"].__set__(hooked, 1)
    object.__setattr__(hooked, "b", 2)
    object.__setattr__(hooked, "c", 3)
    assert encode_value(hooked) == {"__object__": [f"{__name__}.Hooked", [["a", 1], ["b", 2], ["c", 3]]]}
    # A property in place of __dict__ is not called (the dict only it would reach is not read).
    stand_in = StandIn()
    object.__setattr__(stand_in, "x", 1)
    assert encode_value(stand_in) == {"__object__": [f"{__name__}.StandIn", []]}


def test_named_tuples_dataclasses_and_enums_keep_their_values() -> None:
    ns: dict[str, Any] = {"__name__": codec.JOB_MODULE}
    source = (
        "import dataclasses, enum, typing\n"
        "class P(typing.NamedTuple):\n    x: int\n    y: int = 0\n"
        "@dataclasses.dataclass\nclass D:\n    x: int\n    _y: int = 0\n"
        "@dataclasses.dataclass(slots=True)\nclass S:\n    x: int\n    _y: int = 0\n"
        "class E(enum.Enum):\n    A = 1\n    B = 2\n"
        "    def __init__(self, v):\n        self.label = str(v)\n"
    )
    # Compiled apart: this module's `from __future__ import annotations` would make them text.
    exec(compile(source, "<job>", "exec", dont_inherit=True), ns)
    assert encode_value(ns["P"](1, 2)) == {
        "__object__": ["__codemint__.P", [["__value__", {"__tuple__": [1, 2]}]]]
    }
    for cls in ("D", "S"):
        assert encode_value(ns[cls](1, 2)) == {"__object__": [f"__codemint__.{cls}", [["_y", 2], ["x", 1]]]}
    # An enum member is its name and public attributes, not the enum's private machinery.
    assert encode_value(ns["E"].B) == {"__object__": ["__codemint__.E", [["__value__", "B"], ["label", "2"]]]}


def test_a_returned_instance_and_the_method_harness_state_hold_the_same_attributes() -> None:
    code = (
        "class Base:\n    __slots__ = ('a', '__m')\n"
        "class Dist(Base):\n"
        "    __slots__ = {'_mu': 'mean', '_sigma': 'sd', 'unset': 'never set', '__dict__': ''}\n"
        "    def __init__(self, mu, sigma):\n"
        "        self._mu, self._sigma, self.a, self._seen = mu, sigma, 1, [mu]\n"
        "        self._Base__m = 0  # a private slot of the base, stored mangled\n"
        "    def __neg__(self):\n"
        "        return Dist(-self._mu, self._sigma)\n"
    )
    run, entry = samples.runnable(code, "method", "__neg__", "Dist")
    ns: dict[str, Any] = {"__name__": codec.JOB_MODULE}
    exec(run, ns)
    out = encode_value(ns[entry]([1.0, 2.0], {}, [], {}))
    ((_, returned), (_, state)) = out["__dict__"]
    assert returned == {
        "__object__": [
            "__codemint__.Dist",
            [["_Base__m", 0], ["_mu", -1.0], ["_seen", [-1.0]], ["_sigma", 2.0], ["a", 1]],
        ]
    }
    assert state == {"__dict__": [["_Base__m", 0], ["_mu", 1.0], ["_seen", [1.0]], ["_sigma", 2.0], ["a", 1]]}
    assert [name for name, _ in returned["__object__"][1]] == [name for name, _ in state["__dict__"]]


def test_objects_and_cut_iterators_cannot_be_inputs() -> None:
    for value in (Point(1), iter(range(2000))):
        with pytest.raises(ValueError, match="cannot be used as inputs"):
            decode_value(json.loads(canonical_json(value)))


def test_iterators_are_capped_with_a_marker_and_a_digest_of_the_rest() -> None:
    encoded = encode_value(iter(range(5000)))
    items, more, _digest, ended = encoded["__iter_cut__"]
    assert items == list(range(1000)) and (more, ended) == (4000, True)
    # A complete iterator of exactly the cap is not cut; one more item is.
    assert encode_value(iter(range(1000))) == {"__iter__": list(range(1000))}
    assert "__iter_cut__" in encode_value(iter(range(1001)))
    # Wrong only after the cap: still different. Endless iterators are cut the same way.
    wrong = [*range(1000), *range(1, 4001)]
    assert canonical_json(iter(range(5000))) != canonical_json(iter(wrong))
    endless = encode_value(itertools.count())["__iter_cut__"]
    assert endless[1:] == [codec.ITER_HASH_LIMIT, endless[2], False]
    assert canonical_json(itertools.count()) == canonical_json(itertools.count())


def test_an_iterator_that_raises_is_encoded_with_its_items_and_the_exception() -> None:
    def fails(after: int, exc: Exception) -> Any:
        yield from range(after)
        raise exc

    assert encode_value(fails(2, ValueError("bad at 0x7f01"))) == {
        "__iter_raised__": [[0, 1], "ValueError", "bad at 0x"]
    }
    # Which exception, where, and after what: each tells two generators apart.
    texts = {
        canonical_json(fails(2, ValueError("bad"))),
        canonical_json(fails(2, TypeError("bad"))),
        canonical_json(fails(1, ValueError("bad"))),
        canonical_json(fails(2, ValueError("other"))),
        canonical_json(fails(1500, ValueError("bad"))),
        canonical_json(fails(1500, TypeError("bad"))),
        canonical_json(iter(range(1500))),
    }
    assert len(texts) == 7
    with pytest.raises(ValueError, match="cannot be used as inputs"):
        decode_value(encode_value(fails(0, KeyError("k"))))


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
    # No second encoder: nothing outside the codec builds tagged values (`{"__set__": ...}`);
    # composing tags of already-encoded data, as sandbox/suite.py does through
    # codec.canonical_text, and reading tags (codemint/value_text.py: `if tag == "__set__":`)
    # are fine.
    for path in [*repo.glob("codemint/**/*.py"), *repo.glob("sandbox/*.py"), *repo.glob("tasks/**/*.py")]:
        if path.name != "codec.py":
            text = path.read_text()
            assert not re.search(r'\{\s*"__(float|bytes|complex|set)__"\s*:', text), path
    assert re.search(r'\{\s*"__(float|bytes|complex|set)__"\s*:', 'return {"__set__": items}')


def codec_module() -> object:
    from codemint import codec

    return codec


def test_constructed_inputs_round_trip_as_placeholders_on_the_host() -> None:
    point = codec.Construct("Point", [1, (2, 3)], {"label": "a"})
    text = encode_input([point], {"other": codec.Construct("Empty", [], {})})
    assert json.loads(text)["args"][0] == {"__new__": ["Point", [1, {"__tuple__": [2, 3]}], [["label", "a"]]]}
    args, kwargs = decode_input(text)
    assert args == [point] and encode_input(args, kwargs) == text
    built = decode_input(text, lambda name, a, kw: (name, tuple(a), kw))
    assert built == ([("Point", (1, (2, 3)), {"label": "a"})], {"other": ("Empty", (), {})})


@pytest.mark.parametrize(
    "payload",
    [["os.system", [], []], ["Point", {}, []], ["Point", [], [["x"]]], ["Point", [], [[1, 2]]], ["P", []]],
)
def test_malformed_constructed_inputs_are_refused(payload: Any) -> None:
    with pytest.raises(ValueError, match="__new__"):
        decode_input(json.dumps({"args": [{"__new__": payload}]}))


def test_cyclic_containers_end_in_a_marker_instead_of_following_the_cycle() -> None:
    # A circular doubly linked list of cells [prev, next, key, value], as OrderedDict-like
    # classes keep: followed blindly, every cell branches twice.
    root: list = []
    root[:] = [root, root, None, None]
    last = root
    for i in range(60):
        cell = [last, root, i, i]
        last[1] = cell
        root[0] = cell
        last = cell
    text = canonical_json({"map": {"a": root}, "root": root})
    assert len(text) < 20_000 and '"__cycle__"' in text
    assert canonical_json(root) != canonical_json(root[1])  # a different cell is a different view
    loop: list = [1]
    loop.append(loop)
    assert encode_value(loop) == [1, {"__cycle__": 1}]
    shared = [1]
    assert encode_value([shared, shared]) == [[1], [1]]  # shared without a cycle: written in full
    with pytest.raises(ValueError, match="cannot be used as inputs"):
        decode_value(encode_value(loop))


def test_allowed_builtins_travel_as_function_arguments_and_nothing_else_does() -> None:
    text = encode_input([len, [3, 1]], {"key": abs})
    assert text == '{"args":[{"__fn__":"len"},[3,1]],"kwargs":{"key":{"__fn__":"abs"}}}'
    args, kwargs = decode_input(text)
    assert args[0] is len and kwargs["key"] is abs
    assert encode_value(sorted) == {"__fn__": "sorted"} and encode_value(int) == {"__fn__": "int"}
    for name in ("eval", "open", "getattr", "__import__", "exec", 1):
        with pytest.raises(ValueError, match="no allowed builtin"):
            decode_value({"__fn__": name})
    assert "__fn__" not in canonical_json(print)  # not allowed: written by its repr, as before


def test_in_memory_files_travel_with_their_contents_and_position() -> None:
    binary = io.BytesIO(b"\x00abc\n")
    binary.seek(2)
    text = encode_input([binary, io.StringIO("one\ntwo")])
    assert json.loads(text)["args"] == [
        {"__stream__": ["bytes", "AGFiYwo=", 2]},
        {"__stream__": ["text", "one\ntwo", 0]},
    ]
    (b, t), _ = decode_input(text)
    assert type(b) is io.BytesIO and (b.getvalue(), b.tell(), b.read()) == (b"\x00abc\n", 2, b"bc\n")
    assert type(t) is io.StringIO and t.readline() == "one\n"
    assert encode_value(t) == {"__stream__": ["text", "one\ntwo", 4]}  # reading moved it: a new state
    closed = io.BytesIO(b"x")
    closed.close()
    assert encode_value(closed) == {"__stream__": ["bytes", None, None]}
    assert decode_value(encode_value(closed)).closed


@pytest.mark.parametrize(
    "payload",
    [["file", "", 0], ["bytes", "!!", 0], ["text", "x", -1], ["text", 3, 0], ["text", "x"], "x"],
)
def test_malformed_in_memory_files_are_refused(payload: Any) -> None:
    with pytest.raises(ValueError):
        decode_input(json.dumps({"args": [{"__stream__": payload}]}))


def test_inputs_keep_dict_insertion_order_while_results_and_states_are_canonical() -> None:
    value = {"b": 1, "a": [{"z": 0.5, "y": (1, {"q": 1, "p": 2})}]}
    text = encode_input([value], {"z": 1, "a": 2})
    assert text == (
        '{"args":[{"__dict__":[["b",1],["a",[{"__dict__":[["z",0.5],["y",{"__tuple__":[1,'
        '{"__dict__":[["q",1],["p",2]]}]}]]}]]]}],"kwargs":{"z":1,"a":2}}'
    )
    (arg,), kwargs = decode_input(text)
    assert (
        list(arg) == ["b", "a"]
        and list(arg["a"][0]) == ["z", "y"]
        and list(arg["a"][0]["y"][1]) == ["q", "p"]
    )
    assert list(kwargs) == ["z", "a"]
    assert encode_input([arg], kwargs) == text  # decoding and encoding again changes nothing
    # A result and a state after the call: dicts (and keywords) in canonical key order.
    assert canonical_json(value).startswith('{"__dict__":[["a",[{"__dict__":[["y",')
    assert encode_state([value], kwargs) == (
        '{"args":[{"__dict__":[["a",[{"__dict__":[["y",{"__tuple__":[1,{"__dict__":[["p",2],'
        '["q",1]]}]}],["z",0.5]]}]],["b",1]]}],"kwargs":{"a":2,"z":1}}'
    )
    assert encode_state([1, (2,)], {"k": {3}}) == encode_input([1, (2,)], {"k": {3}})  # no dict: one text


def test_a_function_iterating_a_dict_input_sees_the_tests_order(sandbox: Sandbox) -> None:
    code = "def f(d, **kw):\n    return [list(d), list(kw)]\n"
    out = run_one(sandbox, code, {"b": 1, "a": 2, "c": 3}, kwargs={"z": 1, "y": 2})
    assert out.status == "ok", out
    assert json.loads(out.result or "") == [["b", "a", "c"], ["z", "y"]]
    assert out.args_after is None  # left as it came: the same text as the input
    # A call that changes its dict argument: the state in canonical order.
    added = run_one(sandbox, "def f(d):\n    d['a'] = 0\n", {"b": 1})
    assert added.args_after == encode_state([{"a": 0, "b": 1}])


def test_a_candidate_returning_an_equal_float_passes_verify(sandbox: Sandbox) -> None:
    original = run_one(
        sandbox, "def f(n, d):\n    d['z'] = n\n    d['a'] = 1\n    return n // 2 + 1\n", 3, {}
    )
    assert (original.status, original.result) == ("ok", "2")
    case = Case(input=encode_input([3, {}]), expected=original.result, args_after=original.args_after)
    verdicts = {}
    for name, body in {
        "float": "d['a'] = 1.0\n    d['z'] = float(n)\n    return n / 2 + 0.5",
        "tolerance": "d['a'] = 0.1 + 0.2 + 0.7\n    d['z'] = n\n    return 0.1 * 3 / 0.3 * 2",
        "bool": "d['z'] = n\n    d['a'] = 1\n    return n > 2",
        "wrong": "d['z'] = n\n    d['a'] = 1\n    return n / 2",
        "wrong state": "d['z'] = n\n    d['a'] = 1.001\n    return 2",
    }.items():
        outcome = run_one(sandbox, f"def f(n, d):\n    {body}\n", 3, {})
        assert outcome.status == "ok", outcome
        verdicts[name] = passes(case, outcome)
    assert verdicts == {"float": True, "tolerance": True, "bool": False, "wrong": False, "wrong state": False}


NORMAL_DIST = (
    "class NormalDist:\n"
    "    __slots__ = {'_mu': 'Arithmetic mean', '_sigma': 'Standard deviation'}\n"
    "    def __init__(self, mu=0.0, sigma=1.0):\n"
    "        self._mu = float(mu)\n"
    "        self._sigma = float(sigma)\n"
    "    def __eq__(self, other):\n"
    "        return (self._mu, self._sigma) == (other._mu, other._sigma)\n"
    "    __hash__ = None\n"
    "    def __repr__(self):\n"
    "        return f'{type(self).__name__}(mu={self._mu!r}, sigma={self._sigma!r})'\n"
    "    def __neg__(self):\n"
    "        BODY\n"
)


def test_a_slotted_instance_returned_without_its_state_change_fails_verify(sandbox: Sandbox) -> None:
    # statistics.NormalDist.__neg__ on the default run: an un-negated copy passed every test.
    inputs = [encode_input([[mu, sigma], {}, [], {}]) for mu, sigma in ((1.0, 2.0), (-3.5, 0.5), (7, 1))]

    def run(body: str) -> list[Any]:
        code, entry = samples.runnable(NORMAL_DIST.replace("BODY", body), "method", "__neg__", "NormalDist")
        (res,) = sandbox.run_batch(
            [ExecJob(job_id="nd", code=code, entry_point=entry, inputs=inputs, limits=FAST)]
        )
        assert res.infra_error is None, res.infra_error
        assert all(o.status == "ok" for o in res.outcomes), res.outcomes
        return res.outcomes

    original = run("return NormalDist(-self._mu, self._sigma)")
    assert json.loads(original[0].result or "")["__dict__"][0] == [
        "returned",
        {"__object__": ["__codemint__.NormalDist", [["_mu", -1.0], ["_sigma", 2.0]]]},
    ]
    cases = [Case(input=i, expected=o.result) for i, o in zip(inputs, original, strict=True)]
    verdicts = {}
    for name, body in {
        "right": "return NormalDist(-self._mu, self._sigma)",
        "right by another route": "new = object.__new__(NormalDist)\n"
        "        new._mu, new._sigma = 0.0 - self._mu, self._sigma\n        return new",
        "un-negated copy": "return NormalDist(self._mu, self._sigma)",
        "sigma negated too": "return NormalDist(-self._mu, -self._sigma)",
    }.items():
        verdicts[name] = [passes(c, o) for c, o in zip(cases, run(body), strict=True)]
    assert verdicts == {
        "right": [True] * 3,
        "right by another route": [True] * 3,
        "un-negated copy": [False] * 3,
        "sigma negated too": [False] * 3,
    }
