"""Input contracts: annotations and docstrings of every style, the conservative cases, methods,
and preconditions of the whole call ("Assume y1 <= y2", "assuming a is sorted")."""

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
    """The violation of one call, as "kind:param", or None when inside the contract."""
    found = contract.violation(encode_input(list(args), kwargs))
    return None if found is None else str(found)


def test_annotations_plain_optional_union_and_pipe() -> None:
    c = contract_of(
        "def f(s: str, n: int, x: float, o: Optional[str], u: Union[int, bytes], p: str | None): ..."
    )
    ok = ("a", 1, 2.5, None, 3, None)
    assert why(c, *ok) is None
    assert why(c, "a", 1, 2, "o", b"u", "p") is None  # an int is a valid float (numeric tower)
    assert why(c, None, *ok[1:]) == "none:s"
    assert why(c, ["a"], *ok[1:]) == "type:s"
    assert why(c, "a", True, *ok[2:]) == "type:n"  # a bool is not a number, as in the verdict
    assert why(c, "a", 1, 2.5, 3, *ok[4:]) == "type:o"
    assert why(c, "a", 1, 2.5, None, "u", None) == "type:u"


def test_annotation_element_types_literals_and_forward_references() -> None:
    c = contract_of(
        "def f(xs: list[int], m: 'dict[str, float]', t: tuple[int, str], v: Tuple[int, ...],"
        " mode: Literal['r', 'w'], s: typing.Sequence[str] = ()): ..."
    )
    good = ([1, 2], {"a": 1.0}, (1, "a"), (1, 2, 3), "r")
    assert why(c, *good) is None
    assert why(c, [1, "2"], *good[1:]) == "element:xs"
    assert why(c, good[0], {1: 1.0}, *good[2:]) == "element:m"
    assert why(c, *good[:2], (1, "a", 2), *good[3:]) == "element:t"
    assert why(c, *good[:3], (1, "x"), good[4]) == "element:v"
    assert why(c, *good[:4], "x") == "choice:mode"
    assert why(c, *good, s="abc") is None  # a str is a sequence of str
    assert why(c, *good, s=[1]) == "element:s"


def test_unknown_annotations_constrain_nothing() -> None:
    c = contract_of("def f(a: Any, b: object, c: MyClass, d: T, e: int | MyClass, f: Iterator[int]): ...")
    assert c.call is not None and c.call.params == {}
    assert why(c, None, None, None, None, "x", 5) is None


def test_a_name_the_code_defines_is_the_codes_own() -> None:
    code = "class Sequence:\n    pass\n\ndef f(s: Sequence):\n    return s\n"
    assert why(row_contract(code, "f", "function", None), 3) is None


def test_none_default_and_star_parameters() -> None:
    c = contract_of("def f(s: str = None, *rest: int, **opts: bool): ...")
    assert why(c, None) is None  # implicit Optional (a None default)
    assert why(c, "a", 1, 2, flag=True) is None
    assert why(c, "a", 1, "2") == "type:rest"
    assert why(c, "a", flag=1) == "type:opts"


def test_sphinx_fields() -> None:
    c = contract_of(
        '''
        def f(n, s, items, k):
            """Do it.

            :param int n: a positive integer
            :param s: the text
            :type s: str or None
            :param items: list of ints
            :param k: how many; must be >= 2
            """
        '''
    )
    assert why(c, 1, "a", [1], 2) is None
    assert why(c, 1, None, (1, 2), 3) is None  # a docstring's "list" takes a tuple too
    assert why(c, 0, "a", [1], 2) == "range:n"
    assert why(c, 1.5, "a", [1], 2) == "type:n"
    assert why(c, 1, 5, [1], 2) == "type:s"
    assert why(c, 1, "a", ["x"], 2) == "element:items"
    assert why(c, 1, "a", [1], 1) == "range:k"


def test_google_args_section() -> None:
    c = contract_of(
        '''
        def f(text, width, flag, sep=None, shift=0, label=None):
            """Wrap.

            Args:
                text: A string, the number to parse.
                width (int, optional): Must be positive.
                flag: If True, strip first.
                sep: A string or a compiled pattern.
                shift: Positive values shift right.
                label: String values are quoted.

            Returns:
                str: the result
            """
        '''
    )
    assert why(c, "a", 3, 0, 5, -2, 7) is None  # flag, sep, shift, label: nothing certain
    assert why(c, "a", None, 0) is None  # optional
    assert why(c, b"a", 3, 0) == "type:text"
    assert why(c, 5, 3, 0) == "type:text"  # "the number" restates the string, it is no alternative
    assert why(c, "a", -1, 0) == "range:width"


def test_numpy_parameters_section() -> None:
    c = contract_of(
        '''
        def f(x, y, z, w):
            """Place.

            Parameters
            ----------
            x, y : float
                Coordinates.
            z : {'a', 'b'}
                A choice this reader does not parse.
            w : int, default 0
                Offset, non-negative.

            Returns
            -------
            float
            """
        '''
    )
    assert why(c, 1, 2.5, "q", 3) is None
    assert why(c, "1", 2.5, "q", 3) == "type:x"
    assert why(c, 1, [2], "q", 3) == "type:y"
    assert why(c, 1, 2, "q", "3") == "type:w"


def test_plain_sentences_state_types_and_ranges() -> None:
    c = contract_of(
        '''
        def f(word, possibilities, n=3, cutoff=0.6, s=b""):
            """Use SequenceMatcher.

            word is a sequence for which close matches are desired (typically a string).
            possibilities is a list of sequences against which to match word.
            Optional arg n (default 3) is the maximum number of close matches;
            n must be > 0.
            Optional arg cutoff (default 0.6) is a float in [0, 1].
            Argument s is a bytes-like object or ASCII string to decode.
            """
        '''
    )
    assert why(c, "abc", ["abd", [1]], 2, 0.5, "x") is None
    assert why(c, 0, []) == "type:word"
    assert why(c, "abc", [1, 2]) == "element:possibilities"
    assert why(c, "abc", [], 0) == "range:n"
    assert why(c, "abc", [], 1, 1.1) == "range:cutoff"
    assert why(c, "abc", [], 1, 0.5, 0) == "type:s"


def test_phrases_a_positive_integer_a_hex_string_a_list_of() -> None:
    c = contract_of(
        '''
        def f(n, h, xs, m):
            """Do.

            n is a non-negative integer. h must be a hex string.
            xs should be a list of strings. m must be positive.
            """
        '''
    )
    assert why(c, 0, "ff", ["a"], 0.5) is None
    assert why(c, -1, "ff", ["a"], 1) == "range:n"
    assert why(c, 1, ["f"], ["a"], 1) == "type:h"
    assert why(c, 1, "ff", "abc", 1) == "type:xs"
    assert why(c, 1, "ff", [1], 1) == "element:xs"
    assert why(c, 1, "ff", [], 0) == "range:m"
    assert why(c, 1, "ff", [], "x") is None  # a range says nothing about a string


def test_vague_or_conditional_text_states_nothing() -> None:
    c = contract_of(
        '''
        def f(n, s, x, data, flag, k=-1, t=0, value=None, module=None):
            """Return True if n is positive.

            The value is a string. If s is a string, it is split first. x is a string, or anything with
            a read() method. data should be the mean of the values. flag is a
            flag. s must not be empty. k must be positive. t must be an integer
            unless a parser is given. module should be set to the caller's module.
            """
        '''
    )
    assert c.call is not None and c.call.params == {}  # k's default -1 takes its range back
    assert why(c, -5, [1], 3, "d", 7, -2, "t", 4, "m") is None


def test_default_the_statement_rules_out_drops_it() -> None:
    c = contract_of("def f(sep: str = 0, n: int = -1):\n    '''n must be positive.'''")
    assert why(c, 5, -3) is None


def test_calls_that_do_not_bind_are_left_alone() -> None:
    c = contract_of("def f(a: int): ...")
    assert why(c, 1, 2) is None and why(c, b=1) is None
    assert c.violation("not json") is None


def test_method_inputs_check_call_and_constructor() -> None:
    code = textwrap.dedent(
        '''
        class Stack:
            def __init__(self, size: int, name: str = "s"):
                """size must be positive."""
                self.items = []

            def push(self, item: str) -> None:
                self.items.append(item)

            @staticmethod
            def make(n: int):
                return n
        '''
    )
    c = row_contract(code, "push", "method", "Stack")
    assert c.violation(encode_input([[3], {}, ["a"], {}])) is None
    assert c.violation(encode_input([[3], {"name": "t"}, [], {"item": "a"}])) is None
    assert str(c.violation(encode_input([[3], {}, [1], {}]))) == "type:item"
    assert str(c.violation(encode_input([[0], {}, ["a"], {}]))) == "range:size"
    assert str(c.violation(encode_input([[3], {"name": None}, ["a"], {}]))) == "none:name"
    static = row_contract(code, "make", "method", "Stack")
    assert str(static.violation(encode_input([[3], {}, ["x"], {}]))) == "type:n"
    prop = row_contract(code, "push", "property", "Stack")
    assert prop.call is None and prop.init is not None


def test_rows_without_a_contract() -> None:
    assert row_contract("def f(:", "f", "function", None).violation('{"args":[1],"kwargs":{}}') is None
    assert row_contract("def g(a): pass", "f", "function", None).call is None
    assert row_contract("def g(a): pass", "g", "method", "C").violation('{"args":[1],"kwargs":{}}') is None


# --- preconditions of the whole call (codemint/offline/contract_relations.py) -----------

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
