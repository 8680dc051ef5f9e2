"""Annotation types and the value check: the numeric tower, bool apart, unknown names open."""

from __future__ import annotations

import ast
import io

from codemint.codec import Construct
from codemint.offline.contract_types import Shape, annotation_type, mismatch


def ann(text: str, shadowed: frozenset[str] = frozenset()) -> tuple[Shape, ...] | None:
    return annotation_type(ast.parse(text, mode="eval").body, shadowed)


def test_numbers_follow_the_tower_and_keep_bool_apart() -> None:
    assert mismatch(ann("float"), 3) is None and mismatch(ann("complex"), 2.5) is None
    assert mismatch(ann("int"), 2.5) == "type"
    assert mismatch(ann("int"), True) == "type" and mismatch(ann("float"), False) == "type"
    assert mismatch(ann("bool"), 1) == "type" and mismatch(ann("bool"), True) is None
    assert mismatch(ann("int | bool"), True) is None


def test_qualified_generic_and_string_forms() -> None:
    assert ann("typing.List[int]") == ann("list[int]") == ann("'list[int]'")
    assert ann("collections.abc.Sequence[str]") == (Shape("sequence", (ann("str"),)),)
    assert ann("Optional[bytes]") == (Shape("bytes"), Shape("none"))
    assert ann("Annotated[int, 'meta']") == (Shape("int"),)
    assert ann("AnyStr") == (Shape("str"), Shape("bytes"))
    assert mismatch(ann("bytes"), bytearray(b"x")) is None  # PEP 484's bytes promotion
    assert mismatch(ann("Mapping[str, int]"), {"a": "b"}) == "element"
    assert mismatch(ann("Callable[[int], int]"), len) is None
    assert mismatch(ann("Callable[[int], int]"), 3) == "type"


def test_what_is_not_certain_is_unknown() -> None:
    for text in ("Any", "object", "mymod.Thing", "Iterator[int]", "type[int]", "T", "int | Thing"):
        assert ann(text) is None, text
    assert ann("Sequence", frozenset({"Sequence"})) is None  # the code's own Sequence
    assert ann("Literal[x]") is None


def test_values_the_check_never_judges() -> None:
    assert mismatch(ann("str"), Construct("Point", [1, 2], {})) is None  # the code's own class
    assert mismatch(None, object()) is None
    assert mismatch(ann("list[int]"), io.StringIO("1")) == "type"
    assert mismatch(ann("Iterable[int]"), io.StringIO("1")) is None  # a stream is not read
    assert mismatch(ann("Literal[1, 'a']"), True) == "choice"
    assert mismatch(ann("Literal[1, 'a']"), "a") is None
    assert mismatch(ann("tuple[()]"), ()) is None and mismatch(ann("tuple[()]"), (1,)) == "element"
