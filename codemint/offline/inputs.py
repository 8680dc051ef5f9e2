"""Offline test-input strategies: doctest examples, annotations, defaults and parameter
names, then type-aware mutation of those seeds (the EvalPlus idea).

An input is a pair (args, kwargs) of plain Python values; the testgen stage encodes it
with the sandbox codec. Every strategy is deterministic for a given seed.
"""

from __future__ import annotations

import ast
import doctest
import io
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from codemint import safe_ast
from codemint.codec import Construct

Args = tuple[list[Any], dict[str, Any]]

# Representative values per type name, small on purpose: tests must run fast in the sandbox.
_TYPE_SAMPLES: dict[str, list[Any]] = {
    "int": [0, 1, 7, -3, 100],
    "float": [0.0, 0.25, 1.0, 0.5, -2.5],
    "str": ["", "abc", "Hello World", "a-b_c 123"],
    "bool": [True, False],
    "bytes": [b"", b"abc", b"\x00\xffdata"],
    "list": [[], [1, 2, 3], [5, -1, 5, 0]],
    "tuple": [(), (1, 2), ("a", 3)],
    "dict": [{}, {"a": 1, "b": 2}],
    "set": [set(), {1, 2, 3}],
    "None": [None],
}

# Parameter names that say what they hold, for code without annotations.
_NAME_HINTS: list[tuple[tuple[str, ...], str]] = [
    (
        (
            "text",
            "s",
            "string",
            "name",
            "word",
            "line",
            "pattern",
            "pat",
            "prefix",
            "suffix",
            "sep",
            "char",
            "c",
            "path",
            "p",
            "fmt",
            "template",
            "msg",
            "key",
            "title",
            "sub",
            "chars",
            "source",
            "src",
        ),
        "str",
    ),
    (
        (
            "n",
            "i",
            "j",
            "k",
            "count",
            "num",
            "size",
            "width",
            "height",
            "index",
            "idx",
            "year",
            "month",
            "day",
            "length",
            "start",
            "stop",
            "end",
            "step",
            "depth",
            "level",
            "limit",
            "base",
            "number",
            "pos",
            "offset",
            "maxsplit",
            "indent",
            "r",
            "times",
        ),
        "int",
    ),
    (("ratio", "factor", "h", "l", "v", "g", "q", "u", "alpha", "weight", "frac", "fraction"), "float"),
    (
        (
            "seq",
            "items",
            "lst",
            "iterable",
            "data",
            "values",
            "xs",
            "arr",
            "array",
            "elements",
            "numbers",
            "sequence",
            "iterables",
            "lines",
            "words",
            "strings",
            "args",
            "it",
            "population",
            "heap",
            "stack",
            "queue",
        ),
        "list",
    ),
    (("d", "mapping", "dct", "dictionary", "table", "mapping_", "kwargs", "kw"), "dict"),
    (("flag", "strict", "reverse", "verbose", "ignore_case", "keepends", "posix"), "bool"),
    (("buf", "buffer", "raw", "blob"), "bytes"),
]


_STREAMS: dict[str, tuple[type, type]] = {"BytesIO": (io.BytesIO, bytes), "StringIO": (io.StringIO, str)}


def stream_of(value: Any) -> tuple[str, Any, int] | None:
    """(kind, contents, position) of an open in-memory file, else None: how two stream
    inputs compare (they have no equality of their own)."""
    if type(value) not in (io.BytesIO, io.StringIO) or value.closed:
        return None
    return type(value).__name__, value.getvalue(), value.tell()


def literal_value(node: ast.expr) -> Any:
    """A literal, or an in-memory file built from one (`io.BytesIO(b'...')`, `StringIO('...')`,
    `io.BytesIO()`): what docstring examples pass to code that reads a file object."""
    if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
        func = node.func
        name = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "io"
            else None
        )
        if name in _STREAMS:
            cls, content = _STREAMS[name]
            value = ast.literal_eval(node.args[0]) if node.args else content()
            if type(value) is not content:
                raise ValueError(f"{name} of {type(value).__name__}")
            return cls(value)
    return ast.literal_eval(node)


def doctest_inputs(docstring: str | None, entry_point: str) -> Iterator[Args]:
    """Arguments of calls to `entry_point` in the docstring's `>>>` examples (literals only)."""
    if not docstring:
        return
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return
    for example in examples:
        try:
            tree = safe_ast.parse(example.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            if name != entry_point or any(isinstance(a, ast.Starred) for a in node.args):
                continue
            try:
                args = [literal_value(a) for a in node.args]
                kwargs = {kw.arg: literal_value(kw.value) for kw in node.keywords if kw.arg is not None}
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if len(kwargs) == len(node.keywords):
                yield args, kwargs


def _type_names(annotation: ast.expr | None) -> list[str]:
    """Sample type names for an annotation such as `int`, `list[str]`, `str | None`, `Optional[int]`."""
    if annotation is None:
        return []
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = safe_ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _type_names(annotation.left) + _type_names(annotation.right)
    if isinstance(annotation, ast.Subscript):
        base = ast.unparse(annotation.value).split(".")[-1]
        if base in ("Optional",):
            return [*_type_names(annotation.slice), "None"]
        if base in ("Union",):
            elts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            return [t for e in elts for t in _type_names(e)]
        base = {
            "List": "list",
            "Sequence": "list",
            "Iterable": "list",
            "Dict": "dict",
            "Mapping": "dict",
            "Tuple": "tuple",
            "Set": "set",
            "FrozenSet": "set",
        }.get(base, base)
        return [base] if base in _TYPE_SAMPLES else []
    name = ast.unparse(annotation).split(".")[-1]
    name = {"Sequence": "list", "Iterable": "list", "Mapping": "dict", "AnyStr": "str"}.get(name, name)
    if name == "None":
        return ["None"]
    return [name] if name in _TYPE_SAMPLES else []


_STR_METHODS = {
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "splitlines",
    "startswith",
    "endswith",
    "replace",
    "find",
    "rfind",
    "encode",
    "isdigit",
    "isspace",
    "isalpha",
    "isalnum",
    "expandtabs",
    "partition",
    "rpartition",
    "casefold",
    "title",
    "capitalize",
    "zfill",
    "center",
    "ljust",
    "rjust",
}
_LIST_METHODS = {"append", "extend", "pop", "insert", "sort", "reverse", "remove", "index", "count", "copy"}
_DICT_METHODS = {"keys", "values", "items", "get", "setdefault", "update", "popitem"}
_SEQ_FUNCS = {
    "len",
    "sorted",
    "reversed",
    "enumerate",
    "list",
    "tuple",
    "set",
    "sum",
    "min",
    "max",
    "iter",
    "zip",
}


def usage_types(func: ast.FunctionDef) -> dict[str, str]:
    """Guess parameter types from how the body uses them (a vote per use)."""
    params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
    votes: dict[str, dict[str, int]] = {p: {} for p in params}

    def vote(name: str, type_name: str) -> None:
        if name in votes:
            votes[name][type_name] = votes[name].get(type_name, 0) + 1

    for node in ast.walk(func):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            attr, name = node.attr, node.value.id
            if attr in _STR_METHODS:
                vote(name, "str")
            elif attr in _LIST_METHODS:
                vote(name, "list")
            elif attr in _DICT_METHODS:
                vote(name, "dict")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            vote(node.value.id, "list")
        elif isinstance(node, ast.For | ast.comprehension) and isinstance(node.iter, ast.Name):
            vote(node.iter.id, "list")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Name):
                if node.func.id in _SEQ_FUNCS:
                    vote(first.id, "list")
                elif node.func.id == "range":
                    vote(first.id, "int")
        elif isinstance(node, ast.BinOp | ast.Compare | ast.AugAssign):
            operands = (
                [node.left, node.right]
                if isinstance(node, ast.BinOp)
                else [node.left, *node.comparators]
                if isinstance(node, ast.Compare)
                else [node.target, node.value]
            )
            constants = [o.value for o in operands if isinstance(o, ast.Constant)]
            for o in operands:
                if not isinstance(o, ast.Name):
                    continue
                if any(isinstance(c, str) for c in constants):
                    vote(o.id, "str")
                elif any(isinstance(c, float) for c in constants):
                    vote(o.id, "float")
                elif any(isinstance(c, int) and not isinstance(c, bool) for c in constants):
                    vote(o.id, "int")
    return {name: max(v, key=lambda t: v[t]) for name, v in votes.items() if v}


def _name_hint(name: str) -> str | None:
    lowered = name.lower().strip("_")
    for names, type_name in _NAME_HINTS:
        if lowered in names:
            return type_name
    return None


def _positional(args: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    params = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(params) - len(args.defaults)) + list(args.defaults)
    return list(zip(params, defaults, strict=True))


def _candidates(
    param: ast.arg,
    default: ast.expr | None,
    usage: dict[str, str] | None = None,
    texts: Sequence[str] = (),
) -> tuple[list[Any], str] | None:
    """Values for one parameter and the strategy that chose them, or None if nothing is known.
    `texts` (what the code looks for, in text) come first for a text parameter."""
    names = _type_names(param.annotation)
    if names:
        values = [v for t in names for v in (_texts(texts) if t == "str" else _TYPE_SAMPLES[t])]
        return values, "annotations"
    if default is not None:
        try:
            value = literal_value(default)
        except (ValueError, TypeError, SyntaxError):
            value = ...
        if value is not ... and value is not None:
            type_name = type(value).__name__
            samples = _texts(texts) if type_name == "str" else _TYPE_SAMPLES.get(type_name, [])
            return [value, *(v for v in samples if v != value)], "defaults"
    hint = (usage or {}).get(param.arg) or _name_hint(param.arg)
    if hint:
        return list(_texts(texts) if hint == "str" else _TYPE_SAMPLES[hint]), "defaults"
    if default is None:
        # A required parameter nothing describes: integers are the most common guess.
        return list(_TYPE_SAMPLES["int"]), "defaults"
    return None


def _texts(texts: Sequence[str]) -> list[str]:
    """Text samples: the code's own (`proposals.text_values`) first, then the plain ones."""
    return list(dict.fromkeys([*texts, *_TYPE_SAMPLES["str"]]))


def signature_inputs(
    func: ast.FunctionDef, limit: int, rng: random.Random, texts: Sequence[str] = ()
) -> Iterator[tuple[Args, str]]:
    """Inputs built from annotations, literal defaults and telling parameter names; `texts`:
    strings that hold what the code looks for (`proposals.text_values`), tried first for text.

    Parameters with a default that nothing else describes are left out of the call
    (the default is used); a required one that nothing describes gets integers.
    """
    per_param: list[tuple[list[Any], str]] = []
    usage = usage_types(func)
    for param, default in _positional(func.args):
        found = _candidates(param, default, usage, texts)
        if found is None:
            if default is not None:
                break  # the rest keep their defaults
            return
        per_param.append(found)
    required_kwonly = [
        a for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True) if d is None
    ]
    kw_values: dict[str, list[Any]] = {}
    for param in required_kwonly:
        found = _candidates(param, None, usage, texts)
        if found is None:
            return
        kw_values[param.arg] = found[0]
    if not per_param and not kw_values:
        return
    source = "annotations" if any(s == "annotations" for _, s in per_param) else "defaults"
    # The first tuple takes the first value of each parameter; the rest are random mixes.
    seen: set[str] = set()
    for i in range(limit * 4):
        if i == 0:
            args = [vals[0] for vals, _ in per_param]
            kwargs = {k: v[0] for k, v in kw_values.items()}
        else:
            args = [rng.choice(vals) for vals, _ in per_param]
            kwargs = {k: rng.choice(v) for k, v in kw_values.items()}
        key = repr((args, sorted(kwargs.items())))
        if key in seen:
            continue
        seen.add(key)
        yield (args, kwargs), source
        if len(seen) >= limit:
            return


# --- type-aware mutation of seeds ---------------------------------------------------------


def _mutate_int(v: int, rng: random.Random) -> int:
    return rng.choice([v + 1, v - 1, -v, v * 2, 0, v + rng.randint(-10, 10)])


def _mutate_float(v: float, rng: random.Random) -> float:
    return rng.choice([v + 0.5, -v, v * 2, 0.0, round(v / 3, 6)])


def _mutate_str(v: str, rng: random.Random) -> str:
    options = [v + v[:1], v[1:], v[::-1], v.upper(), v + " x", ""]
    if v:
        i = rng.randrange(len(v))
        options.append(v[:i] + rng.choice("aZ0 _-.") + v[i:])
    return rng.choice(options)


def _mutate_seq(v: list[Any], rng: random.Random) -> list[Any]:
    options: list[list[Any]] = [v[:-1], v + v[:1], list(reversed(v)), []]
    if v:
        i = rng.randrange(len(v))
        options.append([*v[:i], mutate_value(v[i], rng), *v[i + 1 :]])
    return rng.choice(options)


def _mutate_bytes(v: bytes, rng: random.Random) -> bytes:
    options = [v[:-1], v + v[:1], v[::-1], b"", v.upper()]
    if v:
        i = rng.randrange(len(v))
        options.append(v[:i] + bytes([(v[i] + rng.choice([1, 7, 128])) % 256]) + v[i + 1 :])
    return rng.choice(options)


def mutate_value(v: Any, rng: random.Random) -> Any:
    mutators: dict[type, Callable[[Any, random.Random], Any]] = {
        int: _mutate_int,
        float: _mutate_float,
        str: _mutate_str,
    }
    if isinstance(v, bool):
        return not v
    if type(v) in mutators:
        return mutators[type(v)](v, rng)
    if isinstance(v, list):
        return _mutate_seq(v, rng)
    if isinstance(v, tuple):
        return tuple(_mutate_seq(list(v), rng))
    if isinstance(v, bytes):
        return _mutate_bytes(v, rng)
    if isinstance(v, dict) and v:
        key = rng.choice(sorted(v, key=repr))
        return rng.choice([{k: x for k, x in v.items() if k != key}, {**v, key: mutate_value(v[key], rng)}])
    if (stream := stream_of(v)) is not None:  # an open in-memory file: a fresh one, contents mutated
        value = stream[1]
        return type(v)(_mutate_bytes(value, rng) if isinstance(value, bytes) else _mutate_str(value, rng))
    if isinstance(v, Construct) and v.args:  # an instance input: mutate one constructor argument
        i = rng.randrange(len(v.args))
        args = [*v.args[:i], mutate_value(v.args[i], rng), *v.args[i + 1 :]]
        return Construct(v.name, args, dict(v.kwargs))
    return v


def mutate(seed: Args, rng: random.Random) -> Args:
    """Mutate one argument (or one keyword) of a seed input."""
    args, kwargs = list(seed[0]), dict(seed[1])
    slots = len(args) + len(kwargs)
    if slots == 0:
        return args, kwargs
    pick = rng.randrange(slots)
    if pick < len(args):
        args[pick] = mutate_value(args[pick], rng)
    else:
        key = sorted(kwargs)[pick - len(args)]
        kwargs[key] = mutate_value(kwargs[key], rng)
    return args, kwargs
