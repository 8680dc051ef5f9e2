"""The value codec: how values are written, carried and compared, on the host and in the sandbox.

Standard library only and importable on its own: the sandbox runner imports it inside the
container and the local backend (staged beside runner.py), and every host stage imports it
as `codemint.codec`. It is the single definition of the format; there is no second copy.

`encode_value` turns a value into JSON-able data in which every JSON object is a tag
(`{"__tuple__": [...]}`, `{"__dict__": [[k, v], ...]}`, ...); `canonical_json` is its
canonical text, so equal values of the same types give equal strings. `decode_value` /
`decode_input` turn the tags that can be inputs back into values. Input text (`encode_input`)
keeps dicts in insertion order, so a function gets its dict arguments in the test's order;
results and argument states (`encode_state`) have dicts in canonical key order.
Whether two values are equal for a test is decided by `codemint.verdict`, host side.
"""

from __future__ import annotations

import base64
import builtins
import enum
import hashlib
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

ITER_LIMIT = 1000
# Items of a longer iterator beyond ITER_LIMIT are consumed up to this many more and hashed,
# so a result that goes wrong after the first ITER_LIMIT items still differs.
ITER_HASH_LIMIT = 10_000
# Instances nested deeper than this (an object in an attribute of an object ...) keep only
# their type: linked structures and cycles end there.
OBJECT_DEPTH = 6
# The module job code runs as (its classes are encoded by state whatever their repr says).
JOB_MODULE = "__codemint__"
REPR_LIMIT = 1000
MESSAGE_LIMIT = 2000
MAX_DEPTH = 200
# Above this many bits CPython's default int->str limit (4300 digits) would fail.
BIG_INT_BITS = 14_000

# Bound once at import so code that patches builtins, json or the type objects' lookups in
# the child cannot change how its return value is encoded.
_type = builtins.type
_id = builtins.id
_repr = builtins.repr
_len = builtins.len
_sorted = builtins.sorted
_hasattr = builtins.hasattr
_next = builtins.next
_float_is_nan = math.isnan
_float_is_inf = math.isinf
_b64encode = base64.b64encode
_b64decode = base64.b64decode
_sha256 = hashlib.sha256
_json_loads = json.loads
_dict_items = dict.items
_int_bit_length = int.bit_length
_ADDR_RE = re.compile(r"\bat 0x[0-9a-fA-F]+")
_enc_str = json.encoder.encode_basestring
_enc_str_ascii = json.encoder.encode_basestring_ascii
_object_repr = object.__repr__
_object_getattribute = object.__getattribute__
_type_getattribute = type.__getattribute__
_mappingproxy = type(type.__dict__)
_mappingproxy_get = _mappingproxy.get
_mappingproxy_items = _mappingproxy.items
# A type's own namespace and MRO, read through type's descriptors (a metaclass cannot fake them),
# and the descriptors instance state lives behind: slots and the instance dict.
_type_dict = type.__dict__["__dict__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_member_descriptor = _type(type.__dict__["__mro__"])
_member_get = _member_descriptor.__get__
_getset_descriptor = _type(type.__dict__["__dict__"])
_getset_get = _getset_descriptor.__get__
_int_repr = int.__repr__
_Enum = enum.Enum
_float_repr = float.__repr__
# In-memory files: what code that reads or writes a file object takes as an input.
_BytesIO = io.BytesIO
_StringIO = io.StringIO
_bytesio_getvalue = io.BytesIO.getvalue
_stringio_getvalue = io.StringIO.getvalue
_bytesio_tell = io.BytesIO.tell
_stringio_tell = io.StringIO.tell
# Restored in the child before encoding, so a job that rebinds builtins.isinstance & co.
# cannot change the serializer's behaviour.
_BUILTINS_SNAPSHOT = dict(builtins.__dict__)
# Builtins an input may pass as a function argument (a key, a predicate, a mapper): pure,
# deterministic, no I/O, no access to objects beyond their arguments. `{"__fn__": name}`.
FUNCTION_NAMES = (
    "bool", "str", "abs", "len", "sorted", "repr", "int", "sum", "tuple", "float", "list", "max",
    "min", "reversed", "set",
)  # fmt: skip
_FUNCTIONS = {name: _BUILTINS_SNAPSHOT[name] for name in FUNCTION_NAMES}
_FUNCTION_IDS = {id(f): name for name, f in _FUNCTIONS.items()}
_function_types = (type(len), type)


def type_name(tp: type) -> str:
    """`ValueError` for builtins, `module.QualName` for everything else."""
    try:
        module = tp.__module__
        qual = tp.__qualname__
    except Exception:
        return "<unknown>"
    if _type(qual) is not str or _type(module) is not str:
        return "<unknown>"
    if module == "builtins":
        return qual
    return f"{module}.{qual}"


def _truncate(text: str, limit: int) -> str:
    if _len(text) <= limit:
        return text
    # Keep truncated texts distinct: two different long reprs must not compare equal.
    digest = _sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{text[:limit]}...<{_len(text)} chars, sha256 {digest}>"


def _repr_form(obj: Any) -> dict[str, Any]:
    tname = type_name(_type(obj))
    try:
        text = _repr(obj)
        if _type(text) is not str:
            text = str.__str__(text)
    except BaseException:
        text = f"<unrepresentable {tname}>"
    text = _ADDR_RE.sub("at 0x", text)
    return {"__repr__": _truncate(text, REPR_LIMIT), "__type__": tname}


def _big_int_form(obj: int) -> dict[str, Any]:
    digits = hex(obj)
    digest = _sha256(digits.encode("ascii")).hexdigest()[:32]
    return {"__repr__": f"<int {_int_bit_length(obj)} bits, sha256 {digest}>", "__type__": "int"}


def _dump(data: Any, ascii_only: bool) -> str:
    """json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only) for the
    exact types the encoder produces, using only C-level helpers bound at import (json's
    Python layer consults builtins that a job may have replaced)."""
    t = _type(data)
    if t is str:
        return _enc_str_ascii(data) if ascii_only else _enc_str(data)
    if data is None:
        return "null"
    if t is bool:
        return "true" if data else "false"
    if t is int:
        return _int_repr(data)
    if t is float:
        return _float_repr(data)
    if t is list:
        return "[" + ",".join([_dump(x, ascii_only) for x in data]) + "]"
    if t is dict:
        keys = _sorted(data)
        enc = _enc_str_ascii if ascii_only else _enc_str
        return "{" + ",".join([enc(k) + ":" + _dump(data[k], ascii_only) for k in keys]) + "}"
    raise TypeError(f"cannot serialize {t!r}")


def _canon(data: Any) -> str:
    return _dump(data, False)


def _encode_float(obj: float) -> Any:
    if _float_is_nan(obj):
        return {"__float__": "nan"}
    if _float_is_inf(obj):
        return {"__float__": "inf" if obj > 0 else "-inf"}
    return obj


class Construct:
    """An input that is an instance of a class the job's code defines (a dataclass, a
    NamedTuple ...): `{"__new__": [class name, [args], [[keyword, value], ...]]}`. The sandbox
    builds it by calling the class after the code has run; on the host it stays this
    placeholder, which encodes back to the same tag."""

    __slots__ = ("args", "kwargs", "name")

    def __init__(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def __eq__(self, other: object) -> bool:
        return _type(other) is Construct and canonical_json(self) == canonical_json(other)

    def __hash__(self) -> int:
        return hash(canonical_json(self))

    def __repr__(self) -> str:
        parts = [_repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def _encode(
    obj: Any, depth: int, od: int = 0, active: dict[int, int] | None = None, ordered: bool = False
) -> Any:
    """`active`: the containers being encoded on the way down to `obj` (id -> depth), so a
    container that holds itself is written as `{"__cycle__": levels up}` instead of being
    followed around its cycle (a doubly linked list would branch at every cell).
    `ordered`: dicts keep their insertion order (inputs) instead of the canonical key order."""
    t = _type(obj)
    if obj is None or t is bool or t is str:
        return obj
    if active is None:
        active = {}
    if t is Construct:
        d = depth + 1
        kw = [[k, _encode(v, d, od, active, ordered)] for k, v in _sorted(obj.kwargs.items())]
        return {"__new__": [obj.name, [_encode(a, d, od, active, ordered) for a in obj.args], kw]}
    if depth > MAX_DEPTH:
        return _repr_form(obj)
    try:
        if t is int:
            return _big_int_form(obj) if _int_bit_length(obj) > BIG_INT_BITS else obj
        if t is float:
            return _encode_float(obj)
        if t is bytes:
            return {"__bytes__": _b64encode(obj).decode("ascii")}
        if t is bytearray:
            return {"__bytearray__": _b64encode(bytes(obj)).decode("ascii")}
        if t is complex:
            return {"__complex__": [_encode_float(obj.real), _encode_float(obj.imag)]}
        if t is _BytesIO or t is _StringIO:
            return _encode_stream(obj, t)
        if t is _function_types[0] or t is _function_types[1]:  # `in` would call a metaclass's __eq__
            name = _FUNCTION_IDS.get(_id(obj))
            if name is not None and _FUNCTIONS[name] is obj:
                return {"__fn__": name}
        key = _id(obj)
        if key in active:
            return {"__cycle__": depth - active[key]}
        active[key] = depth
        try:
            return _encode_container(obj, t, depth + 1, od, active, ordered)
        finally:
            del active[key]
    except BaseException:
        pass
    return _repr_form(obj)


def _encode_stream(obj: Any, t: type) -> Any:
    """`{"__stream__": ["bytes" | "text", contents, position]}` for an in-memory file (bytes
    as base64); a closed one is `{"__stream__": [kind, null, null]}`."""
    kind = "bytes" if t is _BytesIO else "text"
    try:
        if t is _BytesIO:
            contents, position = _b64encode(_bytesio_getvalue(obj)).decode("ascii"), _bytesio_tell(obj)
        else:
            contents, position = _stringio_getvalue(obj), _stringio_tell(obj)
    except ValueError:  # closed
        return {"__stream__": [kind, None, None]}
    return {"__stream__": [kind, contents, position]}


def _decode_stream(payload: Any) -> Any:
    parts = _expect_list("__stream__", payload)
    if _len(parts) != 3 or parts[0] not in ("bytes", "text"):
        raise ValueError('__stream__ expects ["bytes" | "text", contents, position]')
    kind, contents, position = parts
    if contents is None and position is None:
        closed = _BytesIO() if kind == "bytes" else _StringIO()
        closed.close()
        return closed
    if _type(contents) is not str or _type(position) is not int or position < 0:
        raise ValueError("__stream__ expects text contents and a position >= 0")
    stream: Any
    if kind == "bytes":
        stream = _BytesIO(_b64decode(contents.encode("ascii", "strict"), validate=True))
    else:
        stream = _StringIO(contents)
    stream.seek(position)
    return stream


def _encode_container(
    obj: Any, t: type, d: int, od: int, active: dict[int, int], ordered: bool = False
) -> Any:
    if t is list:
        return [_encode(x, d, od, active, ordered) for x in list.copy(obj)]
    if t is tuple:
        return {"__tuple__": [_encode(x, d, od, active, ordered) for x in obj]}
    if t is set or t is frozenset:
        items = _sorted((_encode(x, d, od, active, ordered) for x in obj), key=_canon)
        return {"__set__" if t is set else "__frozenset__": items}
    if t is dict:
        pairs = [
            [_encode(k, d, od, active, ordered), _encode(v, d, od, active, ordered)]
            for k, v in list(_dict_items(obj))
        ]
        if not ordered:  # a result's dict: key order is no part of its value (==)
            pairs.sort(key=lambda kv: _canon(kv[0]))
        return {"__dict__": pairs}
    if _hasattr(t, "__next__"):
        return _encode_iterator(obj, d, od, active)
    if _is_plain_instance(t):
        return _object_form(obj, t, d, od, active)
    return _repr_form(obj)


def _encode_iterator(obj: Any, d: int, od: int, active: dict[int, int]) -> Any:
    """`{"__iter__": items}` when the iterator ends within ITER_LIMIT items;
    `{"__iter_raised__": [items, exception type, message]}` when it raises instead of ending
    (a generator's error surfaces only as it is consumed); else
    `{"__iter_cut__": [first items, more items seen, sha256 of their text, ended]}`, which
    never equals a complete one and differs when any later item (up to the hash cap) does."""
    items: list[Any] = []
    for _ in range(ITER_LIMIT):
        try:
            item = _next(obj)
        except StopIteration:
            return {"__iter__": items}
        except MemoryError:
            raise
        except Exception as exc:
            return {"__iter_raised__": [items, type_name(_type(exc)), exc_message(exc)]}
        items.append(_encode(item, d, od, active))
    digest = _sha256()
    more = 0
    ended = False
    for i in range(ITER_HASH_LIMIT):
        try:
            item = _next(obj)
        except StopIteration:
            if i == 0:
                return {"__iter__": items}  # exactly ITER_LIMIT items: complete
            ended = True
            break
        except MemoryError:
            raise
        except Exception as exc:  # raised past the shown items: part of the digest
            digest.update(
                f"raised {type_name(_type(exc))}: {exc_message(exc)}".encode("utf-8", "surrogatepass")
            )
            ended = True
            break
        more += 1
        digest.update(_canon(_encode(item, d, od, active)).encode("utf-8", "surrogatepass") + b"\n")
    return {"__iter_cut__": [items, more, digest.hexdigest(), ended]}


def _is_plain_instance(t: type) -> bool:
    """Instances whose repr says nothing about their state (object's default repr), and every
    instance of a class the job defined: these are encoded by type and state."""
    try:
        if _type_getattribute(t, "__module__") == JOB_MODULE:
            return True
        return _type_getattribute(t, "__repr__") is _object_repr
    except BaseException:
        return False


def _mro(t: type) -> tuple[type, ...]:
    try:
        mro = _type_mro(t)
    except BaseException:
        return ()
    return mro if _type(mro) is tuple else ()


def _derives(mro: tuple[type, ...], base: type) -> bool:
    # By identity: `base in mro` would call a metaclass's __eq__.
    return any(klass is base for klass in mro)


def _instance_state(obj: Any, mro: tuple[type, ...], public_only: bool = False) -> list[tuple[str, Any]]:
    """The instance's state: its filled slots along the MRO and its instance dict (private
    names included: `NormalDist` keeps `_mu` and `_sigma` in slots), sorted by name. Read
    through the C-level descriptors themselves, so no hook of the class (`__getattribute__`,
    a property shadowing a slot or `__dict__`, a metaclass) runs and none can forge it."""
    state: dict[str, Any] = {}
    inst: Any = None
    for klass in mro:
        try:
            namespace = _type_dict(klass)
            if _type(namespace) is not _mappingproxy:
                continue
            if inst is None:
                found = _mappingproxy_get(namespace, "__dict__")
                if _type(found) is _getset_descriptor:  # not a property standing in for it
                    found = _getset_get(found, obj)
                    inst = found if _type(found) is dict else None
            if _mappingproxy_get(namespace, "__slots__") is None:
                continue
            entries = list(_mappingproxy_items(namespace))
        except BaseException:
            continue
        # A slot's member descriptor sits in its class's namespace under the mangled name, however
        # `__slots__` was spelled (a str, a sequence, a dict of docstrings as in NormalDist).
        for name, value in entries:
            if _type(value) is not _member_descriptor or _type(name) is not str or name in state:
                continue
            try:
                state[name] = _member_get(value, obj)
            except BaseException:
                continue  # an empty slot (or a descriptor of another class)
    if inst is not None:
        for name, value in list(_dict_items(inst)):
            if _type(name) is str and name not in state:  # a slot wins, as in attribute access
                state[name] = value
    if public_only:
        return _sorted((k, v) for k, v in _dict_items(state) if not k.startswith("_"))
    return _sorted(_dict_items(state))


# The contents of an instance of a subclass of a built-in type (a NamedTuple, a list or dict
# subclass), read through the base type's own methods so the subclass's hooks are bypassed.
_BASE_VALUE: list[tuple[type, Any]] = [
    (tuple, lambda o: tuple.__getitem__(o, slice(None))),
    (list, list.copy),
    (dict, dict.copy),
    (set, set.copy),
    (frozenset, frozenset.copy),
    (str, str.__str__),
    (int, int.__index__),
    (float, float.__float__),
    (bytes, lambda o: bytes.__getitem__(o, slice(None))),
    (bytearray, lambda o: bytes(bytearray.__getitem__(o, slice(None)))),
]


def _base_value(obj: Any, t: type) -> tuple[bool, Any]:
    mro = _mro(t)
    if _derives(mro, _Enum):  # members differ by name only (their attributes are private)
        return True, _object_getattribute(obj, "_name_")
    for base, read in _BASE_VALUE:
        if _derives(mro, base):
            return True, read(obj)
    return False, None


def _object_form(obj: Any, t: type, d: int, od: int, active: dict[int, int]) -> Any:
    """`{"__object__": [type name, [[attribute, value], ...]]}`; past OBJECT_DEPTH nested
    instances, `{"__object__": [type name, null]}`. An instance of a subclass of a built-in
    type (a NamedTuple, say) also carries its contents as the pseudo-attribute `__value__`."""
    tname = type_name(t)
    if od >= OBJECT_DEPTH:
        return {"__object__": [tname, None]}
    has_base, value = _base_value(obj, t)
    mro = _mro(t)
    # An enum member is its name; its private attributes are the enum's machinery.
    state = _instance_state(obj, mro, public_only=_derives(mro, _Enum))
    pairs = [[name, _encode(value, d, od + 1, active)] for name, value in state]
    if has_base:
        pairs.insert(0, ["__value__", _encode(value, d, od + 1, active)])
    return {"__object__": [tname, pairs]}


def encode_value(obj: Any) -> Any:
    """Encode a Python value as JSON-able data; every JSON object in the result is a tag."""
    return _encode(obj, 0)


def canonical_json(obj: Any) -> str:
    """Canonical text of a value: equal values of the same types give equal strings."""
    return _canon(encode_value(obj))


_FLOAT_TAGS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _expect_list(tag: str, payload: Any) -> list[Any]:
    if _type(payload) is not list:
        raise ValueError(f"{tag} expects a list")
    return payload


# Builds a `__new__` input: (class name, args, kwargs) -> the instance.
Constructor = Callable[[str, list[Any], dict[str, Any]], Any]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def constructor_for(namespace: dict[str, Any]) -> Constructor:
    """Builds `__new__` inputs in the sandbox, after the job's code ran in `namespace`: only
    classes that code defines (module JOB_MODULE) can be called, never a builtin or import."""

    def build(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        cls = namespace.get(name)
        if not isinstance(cls, type) or getattr(cls, "__module__", None) != JOB_MODULE:
            raise TypeError(f"cannot construct {name!r}: not a class of the code")
        return cls(*args, **kwargs)

    return build


def _decode_construct(payload: Any, construct: Constructor | None) -> Any:
    parts = _expect_list("__new__", payload)
    if _len(parts) != 3 or _type(parts[0]) is not str or not _IDENTIFIER.match(parts[0]):
        raise ValueError("__new__ expects [class name, [args], [[keyword, value], ...]]")
    args = [decode_value(a, construct) for a in _expect_list("__new__", parts[1])]
    kwargs: dict[str, Any] = {}
    for pair in _expect_list("__new__", parts[2]):
        if _type(pair) is not list or _len(pair) != 2 or _type(pair[0]) is not str:
            raise ValueError("__new__ expects [keyword, value] pairs")
        kwargs[pair[0]] = decode_value(pair[1], construct)
    if construct is None:
        return Construct(parts[0], args, kwargs)
    return construct(parts[0], args, kwargs)


def decode_value(data: Any, construct: Constructor | None = None) -> Any:
    """Inverse of `encode_value` for values that can be inputs (no iterators, reprs, objects).
    `__new__` tags become `Construct` placeholders, or instances when `construct` is given;
    `__stream__` tags become fresh `io.BytesIO` / `io.StringIO` objects at their position."""
    t = _type(data)
    if data is None or t in (bool, int, str):
        return data
    if t is float:
        return data
    if t is list:
        return [decode_value(x, construct) for x in data]
    if t is not dict:
        raise ValueError(f"cannot decode JSON {t.__name__}")
    if _len(data) != 1:
        raise ValueError(f"not a codec tag: {sorted(data)[:3]}")
    ((tag, payload),) = data.items()
    if tag == "__float__":
        if payload not in _FLOAT_TAGS:
            raise ValueError(f"bad __float__ payload {payload!r}")
        return _FLOAT_TAGS[payload]
    if tag == "__tuple__":
        return tuple(decode_value(x, construct) for x in _expect_list(tag, payload))
    if tag in ("__set__", "__frozenset__"):
        try:
            items = {decode_value(x, construct) for x in _expect_list(tag, payload)}
        except TypeError as exc:
            raise ValueError(f"unhashable item in {tag}: {exc}") from None
        return items if tag == "__set__" else frozenset(items)
    if tag == "__dict__":
        out = {}
        for pair in _expect_list(tag, payload):
            if _type(pair) is not list or _len(pair) != 2:
                raise ValueError("__dict__ expects [key, value] pairs")
            try:
                out[decode_value(pair[0], construct)] = decode_value(pair[1], construct)
            except TypeError as exc:
                raise ValueError(f"unhashable dict key: {exc}") from None
        return out
    if tag in ("__bytes__", "__bytearray__"):
        if _type(payload) is not str:
            raise ValueError(f"{tag} expects base64 text")
        raw = _b64decode(payload.encode("ascii", "strict"), validate=True)
        return raw if tag == "__bytes__" else bytearray(raw)
    if tag == "__new__":
        return _decode_construct(payload, construct)
    if tag == "__stream__":
        return _decode_stream(payload)
    if tag == "__fn__":
        if _type(payload) is not str or payload not in _FUNCTIONS:
            raise ValueError(f"__fn__ names no allowed builtin: {payload!r:.40}")
        return _FUNCTIONS[payload]
    if tag == "__complex__":
        parts = [decode_value(x, construct) for x in _expect_list(tag, payload)]
        if _len(parts) != 2 or not all(_type(p) in (int, float) for p in parts):
            raise ValueError("__complex__ expects [re, im]")
        return complex(parts[0], parts[1])
    if tag in ("__iter__", "__iter_cut__", "__iter_raised__", "__repr__", "__object__", "__cycle__"):
        raise ValueError(f"{tag} values cannot be used as inputs")
    raise ValueError(f"unknown codec tag {tag!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def decode_input(text: str, construct: Constructor | None = None) -> tuple[list[Any], dict[str, Any]]:
    """Parse one input, JSON text of {"args": [...], "kwargs": {...}}, into Python values
    (`__new__` tags: see `decode_value`)."""
    try:
        data = _json_loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("input nested too deeply") from None
    if _type(data) is not dict:
        raise ValueError("input must be a JSON object")
    extra = set(data) - {"args", "kwargs"}
    if extra:
        raise ValueError(f"unexpected input keys: {sorted(extra)}")
    raw_args = data.get("args", [])
    raw_kwargs = data.get("kwargs", {})
    if _type(raw_args) is not list or _type(raw_kwargs) is not dict:
        raise ValueError("args must be a list and kwargs an object")
    try:
        args = [decode_value(a, construct) for a in raw_args]
        kwargs = {str(k): decode_value(v, construct) for k, v in raw_kwargs.items()}
    except RecursionError:
        raise ValueError("input nested too deeply") from None
    return args, kwargs


def encode_input(args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str:
    """Input text for `decode_input`: canonical, except that dicts and the keyword arguments
    keep their insertion order, so a function that iterates a dict argument (or **kwargs) sees
    the test's order (`decode_input` keeps it)."""
    parts = [_canon(_encode(a, 0, ordered=True)) for a in args]
    named = [_enc_str(k) + ":" + _canon(_encode(v, 0, ordered=True)) for k, v in (kwargs or {}).items()]
    return '{"args":[' + ",".join(parts) + '],"kwargs":{' + ",".join(named) + "}}"


def encode_state(args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str:
    """The arguments' state after a call, as input text with dicts in canonical key order (as
    in results): the order a call inserts keys in can follow the hash seed (a set's order), and
    a state, like a result, is compared regardless of dict order."""
    data = {
        "args": [encode_value(a) for a in args],
        "kwargs": {k: encode_value(v) for k, v in (kwargs or {}).items()},
    }
    return _canon(data)


def restore_builtins() -> None:
    """Put back the builtins as they were at import (a job may have rebound isinstance & co.)."""
    builtins.__dict__.update(_BUILTINS_SNAPSHOT)


def exc_message(exc: BaseException) -> str:
    """str(exc) without addresses, truncated; never raises whatever the exception does."""
    try:
        text = str(exc)
        if _type(text) is not str:
            text = str.__str__(text)
    except BaseException:
        try:
            text = _repr(exc)
        except BaseException:
            text = ""
    return _truncate(_ADDR_RE.sub("at 0x", text), MESSAGE_LIMIT)


def canonical_text(data: Any) -> str:
    """Canonical text of data that is already encoded (codec output, or tags composed of it)."""
    return _canon(data)


def dump_ascii(data: Any) -> str:
    """Canonical ASCII JSON of codec output or plain protocol data (no Python json layer)."""
    return _dump(data, True)
