"""Parsing the realistic-bug replies: the code with the bug, its kind, or why there is none."""

from __future__ import annotations

from codemint.llm import errors
from codemint.llm.bugs import UNCHANGED, LLMBug, parse_bug

ORIGINAL = "def last(xs):\n    return xs[len(xs) - 1]\n"


def test_a_reply_gives_the_buggy_code_and_its_kind() -> None:
    reply = (
        "Bug: off_by_one: the index is one too far.\n\n```python\ndef last(xs):\n    return xs[len(xs)]\n```"
    )
    assert parse_bug(reply, "last", ORIGINAL) == LLMBug(
        "off_by_one", "the index is one too far.", "def last(xs):\n    return xs[len(xs)]\n"
    )
    unnamed = "**Bug**: Wrong condition: swapped.\n```python\ndef last(xs):\n    return xs[0]\n```"
    assert parse_bug(unnamed, "last", ORIGINAL) == LLMBug(
        "wrong_condition", "swapped.", "def last(xs):\n    return xs[0]\n"
    )
    odd = "Bug: typo: whatever\n```python\ndef last(xs):\n    return xs[-2]\n```"
    bug = parse_bug(odd, "last", ORIGINAL)
    assert isinstance(bug, LLMBug) and bug.kind == "other"


def test_a_reply_without_a_bug_says_why() -> None:
    same = "Bug: off_by_one: none\n```python\ndef last(xs):\n    # same\n    return xs[len(xs) - 1]\n```"
    assert parse_bug(same, "last", ORIGINAL) == UNCHANGED  # the same program, comments aside
    assert (
        parse_bug("```python\ndef first(xs):\n    return xs[0]\n```", "last", ORIGINAL)
        == errors.MISSING_ENTRY_POINT
    )
    assert parse_bug("I will not.", "last", ORIGINAL) == errors.MISSING_ENTRY_POINT
