"""The user turns of the derived task rows (and of the RL prompts), one builder per task.

Plain text a model is trained on, so it is fixed here and versioned with the code: changing
a template changes the derive stage's code version and so its cache key.
"""

from __future__ import annotations

from codemint.records import TestCase

ANSWER_FORMAT = "Answer with the complete function in one ```python code block."


def fenced(code: str, language: str = "python") -> str:
    return f"```{language}\n{code.strip(chr(10))}\n```"


CONTEXT_LEAD = (
    "It works in this context. Your answer is run on its own, so write it complete: "
    "it must define everything it uses from this code."
)
ANSWER_FORMAT_CONTEXT = "Answer with the complete code in one ```python code block."


def context_block(context: str | None) -> str | None:
    """The context code as the prompt shows it, apart from the instruction (None: none to show)."""
    if not context or not context.strip():
        return None
    return f"{CONTEXT_LEAD}\n\n{fenced(context)}"


def with_context(instruction: str, context: str | None = None) -> str:
    """The user turn of a generation row: the instruction, then the context code block."""
    block = context_block(context)
    return instruction.rstrip() if block is None else f"{instruction.rstrip()}\n\n{block}"


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


def describe_call(case: TestCase, entry_point: str) -> str:
    return f"`{entry_point}` called with {case.input}"


def expected_text(case: TestCase) -> str:
    if case.exception is not None:
        return f"raises `{case.exception}`"
    return f"returns {case.expected}"


def repair_prompt(buggy_code: str, entry_point: str, failing: TestCase, actual: str) -> str:
    return (
        f"The Python function `{entry_point}` below has a bug. A test fails:\n\n"
        f"- input (arguments as JSON): {failing.input}\n"
        f"- expected: {expected_text(failing)}\n"
        f"- actual: {actual}\n\n"
        f"{fenced(buggy_code)}\n\n"
        f"Fix the bug. {ANSWER_FORMAT}"
    )


def translation_prompt(code: str, entry_point: str, language: str = "JavaScript") -> str:
    return (
        f"Translate the Python function `{entry_point}` below into {language}. Keep its name "
        "and parameters; it must return the same results on the same arguments.\n\n"
        f"{fenced(code)}\n\n"
        f"Answer with the complete function in one ```{language.lower()} code block."
    )
