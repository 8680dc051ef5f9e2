"""Structured output: the JSON schema sent as `response_format` and the parser that checks replies.

vLLM enforces `response_format={"type": "json_schema", ...}` with guided decoding, but a
reply can still be invalid (server without guided decoding, a proxy, a truncated reply),
so every reply is parsed and validated here before use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


class SchemaError(ValueError):
    """A reply that is not JSON or does not match the schema; the message is fed back on repair."""


@dataclass(frozen=True)
class JsonSchema(Generic[T]):
    """A named schema for the server plus the validator that turns parsed JSON into T."""

    name: str
    schema: dict[str, Any]
    validate: Callable[[Any], T]
    # A regular expression that spells the compact JSON of the schema, with no free
    # whitespace: sent instead of the schema (vLLM's `structured_outputs.regex`, accepted by
    # the xgrammar and guidance backends alike) when the reply must be bounded. A JSON schema
    # leaves whitespace free between tokens, and a weak model at temperature 0 fills the
    # context with it.
    regex: str | None = None
    # The longest reply the regex allows, in characters: sizes `max_tokens`.
    max_chars: int | None = None

    @classmethod
    def from_model(cls, model: type[M], name: str | None = None) -> JsonSchema[M]:
        schema = _closed(model.model_json_schema())
        return JsonSchema(name=name or model.__name__, schema=schema, validate=model.model_validate)

    @classmethod
    def from_type(cls, name: str, schema: dict[str, Any], type_: type[T]) -> JsonSchema[T]:
        """A hand-written schema (e.g. sized by the signature) checked with a pydantic type."""
        adapter: TypeAdapter[T] = TypeAdapter(type_)
        return JsonSchema(name=name, schema=schema, validate=adapter.validate_python)

    def response_format(self) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.schema, "strict": True},
        }

    def request_fields(self) -> dict[str, Any]:
        """What goes into the request body to constrain the reply."""
        if self.regex is not None:
            return {"structured_outputs": {"regex": self.regex}}
        return {"response_format": self.response_format()}

    def max_tokens(self) -> int | None:
        """A `max_tokens` that fits every reply the regex allows (a token of ASCII text holds at
        least one character), plus the end-of-sequence token and a margin."""
        return None if self.max_chars is None else self.max_chars + 8

    def parse(self, text: str) -> T:
        try:
            data = json.loads(_strip_fence(text))
        except json.JSONDecodeError as exc:
            raise SchemaError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
        try:
            return self.validate(data)
        except ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            raise SchemaError(f"JSON does not match the schema: {errors}") from exc


def _strip_fence(text: str) -> str:
    # Without guided decoding, models like to wrap JSON in a ```json fence.
    text = text.strip()
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Forbid extra keys on every object, as OpenAI's strict mode expects."""
    if schema.get("type") == "object":
        schema.setdefault("additionalProperties", False)
    for sub in schema.get("$defs", {}).values():
        _closed(sub)
    for sub in schema.get("properties", {}).values():
        if isinstance(sub, dict):
            _closed(sub)
    return schema


def repair_message(error: str) -> dict[str, str]:
    """The user turn of the single repair retry."""
    return {
        "role": "user",
        "content": (
            f"Your reply could not be used: {error}. "
            "Reply again with only the corrected JSON object, matching the schema exactly, "
            "with no other text."
        ),
    }
