"""sandbox/suite.py host side: jobs and parsed outcomes carry exactly the codec's canonical
text, whichever encoder wrote it (json's C encoder for JSON data, the codec for the rest), and
an input checked once is still refused when malformed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from codemint.codec import canonical_text, encode_input
from codemint.sandbox import suite
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, ExecResult
from codemint.sandbox.suite import _combine, parse, suite_job

LIMITS = ExecLimits(timeout_s=2.0, cpu_s=2, memory_mb=256)
CODE = "def f(x, *rest):\n    return {'é': x, '\\ud800': rest}  # ünïcode\n"
INPUTS = [
    encode_input([1]),
    encode_input(["é\u2028\ud800", (1, 2.5)], {"k": {"a": [None, True]}}),
    encode_input([{3: "x", "y": frozenset({1})}]),
    encode_input([float("nan"), -0.0, 10**40]),
]


def _reference(
    code: str, inputs: list[str], budgets: list[float], expect: Any, trace: bool, **kw: Any
) -> str:
    """The job input as suite_job first wrote it: the codec's canonical text of its data."""
    adaptive = kw.get("adaptive")
    return canonical_text(
        {
            "args": [
                code,
                "f",
                list(inputs),
                [float(b) for b in budgets],
                None if expect is None else [{"__tuple__": list(e)} for e in expect],
                trace,
            ],
            "kwargs": {
                "adaptive": None if adaptive is None else [adaptive[0], *map(float, adaptive[1:])],
                **({"state": True} if kw.get("state") else {}),
            },
        }
    )


@pytest.mark.parametrize(
    "budgets,expect,trace,kw",
    [
        ([0.5, 1, 2.25, 3], None, True, {}),
        (
            [0.5] * 4,
            [("ok", None, '{"__tuple__":[1]}'), ("error", "KeyError"), ("ok", None, None), ("ok", None)],
            False,
            {},
        ),
        (
            [2.5, 1e-9, 1e30, 0.1],
            None,
            False,
            {"adaptive": (3, math.inf, 0.05), "state": True},
        ),  # inf: the codec's text
        (
            [1.0] * 4,
            [("ok", "é\ud800", 1.5)] * 4,
            False,
            {"adaptive": (True, 2.0, 0.1)},
        ),  # not str / int: the codec's path
    ],
)
def test_a_job_input_is_the_codecs_canonical_text(
    budgets: list[float], expect: Any, trace: bool, kw: Any
) -> None:
    for _ in range(2):  # the second time, the inputs were checked before
        job = suite_job(
            "j", CODE, "f", INPUTS, budgets=budgets, expect=expect, trace=trace, base=LIMITS, **kw
        )
        assert job.inputs == [_reference(CODE, INPUTS, budgets, expect, trace, **kw)]


def test_what_the_codec_cannot_write_is_still_refused() -> None:
    with pytest.raises(TypeError):
        suite_job(
            "j", CODE, "f", INPUTS, budgets=[1] * 4, expect=[("ok", None, b"x")] * 4, trace=False, base=LIMITS
        )  # type: ignore[list-item]


def test_a_malformed_input_is_refused_every_time() -> None:
    bad = ['{"args": [1], "extra": 2}', '{"args": [{"__iter__": []}]}', "[1]"]
    for text in bad:
        for _ in range(2):
            with pytest.raises(ValueError):
                suite_job(
                    "j", CODE, "f", [INPUTS[0], text], budgets=[1, 1], expect=None, trace=False, base=LIMITS
                )
    long_text = encode_input(["x" * (suite._CHECKED_CHARS + 10)])
    suite_job("j", CODE, "f", [long_text], budgets=[1], expect=None, trace=False, base=LIMITS)
    assert long_text not in suite._CHECKED and INPUTS[0] in suite._CHECKED  # long texts are not kept


def _result(items: list[Any]) -> ExecResult:
    return ExecResult(
        job_id="j", outcomes=[CallOutcome(status="ok", result=json.dumps(items, ensure_ascii=False))]
    )


VALUES: list[Any] = [
    1,
    "é\u2028",
    None,
    2.5,
    -0.0,
    1e300,
    10**30,
    True,
    [],
    {"__dict__": [["b", {"__tuple__": [1, 2.0, "\ud800"]}], ["a", None]]},
    {"z": 1, "a": [1, {"y": 2, "b": 3}]},  # keys out of order: sorted in the text
    [{"__float__": "nan"}, float("inf")],  # a non-finite float: the codec's own text
    [[[[[[1]]]]]],
]


def test_parsed_outcomes_carry_the_codecs_canonical_text() -> None:
    items = [["ok", v, 0.1] for v in VALUES]
    items += [["iter", [v, v], 0.2] for v in VALUES]
    items += [["iter_raised", [[v], "ValueError"], 0.3] for v in VALUES]
    items += [["error", "KeyError", 0.4], ["timeout", None, 1.0]]
    run = parse(_result(items), trace=False)
    want = [canonical_text(v) for v in VALUES]
    want += [canonical_text({"__iter__": [v, v]}) for v in VALUES]
    want += [canonical_text({"__iter_raised__": [[v], "ValueError", ""]}) for v in VALUES]
    want += ["KeyError", None]
    assert [o.value for o in run.outcomes] == want
    assert [o.kind for o in run.outcomes][len(VALUES) * 2 : len(VALUES) * 3] == ["iter"] * len(VALUES)


def test_a_combined_job_is_the_codecs_canonical_text() -> None:
    jobs = [
        suite_job(
            f"j{i}",
            CODE,
            "f",
            INPUTS,
            budgets=[1, 2, 3, 4],
            expect=None,
            trace=bool(i % 2),
            base=LIMITS,
            state=i == 1,
        )
        for i in range(3)
    ]
    combined = _combine(jobs)
    calls = []
    for job in jobs:
        data = json.loads(job.inputs[0])
        calls.append([data["args"], {"__dict__": [[k, v] for k, v in sorted(data["kwargs"].items())]}])
    assert isinstance(combined, ExecJob)
    assert combined.inputs == [canonical_text({"args": [calls], "kwargs": {}})]
