"""Structured output: response_format json_schema, validation, one repair retry, then a reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai_server import DEFAULT_MODEL, OpenAIServer, Reply, Scripted, fixed

from codemint.llm import errors
from codemint.llm.client import JsonCompletion, LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.strategies import Verdict
from codemint.llm.structured import JsonSchema
from codemint.settings import LLMSettings

MESSAGES = [{"role": "user", "content": "Judge this."}]
GOOD = json.dumps({"passed": True, "score": 0.75, "reasons": "fine"})
SCHEMA = JsonSchema.from_model(Verdict)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def ask(server: OpenAIServer, n: int = 1) -> tuple[JsonCompletion[Verdict] | LLMError, dict[str, Any]]:
    s = LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL, backoff_base_s=0.01, timeout_s=2)

    async def run() -> tuple[JsonCompletion[Verdict] | LLMError, dict[str, Any]]:
        async with LLMClient(s) as client:
            try:
                result: JsonCompletion[Verdict] | LLMError = await client.chat_json(
                    MESSAGES, SCHEMA, stage="j", n=n
                )
            except LLMError as exc:
                result = exc
            return result, client.stats_dict()["j"]

    return asyncio.run(run())


def test_valid_reply_and_request_shape(server: OpenAIServer) -> None:
    server.responder = fixed(GOOD)
    result, stats = ask(server)
    assert isinstance(result, JsonCompletion)
    assert result.values == [Verdict(passed=True, score=0.75, reasons="fine")] and not result.repaired
    rf = server.requests[0]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "Verdict"
    assert rf["json_schema"]["schema"]["required"] == ["passed", "score", "reasons"]
    assert rf["json_schema"]["schema"]["additionalProperties"] is False
    assert "guided_json" not in server.requests[0]
    assert stats["repairs"] == 0


def test_fenced_json_is_accepted(server: OpenAIServer) -> None:
    server.responder = fixed(f"```json\n{GOOD}\n```")
    result, _ = ask(server)
    assert isinstance(result, JsonCompletion) and result.values[0].score == 0.75


@pytest.mark.parametrize(
    "bad",
    ['{"passed": true, "score": 0.5,', '{"passed": true, "score": 3.0, "reasons": "x"}', "Sure! It passes."],
)
def test_malformed_reply_is_repaired_once(server: OpenAIServer, bad: str) -> None:
    server.responder = Scripted([Reply(content=bad)], then=Reply(content=GOOD))
    result, stats = ask(server)
    assert isinstance(result, JsonCompletion) and result.repaired
    assert result.values[0].reasons == "fine"
    assert server.chat_requests == 2
    repair = server.requests[1]["messages"]
    assert repair[:-2] == MESSAGES
    assert repair[-2] == {"role": "assistant", "content": bad}
    assert "could not be used" in repair[-1]["content"]
    assert stats["repairs"] == 1 and stats["failures"] == {}


def test_still_malformed_after_repair_is_a_reason(server: OpenAIServer) -> None:
    server.responder = fixed("{broken")
    result, stats = ask(server)
    assert isinstance(result, LLMError) and result.reason == errors.MALFORMED_JSON
    assert "not valid JSON" in result.detail
    assert server.chat_requests == 2  # the original and exactly one repair
    assert stats["failures"] == {errors.MALFORMED_JSON: 1}


def test_some_bad_samples_are_dropped_without_repair(server: OpenAIServer) -> None:
    server.responder = fixed([GOOD, "{nope", GOOD])
    result, stats = ask(server, n=3)
    assert isinstance(result, JsonCompletion) and len(result.values) == 2
    assert result.dropped == [errors.MALFORMED_JSON]
    assert server.chat_requests == 1 and stats["repairs"] == 0


def test_truncated_json_is_not_repaired(server: OpenAIServer) -> None:
    server.responder = fixed('{"passed": true', finish_reason="length")
    result, _ = ask(server)
    assert isinstance(result, LLMError) and result.reason == errors.TRUNCATED
    assert server.chat_requests == 1
