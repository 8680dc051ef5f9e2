"""Which exceptions a row's tests may expect: those its prompt states.

A test that expects an exception is fair only when the prompt defines or names its class:
the code's own classes (shown as the prompt's context), a name in the instruction ("raises
StatisticsError if data is empty"), or what the special method's protocol implies
(`__getitem__` raises KeyError or IndexError). A TypeError or AttributeError that junk input
provokes deep inside the code, or a ValueError the docstring never mentions, is none of
these: a correct alternative may fail another way, or not at all, so such tests reject
correct solutions and are dropped (counted) by execute. The same rule applies
to an error a generator raises while it is consumed (`__iter_raised__`).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from codemint import safe_ast

# Exceptions the data model asks of a special method (codemint/samples.py PROTOCOL).
_PROTOCOL = {
    "__getitem__": {"KeyError", "IndexError"},
    "__delitem__": {"KeyError", "IndexError"},
    "__missing__": {"KeyError"},
    "__next__": {"StopIteration"},
}


@functools.lru_cache(maxsize=512)
def defined_classes(code: str) -> frozenset[str]:
    """Names of the classes the code defines (its own exception classes among them)."""
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset()
    return frozenset(node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef))


def stated(exc_type: str, code: str, prompt: str, entry_point: str) -> bool:
    """Whether the prompt defines or names `exc_type` (a codec type name): a class of the code
    (shown as the prompt's context), a name in the prompt's words, or the protocol's."""
    name = exc_type.rsplit(".", 1)[-1]
    if name in defined_classes(code) or name in _PROTOCOL.get(entry_point, ()):
        return True
    return re.search(rf"\b{re.escape(name)}\b", prompt) is not None


def _raised_inside(data: Any) -> Iterator[str]:
    """Exception types of the encoded iterators that raised while consumed."""
    if isinstance(data, list):
        for item in data:
            yield from _raised_inside(item)
    elif isinstance(data, dict):
        for tag, payload in data.items():
            if tag == "__iter_raised__" and isinstance(payload, list) and len(payload) == 3:
                if isinstance(payload[1], str):
                    yield payload[1]
                yield from _raised_inside(payload[0])
            else:
                yield from _raised_inside(payload)


def unstated_exception(
    exception: str | None, expected: str | None, code: str, prompt: str, entry_point: str
) -> str | None:
    """The exception a test expects (raised, or raised inside a returned iterator) that the
    prompt does not state, else None."""
    raised = [exception] if exception is not None else []
    if expected is not None and "__iter_raised__" in expected:
        raised.extend(_raised_inside(json.loads(expected)))
    for exc_type in raised:
        if not stated(exc_type, code, prompt, entry_point):
            return exc_type
    return None
