"""The user turns of the derived task rows (and of the RL prompts), one builder per task.

Plain text a model is trained on, so it is fixed here and versioned with the code: changing
a template changes the derive stage's code version and so its cache key.
"""

from __future__ import annotations

from codemint.prompt_context import context_block, fenced, with_context
from codemint.records import TestCase
from codemint.value_text import call_text, result_text

ANSWER_FORMAT = "Answer with the complete function in one ```python code block."
ANSWER_FORMAT_CONTEXT = "Answer with the complete code in one ```python code block."


def generation_prompt(instruction: str, context: str | None = None) -> str:
    """The RL prompt of a generation row: the instruction, the context code it works in (the
    row's `context_code`), and where the answer must go."""
    answer = ANSWER_FORMAT if context_block(context) is None else ANSWER_FORMAT_CONTEXT
    return f"{with_context(instruction, context)}\n\n{answer}"


def summarization_prompt(code: str, entry_point: str, target: str) -> str:
    """`target` is "docstring" (the function's own docstring) or "instruction"."""
    if target == "docstring":
        ask = (
            f"Write the docstring of the Python function `{entry_point}` below: "
            "what it does, its arguments and what it returns."
        )
    else:
        ask = (
            f"Write an instruction that asks a programmer to implement the Python function "
            f"`{entry_point}` below, precise enough to write it from the instruction alone."
        )
    return f"{ask}\n\n{fenced(code)}"


def describe_call(
    case: TestCase, entry_point: str, sample_kind: str = "function", class_name: str | None = None
) -> str:
    """The test's call as Python source (never the codec's JSON)."""
    return call_text(case.input, entry_point, sample_kind, class_name)


def expected_text(case: TestCase, sample_kind: str = "function") -> str:
    if case.exception is not None:
        return f"raises `{case.exception}`"
    return result_text(case.expected or "null", sample_kind)


def repair_prompt(
    buggy_code: str,
    entry_point: str,
    failing: TestCase,
    actual: str,
    sample_kind: str = "function",
    class_name: str | None = None,
) -> str:
    """`actual`: what the buggy code did, already as text (`derive_repair.actual_text`)."""
    method = sample_kind in ("method", "property", "classmethod") and class_name
    what = f"method `{class_name}.{entry_point}`" if method else f"function `{entry_point}`"
    answer = ANSWER_FORMAT_CONTEXT if method else ANSWER_FORMAT
    return (
        f"The Python {what} below has a bug. A test fails:\n\n"
        f"- call: `{describe_call(failing, entry_point, sample_kind, class_name)}`\n"
        f"- expected: {expected_text(failing, sample_kind)}\n"
        f"- actual: {actual}\n\n"
        f"{fenced(buggy_code)}\n\n"
        f"Fix the bug. {answer}"
    )


def translation_prompt(code: str, entry_point: str, language: str = "JavaScript") -> str:
    return (
        f"Translate the Python function `{entry_point}` below into {language}. Keep its name "
        "and parameters; it must return the same results on the same arguments.\n\n"
        f"{fenced(code)}\n\n"
        f"Answer with the complete function in one ```{language.lower()} code block."
    )
