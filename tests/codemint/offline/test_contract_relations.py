"""Preconditions over the whole call ("Assume y1 <= y2", "assuming a is sorted", the heap
invariant): read from docstrings, checked through the row's contract."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

from codemint.codec import encode_input
from codemint.offline.contract_relations import stated_relations
from codemint.offline.contracts import RowContract, function_contract, row_contract


def contract_of(src: str) -> RowContract:
    node = ast.parse(textwrap.dedent(src)).body[0]
    assert isinstance(node, ast.FunctionDef)
    return RowContract(function_contract(node))


def why(contract: RowContract, *args: Any, **kwargs: Any) -> str | None:
    found = contract.violation(encode_input(list(args), kwargs))
    return None if found is None else str(found)


LEAPDAYS = contract_of(
    '''
    def leapdays(y1, y2):
        """Return number of leap years in range [y1, y2).
        Assume y1 <= y2."""
    '''
)
BISECT = contract_of(
    '''
    def bisect_left(a, x, lo=0, hi=None, *, key=None):
        """Return the index where to insert item x in list a, assuming a is sorted."""
    '''
)
HEAPPOP = contract_of(
    '''
    def heappop(heap):
        """Pop the smallest item off the heap, maintaining the heap invariant."""
    '''
)


def test_a_stated_comparison_of_parameters_is_checked_on_each_call() -> None:
    assert why(LEAPDAYS, 100, 7) == "precondition:y1"
    assert why(LEAPDAYS, 7, 100) is None and why(LEAPDAYS, 7, 7) is None
    assert why(LEAPDAYS, y2=1, y1=2) == "precondition:y1"  # by keyword too
    assert why(LEAPDAYS, "a", 1) is None  # values it cannot order: not its concern
    defaulted = contract_of('def f(lo, hi=10):\n    "Assume lo <= hi."')
    assert why(defaulted, 50) is None  # a parameter left to its default is not checked


def test_sorted_and_heap_arguments() -> None:
    assert why(BISECT, [0, 2, 1], 0) == "precondition:a"
    assert why(BISECT, [0, 1, 1, 2], 0) is None and why(BISECT, [], 0) is None
    assert why(BISECT, [3, 2, 1], 0, key=abs) is None  # sorted by the key, not by value
    assert why(HEAPPOP, [11, 2]) == "precondition:heap"
    assert why(HEAPPOP, [2, 11, 3]) is None


def test_a_method_checks_its_own_arguments() -> None:
    code = textwrap.dedent(
        '''
        class Index:
            def __init__(self, items):
                self.items = items

            def find(self, items, x):
                """Assuming items is sorted, where x goes."""
        '''
    )
    contract = row_contract(code, "find", "method", "Index")
    assert str(contract.violation(encode_input([[[9, 1]], {}, [[3, 1], 2], {}]))) == "precondition:items"
    assert contract.violation(encode_input([[[9, 1]], {}, [[1, 3], 2], {}])) is None


def test_words_that_state_no_checkable_precondition_state_none() -> None:
    for words in (
        "Assume the data is clean.",  # not a comparison of parameters
        "Assume 0 <= n < len(a).",  # a call is neither a parameter nor a literal
        "Assume n is large.",
        "The elements of a must be hashable.",
        "Assume x <= y.",  # not this function's parameters
        "Sort a in place.",
    ):
        assert stated_relations(words, ["a", "n"]) == (), words
    assert len(stated_relations("Assume y1 <= y2, as the caller does.", ["y1", "y2"])) == 1
    assert len(stated_relations("The list `a` must be sorted.", ["a"])) == 1
