"""The method harness returns the state the prompt shows; the instruction's class docstring is cut."""

from __future__ import annotations

import textwrap
from typing import Any

from codemint.prompt_context import MAX_CLASS_DOC_CHARS
from codemint.records import Instructed, Provenance, content_id
from codemint.reward import parse_ground_truth
from codemint.samples import compared_state, method_instruction, runnable

LOOKUP = textwrap.dedent(
    '''
    class Lookup:
        """Words, looked up by their first letter."""

        def __init__(self, words):
            self.words = list(words)

        def starting(self, letter):
            """The words that start with `letter`, in order."""
            found = [w for w in self.words if w.startswith(letter)]
            self._last = found  # a private cache only this method fills
            return found
    '''
)


def call(code: str, entry: str, *harness_args: Any) -> Any:
    """Run the harness in-process (the sandbox runs the same code): its return value."""
    namespace: dict[str, Any] = {}
    exec(compile(code, "<harness>", "exec"), namespace)
    return namespace[entry](*harness_args)


def row(code: str, context: str | None) -> Instructed:
    return Instructed(
        id=content_id(code),
        code=code,
        provenance=Provenance(source_uri="test:", path="m.py"),
        parent_id="p",
        entry_point="starting",
        signature="def starting(self, letter)",
        original_code=code,
        sample_kind="method",
        class_name="Lookup",
        instruction="Implement it.",
        instruction_source="docstring",
        context_code=context,
    )


def test_the_harness_returns_only_the_attributes_named() -> None:
    args = (["apple", "avocado", "pear"],), {}, ["a"], {}
    whole = call(*runnable(LOOKUP, "method", "starting", "Lookup"), *args)
    assert whole["state"] == {"words": ["apple", "avocado", "pear"], "_last": ["apple", "avocado"]}
    shown = call(*runnable(LOOKUP, "method", "starting", "Lookup", ["words"]), *args)
    assert shown == {"returned": ["apple", "avocado"], "state": {"words": ["apple", "avocado", "pear"]}}
    assert call(*runnable(LOOKUP, "method", "starting", "Lookup", []), *args)["state"] == {}


def test_the_compared_state_comes_from_the_reference_code_when_the_prompt_shows_context() -> None:
    assert compared_state(row(LOOKUP, "class Lookup: ...")) == ["words"]
    # No context shown (context prompts off, or a row made before them): the whole state.
    assert compared_state(row(LOOKUP, None)) is None
    function_row = row(LOOKUP, "").model_copy(update={"sample_kind": "function", "class_name": None})
    assert compared_state(function_row) is None


def test_the_reward_reads_the_compared_state_from_the_ground_truth() -> None:
    truth = {"entry_point": "starting", "sample_kind": "method", "class_name": "Lookup"}
    cases = [{"input": '{"args": [], "kwargs": {}}', "expected": "1"}]
    target, _ = parse_ground_truth({**truth, "state_attributes": ["words"], "test_cases": cases})
    assert target.state_attributes == ("words",)
    code, entry = target.job(LOOKUP)
    assert call(code, entry, [["ab"]], {}, ["a"], {})["state"] == {"words": ["ab"]}
    older, _ = parse_ground_truth({**truth, "test_cases": cases})  # rows exported before: all state
    assert older.state_attributes is None


def test_with_context_the_instruction_cuts_the_class_docstring_and_lists_no_methods() -> None:
    long_doc = "Keeps words. " * 60 + "\n\n    Details nobody needs for one method."
    code = LOOKUP.replace("Words, looked up by their first letter.", long_doc).replace(
        "        return found\n", "        return found\n\n    def size(self):\n        return 1\n"
    )
    plain = method_instruction(code, "Lookup", "def starting(self, letter)", "Find them.")
    assert "Details nobody needs" in plain and "`size`" in plain
    cut = method_instruction(code, "Lookup", "def starting(self, letter)", "Find them.", context=True)
    assert "Details nobody needs" not in cut and "`size`" not in cut
    class_doc = cut.split("\n\n")[1]
    assert len(class_doc) <= MAX_CLASS_DOC_CHARS and class_doc.endswith("Keeps words.")
