"""Docstring statements: the phrase reader and each place a docstring states a type."""

from __future__ import annotations

from codemint.offline.contract_docs import Bound, doc_params, parse_phrase
from codemint.offline.contract_types import Shape


def test_phrases_read_whole_or_not_at_all() -> None:
    phrase = parse_phrase("a bytes-like object or ASCII string to decode")
    assert phrase is not None and phrase.accepts == (Shape("bytes"), Shape("str"))
    phrase = parse_phrase("a positive integer")
    assert phrase is not None and phrase.accepts == (Shape("int"),) and phrase.bounds == (Bound(">", 0),)
    phrase = parse_phrase("list of str, optional")
    assert (
        phrase is not None and phrase.optional and phrase.accepts == (Shape("listlike", ((Shape("str"),),)),)
    )
    phrase = parse_phrase("a list of str or bytes")  # which the "or" joins is unclear: no items
    assert phrase is not None and phrase.accepts == (Shape("listlike"), Shape("bytes"))
    assert parse_phrase("a string or a compiled pattern") is None
    assert parse_phrase("a flag") is None
    assert parse_phrase("int or whatever", whole=True) is None
    assert parse_phrase("positive or zero", whole=True) is None


def test_ranges_alone() -> None:
    for text, bound in [
        ("> 0", Bound(">", 0)),
        ("at least 2.", Bound(">=", 2)),
        ("non-negative", Bound(">=", 0)),
    ]:
        phrase = parse_phrase(text)
        assert phrase is not None and phrase.accepts is None and phrase.bounds == (bound,), text
    assert parse_phrase("positive values shift right") is None


def test_each_place_a_docstring_states_types() -> None:
    doc = """Do.

    :param str a: first
    :param b: second
    :type b: list[int]

    Args:
        c (float): third

    Parameters
    ----------
    d : bool, default False

    e is an iterable of strings.
    """
    got = doc_params(doc, ["a", "b", "c", "d", "e", "unused"])
    assert got["a"].types == [(Shape("str"),)]
    assert got["b"].types == [(Shape("list", ((Shape("int"),),)),)]
    assert got["c"].types == [(Shape("float"),)]
    assert got["d"].types == [(Shape("bool"),)]
    assert got["e"].types == [(Shape("iterable", ((Shape("str"),),)),)]
    assert "unused" not in got
    assert doc_params(None, ["a"]) == {} and doc_params("Return a list of lines.", ["lines"]) == {}
