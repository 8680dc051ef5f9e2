"""Whole test suites in one sandbox job: the original traced for coverage, mutants batched.

A suite job is an ordinary `ExecJob` whose code is a small harness (below, standard library
only) and whose single input carries the code under test, its entry point and every test
input. Inside the sandbox child the harness runs each test on a fresh module (the code is
re-executed per test, as the runner does per input) under a per-test time budget
(SIGALRM), optionally traces the lines and arcs of the code under test (`sys.settrace`: the
image's Python is 3.11, so no `sys.monitoring`), and returns one outcome per test. It stops
at the first test whose outcome kind differs from the expected kind (returned vs raised,
exception type) or that runs out of time or memory, which are the common ways a mutant is
caught (a mutant stuck in a loop costs one budget, not one per test). Given the expected
value's canonical text too, it also stops at the first return of built-in data whose text
differs (other values are left to the host: taking their text could run the code's own
methods or consume an iterator they hold).

The runner is unchanged: it encodes the harness's return value with the codec like any
other. The verdicts (which mutant differs from the original on which test) are decided
here, in the trusted host, on the canonical texts of those outcomes by the verdict's value
rule (`codemint.verdict`), the one verify applies to candidates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codemint.codec import canonical_text, decode_input
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, ExecResult, Sandbox
from codemint.verdict import same_value

ENTRY = "__codemint_suite__"
MULTI_ENTRY = "__codemint_suites__"
# Suites one process runs in turn (`run_suites`): a process costs more than most suites.
SUITES_PER_PROCESS = 8
_MULTI_RESULT_CAP = 64_000_000
FILENAME = "<codemint>"

HARNESS = r'''
import itertools as _itertools
import signal as _signal
import sys as _sys
import time as _time
import types as _types


class _SuiteTimeout(BaseException):
    """Raised by SIGALRM: derives from BaseException so `except Exception` cannot eat it."""


def _on_alarm(signum, frame):
    raise _SuiteTimeout()


def _type_name(tp):
    module = getattr(tp, "__module__", None)
    qual = getattr(tp, "__qualname__", None)
    if type(module) is not str or type(qual) is not str:
        return "<unknown>"
    return qual if module == "builtins" else module + "." + qual


def _consume(iterator):
    # As the codec encodes an iterator (so a mutant is told apart as verify would tell a
    # candidate): its items, or its items and the exception type when consuming it raises.
    items = []
    try:
        for item in _itertools.islice(iterator, 1000):
            items.append(item)
    except MemoryError:
        raise
    except Exception as exc:
        return ["iter_raised", [items, _type_name(type(exc))]]
    return ["iter", items]


_PLAIN_ATOMS = (type(None), bool, int, float, str, bytes)


def _plain(value):
    # Built-in data only (exact types, bounded): its canonical text can be taken without
    # running any of the code's own methods or consuming an iterator the outcome holds.
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > 10000 or depth > 30:
            return False
        kind = type(item)
        if kind in _PLAIN_ATOMS:
            continue
        if kind in (list, tuple, set, frozenset):
            stack.extend((x, depth + 1) for x in item)
        elif kind is dict:
            stack.extend((x, depth + 1) for pair in item.items() for x in pair)
        else:
            return False
    return True


def __codemint_suite__(code, entry_point, tests, budgets, expect, trace, adaptive=None, state=False):
    # The runner's codec (staged beside it): inputs are decoded here, after the code ran, so
    # instances of the code's own classes (`__new__` inputs) can be built.
    codec = _sys.modules.get("codec") or _sys.modules["codemint.codec"]
    compiled = compile(code, "<codemint>", "exec")
    _signal.signal(_signal.SIGALRM, _on_alarm)
    out = []
    first = []
    for i, text in enumerate(tests):
        budget = budgets[i]
        if adaptive is not None and len(first) >= adaptive[0]:
            # later inputs are capped at a multiple of the original's time on the first ones
            budget = min(budget, max(adaptive[2], adaptive[1] * max(first)))
        lines, arcs = set(), set()

        def _global(frame, event, arg):
            if frame.f_code.co_filename != "<codemint>":
                return None
            last = [-frame.f_code.co_firstlineno]

            def _local(frame, event, arg):
                if event == "line":
                    line = frame.f_lineno
                    lines.add(line)
                    arcs.add((last[0], line))
                    last[0] = line
                elif event == "return":
                    arcs.add((last[0], -frame.f_code.co_firstlineno))
                return _local

            return _local

        module = _types.ModuleType("__codemint__")
        module.__file__ = "<codemint>"
        _sys.modules["__codemint__"] = module
        started = _time.perf_counter()
        args = kwargs = None
        try:
            _signal.setitimer(_signal.ITIMER_REAL, budget)
            try:
                exec(compiled, module.__dict__)
                args, kwargs = codec.decode_input(text, codec.constructor_for(module.__dict__))
                fn = module.__dict__[entry_point]
                if trace:
                    _sys.settrace(_global)
                value = fn(*args, **kwargs)
                if hasattr(type(value), "__next__"):
                    outcome = _consume(value)
                else:
                    outcome = ["ok", value]
            finally:
                _sys.settrace(None)
                _signal.setitimer(_signal.ITIMER_REAL, 0)
        except _SuiteTimeout:
            outcome = ["timeout", None]
        except MemoryError:
            outcome = ["memory", None]
        except BaseException as exc:
            outcome = ["error", _type_name(type(exc))]
        outcome.append(_time.perf_counter() - started)
        if adaptive is not None and len(first) < adaptive[0] and outcome[0] != "timeout":
            first.append(outcome[-1])
        if trace:
            outcome.append(sorted(lines))
            outcome.append(sorted([a, b] for a, b in arcs))
        if state:
            # the arguments after the call as the runner reports them: only when they changed
            # (an input with constructed instances always), in the state format
            after = None
            if args is not None and outcome[0] in ("ok", "iter", "iter_raised", "error"):
                try:
                    if '"__new__"' in text or codec.encode_input(args, kwargs) != text:
                        after = codec.encode_state(args, kwargs)
                except BaseException:
                    after = None
            outcome.append(after)
        out.append(outcome)
        if expect is not None:
            if outcome[0] in ("timeout", "memory"):
                break  # the original finished this test within its budget: told apart
            kind, exc = expect[i][0], expect[i][1]
            got = "error" if outcome[0] == "error" else "ok"
            if got != kind or (kind == "error" and outcome[1] != exc):
                break
            if len(expect[i]) > 2 and expect[i][2] is not None and outcome[0] == "ok" and _plain(outcome[1]):
                # the original's value as canonical text: a different text is a likely kill
                # (the host decides by the verdict's rule, and runs the rest when it is not)
                try:
                    if codec.canonical_json(outcome[1]) != expect[i][2]:
                        break
                except BaseException:
                    break
    return out


def __codemint_suites__(calls):
    # Several suites in one process, one after another: each test of each still runs on a
    # fresh module, as the tests of one suite do.
    return [__codemint_suite__(*args, **kwargs) for args, kwargs in calls]
'''


_NORMAL = ("ok", "iter")


@dataclass(frozen=True, eq=False)
class OutcomeKey:
    """What a mutant must reproduce to survive a test: the same kind and exception type, or a
    value equal by the verdict's rule (`codemint.verdict`: 2 and 2.0, float tolerance ...),
    so a mutant is killed exactly when verify would fail it as a candidate."""

    kind: str
    value: str | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutcomeKey):
            return NotImplemented
        if self.kind != other.kind:
            return False
        if self.kind in _NORMAL:
            return same_value(self.value, other.value)
        return self.value == other.value

    def __hash__(self) -> int:  # equal keys share their kind (and exception type)
        return hash((self.kind, None if self.kind in _NORMAL else self.value))


@dataclass
class TestOutcome:
    kind: str  # "ok", "iter", "error", "timeout", "memory"
    value: str | None  # canonical text of what returned ("ok"/"iter") or the exception type
    seconds: float
    lines: list[int] = field(default_factory=list)
    arcs: list[tuple[int, int]] = field(default_factory=list)
    # The arguments' state after the call when it changed them (suite jobs run with `state`).
    args_after: str | None = None

    @property
    def key(self) -> OutcomeKey:
        """What a mutant must reproduce to survive this test."""
        return OutcomeKey(self.kind, self.value)

    @property
    def normal(self) -> bool:
        return self.kind in _NORMAL


@dataclass
class SuiteRun:
    """The outcomes of one suite job, or why there are none."""

    outcomes: list[TestOutcome]
    job_status: str  # the runner's status for the harness call: ok, timeout, memory, error, ...
    infra_error: str | None = None
    detail: str = ""


def _canon(data: Any) -> str:
    # The codec's canonical form for data that is already encoded.
    return canonical_text(data)


def _canon_json(data: Any) -> str:
    """`_canon(data)` for data of JSON's own types only (as `json.loads` gives: exact dict
    with str keys, list, str, int, float, bool, None): the same text from json's C encoder,
    which the codec cannot use in the sandbox (a job may patch what json's Python layer
    consults) but the host can. A non-finite float (or nesting too deep) takes the codec's
    own path, so the text, or the error, stays the codec's."""
    if _json_chunks is None or not isinstance(data, (list, dict)):
        return _canon(data)  # a scalar: no faster
    try:
        return "".join(_json_chunks(data, 0))
    except (ValueError, RecursionError):
        return _canon(data)


def _not_json(value: object) -> Any:
    raise TypeError(f"not JSON data: {type(value).__name__}")


# json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# without its per-call setup (markers None: the data has no cycles)
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_json_chunks: Callable[[Any, int], Sequence[str]] | None = (
    None
    if _make_encoder is None
    else _make_encoder(None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False)
)

# Input texts already decoded once here (valid: `decode_input` gives the same for the same
# text): a row's inputs go into one job per mutant, and decoding each again is most of a
# job's host time. Bounded, and only short texts.
_CHECKED: dict[str, None] = {}
_CHECKED_CAP = 4096
_CHECKED_CHARS = 4096


def _check_input(text: str) -> None:
    """Raise as `decode_input(text)` does for a malformed input (in the host, with its reason)."""
    if text in _CHECKED:
        return
    decode_input(text)
    if type(text) is str and len(text) <= _CHECKED_CHARS:
        if len(_CHECKED) >= _CHECKED_CAP:
            _CHECKED.clear()
        _CHECKED[text] = None


def suite_job(
    job_id: str,
    code: str,
    entry_point: str,
    inputs: list[str],
    *,
    budgets: list[float],
    expect: Sequence[tuple[str, str | None] | tuple[str, str | None, str | None]] | None,
    trace: bool,
    base: ExecLimits,
    adaptive: tuple[int, float, float] | None = None,
    state: bool = False,
) -> ExecJob:
    """One job running `code` on every input (encoded input texts) in a single child.

    `adaptive` = (n, factor, floor): after the first n inputs that finish, later inputs are
    capped at max(floor, factor x the slowest of those), below their own budget. `state`:
    each outcome also carries the arguments' state after the call when it changed them, as
    the runner reports it (`TestOutcome.args_after`).
    """
    for text in inputs:
        _check_input(text)  # a malformed input fails here, in the host, with its reason
    tests = list(inputs)  # as texts: the harness decodes each after the code has run
    expect_data = None if expect is None else [{"__tuple__": list(e)} for e in expect]
    data = {
        "args": [code, entry_point, tests, [float(b) for b in budgets], expect_data, trace],
        "kwargs": {
            "adaptive": None if adaptive is None else [adaptive[0], *map(float, adaptive[1:])],
            **({"state": True} if state else {}),
        },
    }
    plain = (
        type(code) is str
        and type(entry_point) is str
        and type(trace) is bool
        and all(type(x) is str for x in tests)
        and (expect is None or all(type(x) is str or x is None for e in expect for x in e))
        and (adaptive is None or type(adaptive[0]) is int)
    )
    # only JSON's own types (else the codec's path, which refuses what it cannot write)
    job_input = _canon_json(data) if plain else _canon(data)
    total = sum(budgets) + 2.0 + 0.01 * len(inputs)
    limits = base.model_copy(
        update={
            "timeout_s": total,
            "cpu_s": max(base.cpu_s, math.ceil(total) + 1),
            "result_cap_bytes": max(base.result_cap_bytes, 8_000_000),
        }
    )
    return ExecJob(job_id=job_id, code=HARNESS, entry_point=ENTRY, inputs=[job_input], limits=limits)


def parse(result: ExecResult, trace: bool) -> SuiteRun:
    if result.infra_error:
        return SuiteRun([], "infra", result.infra_error)
    if len(result.outcomes) != 1:
        return SuiteRun([], "infra", "suite job returned no outcome")
    call = result.outcomes[0]
    if call.status != "ok" or call.result is None:
        detail = f"{call.exc_type or ''}: {call.exc_message or ''}".strip(": ")
        return SuiteRun([], call.status, None, detail)
    data = json.loads(call.result)
    outcomes = []
    for item in data:
        kind, payload, seconds = item[0], item[1], float(item[2])
        if kind == "ok":
            value: str | None = _canon_json(payload)
        elif kind == "iter":
            value = _canon_json({"__iter__": payload})
        elif kind == "iter_raised":  # the codec's form, message left empty: it is not compared
            kind, value = "iter", _canon_json({"__iter_raised__": [payload[0], payload[1], ""]})
        elif kind == "error":
            value = payload if isinstance(payload, str) else None
        else:
            value = None
        outcome = TestOutcome(kind, value, seconds)
        if trace and len(item) >= 5:
            outcome.lines = [int(x) for x in item[3]]
            outcome.arcs = [(int(a), int(b)) for a, b in item[4]]
        if len(item) == (6 if trace else 4) and isinstance(item[-1], str):
            outcome.args_after = item[-1]
        outcomes.append(outcome)
    return SuiteRun(outcomes, "ok")


def run_suites(
    box: Sandbox, jobs: Sequence[ExecJob], rows: Sequence[str], per_process: int = SUITES_PER_PROCESS
) -> list[ExecResult]:
    """Run suite jobs (`suite_job`), up to `per_process` consecutive ones of the same row
    (`rows`: each job's row) in one sandbox process, one after another; the results are each
    job's own, as if it had run alone. A process costs about what a mutant's suite does, so
    a row's mutants pay it once per group; rows are never mixed, so one row's code cannot
    change what another's sees. The suites of a process that did not finish (one took it
    down: time, memory, a crash) run again one per process, so no result depends on it."""
    groups: list[list[int]] = []
    for i in range(len(jobs)):
        if groups and len(groups[-1]) < per_process and rows[groups[-1][0]] == rows[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    combined = [jobs[g[0]] if len(g) == 1 else _combine([jobs[i] for i in g]) for g in groups]
    out: list[ExecResult | None] = [None] * len(jobs)
    again: list[int] = []
    for group, result in zip(groups, box.run_batch(combined) if combined else [], strict=True):
        if len(group) == 1:
            out[group[0]] = result
            continue
        split = _split([jobs[i] for i in group], result)
        if split is None:
            again.extend(group)
        else:
            for i, one in zip(group, split, strict=True):
                out[i] = one
    for i, result in zip(again, box.run_batch([jobs[i] for i in again]) if again else [], strict=True):
        out[i] = result
    return [r for r in out if r is not None]


def _combine(jobs: Sequence[ExecJob]) -> ExecJob:
    calls = []
    for job in jobs:
        data = json.loads(job.inputs[0])  # already in the codec's form, but for its kwargs
        kwargs = {"__dict__": [[k, v] for k, v in sorted(data.get("kwargs", {}).items())]}
        calls.append([data["args"], kwargs])
    first = jobs[0].limits
    limits = first.model_copy(
        update={
            "timeout_s": sum(j.limits.timeout_s for j in jobs),
            "cpu_s": sum(j.limits.cpu_s for j in jobs),
            "result_cap_bytes": min(_MULTI_RESULT_CAP, sum(j.limits.result_cap_bytes for j in jobs)),
        }
    )
    return ExecJob(
        job_id=f"{jobs[0].job_id}+{len(jobs) - 1}",
        code=HARNESS,
        entry_point=MULTI_ENTRY,
        inputs=[_canon_json({"args": [calls], "kwargs": {}})],
        limits=limits,
    )


def _split(jobs: Sequence[ExecJob], result: ExecResult) -> list[ExecResult] | None:
    """Each job's result out of the combined one; None when the process did not finish."""
    if result.infra_error or len(result.outcomes) != 1:
        return None
    call = result.outcomes[0]
    if call.status != "ok" or call.result is None:
        return None
    try:
        data = json.loads(call.result)
    except ValueError:
        return None
    if not isinstance(data, list) or len(data) != len(jobs):
        return None
    return [
        ExecResult(job_id=job.job_id, outcomes=[CallOutcome(status="ok", result=json.dumps(item))])
        for job, item in zip(jobs, data, strict=True)
    ]
