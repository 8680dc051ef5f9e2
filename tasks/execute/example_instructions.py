"""Instructions from executed examples, for code that has no words of its own.

Code with no docstring, no documenting comment and (for a method) no documented base method
or special-method contract cannot be summarized offline. Summarize keeps it with a
provisional instruction (the signature) and `instruction_source = "examples"`; after
execution, execute states the task the way a programming-by-example problem does: the
signature and a few of the original's own calls with their results (`>>> f(2, 3)` / `5`).
The shown calls are real tests of the row, and the other tests still verify. An iterator that
ends is shown as `list(f(...))` and its items. A method's example builds the instance
(`>>> obj = C(...)`), calls the method, and shows each attribute its tests compare afterwards
(`>>> obj.total`): with context prompts those the prompt's context shows, not all of `vars(obj)`.

A row is kept only when at least `MIN_SHOWN` examples read back as Python literals and their
results differ (a constant shown twice specifies nothing, nor does a method that returns the
same on instances built differently). Calls that print or change their arguments are not
shown: examples of results would not show what they do.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

from codemint.codec import decode_input, decode_value
from codemint.records import TestCase
from codemint.samples import CLASS_KINDS

PENDING = "examples"  # instruction_source of rows whose instruction execute writes
KINDS = {"function", "lifted", *CLASS_KINDS}
SHOWN = 3  # examples of normal returns in the instruction
MIN_SHOWN = 2
MAX_EXAMPLE_CHARS = 160  # one call and its result; longer ones are skipped, not truncated


def _text(value: Any) -> str:
    """`repr(value)`, but a set's items in sorted order: its own order follows the process's
    hash seed, and the same row must show the same text on every run."""
    if isinstance(value, set | frozenset) and value:
        items = ", ".join(sorted(_text(v) for v in value))
        return f"{{{items}}}" if isinstance(value, set) else f"frozenset({{{items}}})"
    if isinstance(value, list):
        return f"[{', '.join(_text(v) for v in value)}]"
    if isinstance(value, tuple):
        return f"({_text(value[0])},)" if len(value) == 1 else f"({', '.join(_text(v) for v in value)})"
    if isinstance(value, dict):
        return f"{{{', '.join(f'{_text(k)}: {_text(v)}' for k, v in value.items())}}}"
    return repr(value)


def _literal(value: Any) -> str | None:
    """`_text(value)` when it reads back as an equal literal, else None."""
    text = _text(value)
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


def _call_lines(
    decoded: tuple[list[Any], dict[str, Any]] | None, entry_point: str, kind: str, class_name: str | None
) -> list[str] | None:
    """The doctest lines of a test's call (decoded input): one for a function, the instance's
    construction and the call for a method (the harness's `[init_args, init_kwargs, args, kwargs]`)."""
    if decoded is None:
        return None
    if kind not in CLASS_KINDS or class_name is None:
        shown = _arguments(*decoded)
        return None if shown is None else [f">>> {entry_point}({shown})"]
    if len(decoded[0]) != 4:
        return None
    init_args, init_kwargs, args, kwargs = decoded[0]
    if not (isinstance(init_args, list) and isinstance(args, list)):
        return None
    if not (isinstance(init_kwargs, dict) and isinstance(kwargs, dict)):
        return None
    init, call = _arguments(init_args, init_kwargs), _arguments(args, kwargs)
    if init is None or call is None:
        return None
    if kind == "classmethod":
        return [f">>> {class_name}.{entry_point}({call})"]
    built = f">>> obj = {class_name}({init})"
    return [built, f">>> obj.{entry_point}" if kind == "property" else f">>> obj.{entry_point}({call})"]


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


def _shape(value: Any, depth: int = 3) -> str:
    """The types a result is made of, e.g. `tuple(str,NoneType)`: results of another shape
    (None where the others hold text, a float among ints, an empty list) are behaviours the
    tests check that examples of one shape would leave unstated."""
    name = type(value).__name__
    if depth == 0:
        return name
    if isinstance(value, tuple):  # a tuple's items by position: (str, None) is not (str, str)
        return f"{name}({','.join(_shape(v, depth - 1) for v in value)})"
    if isinstance(value, list | set | frozenset):
        return f"{name}[{','.join(sorted({_shape(v, depth - 1) for v in value}))}]"
    if isinstance(value, dict):
        keys = sorted({_shape(k, depth - 1) for k in value})
        values = sorted({_shape(v, depth - 1) for v in value.values()})
        return f"{name}[{','.join(keys)}:{','.join(values)}]"
    return name


@dataclass(frozen=True)
class _Example:
    lines: tuple[str, ...]  # the call's lines, its result, and for a method the state after
    result: str  # what distinct examples must differ in: the returned value
    shape: str  # the types the returned value (and a method's state) is made of
    rank: tuple[bool, bool, int]  # blank result, blank arguments, length: smaller shows more


def _example(case: TestCase, entry_point: str, kind: str, class_name: str | None) -> _Example | None:
    if case.expected is None:
        return None
    decoded = _decoded(case.input)
    calls = _call_lines(decoded, entry_point, kind, class_name)
    value, result, iterated = _result(case.expected)
    if calls is None or decoded is None or result is None:
        return None
    if iterated:  # a generator: its items, through list(...)
        calls[-1] = f">>> list({calls[-1].removeprefix('>>> ')})"
    after: list[str] = []
    if kind in CLASS_KINDS:
        if not isinstance(value, dict) or "returned" not in value:
            return None
        returned, state = value["returned"], value.get("state")
        result = "obj" if returned == "<self>" else _literal(returned)
        if result is None:
            return None
        if state:  # the attributes the tests compare (those the prompt shows), after the call
            if not isinstance(state, dict):
                return None
            for name, attr in state.items():
                attr_text = _literal(attr)
                if attr_text is None or not (isinstance(name, str) and name.isidentifier()):
                    return None
                after += [f">>> obj.{name}", attr_text]
        value = (returned, state)
    lines = (*calls, result, *after)
    size = sum(len(line) for line in lines)
    if size > MAX_EXAMPLE_CHARS * (2 if kind in CLASS_KINDS else 1):
        return None
    blank_args = all(_blank(v) for v in [*decoded[0], *decoded[1].values()])
    return _Example(lines, result, _shape(value), (_blank(value), blank_args, size))


def examples(
    cases: list[TestCase], entry_point: str, kind: str = "function", class_name: str | None = None
) -> list[str]:
    """Up to SHOWN doctest-style examples of normal returns, then one raised exception if
    there is one. Results of distinct shapes first (`_shape`), then distinct results; among
    them, calls whose arguments and result are not all blank, then the shortest. A method's
    examples must differ in what it returns, not only in the state they were built with (a
    no-op on three instances specifies nothing)."""
    ranked = sorted(
        (e for c in cases if (e := _example(c, entry_point, kind, class_name)) is not None),
        key=lambda e: e.rank,
    )
    picked: list[_Example] = []
    for e in ranked:  # one of each shape first: each is a behaviour the tests check
        if len(picked) < SHOWN and all(e.shape != p.shape for p in picked):
            picked.append(e)
    for e in ranked:  # then distinct results: they say more about the code
        if len(picked) < SHOWN and all(e.result != p.result for p in picked):
            picked.append(e)
    for e in ranked:
        if len(picked) < SHOWN and e not in picked:
            picked.append(e)
    if len(picked) < MIN_SHOWN or len({p.result for p in picked}) < 2:
        return []
    lines = ["\n".join(p.lines) for p in picked]
    for case in cases:
        if case.exception is not None:
            calls = _call_lines(_decoded(case.input), entry_point, kind, class_name)
            if calls is not None and sum(len(c) for c in calls) <= MAX_EXAMPLE_CHARS:
                lines.append("\n".join([*calls, f"raises {case.exception}"]))
                break
    return lines


def example_doc(
    cases: list[TestCase], entry_point: str, kind: str = "function", class_name: str | None = None
) -> str | None:
    """The docstring-like text an examples instruction is made of, or None when the examples
    do not specify the behaviour (see the module docstring)."""
    # Calls that print or change their arguments: results alone would not show what they do.
    cases = [c for c in cases if not c.stdout and c.args_after in (None, c.input)]
    lines = examples(cases, entry_point, kind, class_name)
    if not lines:
        return None
    return "It behaves as in these examples:\n\n" + "\n".join(lines)
