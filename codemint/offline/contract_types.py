"""Accepted types of a parameter, read from a PEP 484 annotation, and the check of a value.

A type is a union of `Shape`s; `None` stands for "unknown", which accepts everything: a name
this module does not know (the code's own classes, TypeVars, protocols) never rejects an input.
The check follows how the project compares values (codemint/verdict.py): a bool is not a
number, an int is a valid float or complex (PEP 484's numeric tower).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codemint.codec import Construct


@dataclass(frozen=True)
class Shape:
    """One alternative: a kind (see `_KIND_CHECKS`), element types for containers (one for
    sequences and sets, key and value for mappings, one per position for a fixed tuple) and
    the values of a Literal."""

    kind: str
    items: tuple[Accepts | None, ...] = ()
    variadic: bool = True  # a tuple's `items` is one type for every element
    choices: tuple[Any, ...] = ()


Accepts = tuple[Shape, ...]


def _number(v: Any, types: tuple[type, ...]) -> bool:
    return isinstance(v, types) and type(v) is not bool


_KIND_CHECKS: dict[str, Any] = {
    "bool": lambda v: type(v) is bool,
    "int": lambda v: _number(v, (int,)),
    "float": lambda v: _number(v, (int, float)),
    "complex": lambda v: _number(v, (int, float, complex)),
    "str": lambda v: isinstance(v, str),
    # PEP 484 let bytearray stand for bytes; a docstring's "bytes-like" means either.
    "bytes": lambda v: isinstance(v, bytes | bytearray),
    "bytearray": lambda v: isinstance(v, bytearray),
    "none": lambda v: v is None,
    "list": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, tuple),
    # A docstring's "list" or "tuple": either sequence kind, prose is loose about which.
    "listlike": lambda v: isinstance(v, list | tuple),
    "dict": lambda v: isinstance(v, dict),
    "mapping": lambda v: isinstance(v, Mapping),
    "set": lambda v: isinstance(v, set),
    "frozenset": lambda v: isinstance(v, frozenset),
    "setlike": lambda v: isinstance(v, set | frozenset),
    "sequence": lambda v: isinstance(v, Sequence),
    "iterable": lambda v: isinstance(v, Iterable),
    "callable": callable,
    "literal": lambda v: True,  # decided by the choices
}
KINDS = frozenset(_KIND_CHECKS)

# Annotation names (builtins, typing, collections.abc) whose meaning is certain.
_PLAIN = {
    "int": "int", "float": "float", "complex": "complex", "bool": "bool", "str": "str",
    "Text": "str", "bytes": "bytes", "ByteString": "bytes", "bytearray": "bytearray",
    "list": "list", "List": "list", "tuple": "tuple", "Tuple": "tuple", "dict": "dict",
    "Dict": "dict", "set": "set", "Set": "set", "frozenset": "frozenset", "FrozenSet": "frozenset",
    "Sequence": "sequence", "MutableSequence": "list", "Iterable": "iterable",
    "Collection": "iterable", "Mapping": "mapping", "MutableMapping": "mapping",
    "AbstractSet": "setlike", "MutableSet": "set", "Callable": "callable",
}  # fmt: skip
_ANY = {"Any", "object"}
# Modules an annotation may qualify a name with (typing.List, collections.abc.Sequence).
_QUALIFIERS = {"typing", "t", "typing_extensions", "abc", "collections", "builtins"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if isinstance(base, ast.Name) and base.id in _QUALIFIERS:
            return node.attr
    return None


def union(*parts: Accepts | None) -> Accepts | None:
    """Alternatives together; one unknown alternative makes the whole union unknown."""
    out: list[Shape] = []
    for part in parts:
        if part is None:
            return None
        out.extend(s for s in part if s not in out)
    return tuple(out)


def annotation_type(node: ast.expr | None, shadowed: frozenset[str] = frozenset()) -> Accepts | None:
    """The accepted type an annotation states; None when it states nothing certain.
    `shadowed`: names the code defines itself, which mean what the code says, not typing's."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if node.value is None:
            return (Shape("none"),)
        if isinstance(node.value, str):  # a forward reference: "int | None"
            try:
                inner = ast.parse(node.value.strip(), mode="eval").body
            except SyntaxError:
                return None
            return annotation_type(inner, shadowed)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return union(annotation_type(node.left, shadowed), annotation_type(node.right, shadowed))
    if isinstance(node, ast.Subscript):
        return _generic(node, shadowed)
    name = _name(node)
    if name is None or name in shadowed or name in _ANY:
        return None
    if name == "AnyStr":
        return (Shape("str"), Shape("bytes"))
    return (Shape(_PLAIN[name]),) if name in _PLAIN else None


def _generic(node: ast.Subscript, shadowed: frozenset[str]) -> Accepts | None:
    name = _name(node.value)
    if name is None or name in shadowed:
        return None
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name == "Optional" and len(args) == 1:
        return union(annotation_type(args[0], shadowed), (Shape("none"),))
    if name == "Union":
        return union(*(annotation_type(a, shadowed) for a in args))
    if name == "Annotated":
        return annotation_type(args[0], shadowed)
    if name == "Literal":
        values = []
        for arg in args:
            if not isinstance(arg, ast.Constant):
                return None
            values.append(arg.value)
        return (Shape("literal", choices=tuple(values)),)
    kind = _PLAIN.get(name)
    if kind is None:
        return None
    if kind == "callable":
        return (Shape("callable"),)
    if kind == "tuple":
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return (Shape("tuple", (annotation_type(args[0], shadowed),)),)
        if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
            return (Shape("tuple", (), variadic=False),)  # tuple[()]
        return (Shape("tuple", tuple(annotation_type(a, shadowed) for a in args), variadic=False),)
    return (Shape(kind, tuple(annotation_type(a, shadowed) for a in args)),)


def _elements(value: Any) -> list[Any] | None:
    """A container's elements, only for the concrete kinds an input can hold (never a
    stream: reading it would consume it)."""
    if isinstance(value, list | tuple | set | frozenset | str | bytes | bytearray | dict):
        return list(value)
    return None


def mismatch(accepts: Accepts | None, value: Any) -> str | None:
    """Why `value` is outside `accepts`: "none", "type", "element" or "choice"; None when
    it fits. An instance of the code's own classes (a `Construct`) is never judged."""
    if accepts is None or isinstance(value, Construct):
        return None
    fits = [s for s in accepts if _KIND_CHECKS[s.kind](value)]
    if not fits:
        return "none" if value is None else "type"
    reasons = [_shape_mismatch(s, value) for s in fits]
    if None in reasons:
        return None
    return "choice" if "choice" in reasons else "element"


def _shape_mismatch(shape: Shape, value: Any) -> str | None:
    if shape.kind == "literal":
        ok = any(type(c) is type(value) and c == value for c in shape.choices)
        return None if ok else "choice"
    if not shape.items and shape.variadic:
        return None  # no element types stated (a fixed `tuple[()]` still states the length)
    if shape.kind in ("dict", "mapping") and isinstance(value, dict):
        key = shape.items[0]
        val = shape.items[1] if len(shape.items) > 1 else None
        bad = any(mismatch(key, k) or mismatch(val, v) for k, v in value.items())
        return "element" if bad else None
    elements = _elements(value)
    if elements is None:
        return None
    if not shape.variadic:
        if len(elements) != len(shape.items):
            return "element"
        bad = any(mismatch(t, e) for t, e in zip(shape.items, elements, strict=True))
    else:
        bad = any(mismatch(shape.items[0], e) for e in elements)
    return "element" if bad else None
