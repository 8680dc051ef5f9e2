"""The LLM strategies the pipeline stages call: each is one prompt, one request, and the
checks that turn the reply into usable values.

Every strategy returns an `LLMResult` carrying the value with the model and prompt version
(stages put both on their rows) and the reasons of candidates it dropped. When nothing
usable is left it raises `LLMError`, whose `reason` the stage records on the rejected sample.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from codemint.llm import errors, prompts
from codemint.llm.client import Completion, LLMClient
from codemint.llm.codetext import (
    copies_code,
    extract_function_code,
    input_text,
    parse_params,
    strip_docstrings,
    takes_no_arguments,
)
from codemint.llm.errors import LLMError, dominant_reason
from codemint.llm.fitting import fit_prompt
from codemint.llm.structured import JsonSchema

T = TypeVar("T")

MIN_INSTRUCTION_CHARS = 20
GENERATOR_NAME = "generate_inputs"


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    value: T
    model: str
    prompt_version: str
    cached: bool
    dropped: tuple[str, ...] = ()


def usable_choices(
    client: LLMClient, stage: str, completion: Completion, found: list[T], dropped: list[str], what: str
) -> LLMResult[list[T]]:
    """The usable items parsed from a completion's choices, with the choices dropped counted;
    LLMError with the most frequent reason when there are none."""
    client.stats.stage(stage).dropped_choices.update(dropped)
    if not found:
        reason = dominant_reason([*completion.dropped, *dropped], errors.NO_CODE)
        client.stats.stage(stage).failures[reason] += 1
        raise LLMError(reason, f"no usable {what} ({', '.join(dropped) or 'none returned'})")
    all_dropped = (*completion.dropped, *dropped)
    return LLMResult(found, completion.model, completion.prompt_version, completion.cached, all_dropped)


REASONS_MAX_CHARS = 300


class Verdict(BaseModel):
    """The judge's decision on one (instruction, code) pair."""

    passed: bool
    score: float = Field(ge=0.0, le=1.0)
    reasons: str = Field(max_length=REASONS_MAX_CHARS)


# The judge's reply, spelled out: compact JSON, a score with two decimals at most, reasons of
# printable ASCII without quotes or backslashes. Bounded, so a reply always ends.
VERDICT_REGEX = (
    r'\{"passed":(true|false),"score":(0(\.[0-9]{1,2})?|1(\.00?)?),'
    r'"reasons":"[ !#-\[\]-~]{1,' + str(REASONS_MAX_CHARS) + r'}"\}'
)
VERDICT_MAX_CHARS = len('{"passed":false,"score":0.00,"reasons":""}') + REASONS_MAX_CHARS


def verdict_schema() -> JsonSchema[Verdict]:
    schema = JsonSchema.from_model(Verdict)
    return JsonSchema(
        schema.name, schema.schema, schema.validate, regex=VERDICT_REGEX, max_chars=VERDICT_MAX_CHARS
    )


class _ProposedInputs(BaseModel):
    # Items stay Any: a bad item is dropped alone instead of failing the whole reply.
    inputs: list[Any]


def _without_docstrings(code: str) -> str:
    try:
        return strip_docstrings(code).strip("\n")
    except SyntaxError:
        return code.strip("\n")


def _record_drops(client: LLMClient, stage: str, reasons: list[str]) -> None:
    client.stats.stage(stage).dropped_choices.update(reasons)


def _nothing_left(client: LLMClient, stage: str, dropped: list[str], default: str) -> LLMError:
    reason = dominant_reason(dropped, default)
    client.stats.stage(stage).failures[reason] += 1
    return LLMError(reason, f"no usable candidate ({', '.join(dropped) or 'none returned'})")


async def summarize(
    client: LLMClient, code: str, entry_point: str, n: int, *, min_chars: int = MIN_INSTRUCTION_CHARS
) -> LLMResult[list[str]]:
    """`n` instruction candidates for `code` (Inverse-Instruct). The docstring is stripped first
    so the instruction is not its paraphrase; candidates that are too short or copy the code
    are dropped."""
    name = "summarize"
    bare = _without_docstrings(code)
    completion = await client.chat(
        await fit_prompt(client, name, client.settings.max_tokens, entry_point=entry_point, code=bare),
        stage=name,
        prompt_version=prompts.version(name),
        n=n,
        stop=["```"],  # an instruction has no code block: stop before one starts
    )
    kept: list[str] = []
    strategy_drops: list[str] = []
    for text in completion.texts:
        instruction = text.strip()
        if len(instruction) < min_chars:
            strategy_drops.append(errors.TOO_SHORT)
        elif copies_code(instruction, bare):
            strategy_drops.append(errors.COPIED_CODE)
        elif instruction not in kept:
            kept.append(instruction)
    _record_drops(client, name, strategy_drops)
    dropped = [*completion.dropped, *strategy_drops]
    if not kept:
        raise _nothing_left(client, name, dropped, errors.EMPTY)
    return LLMResult(kept, completion.model, completion.prompt_version, completion.cached, tuple(dropped))


def yes_probability(top_logprobs: dict[str, float]) -> float | None:
    """P(yes) / (P(yes) + P(no)) over the first token's alternatives (" Yes", "yes", ... all
    count), or None if neither appears."""
    p_yes = p_no = 0.0
    for token, logprob in top_logprobs.items():
        word = token.strip().strip(".,!:").lower()
        if word == "yes":
            p_yes += math.exp(logprob)
        elif word == "no":
            p_no += math.exp(logprob)
    if p_yes + p_no <= 0.0:
        return None
    return p_yes / (p_yes + p_no)


async def self_evaluate(client: LLMClient, code: str, instruction: str) -> LLMResult[float]:
    """Score in [0, 1] that `instruction` fully and correctly describes `code`: from the first
    token's top logprobs when the server returns them, else 1.0 / 0.0 from the answer text."""
    name = "self_evaluate"
    completion = await client.chat(
        await fit_prompt(client, name, 1, instruction=instruction.strip(), code=_without_docstrings(code)),
        stage=name,
        prompt_version=prompts.version(name),
        n=1,
        temperature=0.0,
        max_tokens=1,
        logprobs=True,
        allow_truncated=True,  # one token is all we ask for
    )
    choice = completion.choices[0]
    score = yes_probability(choice.top_logprobs) if choice.top_logprobs else None
    if score is None:
        word = choice.text.strip().strip(".,!:").lower()
        if word.startswith("yes"):
            score = 1.0
        elif word.startswith("no"):
            score = 0.0
        else:
            client.stats.stage(name).failures[errors.UNDECIDED] += 1
            raise LLMError(errors.UNDECIDED, f"answer is neither yes nor no: {choice.text[:80]!r}")
    return LLMResult(score, completion.model, completion.prompt_version, completion.cached)


ANY_JSON: dict[str, Any] = {"type": ["number", "string", "boolean", "null", "array", "object"]}


def inputs_schema(min_args: int, max_args: int | None, k: int) -> dict[str, Any]:
    """JSON schema of `{"inputs": [[arg, ...], ...]}` sized by the signature."""
    # `items` must be given: without it xgrammar reads minItems as "more than the prefixItems
    # allow" and rejects the schema (HTTP 400); an argument is any JSON value.
    item: dict[str, Any] = {"type": "array", "items": ANY_JSON, "minItems": min_args}
    if max_args is not None:
        item["maxItems"] = max_args
    return {
        "type": "object",
        "properties": {"inputs": {"type": "array", "items": item, "minItems": 1, "maxItems": max(1, k)}},
        "required": ["inputs"],
        "additionalProperties": False,
    }


async def propose_inputs(
    client: LLMClient, code: str, entry_point: str, signature: str, k: int
) -> LLMResult[list[str]]:
    """Up to `k` test inputs as sandbox input JSON text (`{"args": [...], "kwargs": {...}}`,
    tagged values). Items of the wrong arity or that are not JSON argument lists are dropped
    one by one."""
    shown = {"code": _without_docstrings(code)}
    return await _inputs_from_prompt(client, "propose_inputs", code, entry_point, signature, k, shown)


async def propose_killing_inputs(
    client: LLMClient, code: str, entry_point: str, signature: str, mutant_diffs: list[str], k: int
) -> LLMResult[list[str]]:
    """The MuTAP idea: the code and the mutants current tests miss (as diffs) in, up to `k`
    inputs meant to tell them apart out (same shape and checks as `propose_inputs`). The
    caller runs them and keeps those that do."""
    mutants = "\n\n".join(f"Mutant {i + 1}:\n```diff\n{d.strip()}\n```" for i, d in enumerate(mutant_diffs))
    shown = {"code": code, "mutants": mutants}  # diffs are against the code as written
    return await _inputs_from_prompt(
        client, "kill_mutants", code, entry_point, signature, k, shown, cut="mutants"
    )


async def _inputs_from_prompt(
    client: LLMClient,
    name: str,
    code: str,
    entry_point: str,
    signature: str,
    k: int,
    shown: dict[str, str],
    cut: str = "code",
) -> LLMResult[list[str]]:
    try:
        params = parse_params(signature, entry_point, code)
    except ValueError as exc:
        raise LLMError(errors.BAD_ARITY, str(exc)) from exc
    schema = JsonSchema.from_type(
        "test_inputs", inputs_schema(params.min_args, params.max_args, k), _ProposedInputs
    )
    result = await client.chat_json(
        await fit_prompt(
            client,
            name,
            client.settings.max_tokens,
            cut=cut,
            k=k,
            entry_point=entry_point,
            signature=signature,
            **shown,
        ),
        schema,
        stage=name,
        prompt_version=prompts.version(name),
    )
    texts: list[str] = []
    strategy_drops: list[str] = []
    for item in result.values[0].inputs:
        values = item
        if isinstance(values, str):  # an argument list sent as JSON text
            try:
                values = json.loads(values)
            except json.JSONDecodeError:
                strategy_drops.append(errors.MALFORMED_JSON)
                continue
        split = params.split(values) if isinstance(values, list) else None
        if split is None:
            strategy_drops.append(errors.BAD_ARITY)
            continue
        text = input_text(*split)
        if '"__repr__"' in text:  # the codec could only describe it, not carry it
            strategy_drops.append(errors.BAD_INPUT)
        elif text not in texts:
            texts.append(text)
    texts = texts[:k]
    _record_drops(client, name, strategy_drops)
    dropped = [*result.dropped, *strategy_drops]
    if not texts:
        raise _nothing_left(client, name, dropped, errors.EMPTY)
    return LLMResult(texts, result.model, result.prompt_version, result.cached, tuple(dropped))


async def write_input_generator(
    client: LLMClient, code: str, entry_point: str, signature: str
) -> LLMResult[str]:
    """Source of `generate_inputs() -> list` returning `{"args": [...], "kwargs": {...}}` dicts.
    Only checked to parse and define the function; run it in the sandbox and cap what it returns."""
    name = "input_generator"
    completion = await client.chat(
        await fit_prompt(
            client,
            name,
            client.settings.max_tokens,
            entry_point=entry_point,
            signature=signature,
            code=_without_docstrings(code),
        ),
        stage=name,
        prompt_version=prompts.version(name),
    )
    dropped = list(completion.dropped)
    for text in completion.texts:
        source = extract_function_code(text, GENERATOR_NAME)
        if source is not None and takes_no_arguments(source, GENERATOR_NAME):
            return LLMResult(
                source, completion.model, completion.prompt_version, completion.cached, tuple(dropped)
            )
        dropped.append(errors.MISSING_ENTRY_POINT)
        _record_drops(client, name, [errors.MISSING_ENTRY_POINT])
    raise _nothing_left(client, name, dropped, errors.NO_CODE)


async def regenerate(
    client: LLMClient, instruction: str, entry_point: str, signature: str, n: int
) -> LLMResult[list[str]]:
    """`n` fresh solutions written from the instruction alone; each must define `entry_point`."""
    name = "regenerate"
    completion = await client.chat(
        await fit_prompt(
            client,
            name,
            client.settings.max_tokens,
            cut=None,
            entry_point=entry_point,
            signature=signature,
            instruction=instruction.strip(),
        ),
        stage=name,
        prompt_version=prompts.version(name),
        n=n,
    )
    solutions: list[str] = []
    strategy_drops: list[str] = []
    for text in completion.texts:
        source = extract_function_code(text, entry_point)
        if source is None:
            strategy_drops.append(errors.MISSING_ENTRY_POINT)
        elif source not in solutions:
            solutions.append(source)
    _record_drops(client, name, strategy_drops)
    dropped = [*completion.dropped, *strategy_drops]
    if not solutions:
        raise _nothing_left(client, name, dropped, errors.NO_CODE)
    return LLMResult(
        solutions, completion.model, completion.prompt_version, completion.cached, tuple(dropped)
    )


async def judge(client: LLMClient, instruction: str, code: str) -> LLMResult[Verdict]:
    """WaveCoder-style discriminator: does the pair meet the written criteria (prompt `judge`)."""
    name = "judge"
    result = await client.chat_json(
        await fit_prompt(
            client, name, VERDICT_MAX_CHARS + 8, instruction=instruction.strip(), code=code.strip("\n")
        ),
        verdict_schema(),
        stage=name,
        prompt_version=prompts.version(name),
        temperature=0.0,
    )
    return LLMResult(
        result.values[0], result.model, result.prompt_version, result.cached, tuple(result.dropped)
    )
