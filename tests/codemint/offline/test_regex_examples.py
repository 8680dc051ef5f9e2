"""Texts a regular expression matches, for code that looks for a pattern."""

from __future__ import annotations

import re

import pytest

from codemint.offline.regex_examples import examples


@pytest.mark.parametrize(
    "pattern",
    [
        r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)",
        r"^\d{4}-\d\d$",
        r"[^\w@%+=:,./-]",
        r"%\((\w+)\)s",
        r"(?x) a b c",
        r"[A-Za-z_][A-Za-z0-9_]*\Z",
    ],
)
def test_examples_are_found_by_their_pattern(pattern: str) -> None:
    found = examples(pattern)
    assert found
    assert all(text and re.search(pattern, text) for text in found)


def test_alternatives_give_distinct_examples() -> None:
    assert examples(r"&(#[0-9]+;|[a-z]+;)") == ["&#0;", "&a;"]


def test_what_cannot_be_built_gives_nothing() -> None:
    assert examples(r"(a)\1") == []  # back-references are not modelled
    assert examples(r"a{1000}") == []  # too long to be a sample
    assert examples(r"(") == []  # not a pattern
