"""Instructions from executed examples, for code that has no words of its own.

A function (or a lifted closure) with no docstring and no documenting comment cannot be
summarized offline. Summarize keeps it with a provisional instruction (the signature) and
`instruction_source = "examples"`; after execution, execute states the task the way a
programming-by-example problem does: the signature and a few of the original's own calls with
their results (`>>> f(2, 3)` / `5`). The shown calls are real tests of the row, and the
other tests still verify; an iterator that ends is shown as `list(f(...))` and its items.
A row is kept only when at least `MIN_SHOWN` examples read back as Python literals and their
results differ (a constant shown twice specifies nothing), and when its behaviour is its
return value (no stdout or argument state to compare, which examples of results would not
show). Methods are left out: their tests also compare the instance's state.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from codemint.codec import decode_input, decode_value
from codemint.records import TestCase

PENDING = "examples"  # instruction_source of rows whose instruction execute writes
KINDS = {"function", "lifted"}  # sample kinds whose tests compare only what a call returns
SHOWN = 3  # examples of normal returns in the instruction
MIN_SHOWN = 2
MAX_EXAMPLE_CHARS = 160  # one call and its result; longer ones are skipped, not truncated


def _literal(value: Any) -> str | None:
    """`repr(value)` when it reads back as an equal literal, else None."""
    text = repr(value)
    try:
        back = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return text if type(back) is type(value) and back == value else None


def _arguments(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    parts = [_literal(a) for a in args] + [
        None if (text := _literal(v)) is None else f"{k}={text}" for k, v in kwargs.items()
    ]
    return None if any(p is None for p in parts) else ", ".join(p for p in parts if p)


def _decoded(input_text: str) -> tuple[list[Any], dict[str, Any]] | None:
    try:
        return decode_input(input_text)
    except ValueError:
        return None


def call_text(input_text: str, entry_point: str) -> str | None:
    """The test's call as Python source, or None when an argument is not a literal."""
    decoded = _decoded(input_text)
    shown = None if decoded is None else _arguments(*decoded)
    return None if shown is None else f"{entry_point}({shown})"


def _result(expected: str) -> tuple[Any, str | None, bool]:
    """(value, its literal text, whether it was a finished iterator shown as its items)."""
    try:
        data = json.loads(expected)
        if isinstance(data, dict) and list(data) == ["__iter__"]:
            items = decode_value(data["__iter__"])  # a generator's items: shown via list(...)
            return items, _literal(items), True
        value = decode_value(data)
    except (ValueError, RecursionError):
        return None, None, False  # objects, cut iterators and reprs are not literals
    return value, _literal(value), False


def _blank(value: Any) -> bool:
    """Zero, empty, None or False, or a container of only such values: an example made of
    these shows an edge, not what the function does."""
    if isinstance(value, dict):
        return all(_blank(k) and _blank(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_blank(v) for v in value)
    return value is None or (isinstance(value, int | float | str | bytes) and not value)


def examples(cases: list[TestCase], entry_point: str) -> list[str]:
    """Up to SHOWN doctest-style examples of normal returns, then one raised exception if
    there is one. Distinct results first; among them, calls whose arguments and result are not
    all blank, then the shortest."""
    ranked: list[tuple[tuple[bool, bool, int], str, str]] = []
    for case in cases:
        if case.expected is None:
            continue
        decoded = _decoded(case.input)
        call = call_text(case.input, entry_point)
        value, result, iterated = _result(case.expected)
        if decoded is None or call is None or result is None or len(call) + len(result) > MAX_EXAMPLE_CHARS:
            continue
        call = f"list({call})" if iterated else call
        blank_args = all(_blank(v) for v in [*decoded[0], *decoded[1].values()])
        ranked.append(((_blank(value), blank_args, len(call) + len(result)), call, result))
    ranked.sort(key=lambda item: item[0])
    picked: list[tuple[str, str]] = []
    for _rank, call, result in ranked:  # distinct results first: they say more about the function
        if len(picked) < SHOWN and all(result != r for _c, r in picked):
            picked.append((call, result))
    for _rank, call, result in ranked:
        if len(picked) < SHOWN and (call, result) not in picked:
            picked.append((call, result))
    if len(picked) < MIN_SHOWN or len({r for _c, r in picked}) < 2:
        return []
    lines = [f">>> {call}\n{result}" for call, result in picked]
    for case in cases:
        if case.exception is not None:
            call = call_text(case.input, entry_point)
            if call is not None and len(call) <= MAX_EXAMPLE_CHARS:
                lines.append(f">>> {call}\nraises {case.exception}")
                break
    return lines


def example_doc(cases: list[TestCase], entry_point: str) -> str | None:
    """The docstring-like text an examples instruction is made of, or None when the examples
    do not specify the behaviour (see the module docstring)."""
    if any(c.stdout is not None or c.args_after is not None for c in cases):
        return None
    lines = examples(cases, entry_point)
    if not lines:
        return None
    return "It behaves as in these examples:\n\n" + "\n".join(lines)
