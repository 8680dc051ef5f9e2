"""Execute keeps only tests a solver can pass from the prompt, and rows whose tests a trivially
wrong solution fails (tasks/execute/checks.py): sandbox-only values, argument state compared
only when changing it is the code's job, and the row drops constant_outcome, identity_outcome,
one_sided_predicate, few_distinct_outcomes. A fake sandbox states what the original did; the
last test runs real code in Docker."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from fake_sandbox import install, ok
from sandbox_support import IMAGE, require_docker

from codemint.codec import canonical_json, encode_input
from codemint.records import Executed, Provenance, Rejected, WithInputs, content_id
from codemint.sandbox.api import CallOutcome, ExecJob
from codemint.settings import ExecuteSettings, PipelineSettings, SandboxSettings
from codemint.tasks.execute.checks import sandbox_only, trivial_outcomes
from codemint.tasks.execute.stage import Execute

MODULE = "codemint.tasks.execute.stage"


def fn_row(code: str, inputs: list[list[Any]], doc: str | None = None, **extra: Any) -> WithInputs:
    """A row of `code` (its first `def` is the entry point unless `entry_point` is given)."""
    code = textwrap.dedent(code).strip("\n") + "\n"
    entry = extra.pop("entry_point", None) or code.split("def ", 1)[1].split("(", 1)[0]
    return WithInputs(
        id=content_id(code),
        code=code,
        provenance=Provenance(source_uri="test:", path="m.py"),
        parent_id=content_id("parent:" + code),
        entry_point=entry,
        signature=f"def {entry}(...)",
        docstring=doc,
        original_code=code,
        instruction=f"Implement `{entry}`." + (f"\n\n{doc}" if doc else ""),
        instruction_source="docstring",
        test_inputs=[encode_input(a) for a in inputs],
        input_sources=["annotations"] * len(inputs),
        **extra,
    )


def run(
    monkeypatch: pytest.MonkeyPatch, rec: WithInputs, outcomes: list[CallOutcome], **cfg: Any
) -> tuple[Executed | Rejected, dict[str, int]]:
    install(monkeypatch, MODULE, lambda job: outcomes)
    stage = Execute(PipelineSettings(execute=ExecuteSettings(**cfg)))
    (out,) = stage.run([rec])
    return out, dict(stage.metrics)


def returned(*values: Any) -> list[CallOutcome]:
    return [ok(canonical_json(v)) for v in values]


def dropped(out: Executed | Rejected, reason: str) -> bool:
    return isinstance(out, Rejected) and out.drop_reason == reason


UNESCAPE = '''
def unescape(s):
    """Replace the HTML entities &lt;, &gt; and &amp; in s by the characters they stand for."""
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
'''


def test_an_argument_returned_unchanged_on_every_test_drops_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = ["abc", "hello world", "x = y", "no entities"]
    out, _ = run(monkeypatch, fn_row(UNESCAPE, [[s] for s in plain]), returned(*plain))
    assert dropped(out, "identity_outcome")  # `return s` would score 1.0
    # Inputs with entities: the same function's tests now tell `return s` from the real thing.
    escaped = ["a &lt; b", "&amp;&amp;", "x &gt; y", "plain"]
    results = ["a < b", "&&", "x > y", "plain"]
    out, _ = run(monkeypatch, fn_row(UNESCAPE, [[s] for s in escaped]), returned(*results))
    assert isinstance(out, Executed)


def test_returning_one_argument_or_another_is_not_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def larger(a, b):\n    return a if a >= b else b\n"
    inputs = [[1, 5], [7, 2], [3, 9], [8, 4]]
    out, _ = run(monkeypatch, fn_row(code, inputs), returned(5, 7, 9, 8))
    assert isinstance(out, Executed)  # `return a` and `return b` both fail


def test_a_constant_function_is_dropped_unless_something_else_compared_varies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = "def default_port(scheme):\n    return 8080\n"
    inputs = [["http"], ["ftp"], ["ssh"], ["gopher"]]
    out, _ = run(monkeypatch, fn_row(code, inputs), returned(8080, 8080, 8080, 8080))
    assert dropped(out, "constant_outcome") and "8080" in out.detail
    # The same return value, but the printed output depends on the input: `return 8080` fails.
    printing = [CallOutcome(status="ok", result="8080", stdout=f"{s[0]}\n") for s in inputs]
    out, _ = run(monkeypatch, fn_row(code, inputs), printing)
    assert isinstance(out, Executed) and [c.stdout for c in out.test_cases] == [
        "http\n",
        "ftp\n",
        "ssh\n",
        "gopher\n",
    ]


def test_a_predicate_needs_both_answers_but_no_third(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def is_ascii(s):\n    return all(ord(c) < 128 for c in s)\n"
    inputs = [["abc"], ["xyz"], ["hello"], ["tab\t"]]
    out, _ = run(monkeypatch, fn_row(code, inputs), returned(True, True, True, True))
    assert dropped(out, "one_sided_predicate")
    inputs[1] = ["caf\u00e9"]
    out, _ = run(monkeypatch, fn_row(code, inputs), returned(True, False, True, True))
    assert isinstance(out, Executed)  # two outcomes are all a bool has


def test_a_non_predicate_needs_three_distinct_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def parity(n):\n    return 'even' if n % 2 == 0 else 'odd'\n"
    inputs = [[1], [2], [3], [4], [10]]
    outcomes = returned("odd", "even", "odd", "even", "even")
    out, _ = run(monkeypatch, fn_row(code, inputs), outcomes)
    assert dropped(out, "few_distinct_outcomes") and out.detail == "2 distinct outcomes < 3"
    out, _ = run(monkeypatch, fn_row(code, inputs), outcomes, min_distinct_outcomes=2)
    assert isinstance(out, Executed)


HEAPPUSH = '''
def heappush(heap, item):
    """Add item to the binary min-heap held in the list heap."""
    heap.append(item)
    i = len(heap) - 1
    while i and heap[(i - 1) // 2] > heap[i]:
        heap[i], heap[(i - 1) // 2] = heap[(i - 1) // 2], heap[i]
        i = (i - 1) // 2
'''


def test_a_none_returning_mutator_is_judged_by_the_arguments_it_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs: list[list[Any]] = [[[1, 5], 3], [[2], 1], [[], 7], [[0, 4], 9]]
    after = [[[1, 5, 3], 3], [[1, 2], 1], [[7], 7], [[0, 4, 9], 9]]
    outcomes = [CallOutcome(status="ok", result="null", args_after=encode_input(a)) for a in after]
    rec = fn_row(HEAPPUSH.replace("Add item to", "Keep the heap invariant with item in"), inputs)
    out, _ = run(monkeypatch, rec, outcomes)
    # Its words do not say it changes its argument, but it returns None: that is its only effect.
    assert isinstance(out, Executed)
    assert [c.args_after for c in out.test_cases] == [encode_input(a) for a in after]
    # Pushing onto one heap the same way every time is a constant outcome after all.
    same = [CallOutcome(status="ok", result="null", args_after=encode_input([[1], 1]))] * 4
    out, _ = run(monkeypatch, fn_row(HEAPPUSH, [[[], 1]] * 4), same)
    assert dropped(out, "constant_outcome")


SORTED_COPY = '''
def ordered(items):
    """Return the items in ascending order."""
    items.sort()
    return list(items)
'''


def test_argument_state_is_compared_only_when_changing_it_is_the_codes_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = [[[3, 1, 2]], [[5, 4]], [[9, 7, 8, 6]], [[2, 1]]]
    results = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [1, 2]]
    outcomes = [
        CallOutcome(status="ok", result=canonical_json(r), args_after=encode_input([r])) for r in results
    ]
    # A sorted copy that also sorts its argument, which its words do not say: not compared.
    out, _ = run(monkeypatch, fn_row(SORTED_COPY, inputs), outcomes)
    assert isinstance(out, Executed) and all(c.args_after is None for c in out.test_cases)
    # Said in its words: compared.
    in_place = fn_row(SORTED_COPY, inputs, doc="Sort items in place and return a copy of them.")
    out, _ = run(monkeypatch, in_place, outcomes)
    assert isinstance(out, Executed)
    assert [c.args_after for c in out.test_cases] == [encode_input([r]) for r in results]
    # Without the checks, as before: whenever the original changed them.
    out, _ = run(monkeypatch, fn_row(SORTED_COPY, inputs), outcomes, outcome_checks=False)
    assert isinstance(out, Executed) and all(c.args_after is not None for c in out.test_cases)


def test_an_in_memory_file_argument_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def first_word(f):\n    return f.readline().split()[0]\n"
    texts = ["alpha beta\ngamma", "one two\n", "x\ny\n", "last word"]
    inputs = [[{"__stream__": ["text", t, 0]}] for t in texts]
    rec = fn_row(code, [])
    rec.test_inputs = [json.dumps({"args": a, "kwargs": {}}) for a in inputs]
    rec.input_sources = ["annotations"] * 4
    ends = [t.index("\n") + 1 if "\n" in t else len(t) for t in texts]
    outcomes = [
        CallOutcome(
            status="ok",
            result=canonical_json(t.split()[0]),
            args_after=json.dumps({"args": [{"__stream__": ["text", t, e]}], "kwargs": {}}),
        )
        for t, e in zip(texts, ends, strict=True)
    ]
    out, _ = run(monkeypatch, rec, outcomes)
    assert isinstance(out, Executed) and all(
        c.args_after and "__stream__" in c.args_after for c in out.test_cases
    )


def test_tests_expecting_what_only_the_sandbox_knows_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def describe(x):\n    ...\n"
    inputs = [[1], [2], [3], [4], [5], [6], [7], ["C.UTF-8"], [9]]
    outcomes = [
        ok(canonical_json("<Node object at 0x7f3a2b1c0d50>")),  # a repr kept in a string
        ok(canonical_json([0x7F3A2B1C0D60, 2])),  # an id
        ok(canonical_json("<class '__codemint__.Node'>")),
        ok(canonical_json(["C.UTF-8", 4])),  # the sandbox's locale
        CallOutcome(status="ok", result="5", stdout="wrote /tmp/job-12-3/out.txt\n"),
        ok('{"__object__":["__codemint__.Node",[["value",6]]]}'),  # the code's own class: fine
        ok("7"),
        ok(canonical_json(["C.UTF-8", 8])),  # the input held it: a solver has it too
        # A repr the codec made has no address left: a function of the same name gives it.
        ok('{"__repr__":"<function IS_CHARACTER_JUNK at 0x>","__type__":"function"}'),
    ]
    out, metrics = run(monkeypatch, fn_row(code, inputs), outcomes)
    assert isinstance(out, Executed)
    assert [c.input for c in out.test_cases] == [encode_input(a) for a in inputs[5:]]
    assert {k: v for k, v in metrics.items() if k.startswith("test_dropped")} == {
        "test_dropped:address": 2, "test_dropped:module_name": 1, "test_dropped:environment": 2
    }  # fmt: skip
    # Too few left: the row goes as too_few_tests, saying why.
    out, _ = run(monkeypatch, fn_row(code, inputs[:6]), outcomes[:6])
    assert dropped(out, "too_few_tests") and "5 expecting sandbox-only values" in out.detail
    # Off: every test kept as the original ran it.
    out, metrics = run(monkeypatch, fn_row(code, inputs), outcomes, outcome_checks=False)
    assert isinstance(out, Executed) and len(out.test_cases) == 9
    assert not any(k.startswith("test_dropped") for k in metrics)


def test_an_exception_type_is_not_a_sandbox_only_value() -> None:
    from codemint.records import TestCase

    case = TestCase(input=encode_input([1]), exception="__codemint__.ParseError")
    assert sandbox_only(case) is None
    assert sandbox_only(case.model_copy(update={"stdout": "error in <codemint> line 3\n"})) == "module_name"


def method_case(init: list[Any], args: list[Any], result: Any, state: dict[str, Any]) -> Any:
    from codemint.records import TestCase

    return TestCase(
        input=encode_input([init, {}, args, {}]),
        expected=canonical_json({"returned": result, "state": state}),
    )


def test_method_outcomes_are_the_returned_value_and_the_state() -> None:
    # Returns its argument, and the instance is the same after every call: `return key` passes.
    echo = [method_case([[]], [k], k, {"items": []}) for k in ("a", "b", "c", "d")]
    assert trivial_outcomes(echo, "method", 3) == (
        "identity_outcome", "all 4 normal tests expect an argument unchanged"
    )  # fmt: skip
    # Returns its argument but records it: the state tells the real method from `return key`.
    record = [method_case([[]], [k], k, {"items": [k]}) for k in ("a", "b", "c", "d")]
    assert trivial_outcomes(record, "method", 3) is None
    # Fluent (`return self`) with a changing state: judged by the state.
    fluent = [method_case([n], [n], "<self>", {"total": 2 * n}) for n in (1, 2, 3)]
    assert trivial_outcomes(fluent, "method", 3) is None
    # A method that always answers True is a one-sided predicate, whatever its state.
    always = [method_case([n], [n], True, {"total": 2 * n}) for n in (1, 2, 3)]
    assert trivial_outcomes(always, "method", 3) is not None
    assert trivial_outcomes(always, "method", 3)[0] == "one_sided_predicate"  # type: ignore[index]


def test_a_method_state_that_only_shows_how_the_instance_was_built_tells_nothing() -> None:
    # Like statistics.NormalDist.__neg__ on the stdlib run: the result's attributes are private
    # (not compared), the state differs only because each instance was built with other values.
    neg = [method_case([mu, 1.0], [], "<NormalDist>", {"_mu": mu, "_sigma": 1.0}) for mu in (0.0, 1.5, -2.0)]
    assert trivial_outcomes(neg, "method", 3) == (
        "constant_outcome", 'all 3 normal tests expect "<NormalDist>"'
    )  # fmt: skip
    # Instances built alike end differently: the call changed the state, which a solution must match.
    bump = [method_case([0], [k], 1, {"n": k}) for k in (1, 2, 3)]
    assert trivial_outcomes(bump, "method", 3) is None
    # Built differently, but its words say it changes the instance.
    assert trivial_outcomes(neg, "method", 3, documented_effect=True) is None


def test_a_method_returning_none_has_its_argument_state_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    code = """
    class Sink:
        def __init__(self):
            self.count = 0

        def drain_into(self, out):
            out.extend(range(self.count, self.count + 2))
            self.count += 2
    """
    inputs: list[list[Any]] = [[[], {}, [[n]], {}] for n in (1, 2, 3)]
    afters = [[[], {}, [[n, 0, 1]], {}] for n in (1, 2, 3)]
    result = canonical_json({"returned": None, "state": {"count": 2}})
    outcomes = [CallOutcome(status="ok", result=result, args_after=encode_input(a)) for a in afters]
    rec = fn_row(code, inputs, entry_point="drain_into", sample_kind="method", class_name="Sink")
    out, _ = run(monkeypatch, rec, outcomes)
    assert isinstance(out, Executed)
    assert [c.args_after for c in out.test_cases] == [encode_input(a) for a in afters]


def test_the_real_sandbox_drops_trivial_rows_and_keeps_good_ones() -> None:
    """End to end in Docker: the original runs, and each check decides on what it really did."""
    require_docker()
    rows = {
        "unescape": fn_row(UNESCAPE, [["abc"], ["x = y"], ["plain text"], ["hello"]]),
        "constant": fn_row("def default_port(scheme):\n    return 8080\n", [["a"], ["b"], ["c"]]),
        "predicate": fn_row(
            "def is_ascii(s):\n    return all(ord(c) < 128 for c in s)\n", [["a"], ["b"], ["c"]]
        ),
        "parity": fn_row(
            "def parity(n):\n    return 'even' if n % 2 == 0 else 'odd'\n", [[1], [2], [3], [4]]
        ),
        "heappush": fn_row(HEAPPUSH, [[[1, 5], 3], [[2], 1], [[], 7], [[0, 4], 9]]),
        "sorted_copy": fn_row(SORTED_COPY, [[[3, 1, 2]], [[5, 4]], [[9, 7, 8, 6]]]),
        "classify": fn_row(
            """
            class Unknown:
                pass

            def classify(x):
                if isinstance(x, int):
                    return x * 2
                return Unknown
            """,
            [[1], [2], [3], ["a"]],
        ),
    }
    settings = PipelineSettings(sandbox=SandboxSettings(backend="docker", image=IMAGE, workers=1))
    stage = Execute(settings)
    out = dict(zip(rows, stage.run(list(rows.values())), strict=True))
    assert dropped(out["unescape"], "identity_outcome")
    assert dropped(out["constant"], "constant_outcome")
    assert dropped(out["predicate"], "one_sided_predicate")
    assert dropped(out["parity"], "few_distinct_outcomes")
    heap, copy, classify = out["heappush"], out["sorted_copy"], out["classify"]
    assert isinstance(heap, Executed) and isinstance(copy, Executed) and isinstance(classify, Executed)
    assert [json.loads(c.args_after or "{}")["args"][0] for c in heap.test_cases] == [
        [1, 5, 3], [1, 2], [7], [0, 4, 9]
    ]  # fmt: skip
    assert [c.expected for c in copy.test_cases] == ["[1,2,3]", "[4,5]", "[6,7,8,9]"]
    assert all(c.args_after is None for c in copy.test_cases)  # sorts its argument, unasked
    assert [c.expected for c in classify.test_cases] == [
        "2",
        "4",
        "6",
    ]  # not `<class '__codemint__.Unknown'>`
    assert stage.metrics["test_dropped:module_name"] == 1
    # The baseline: every check off, every row through as before.
    off = PipelineSettings(sandbox=settings.sandbox, execute=ExecuteSettings(outcome_checks=False))
    assert all(isinstance(r, Executed) for r in Execute(off).run(list(rows.values())))


def test_jobs_are_unchanged_by_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ExecJob] = []

    def answer(job: ExecJob) -> list[CallOutcome]:
        seen.append(job)
        return returned(*range(len(job.inputs)))

    install(monkeypatch, MODULE, answer)
    rec = fn_row("def f(x):\n    return x - 1\n", [[1], [2], [3]])
    (out,) = Execute(PipelineSettings(execute=ExecuteSettings(prescreen=False))).run([rec])
    assert isinstance(out, Executed) and [j.inputs for j in seen] == [rec.test_inputs] * 2


PARSE = '''
class ParseError(ValueError):
    pass

def parse_pair(text):
    """Split "key=value" into (key, value); raises ParseError without "="."""
    if "=" not in text:
        raise ParseError(text)
    key, value = text.split("=", 1)
    return key.strip(), value.strip()
'''


def test_exception_tests_the_prompt_does_not_state_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_sandbox import raised

    inputs = [["a=1"], ["b = 2"], ["c=3=4"], ["nothing"], [5], [None]]
    outcomes = [
        *returned(("a", "1"), ("b", "2"), ("c", "3=4")),
        raised("__codemint__.ParseError"),  # the code's own class, named by the docstring
        raised("TypeError"),  # junk input: another correct solution may fail otherwise
        raised("AttributeError"),
    ]
    rec = fn_row(PARSE, inputs, doc='Split "key=value" into (key, value); raises ParseError without "=".')
    out, metrics = run(monkeypatch, rec, outcomes, max_exception_share=0.5)
    assert isinstance(out, Executed)
    assert [c.exception for c in out.test_cases if c.exception] == ["__codemint__.ParseError"]
    assert metrics["test_dropped:unstated_exception"] == 2
    out, metrics = run(monkeypatch, rec, outcomes, max_exception_share=0.5, outcome_checks=False)
    assert isinstance(out, Executed) and len([c for c in out.test_cases if c.exception]) == 3
