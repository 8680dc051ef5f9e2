"""What execute keeps of a row's tests so they judge what the prompt asks for (issue 20).

- **Per test**: an expected value, stdout or argument state holding what only the sandbox
  knows (a memory address, the job's module name, the sandbox's work paths, locale or Python
  install) is dropped, counted by reason: no prompt can tell a solver to produce it.
- **Argument state** is compared only when changing the arguments is the code's job: its
  words say so, it returns None on every normal test (mutation is its only effect), or an
  argument is an in-memory file it reads or writes.
- **Per row**: tests that a trivially wrong solution passes drop the row: `constant_outcome`,
  `identity_outcome` (an argument returned unchanged), `one_sided_predicate`, and
  `few_distinct_outcomes` (fewer than `execute.min_distinct_outcomes`). The outcome of a
  test is everything compared: the returned value (a method's returned value and instance
  state), stdout, and how the call left its arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from codemint.codec import canonical_json, canonical_text, decode_input
from codemint.records import TestCase, WithInputs
from codemint.samples import CLASS_KINDS, call_arguments

# --- values a solver cannot produce from the prompt -----------------------------------------

# Reprs `<... at 0x7f...>` kept in a string (a repr the codec makes has its digits removed,
# `<function f at 0x>`, and compares by name). Ids and addresses of 64-bit Linux user space
# start 0x55/0x56 (heap) or 0x7f (mmap).
_ADDRESS_RE = re.compile(r"\bat 0x[0-9a-fA-F]+>|\b0x(?:7f|55|56)[0-9a-fA-F]{10}\b")
_ADDRESS_INTS = ((0x7F00_0000_0000, 0x8000_0000_0000), (0x5500_0000_0000, 0x5700_0000_0000))
# The module job code runs as, and the file name its code is compiled under (tracebacks).
_MODULE_RE = re.compile(r"__codemint__|<codemint>")
# Work dirs (HOME, TMPDIR and cwd of a job: sandbox/runner.py, zygote.py; joined with either
# separator, as ntpath does, and escaped in a repr), the runner's
# scratch, the sandbox's locale (runner.SAFE_ENV) and Python install.
_ENVIRONMENT_RE = re.compile(
    r"(?:/|\\+)job-\d+-\d+|codemint-(?:runner|sandbox)-|\bC\.UTF-8\b|/usr/(?:local/)?(?:lib|bin)/python3"
)
_TEXT_CHECKS = (("address", _ADDRESS_RE), ("module_name", _MODULE_RE), ("environment", _ENVIRONMENT_RE))
# Tags whose fields are type names, digests or encoded bytes, not values a function made.
_OPAQUE = {"__float__", "__bytes__", "__bytearray__", "__fn__", "__cycle__", "__type__"}


def _values(data: Any) -> Iterator[str | int]:
    """The strings and ints of encoded data that are values, not the codec's structure: type
    names (`__object__`'s class, `__iter_raised__`'s exception type) are the code's own."""
    if isinstance(data, bool) or data is None or isinstance(data, float):
        return
    if isinstance(data, str | int):
        yield data
    elif isinstance(data, list):
        for item in data:
            yield from _values(item)
    elif isinstance(data, dict):
        for tag, payload in data.items():
            if tag in _OPAQUE or not isinstance(payload, list):
                if tag == "__repr__":
                    yield from _values(payload)
                continue
            if tag == "__object__" and len(payload) == 2:
                for pair in payload[1] or []:
                    yield from _values(pair[1:] if isinstance(pair, list) else pair)
            elif tag == "__iter_raised__" and len(payload) == 3:
                yield from _values([payload[0], payload[2]])
            elif tag == "__iter_cut__" and payload:
                yield from _values(payload[0])
            elif tag in ("__new__", "__stream__") and payload:
                # A stream's bytes are base64: only a text stream's contents are read.
                skip = payload[0] == "bytes" if tag == "__stream__" else True
                yield from _values(payload[2:] if skip else payload[1:])
            else:
                yield from _values(payload)


def _text_reason(text: str, source: str) -> str | None:
    for reason, pattern in _TEXT_CHECKS:
        for match in pattern.finditer(text):
            if match.group() not in source:  # an input that held it: the solver has it too
                return reason
    return None


def _data_reason(data: Any, source: str) -> str | None:
    for value in _values(data):
        if isinstance(value, int):
            if any(low <= value < high for low, high in _ADDRESS_INTS) and str(value) not in source:
                return "address"
        elif (reason := _text_reason(value, source)) is not None:
            return reason
    return None


def sandbox_only_text(text: str, source: str = "") -> str | None:
    """Why a text a prompt would show holds what only the sandbox knows (`address`,
    `module_name`, `environment`), or None; `source` is what the prompt shows anyway (the
    call's input), which may hold it legitimately."""
    return _text_reason(text, source)


def sandbox_only(case: TestCase) -> str | None:
    """Why a test expects something only the sandbox knows (`address`, `module_name`,
    `environment`), or None. Exception types are not looked at: that is the prompt's concern."""
    for encoded, is_input in ((case.expected, False), (case.args_after, True)):
        if encoded is None or encoded == case.input:
            continue
        try:
            data = json.loads(encoded)
        except ValueError:
            continue
        if is_input and isinstance(data, dict):  # {"args": [...], "kwargs": {...}}: values only
            data = [data.get("args"), list((data.get("kwargs") or {}).values())]
        if (reason := _data_reason(data, case.input)) is not None:
            return reason
    return None if case.stdout is None else _text_reason(case.stdout, case.input)


# --- when the arguments' state is compared ---------------------------------------------------

# Words saying the code changes what it is given. Participles ("a sorted copy", "the updated
# value") describe a result, not an effect, and do not count; "modified" and co. do. Names
# that end in a mutating verb (`heappush`, `list.append`) and augmented assignments (`a += b`)
# say it too.
_MUTATION_WORDS = re.compile(
    r"\b(?:in[- ]?place|modif(?:y|ies|ied|ying)|mutat(?:e|es|ed|ing)|destructive(?:ly)?"
    r"|(?:sort|fill|write|read|clear|shuffle|swap|consume|drain|discard|reverse|delete|rewind"
    r"|seek|truncate|flush|add|increment|register|record|store|reset|assign)(?:s|es)?"
    r"|\w*(?:append|insert|remove|push|pop|update|extend)(?:s|es)?)\b"
    r"|\w\s*(?:[-+*/|&^%@]|//|<<|>>)=\s*\w",
    re.IGNORECASE,
)


def says_it_mutates(*texts: str | None) -> bool:
    """Whether any of the texts (instruction, docstring, comment) says the code changes things."""
    return any(text and _MUTATION_WORDS.search(text) for text in texts)


@dataclass(frozen=True)
class Outcome:
    """Everything one normal-return test compares, as canonical texts."""

    value: str  # the returned value (a method's returned value, without the state)
    state: str | None  # a method's instance state after the call
    stdout: str | None
    args_changed: str | None  # the arguments after the call, None when unchanged or not compared

    @property
    def rest(self) -> tuple[str | None, str | None, str | None]:
        return self.state, self.stdout, self.args_changed


def _method_parts(expected: str) -> tuple[str, str | None]:
    """(returned, state) of a method harness's `{"returned": ..., "state": ...}` result."""
    data = json.loads(expected)
    pairs = data.get("__dict__") if isinstance(data, dict) else None
    fields = {
        p[0]: p[1] for p in pairs or [] if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
    }
    if "returned" not in fields:
        return expected, None
    state = fields.get("state")
    return canonical_text(fields["returned"]), None if state is None else canonical_text(state)


def outcome(case: TestCase, sample_kind: str) -> Outcome:
    assert case.expected is not None
    value, state = case.expected, None
    if sample_kind in CLASS_KINDS:
        value, state = _method_parts(case.expected)
    changed = None if case.args_after in (None, case.input) else case.args_after
    return Outcome(value, state, case.stdout, changed)


def returns_none(results: list[str], sample_kind: str) -> bool:
    """Whether the code returned None (a method: returned None) on every normal input, given
    their results' canonical texts."""
    if sample_kind in CLASS_KINDS:
        results = [_method_parts(r)[0] for r in results]
    return bool(results) and all(r == "null" for r in results)


def has_stream(inputs: list[str]) -> bool:
    """Whether an argument is an in-memory file (what the code reads or writes is its job)."""
    return any('"__stream__"' in text for text in inputs)


def effect_is_its_job(rec: WithInputs) -> bool:
    """Whether changing what it is given (arguments, a method's instance) is part of what the
    row asks for, as far as its words and inputs tell: they say so, or it reads or writes files."""
    return says_it_mutates(rec.instruction, rec.docstring, rec.comment) or has_stream(rec.test_inputs)


# --- rows whose tests a trivially wrong solution passes -------------------------------------


def _returned_argument(outcomes: list[Outcome], normal: list[TestCase], sample_kind: str) -> bool:
    """Whether one argument (the same position or keyword every time) is returned unchanged by
    every call: `return s` passes. (Returning the larger of two arguments is not this.)"""
    common: set[int | str] | None = None
    for o, case in zip(outcomes, normal, strict=True):
        same = {key for key, text in call_arguments(case.input, sample_kind).items() if text == o.value}
        common = same if common is None else common & same
        if not common:
            return False
    return bool(common)


def _state_is_its_effect(outcomes: list[Outcome], normal: list[TestCase], documented: bool) -> bool:
    """Whether a method's instance state after the call shows what the method did, rather than
    only how the instance was built (a solution that leaves the instance alone gets that part
    right for free): its words say it changes things, it returns None or `self` every time, or
    two tests built alike end in different states."""
    if documented or all(o.value in ('"<self>"', "null") for o in outcomes):
        return True
    seen: dict[str, str | None] = {}
    for o, case in zip(outcomes, normal, strict=True):
        try:
            built = canonical_json(decode_input(case.input)[0][:2])  # [init_args, init_kwargs]
        except (ValueError, RecursionError):
            return True
        if seen.setdefault(built, o.state) != o.state:
            return True
    return False


def trivial_outcomes(
    cases: list[TestCase], sample_kind: str, min_distinct: int, documented_effect: bool = False
) -> tuple[str, str] | None:
    """(drop reason, detail) when a trivially wrong solution passes every normal-return test.
    `documented_effect`: the code's words say it changes its arguments or instance."""
    normal = [c for c in cases if c.exception is None]
    outcomes = [outcome(c, sample_kind) for c in normal]
    if not outcomes:
        return None
    if sample_kind in CLASS_KINDS and not _state_is_its_effect(outcomes, normal, documented_effect):
        outcomes = [replace(o, state=None) for o in outcomes]
    values = {o.value for o in outcomes}
    rests = {o.rest for o in outcomes}
    predicate = values <= {"true", "false"}
    if predicate and len(values) == 1:  # never shown the other answer: `return True` passes
        return "one_sided_predicate", f"all {len(outcomes)} normal tests expect {outcomes[0].value}"
    if len(values) == 1 and len(rests) == 1:
        return "constant_outcome", f"all {len(outcomes)} normal tests expect {_short(outcomes[0].value)}"
    # Returning an argument unchanged passes, when nothing else compared varies either.
    unchanged = len(rests) == 1 and outcomes[0].args_changed is None
    if unchanged and _returned_argument(outcomes, normal, sample_kind):
        return "identity_outcome", f"all {len(outcomes)} normal tests expect an argument unchanged"
    if predicate:  # both True and False: as many outcomes as a bool has
        return None
    distinct = len(set(outcomes))
    if distinct < min_distinct:
        return "few_distinct_outcomes", f"{distinct} distinct outcomes < {min_distinct}"
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
