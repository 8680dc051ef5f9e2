"""Prompts that fit the model's context: measured in tokens by the server, the code cut when
it must be, or the sample dropped as `llm_prompt_too_long`.

A prompt plus its `max_tokens` must fit the context: vLLM answers HTTP 400 to a prompt over
it, and silently shortens the reply (`finish_reason: length`) when only the reply does not
fit. Most prompts are far below the limit; their UTF-8 size (a token holds at least one
byte) plus the chat template's few tokens per message proves it without asking. The others
are counted with the server's own tokenizer (`POST /tokenize`, cached like every request),
and the code is cut at a line boundary with a marker that says so. The cut depends only on
token counts, so it is the same on every run.
"""

from __future__ import annotations

from typing import Any

from codemint.llm import errors, prompts
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError

CUT_MARKER = "# [codemint: code cut here to fit the model's context; {shown} of {total} lines shown]\n"
_TEMPLATE_TOKENS_PER_MESSAGE = 16  # role markers and separators of a chat template, generously
MIN_CODE_TOKENS = 64  # below this, a cut function says too little to be worth a request
_ATTEMPTS = 5


def _upper_bound(messages: list[dict[str, str]]) -> int:
    body = sum(len(m["content"].encode("utf-8")) for m in messages)
    return body + _TEMPLATE_TOKENS_PER_MESSAGE * (len(messages) + 1)


def cut_code(code: str, keep_chars: int) -> str | None:
    """The first whole lines of `code` within `keep_chars`, and the marker; None if none fit."""
    lines = code.splitlines(keepends=True)
    kept, size = 0, 0
    for line in lines:
        if size + len(line) > keep_chars:
            break
        kept, size = kept + 1, size + len(line)
    if kept == 0:
        return None
    head = "".join(lines[:kept])
    if not head.endswith("\n"):
        head += "\n"
    return head + CUT_MARKER.format(shown=kept, total=len(lines))


async def fit_prompt(
    client: LLMClient, name: str, max_tokens: int, *, cut: str | None = "code", **values: Any
) -> list[dict[str, str]]:
    """Prompt `name` rendered with `values`, with `values[cut]` shortened if the prompt and
    `max_tokens` would not fit the context. Raises LLMError(llm_prompt_too_long)."""
    messages = prompts.render(name, **values)
    limit = await client.context_limit()
    if limit is None:
        return messages  # unknown context: send it, the server says if it is too long
    budget = limit - max_tokens
    if _upper_bound(messages) <= budget:
        return messages
    total = await client.count_tokens(messages)
    if total is None or total <= budget:
        return messages  # fits, or no tokenizer endpoint: send it, the server says if it is too long
    code = str(values.get(cut, "")) if cut else ""
    if cut is None or not code:
        raise LLMError(
            errors.PROMPT_TOO_LONG,
            f"{name}: {total} prompt tokens + {max_tokens} for the reply exceed the context of {limit}",
        )
    frame = await client.count_tokens(prompts.render(name, **{**values, cut: ""})) or 0
    room = budget - frame - 48  # the marker's tokens, generously
    if room < MIN_CODE_TOKENS:
        raise LLMError(
            errors.PROMPT_TOO_LONG,
            f"{name}: without the code the prompt is {frame} tokens; {limit} context - {max_tokens} "
            f"for the reply leaves {room} for the code",
        )
    share = room / max(1, total - frame)
    for _ in range(_ATTEMPTS):
        shorter = cut_code(code, int(len(code) * share))
        if shorter is None:
            break
        messages = prompts.render(name, **{**values, cut: shorter})
        count = await client.count_tokens(messages)
        if count is None or count <= budget:
            return messages
        share *= 0.8 * budget / count
    raise LLMError(
        errors.PROMPT_TOO_LONG, f"{name}: the code could not be cut to fit {room} tokens of the context"
    )
