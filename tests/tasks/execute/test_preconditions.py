"""execute.preconditions: a test that calls the code outside a precondition its words state
("Assume y1 <= y2", "assuming a is sorted", the heap invariant) is dropped; the end-to-end
path (real testgen, execute in Docker) is at the end."""

from __future__ import annotations

import functools
import json
import textwrap

from real_rows import rows_to_execute
from sandbox_support import IMAGE, require_docker

from codemint.codec import encode_input
from codemint.records import Executed, WithInputs
from codemint.settings import ExecuteSettings, PipelineSettings
from codemint.tasks.execute import preconditions as pre
from codemint.tasks.execute.stage import Execute

LEAPDAYS = "Return number of leap years in range [y1, y2).\nAssume y1 <= y2."
BISECT = "Return the index where to insert item x in list a, assuming a is sorted."
HEAPPOP = "Pop the smallest item off the heap, maintaining the heap invariant."


def test_a_stated_comparison_of_parameters_is_checked_on_each_call() -> None:
    assert pre.outside(encode_input([100, 7]), LEAPDAYS, "def leapdays(y1, y2)")
    assert not pre.outside(encode_input([7, 100]), LEAPDAYS, "def leapdays(y1, y2)")
    assert not pre.outside(encode_input([7, 7]), LEAPDAYS, "def leapdays(y1, y2)")
    # By keyword too, and a parameter left to its default is not checked.
    assert pre.outside(encode_input([], {"y2": 1, "y1": 2}), LEAPDAYS, "def leapdays(y1, y2)")
    assert not pre.outside(encode_input([5]), "Assume lo <= hi.", "def f(lo, hi=10)")
    # Values the comparison cannot order are not its concern.
    assert not pre.outside(encode_input(["a", 1]), LEAPDAYS, "def leapdays(y1, y2)")


def test_sorted_and_heap_arguments() -> None:
    signature = "def bisect_left(a, x, lo=0, hi=None, *, key=None)"
    assert pre.outside(encode_input([[0, 2, 1], 0]), BISECT, signature)
    assert not pre.outside(encode_input([[0, 1, 1, 2], 0]), BISECT, signature)
    assert not pre.outside(encode_input([[], 0]), BISECT, signature)
    assert pre.outside(encode_input([[11, 2]]), HEAPPOP, "def heappop(heap)")
    assert not pre.outside(encode_input([[2, 11, 3]]), HEAPPOP, "def heappop(heap)")
    # A method's own arguments, after the instance's construction arguments.
    method = encode_input([[], {}, [[3, 1]], {}])
    assert pre.outside(method, "Assuming items is sorted.", "def find(self, items)", "method")


def test_words_that_state_no_checkable_precondition_check_nothing() -> None:
    for words in (
        "Assume the data is clean.",  # not a comparison of parameters
        "Assume 0 <= n < len(a).",  # a call is not a parameter or a literal
        "Assume n is large.",
        "The elements of a must be hashable.",
        "Assume x <= y.",  # not this function's parameters
    ):
        assert pre.stated_checks(words, "def f(a, n)") == (), words
    assert not pre.outside(encode_input([[2, 1]]), "Sort a.", "def f(a)")
    assert len(pre.stated_checks("Assume y1 <= y2, as the caller does.", "def f(y1, y2)")) == 1


CODE = textwrap.dedent(
    '''
    def leap_years_between(y1, y2):
        """Return the number of leap years in range [y1, y2).
        Assume y1 <= y2."""
        y1 -= 1
        y2 -= 1
        return (y2 // 4 - y1 // 4) - (y2 // 100 - y1 // 100) + (y2 // 400 - y1 // 400)


    def insert_point(a, x):
        """Return the index where to insert x in list a, assuming a is sorted."""
        lo, hi = 0, len(a)
        while lo < hi:
            mid = (lo + hi) // 2
            if a[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo
    '''
)


def settings(checks: bool = True) -> PipelineSettings:
    return PipelineSettings(
        sandbox={"backend": "docker", "image": IMAGE, "workers": 1},
        testgen={"feedback_pool": 24, "feedback_mutants": 6},
        execute=ExecuteSettings(outcome_checks=checks),
    )


@functools.cache
def rows() -> dict[str, WithInputs]:
    return rows_to_execute(CODE, settings())


def test_execute_keeps_only_tests_inside_the_stated_preconditions() -> None:
    require_docker()
    stage = Execute(settings())
    made = {r.entry_point: r for r in stage.run(rows().values())}
    leap, insert = made["leap_years_between"], made["insert_point"]
    assert isinstance(leap, Executed) and isinstance(insert, Executed)
    for case in leap.test_cases:
        y1, y2 = json.loads(case.input)["args"]
        assert y1 <= y2, case.input
    for case in insert.test_cases:
        a = json.loads(case.input)["args"][0]
        assert a == sorted(a), case.input
    # The inputs testgen made broke them, and those tests were dropped and counted.
    plain = {r.entry_point: r for r in Execute(settings(checks=False)).run(rows().values())}
    dropped = stage.metrics["test_dropped:outside_precondition"]
    assert dropped > 0
    assert dropped == sum(
        pre.outside(c.input, r.docstring or "", r.signature) for r in plain.values() for c in r.test_cases
    )
