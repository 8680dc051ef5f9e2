"""The one exception the LLM layer raises, with a machine-readable drop reason.

Stages catch `LLMError` per sample and record `exc.reason` on the rejected row, so a
flaky server or a bad reply drops one sample, never the shard.
"""

from __future__ import annotations

from typing import Final

# Transport: retries exhausted on connection errors, timeouts, 429 or 5xx.
REQUEST_FAILED: Final = "llm_request_failed"
# The server rejected the request (4xx other than 429), e.g. prompt longer than the context.
BAD_REQUEST: Final = "llm_bad_request"
# Every choice stopped at max_tokens.
TRUNCATED: Final = "llm_truncated"
# Structured output still invalid after the one repair retry.
MALFORMED_JSON: Final = "llm_malformed_json"
# Refusal field, content filter, or an "I'm sorry, I can't ..." reply.
REFUSED: Final = "llm_refused"
EMPTY: Final = "llm_empty"
# Strategy-level checks on otherwise well-formed replies.
COPIED_CODE: Final = "llm_copied_code"
TOO_SHORT: Final = "llm_too_short"
NO_CODE: Final = "llm_no_code"
MISSING_ENTRY_POINT: Final = "llm_missing_entry_point"
BAD_ARITY: Final = "llm_bad_arity"
# A proposed input the sandbox codec cannot carry (e.g. an int too big to encode exactly).
BAD_INPUT: Final = "llm_bad_input"
UNDECIDED: Final = "llm_undecided"
# The prompt does not fit the model's context even with the code cut down.
PROMPT_TOO_LONG: Final = "llm_prompt_too_long"

REASONS: Final = (
    REQUEST_FAILED,
    BAD_REQUEST,
    TRUNCATED,
    MALFORMED_JSON,
    REFUSED,
    EMPTY,
    COPIED_CODE,
    TOO_SHORT,
    NO_CODE,
    MISSING_ENTRY_POINT,
    BAD_ARITY,
    BAD_INPUT,
    UNDECIDED,
    PROMPT_TOO_LONG,
)


class LLMError(Exception):
    """A request or reply that cannot yield a usable result; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status  # the HTTP status the server answered with, if it did

    @property
    def deterministic(self) -> bool:
        """The server rejected this exact request (400, 413, 422): sent again, it fails again."""
        return self.status in (400, 413, 422)


def dominant_reason(reasons: list[str], default: str) -> str:
    """The most frequent reason (first seen wins ties), for 'all candidates dropped' errors."""
    if not reasons:
        return default
    return max(dict.fromkeys(reasons), key=reasons.count)
