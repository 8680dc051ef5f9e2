"""The user turn of a generation row's RL prompt, and the answer formats every kind asks for.

Each other kind's prompt is in its own module under `tasks/derive/` (`summarization_prompt`,
`repair_prompt`, `translation_prompt`). Plain text a model is trained on, so it is fixed and
versioned with the code: changing a template changes the derive stage's code version and so
its cache key.
"""

from __future__ import annotations

from codemint.prompt_context import context_block, fenced, with_context

__all__ = ["ANSWER_FORMAT", "ANSWER_FORMAT_CONTEXT", "fenced", "generation_prompt", "with_context"]

ANSWER_FORMAT = "Answer with the complete function in one ```python code block."
ANSWER_FORMAT_CONTEXT = "Answer with the complete code in one ```python code block."


def generation_prompt(instruction: str, context: str | None = None) -> str:
    """The RL prompt of a generation row: the instruction, the context code it works in (the
    row's `context_code`), and where the answer must go."""
    answer = ANSWER_FORMAT if context_block(context) is None else ANSWER_FORMAT_CONTEXT
    return f"{with_context(instruction, context)}\n\n{answer}"
