"""Codec values as Python text, for prompts: `('x', None)`, `b''`, `{1, 2}`, never `{"__tuple__": ...}`.

A prompt shows a test's call and results to a model that reads Python, so the codec's tags
(`codemint.codec`) are written as the Python that builds the value. What has no Python
literal (an object known only by its state, a cut iterator, an opaque repr) is shown as a
clear `<...>` placeholder rather than as a tag.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from codemint.codec import JOB_MODULE

_FLOATS = {"nan": "float('nan')", "inf": "float('inf')", "-inf": "-float('inf')"}


def _float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _FLOATS["nan" if math.isnan(value) else "inf" if value > 0 else "-inf"]
    return repr(value)


def _type_name(name: Any) -> str:
    """A class of the row's own code without the sandbox's module name."""
    text = str(name)
    return text.removeprefix(f"{JOB_MODULE}.")


def _items(values: list[Any]) -> str:
    return ", ".join(python_text(v) for v in values)


def _raw(payload: Any) -> bytes:
    try:
        return base64.b64decode(str(payload), validate=True)
    except ValueError:
        return b"?"


def _tagged(tag: str, payload: Any) -> str:
    if tag == "__float__":
        return _FLOATS.get(str(payload), "float('nan')")
    if tag == "__tuple__":
        items = list(payload)
        return f"({python_text(items[0])},)" if len(items) == 1 else f"({_items(items)})"
    if tag == "__set__":
        return f"{{{_items(payload)}}}" if payload else "set()"
    if tag == "__frozenset__":
        return f"frozenset({{{_items(payload)}}})" if payload else "frozenset()"
    if tag == "__dict__":
        return "{" + ", ".join(f"{python_text(k)}: {python_text(v)}" for k, v in payload) + "}"
    if tag == "__bytes__":
        return repr(_raw(payload))
    if tag == "__bytearray__":
        return f"bytearray({_raw(payload)!r})"
    if tag == "__complex__":
        re_part, im_part = (python_text(p) for p in payload)
        return f"complex({re_part}, {im_part})"
    if tag == "__stream__":
        kind, contents, position = payload
        if contents is None:
            return "<closed file>"
        made = f"io.BytesIO({_raw(contents)!r})" if kind == "bytes" else f"io.StringIO({contents!r})"
        return made if not position else f"<{made} read up to position {position}>"
    if tag == "__fn__":
        return str(payload)
    if tag == "__new__":
        name, args, kwargs = payload
        parts = [python_text(a) for a in args] + [f"{k}={python_text(v)}" for k, v in kwargs]
        return f"{name}({', '.join(parts)})"
    if tag == "__iter__":
        return f"iter([{_items(payload)}])"
    if tag == "__iter_cut__":
        return f"<iterator yielding {_items(payload[0][:5])}, ... (more than {len(payload[0])} items)>"
    if tag == "__iter_raised__":
        items, exc_type, _ = payload
        return f"<iterator yielding [{_items(items)}], then raising {exc_type}>"
    if tag == "__cycle__":
        return "..."
    if tag == "__object__":
        name, pairs = payload
        if not pairs:
            return f"<{_type_name(name)} object>"
        shown = [python_text(v) if k == "__value__" else f"{k}={python_text(v)}" for k, v in pairs]
        return f"<{_type_name(name)} object: {', '.join(shown)}>"
    return "<value>"


def python_text(data: Any) -> str:
    """Python source for encoded data (`codemint.codec.encode_value`'s output, parsed)."""
    if isinstance(data, float):
        return _float(data)
    if data is None or isinstance(data, (bool, int, str)):
        return repr(data)
    if isinstance(data, list):
        return f"[{_items(data)}]"
    if isinstance(data, dict):
        if set(data) == {"__repr__", "__type__"}:
            return str(data["__repr__"])  # already Python's own text of the value
        if len(data) == 1:
            ((tag, payload),) = data.items()
            try:
                return _tagged(str(tag), payload)
            except (TypeError, ValueError, IndexError, KeyError):
                return "<value>"
    return "<value>"


def loads(text: str) -> Any:
    """Codec JSON text as data; a text that is not JSON stays a placeholder string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {"__repr__": "<value>", "__type__": "?"}


def value_text(text: str) -> str:
    """Python source for a value's codec JSON text."""
    return python_text(loads(text))


def arguments_text(args: list[Any], kwargs: dict[str, Any]) -> str:
    return ", ".join([python_text(a) for a in args] + [f"{k}={python_text(v)}" for k, v in kwargs.items()])


def _kwargs(data: Any) -> dict[str, Any]:
    """Keyword arguments: a JSON object, or a `__dict__` tag inside the harness's input."""
    if isinstance(data, dict) and list(data) == ["__dict__"]:
        return {str(k): v for k, v in data["__dict__"]}
    return dict(data) if isinstance(data, dict) else {}


def call_text(
    input_text: str, entry_point: str, sample_kind: str = "function", class_name: str | None = None
) -> str:
    """A test's call as Python: `f('a:b')`; for a method, `obj = C(...); obj.m(...)` (the
    harness's input is `[init_args, init_kwargs, args, kwargs]`)."""
    data = loads(input_text)
    args = data.get("args", []) if isinstance(data, dict) else []
    kwargs = _kwargs(data.get("kwargs", {})) if isinstance(data, dict) else {}
    if sample_kind in ("method", "property", "classmethod") and class_name and len(args) == 4:
        init = arguments_text(list(args[0]), _kwargs(args[1]))
        call = arguments_text(list(args[2]), _kwargs(args[3]))
        if sample_kind == "classmethod":
            return f"{class_name}.{entry_point}({call})"
        member = entry_point if sample_kind == "property" else f"{entry_point}({call})"
        return f"obj = {class_name}({init}); obj.{member}"
    return f"{entry_point}({arguments_text(list(args), kwargs)})"


def result_text(result: str, sample_kind: str = "function") -> str:
    """What a call returned, as prose with Python values; a method's harness result also says
    the instance's attributes afterwards."""
    data = loads(result)
    if sample_kind in ("method", "property", "classmethod"):
        pairs = data.get("__dict__") if isinstance(data, dict) else None
        fields = {k: v for k, v in pairs} if isinstance(pairs, list) else {}
        if "returned" in fields:
            returned = (
                "the instance itself" if fields["returned"] == "<self>" else python_text(fields["returned"])
            )
            state = _kwargs(fields.get("state", {}))
            after = ", ".join(
                f"obj.{k} == {'obj' if v == '<self>' else python_text(v)}" for k, v in state.items()
            )
            return f"returns {returned}" + (f" (afterwards {after})" if after else "")
    return f"returns {python_text(data)}"
