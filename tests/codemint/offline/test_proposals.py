from __future__ import annotations

import ast
import random
import re
import textwrap

from codemint.codec import Construct
from codemint.offline import proposals


def _func(code: str) -> ast.FunctionDef:
    node = ast.parse(textwrap.dedent(code)).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def test_every_docstring_example_style() -> None:
    doc = """Count vowels.

    >>> vowels("abc")
    1
    vowels("hello") == 2
    vowels('sky') ➞ 0
    vowels("queue") -> 4
    For text = "aeiou" the output should be 5.
    """
    found = list(proposals.docstring_examples(doc, "vowels", ["text"]))
    assert (["abc"], {}) in found
    assert (["hello"], {}) in found and (["sky"], {}) in found and (["queue"], {}) in found
    assert (["aeiou"], {}) in found
    assert len(found) == 5


def test_annotations_keep_element_types_and_nesting() -> None:
    f = _func(
        "def f(a: List[str], b: dict[str, int], c: list[list[int]], d: Tuple[int, str],"
        " e: 'Optional[float]'):\n    pass"
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(f)}
    assert specs["a"][0] == ("list", ("str",))
    assert specs["b"][0] == ("dict", ("str",), ("int",))
    assert specs["c"][0] == ("list", ("list", ("int",)))
    assert specs["d"][0] == ("tuple", ("int",), ("str",))
    assert specs["e"][:2] == [("float",), ("None",)]
    rng = random.Random(0)
    values = proposals.values_for(specs["a"][0], proposals.BodyLiterals(), rng, 6)
    assert any(v and all(isinstance(x, str) for x in v) for v in values)
    nested = proposals.values_for(specs["c"][0], proposals.BodyLiterals(), rng, 6)
    assert any(v and isinstance(v[0], list) for v in nested)


def test_text_like_names_beat_usage_and_nested_usage_gives_nested_lists() -> None:
    f = _func(
        """
        def f(text, grid, n):
            out = 0
            for i in range(len(text)):
                if text[i] == "x":
                    out += 1
            for row in grid:
                for cell in row:
                    out += cell
            return out * n
        """
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(f)}
    assert specs["text"][0] == ("str",)  # indexing and len would have voted "list"
    assert specs["grid"][0] == ("list", ("list", ("int",)))
    assert specs["n"][0] == ("int",)


def test_type_checks_in_the_body_vote_for_the_types_they_name() -> None:
    f = _func(
        """
        def f(included=None, excluded=None, q=0, m=1):
            if included is None:
                assert type(excluded) in (set, frozenset)
            elif excluded is None:
                assert type(included) in (set, frozenset)
            elif isinstance(q, (dict, list)):
                return q
            if type(m) is bytes:
                return m
            return included
        """
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(f)}
    assert specs["excluded"][0] == ("set", ("int",))
    assert ("dict", ("str",), ("int",)) in specs["q"] and ("list", ("int",)) in specs["q"]
    assert specs["m"][:2] == [("int",), ("bytes",)]  # the literal default first, then the check
    # A set for one parameter, the other left at its default: the shape the check asks for.
    p = proposals.plan(f)
    calls = [
        a for combo in proposals.combos(p, 3) for a in proposals.inputs_for(p, combo, random.Random(0), 3)
    ]
    assert any(len(args) == 1 and isinstance(args[0], set) for args, _ in calls)


def test_parameters_that_are_called_get_builtin_functions() -> None:
    f = _func(
        """
        def apply_all(transform, xs, check):
            if not callable(check):
                raise TypeError("check")
            return [transform(x) for x in xs]
        """
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(f)}
    assert specs["transform"][0] == ("fn",) and specs["check"][0] == ("fn",)
    values = proposals.values_for(("fn",), proposals.BodyLiterals(), random.Random(0), 4)
    assert values[:3] == [bool, str, abs]


def test_parameters_used_as_classes_get_builtin_types() -> None:
    f = _func(
        """
        def ancestry(thing, other, target: type, value):
            names = [k.__name__ for k in thing.__mro__]
            return names, issubclass(other, Exception), isinstance(value, target)
        """
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(f)}
    assert specs["thing"][0] == ("type",) and specs["other"][0] == ("type",)
    assert specs["target"][0] == ("type",) and ("type",) not in specs["value"]
    values = proposals.values_for(("type",), proposals.BodyLiterals(), random.Random(0), 3)
    assert values == [int, str, list]
    g = _func("def subclasses(cls, exc_type, content_type): return cls")
    first = {name: s[0] for name, s, _ in proposals.hypotheses(g)}
    assert first["cls"] == first["exc_type"] == ("type",) and first["content_type"] != ("type",)


def test_star_args_get_one_to_three_items_of_the_type_their_name_suggests() -> None:
    f = _func(
        """
        def chain_all(sep, *iterables):
            return [sep, *iterables]
        """
    )
    p = proposals.plan(f)
    calls = [
        a for combo in proposals.combos(p, 1) for a, _ in proposals.inputs_for(p, combo, random.Random(0), 3)
    ]
    extra = sorted({len(a) - 1 for a in calls if len(a) > 1})
    assert extra == [1, 2, 3]
    assert all(isinstance(x, list) for a in calls for x in a[1:])


def test_body_literals_seed_values() -> None:
    f = _func(
        """
        def kind(filename, planet):
            if planet == "Neptune" and filename.endswith(".csv"):
                return filename.split("/")[-1]
            return None
        """
    )
    p = proposals.plan(f)
    assert "Neptune" in p.literals.strings and ".csv" in p.literals.prefixes
    inputs = proposals.inputs_for(p, p.assignments()[0], random.Random(0), 40)
    flat = [a for args, _ in inputs for a in args]
    assert "Neptune" in flat
    assert any(isinstance(a, str) and a.endswith(".csv") for a in flat)


def test_type_assignments_and_optional_parameters() -> None:
    f = _func("def f(x, y=2, *, key): return x")
    p = proposals.plan(f)
    assert p.required == 1 and p.names == ["x", "y"]
    assert len(p.assignments()) > 1  # alternatives for x are tried one at a time
    inputs = proposals.inputs_for(p, p.assignments()[0], random.Random(0), 10)
    assert all("key" in kwargs for _, kwargs in inputs)
    assert {len(args) for args, _ in inputs} == {1, 2}  # y passed in some, default in others


RECORDS = """
from dataclasses import dataclass
from typing import ClassVar, List, NamedTuple


@dataclass
class Point:
    x: float
    y: float
    label: str = "p"
    count: ClassVar[int] = 0


class Segment(NamedTuple):
    a: Point
    b: Point


@dataclass
class Node:
    value: int
    next: "Node"


@dataclass(init=False)
class Manual:
    x: int


def span(seg: Segment, pts: List[Point], node: Node) -> float:
    return 0.0
"""


def test_record_class_parameters_get_instances_of_their_required_fields() -> None:
    classes = proposals.module_classes(RECORDS)
    point = ("new", "Point", (("x", ("float",)), ("y", ("float",))))
    assert classes["Point"] == point  # defaults and class variables are not constructor input
    assert classes["Segment"] == ("new", "Segment", (("a", point), ("b", point)))
    assert "Node" not in classes and "Manual" not in classes  # needs itself; no generated __init__
    func = next(n for n in ast.parse(RECORDS).body if isinstance(n, ast.FunctionDef))
    p = proposals.plan(func, classes)
    assert p.specs[:2] == [[classes["Segment"]], [("list", point)]]
    (seg, pts, _), _ = proposals.inputs_for(p, p.assignments()[0], random.Random(0), 1)[0]
    assert isinstance(seg, Construct) and seg.name == "Segment"
    assert all(isinstance(a, Construct) and a.name == "Point" and len(a.args) == 2 for a in seg.args)
    assert isinstance(pts, list)


def test_file_objects_get_in_memory_files_binary_or_text() -> None:
    reader = _func(
        '''
        def read_uint2(f):
            r"""
            >>> import io
            >>> read_uint2(io.BytesIO(b'\\xff\\x00'))
            255
            >>> read_uint2(io.BytesIO(b'\\xff'))
            Traceback (most recent call last):
            ValueError: not enough data in stream to read uint2
            """
            data = f.read(2)
            if len(data) == 2:
                return _unpack("<H", data)[0]
            raise ValueError("not enough data in stream to read uint2")
        '''
    )
    specs = {name: s for name, s, _ in proposals.hypotheses(reader)}
    assert specs["f"][:2] == [proposals.BYTES_STREAM, proposals.TEXT_STREAM]  # `_unpack`: binary first
    examples = list(proposals.docstring_examples(ast.get_docstring(reader), "read_uint2", ["f"]))
    assert [type(a[0]).__name__ for a, _ in examples] == ["BytesIO", "BytesIO"]
    assert [a[0].getvalue() for a, _ in examples] == [b"\xff\x00", b"\xff"]
    parser = _func("def parse(fp):\n    for line in fp.readlines():\n        yield line.split('=')\n")
    assert proposals.hypotheses(parser)[0][1][0] == proposals.TEXT_STREAM
    p = proposals.plan(parser)
    values = proposals.inputs_for(p, (proposals.TEXT_STREAM,), random.Random(0), 6)
    contents = [args[0].getvalue() for args, _ in values]
    assert len(set(contents)) == len(contents) >= 4 and "=\n" in contents[0]  # body literals as lines
    annotated = _func("def f(src: BinaryIO, dst: 'IO[str]', n: int):\n    pass")
    specs = {name: s for name, s, _ in proposals.hypotheses(annotated)}
    assert specs["src"] == [proposals.BYTES_STREAM] and specs["dst"] == [proposals.TEXT_STREAM]
    named = _func("def copy(fsrc, fdst, length=0):\n    helper(fsrc, fdst)\n")
    assert proposals.hypotheses(named)[0][1][0] == proposals.BYTES_STREAM


# --- inputs reach what the code looks for ---------------------------------------------------


def _entry(code: str) -> tuple[ast.FunctionDef, ast.Module]:
    module = ast.parse(textwrap.dedent(code))
    first = module.body[0] if not isinstance(module.body[0], ast.Import | ast.Assign) else None
    func = first or next(n for n in module.body if isinstance(n, ast.FunctionDef))
    assert isinstance(func, ast.FunctionDef)
    return func, module


def _texts(code: str) -> list[str]:
    func, module = _entry(code)
    p = proposals.plan(func, {}, module)
    return [v for v in proposals.values_for(proposals.STR, p.literals, random.Random(0), 10)]


SPLITPASSWD = """
def splitpasswd(user):
    return _splitpasswd(user)

def _splitpasswd(user):
    user, delim, passwd = user.partition(':')
    return user, (passwd if delim else None)
"""

UNESCAPE = """
import re as _re

_charref = _re.compile(r'&(#[0-9]+;?|[a-z]+;)')

def unescape(s):
    if '&' not in s:
        return s
    return _charref.sub(lambda m: '?', s)
"""

NTSPLIT = """
def split(p):
    seps = _get_bothseps(p)
    i = len(p)
    while i and p[i-1] not in seps:
        i -= 1
    return p[:i], p[i:]

def _get_bothseps(path):
    return '\\\\/'
"""

HEAPPUSH = """
def heappush(heap, item):
    heap.append(item)
    _siftdown(heap, 0, len(heap) - 1)

def _siftdown(heap, startpos, pos):
    newitem = heap[pos]
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        if newitem < heap[parentpos]:
            heap[pos] = heap[parentpos]
            pos = parentpos
            continue
        break
    heap[pos] = newitem
"""


def test_a_helpers_separator_is_set_amid_text() -> None:
    texts = _texts(SPLITPASSWD)
    # not only the bare ':' of the helper's `partition(':')`: ':' between ordinary text
    assert any(":" in t and t.strip(":") and t != ":" and any(c.isalpha() for c in t) for t in texts)
    assert texts[0] != ":" and ":" in texts[0]  # the first value, which other inputs are built on


def test_a_module_pattern_gives_texts_it_matches() -> None:
    func, module = _entry(UNESCAPE)
    lits = proposals.body_literals(func, module)
    assert "&" in lits.prefixes
    texts = _texts(UNESCAPE)
    matched = [t for t in texts if re.search(r"&(#[0-9]+;?|[a-z]+;)", t)]
    assert matched and texts.index(matched[0]) < 3  # `&...;`, among the first values


def test_path_code_gets_paths_with_each_separator() -> None:
    texts = _texts(NTSPLIT)
    assert any("\\" in t and any(c.isalpha() for c in t) for t in texts)  # a backslash path
    assert any("/" in t and any(c.isalpha() for c in t) for t in texts)
    assert any(sep in t for t in texts[:2] for sep in "\\/")


def test_os_sep_marks_path_code() -> None:
    func, module = _entry("import os\ndef base(p):\n    return p.rsplit(os.sep, 1)[-1]\n")
    assert {"/", "\\"} <= set(proposals.body_literals(func, module).prefixes)


def test_docstring_quotes_and_marked_words_are_samples() -> None:
    func, module = _entry(
        '''
def unquote(s):
    """Convert references (e.g. &gt;, &#62;) in s; see splitquery("a?b")."""
    if '&' in s:
        return s.replace('&gt;', '>')
    return s
'''
    )
    samples = proposals.body_literals(func, module).samples
    assert "a?b" in samples and "&gt;" in samples and "&#62;" in samples


def test_a_heap_argument_is_populated_and_sorted_first() -> None:
    func, module = _entry(HEAPPUSH)
    p = proposals.plan(func, {}, module)
    inputs = proposals.inputs_for(p, p.assignments()[0], random.Random(0), 12)
    heaps = [args[0] for args, _ in inputs]
    assert heaps[0] and heaps[0] == sorted(heaps[0])  # the base input pushes onto a real heap
    assert [] in heaps  # the empty heap is still tried
    assert sum(1 for h in heaps if h) > len(heaps) // 2


def test_dicts_are_populated_first() -> None:
    values = proposals.values_for(
        ("dict", proposals.STR, proposals.INT), proposals.BodyLiterals(), random.Random(0), 3
    )
    assert values[0] and {} in values


def test_reach_counts_markers_and_items() -> None:
    func, module = _entry(SPLITPASSWD)
    lits = proposals.body_literals(func, module)
    assert proposals.reach((["user:pw"], {}), lits) == 1
    assert proposals.reach((["user"], {}), lits) == 0
    assert proposals.reach(([[1, 2], "x"], {}), proposals.BodyLiterals()) == 1
    assert proposals.reach(([[], "x"], {}), proposals.BodyLiterals()) == 0


def test_quoted_parameter_names_are_not_samples() -> None:
    func, module = _entry(
        '''
def fill(text, width=70):
    """Wrap 'text' to lines of at most 'width' columns, e.g. "a long line"."""
    return text.split(' ')
'''
    )
    samples = proposals.body_literals(func, module).samples
    assert "a long line" in samples and "text" not in samples and "width" not in samples
