"""Summary targets: the function's own words, with only the doctest outputs its code shows."""

from __future__ import annotations

import pytest

from codemint.tasks.derive.summary_target import SummaryTarget, cut_unshown_examples, summary_target

GOOGLE = """Return the mean of data.

Examples:
    >>> mean([1, 2, 3, 4])
    2.5

Raises StatisticsError if data is empty."""
NUMPY = """Split a pair.

Examples
--------
>>> split_pair('a:b')
('a', 'b')

Notes
-----
Splits at the first colon."""


def test_an_output_the_code_does_not_show_is_cut_with_its_empty_heading() -> None:
    assert cut_unshown_examples(GOOGLE, "def mean(data): ...") == (
        "Return the mean of data.\n\nRaises StatisticsError if data is empty.",
        1,
    )
    assert cut_unshown_examples(NUMPY, "def split_pair(s): ...") == (
        "Split a pair.\n\nNotes\n-----\nSplits at the first colon.",
        1,
    )


def test_an_output_the_code_shows_and_an_example_without_output_stay() -> None:
    doc = "Give the separator.\n\n>>> sep()\n':'\n>>> x = sep()\n"
    assert cut_unshown_examples(doc, "SEP = ':'\ndef sep():\n    return SEP\n") == (doc, 0)
    # A short output must be a whole token of the code, not part of one (`25` in `250`).
    assert cut_unshown_examples(">>> f()\n25\n", "def f():\n    return 250 // 10\n")[1] == 1


def test_a_heading_with_text_left_under_it_stays() -> None:
    doc = "Do it.\n\nExamples:\n    Call it twice.\n    >>> f(1)\n    9\n"
    assert cut_unshown_examples(doc, "def f(x): ...") == ("Do it.\n\nExamples:\n    Call it twice.", 1)


@pytest.mark.parametrize("source", ["protocol", "inherited", "examples"])
def test_words_that_are_not_the_functions_own_give_no_target(source: str) -> None:
    assert summary_target(source, None, None, "Return len(obj).", "def f(): ...") == f"not_own_words:{source}"
    # The old rule (the benchmark's baseline) took them, example calls aside.
    old = summary_target(source, None, None, "Return len(obj).", "def f(): ...", own_words=False)
    assert old == (
        f"not_own_words:{source}"
        if source == "examples"
        else SummaryTarget("Return len(obj).", "instruction", 0)
    )


def test_a_comment_is_a_docstring_target_and_examples_alone_are_not_enough() -> None:
    assert summary_target("comment", None, "Count the words in s.", "x", "def f(s): ...") == SummaryTarget(
        "Count the words in s.", "docstring", 0
    )
    assert summary_target("docstring", ">>> f(2)\n4\n", None, "x", "def f(x): ...") == "examples_only"


def test_a_session_goes_whole_with_its_setup_lines() -> None:
    # set_seq1's docstring: the setup lines only lead to outputs the code does not show.
    doc = (
        "Set the first sequence.\n\n>>> s = SequenceMatcher(None, 'abcd', 'bcde')\n>>> s.ratio()\n0.75\n"
        ">>> s.set_seq1('bcde')\n>>> s.ratio()\n1.0\n>>>\n\nSee also set_seq2()."
    )
    assert cut_unshown_examples(doc, "def set_seq1(self, a): ...") == (
        "Set the first sequence.\n\nSee also set_seq2().",
        4,
    )
