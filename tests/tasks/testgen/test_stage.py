"""Offline test-input strategies on real and crafted functions."""

from __future__ import annotations

import ast
import json
import random

from codemint.offline.inputs import doctest_inputs, mutate, signature_inputs, usage_types
from codemint.records import Instructed, Provenance, WithInputs
from codemint.settings import PipelineSettings
from codemint.tasks.testgen.stage import Testgen


def func(src: str) -> ast.FunctionDef:
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def test_doctest_examples_become_inputs() -> None:
    doc = """Repeat.

    >>> list(repeat_each('ABC', 3))
    ['A', 'A', 'A', 'B', 'B', 'B', 'C', 'C', 'C']
    >>> repeat_each([1, 2], n=2)
    >>> other(1)
    >>> repeat_each(some_name)
    """
    assert list(doctest_inputs(doc, "repeat_each")) == [(["ABC", 3], {}), ([[1, 2]], {"n": 2})]


def test_annotations_defaults_and_usage_choose_types() -> None:
    f = func("def f(a: int, s: str, flag=False, *, k: list[int]):\n    return a")
    rng = random.Random(0)
    inputs = [args for args, _ in signature_inputs(f, 5, rng)]
    assert len(inputs) == 5 and len({repr(i) for i in inputs}) == 5
    for args, kwargs in inputs:
        assert isinstance(args[0], int) and isinstance(args[1], str) and isinstance(args[2], bool)
        assert isinstance(kwargs["k"], list)
    g = func("def g(heap, item):\n    heap.append(item)\n    return heap[0]")
    assert usage_types(g) == {"heap": "list"}
    h = func("def h(text, n):\n    return text.strip()[:n] + '!' if n > 0 else ''")
    assert usage_types(h) == {"text": "str", "n": "int"}


def test_mutation_is_type_aware_and_deterministic() -> None:
    seed = (["hello", 3, [1, 2]], {"flag": True})
    a = [mutate(seed, random.Random(7)) for _ in range(1)]
    b = [mutate(seed, random.Random(7)) for _ in range(1)]
    assert a == b
    rng = random.Random(1)
    for _ in range(50):
        args, kwargs = mutate(seed, rng)
        assert [type(x) for x in args] == [str, int, list] and isinstance(kwargs["flag"], bool)


def test_testgen_stage_caps_dedups_and_encodes() -> None:
    code = (
        "def scale(values: list[int], factor: int = 2) -> list[int]:\n"
        '    """Scale.\n\n    >>> scale([1, 2], 3)\n    [3, 6]\n    """\n'
        "    return [v * factor for v in values]\n"
    )
    rec = Instructed(
        id="x",
        code=code,
        original_code=code,
        parent_id="p",
        entry_point="scale",
        signature="def scale(values: list[int], factor: int = 2) -> list[int]",
        docstring="Scale.\n\n>>> scale([1, 2], 3)\n[3, 6]",
        provenance=Provenance(source_uri="t", path="t.py"),
        instruction="Scale a list.",
        instruction_source="docstring",
    )
    settings = PipelineSettings()
    settings.testgen.max_inputs = 6
    # The plain strategies' cap and dedup (feedback, which replaces them, has its own tests).
    settings.testgen.strategies = ["doctest", "annotations", "defaults", "mutation"]
    (out,) = list(Testgen(settings).run([rec]))
    assert isinstance(out, WithInputs)
    assert len(out.test_inputs) == 6 and len(set(out.test_inputs)) == 6
    assert out.input_sources[0] == "doctest"
    assert json.loads(out.test_inputs[0]) == {"args": [[1, 2], 3], "kwargs": {}}
    assert {"annotations", "mutation"} <= set(out.input_sources)
    again = next(iter(Testgen(settings).run([rec])))
    assert isinstance(again, WithInputs) and again.test_inputs == out.test_inputs


def test_every_sample_type_mutates_without_error() -> None:
    from codemint.offline.inputs import _TYPE_SAMPLES, mutate_value

    rng = random.Random(3)
    for _ in range(300):
        for values in _TYPE_SAMPLES.values():
            for v in values:
                out = mutate_value(v, rng)
                assert type(out) is type(v) or v is None
