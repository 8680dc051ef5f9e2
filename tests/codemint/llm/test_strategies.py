"""The LLM strategies against the real test server: requests they send, replies they accept,
candidates they drop (with reasons), and a full pass with PipelineResponder."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from openai_server import DEFAULT_MODEL, OpenAIServer, PipelineResponder, Reply, Scripted, fixed

from codemint.llm import errors, prompts
from codemint.llm import strategies as st
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.settings import LLMSettings

T = TypeVar("T")

CODE = '''def running_max(values: list[int], floor: int = 0) -> list[int]:
    """Return the running maximum of values, never below floor."""
    result = []
    best = floor
    for value in values:
        # keep the largest value seen so far
        best = max(best, value)
        result.append(best)
    return result
'''
SIG = "def running_max(values: list[int], floor: int = 0) -> list[int]"
GOOD_INSTRUCTION = (
    "Write a Python function `running_max(values, floor=0)` that returns a list with the running "
    "maximum of `values`, where no element is below `floor`."
)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def call(server: OpenAIServer, fn: Callable[[LLMClient], Awaitable[T]]) -> T:
    s = LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL, backoff_base_s=0.01, timeout_s=5)

    async def run() -> T:
        async with LLMClient(s) as client:
            return await fn(client)

    return asyncio.run(run())


def fails(server: OpenAIServer, fn: Callable[[LLMClient], Awaitable[Any]]) -> LLMError:
    with pytest.raises(LLMError) as info:
        call(server, fn)
    return info.value


# -- summarize ---


def test_summarize_strips_docstring_and_asks_n(server: OpenAIServer) -> None:
    server.responder = fixed([GOOD_INSTRUCTION, GOOD_INSTRUCTION + " Keep it simple."])
    result = call(server, lambda c: st.summarize(c, CODE, "running_max", 2))
    assert result.value == [GOOD_INSTRUCTION, GOOD_INSTRUCTION + " Keep it simple."]
    assert result.prompt_version == prompts.version("summarize") and result.model == DEFAULT_MODEL
    body = server.requests[0]
    user = body["messages"][-1]["content"]
    assert "running maximum of values, never below" not in user  # the docstring is gone
    assert "# keep the largest value seen so far" in user  # comments stay
    assert user.rstrip().endswith("```")  # the code comes last
    assert body["n"] == 2 and body["stop"] == ["```"]


def test_summarize_drops_copies_and_short_candidates(server: OpenAIServer) -> None:
    copy = "Implement: for value in values: best = max(best, value) result.append(best) return result"
    server.responder = fixed([copy, "Do it.", GOOD_INSTRUCTION])
    result = call(server, lambda c: st.summarize(c, CODE, "running_max", 3))
    assert result.value == [GOOD_INSTRUCTION]
    assert sorted(result.dropped) == sorted([errors.COPIED_CODE, errors.TOO_SHORT])


def test_summarize_stops_before_a_code_block(server: OpenAIServer) -> None:
    server.responder = fixed(GOOD_INSTRUCTION + "\n\n```python\ndef running_max(values, floor=0): ...\n```")
    result = call(server, lambda c: st.summarize(c, CODE, "running_max", 1))
    assert result.value == [GOOD_INSTRUCTION]


def test_summarize_with_nothing_usable_raises_the_main_reason(server: OpenAIServer) -> None:
    server.responder = fixed(["Short.", "Tiny.", "cut " * 2000], finish_reason=["stop", "stop", "length"])
    exc = fails(server, lambda c: st.summarize(c, CODE, "running_max", 3))
    assert exc.reason == errors.TOO_SHORT


# -- self_evaluate ---


def test_self_evaluate_scores_from_logprobs(server: OpenAIServer) -> None:
    server.responder = fixed("Yes", top_logprobs={"Yes": -0.2, " yes": -3.0, "No": -1.9, "Maybe": -4.0})
    result = call(server, lambda c: st.self_evaluate(c, CODE, GOOD_INSTRUCTION))
    p_yes, p_no = math.exp(-0.2) + math.exp(-3.0), math.exp(-1.9)
    assert result.value == pytest.approx(p_yes / (p_yes + p_no))
    body = server.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0


@pytest.mark.parametrize(("answer", "score"), [("Yes", 1.0), ("No.", 0.0), ("no", 0.0)])
def test_self_evaluate_falls_back_to_text(server: OpenAIServer, answer: str, score: float) -> None:
    server.responder = fixed(answer, omit_logprobs=True)
    assert call(server, lambda c: st.self_evaluate(c, CODE, GOOD_INSTRUCTION)).value == score


def test_self_evaluate_undecided(server: OpenAIServer) -> None:
    server.responder = fixed("Perhaps", omit_logprobs=True)
    assert fails(server, lambda c: st.self_evaluate(c, CODE, GOOD_INSTRUCTION)).reason == errors.UNDECIDED


# -- propose_inputs ---


def test_propose_inputs_converts_and_drops_individually(server: OpenAIServer) -> None:
    inputs = [
        [[3, 1, 2]],  # floor defaulted
        [[1, 5], -1],
        [],  # too few
        [[1], 2, 3],  # too many
        "not a list",  # not JSON
        "[[4, 4], 9]",  # JSON text of an argument list: accepted
        [[3, 1, 2]],  # duplicate
        [{"b": 2, "a": 1}, 0],  # a dict arrives tagged, in the order the model wrote it
    ]
    server.responder = fixed(json.dumps({"inputs": inputs}))
    result = call(server, lambda c: st.propose_inputs(c, CODE, "running_max", SIG, 8))
    assert result.value == [
        '{"args":[[3,1,2]],"kwargs":{}}',
        '{"args":[[1,5],-1],"kwargs":{}}',
        '{"args":[[4,4],9],"kwargs":{}}',
        '{"args":[{"__dict__":[["b",2],["a",1]]},0],"kwargs":{}}',
    ]
    assert sorted(result.dropped) == sorted([errors.BAD_ARITY, errors.BAD_ARITY, errors.MALFORMED_JSON])
    schema = server.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["inputs"]["items"] == {
        "type": "array",
        "items": st.ANY_JSON,
        "minItems": 1,
        "maxItems": 2,
    }
    assert schema["properties"]["inputs"]["maxItems"] == 8


def test_propose_inputs_keyword_only_and_varargs(server: OpenAIServer) -> None:
    server.responder = fixed(json.dumps({"inputs": [[1, 2], [1, 2, 3]]}))
    result = call(server, lambda c: st.propose_inputs(c, "", "f", "def f(a, *, key)", 5))
    assert result.value == ['{"args":[1],"kwargs":{"key":2}}']
    server.responder = fixed(json.dumps({"inputs": [[], [1, 2, 3]]}))
    result = call(server, lambda c: st.propose_inputs(c, "", "g", "def g(*xs)", 5))
    assert result.value == ['{"args":[],"kwargs":{}}', '{"args":[1,2,3],"kwargs":{}}']


def test_propose_inputs_all_invalid(server: OpenAIServer) -> None:
    server.responder = fixed(json.dumps({"inputs": [[], [1, 2, 3]]}))
    exc = fails(server, lambda c: st.propose_inputs(c, CODE, "running_max", SIG, 3))
    assert exc.reason == errors.BAD_ARITY


def test_propose_inputs_repairs_a_malformed_reply(server: OpenAIServer) -> None:
    server.responder = Scripted(
        [Reply(content='{"inputs": [[[1]]')], then=Reply(content='{"inputs": [[[1]]]}')
    )
    result = call(server, lambda c: st.propose_inputs(c, CODE, "running_max", SIG, 3))
    assert result.value == ['{"args":[[1]],"kwargs":{}}'] and server.chat_requests == 2


# -- write_input_generator ---

GENERATOR = (
    "Sure:\n```python\nimport random\n\ndef generate_inputs() -> list:\n    rng = random.Random(0)\n"
    '    return [{"args": [[rng.randint(-5, 5) for _ in range(n)]], "kwargs": {}} for n in range(10)]\n```'
)


def test_write_input_generator_returns_runnable_source(server: OpenAIServer) -> None:
    server.responder = fixed(GENERATOR)
    result = call(server, lambda c: st.write_input_generator(c, CODE, "running_max", SIG))
    namespace: dict[str, Any] = {}
    exec(result.value, namespace)
    produced = namespace["generate_inputs"]()
    assert len(produced) == 10 and all(set(item) == {"args", "kwargs"} for item in produced)
    assert result.prompt_version == prompts.version("input_generator")


@pytest.mark.parametrize(
    "reply",
    ["I would test with small lists.", "```python\ndef generate_inputs(n):\n    return []\n```"],
)
def test_write_input_generator_rejects_bad_replies(server: OpenAIServer, reply: str) -> None:
    server.responder = fixed(reply)
    exc = fails(server, lambda c: st.write_input_generator(c, CODE, "running_max", SIG))
    assert exc.reason == errors.MISSING_ENTRY_POINT


# -- regenerate ---


def test_regenerate_extracts_code_that_defines_the_entry_point(server: OpenAIServer) -> None:
    good = "```python\ndef running_max(values, floor=0):\n    return values\n```"
    bare = "```\ndef running_max(values, floor=0):\n    return list(values)\n```"
    wrong_name = "```python\ndef other(values):\n    return values\n```"
    server.responder = fixed([good, bare, wrong_name, "Use a loop.", good])
    result = call(server, lambda c: st.regenerate(c, GOOD_INSTRUCTION, "running_max", SIG, 5))
    assert result.value == [
        "def running_max(values, floor=0):\n    return values\n",
        "def running_max(values, floor=0):\n    return list(values)\n",
    ]
    assert result.dropped == (errors.MISSING_ENTRY_POINT, errors.MISSING_ENTRY_POINT)
    user = server.requests[0]["messages"][-1]["content"]
    assert user.endswith(GOOD_INSTRUCTION) and SIG in user and server.requests[0]["n"] == 5


def test_regenerate_without_code(server: OpenAIServer) -> None:
    server.responder = fixed("You could use a loop over the values.")
    exc = fails(server, lambda c: st.regenerate(c, GOOD_INSTRUCTION, "running_max", SIG, 1))
    assert exc.reason == errors.MISSING_ENTRY_POINT


# -- judge ---


def test_judge_returns_a_verdict(server: OpenAIServer) -> None:
    server.responder = fixed(json.dumps({"passed": False, "score": 0.3, "reasons": "criterion 2 fails"}))
    result = call(server, lambda c: st.judge(c, GOOD_INSTRUCTION, CODE))
    assert result.value == st.Verdict(passed=False, score=0.3, reasons="criterion 2 fails")
    body = server.requests[0]
    # Bounded: a regex with no free whitespace instead of the schema, max_tokens sized to it.
    assert body["structured_outputs"] == {"regex": st.VERDICT_REGEX} and "response_format" not in body
    assert body["temperature"] == 0.0 and body["max_tokens"] == st.VERDICT_MAX_CHARS + 8
    assert "Criteria:" in body["messages"][0]["content"]


def test_judge_malformed_twice(server: OpenAIServer) -> None:
    server.responder = fixed('{"passed": "maybe"}')
    assert fails(server, lambda c: st.judge(c, GOOD_INSTRUCTION, CODE)).reason == errors.MALFORMED_JSON


# -- the whole chain against PipelineResponder ---

FUNCS = {
    "running_max": (CODE, SIG),
    "word_lengths": (
        "def word_lengths(text: str) -> dict:\n    return {w: len(w) for w in text.split()}\n",
        "def word_lengths(text: str) -> dict",
    ),
}


def test_pipeline_responder_plays_every_prompt() -> None:
    responder = PipelineResponder()
    with OpenAIServer(responder) as server:

        async def chain(client: LLMClient) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, (code, sig) in FUNCS.items():
                instructions = (await st.summarize(client, code, name, 3)).value
                score = (await st.self_evaluate(client, code, instructions[0])).value
                inputs = (await st.propose_inputs(client, code, name, sig, 4)).value
                generator = (await st.write_input_generator(client, code, name, sig)).value
                regenerated = (await st.regenerate(client, instructions[0], name, sig, 2)).value
                verdict = (await st.judge(client, instructions[0], code)).value
                out[name] = (instructions, score, inputs, generator, regenerated, verdict)
            return out

        results = call(server, chain)
    for name, (instructions, score, inputs, generator, regenerated, verdict) in results.items():
        code = FUNCS[name][0]
        assert len(instructions) == 3 and all(f"`{name}" in i for i in instructions)
        assert score > 0.9
        assert len(inputs) == 4
        namespace: dict[str, Any] = {}
        exec(code, namespace)
        for text in inputs:
            data = json.loads(text)
            namespace[name](*data["args"])  # consistent with the signature
        exec(generator, namespace)
        assert all(set(item) == {"args", "kwargs"} for item in namespace["generate_inputs"]())
        assert len(regenerated) == 1 and f"def {name}(" in regenerated[0]
        assert verdict.passed
    assert responder.calls["summarize"] == 2 and set(responder.seen_code) == set(FUNCS)
