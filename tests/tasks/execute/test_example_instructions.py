"""Instructions from executed examples: which calls are shown, and when a row has none that
specify it. The end-to-end path (summarize -> testgen -> execute in Docker) is at the end."""

from __future__ import annotations

import ast
import textwrap

from sandbox_support import IMAGE, require_docker

from codemint.codec import canonical_json, encode_input
from codemint.records import (
    Executed,
    Function,
    Instructed,
    Provenance,
    Rejected,
    Snippet,
    WithInputs,
    content_id,
)
from codemint.records import TestCase as Case
from codemint.settings import PipelineSettings, SandboxSettings, SummarizeSettings
from codemint.tasks.execute import example_instructions as ex
from codemint.tasks.execute.stage import Execute
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen


def case(args: list, result: object = None, exception: str | None = None, **kwargs: object) -> Case:
    expected = None if exception else canonical_json(result)
    return Case(input=encode_input(args, kwargs), expected=expected, exception=exception)


def test_calls_read_back_as_python_literals() -> None:
    assert ex.call_text(encode_input([[1, 2], "a"], {"sep": b"-"}), "f") == "f([1, 2], 'a', sep=b'-')"
    assert ex.call_text(encode_input([(1, None), {"k": 1.5}]), "g") == "g((1, None), {'k': 1.5})"
    # A builtin passed as a function, or NaN, does not read back: the call is not shown.
    assert ex.call_text(encode_input([len]), "f") is None
    assert ex.call_text(encode_input([float("nan")]), "f") is None


def test_distinct_results_are_shown_first_then_one_raised_exception() -> None:
    cases = [
        case([1], 2),
        case([10], 2),  # same result as the first: shown only if nothing else is left
        case([3], 6),
        case(["x"], exception="TypeError"),
        case([4], 8),
        case([5], 10),
    ]
    lines = ex.examples(cases, "double")
    assert lines == [
        ">>> double(1)\n2",
        ">>> double(3)\n6",
        ">>> double(4)\n8",
        ">>> double('x')\nraises TypeError",
    ]


def test_a_result_of_another_shape_is_shown_though_longer() -> None:
    # `split_value`'s tests check that it returns None where there is no "=": shortest-first
    # would show three (str, str) results and leave that unstated.
    cases = [
        case(["=abc"], ("", "abc")),
        case(["a=b"], ("a", "b")),
        case(["abc="], ("abc", "")),
        case(["no equals sign"], ("no equals sign", None)),
        case(["k=v"], ("k", "v")),
    ]
    lines = ex.examples(cases, "split_value")
    assert ">>> split_value('no equals sign')\n('no equals sign', None)" in lines
    assert len(lines) == ex.SHOWN
    # A float among ints, an empty list among full ones: each shape is shown once.
    assert ex._shape(1) != ex._shape(1.5) and ex._shape([]) != ex._shape([1])
    assert ex._shape(("a", None)) != ex._shape(("a", "b")) and ex._shape([1, 2]) == ex._shape([3])


def test_examples_that_do_not_specify_the_function_give_no_instruction() -> None:
    constant = [case([1], 0), case([2], 0), case([3], 0)]
    assert ex.example_doc(constant, "zero") is None  # one result shown thrice says nothing
    unreadable = [case([[1]], {"a"}), case([[2]], {"b"}), case([len], 3)]
    assert ex.example_doc(unreadable, "f") is not None  # sets read back; the builtin call is skipped
    printed = [c.model_copy(update={"stdout": "hi\n"}) for c in [case([1], 1), case([2], 2)]]
    assert ex.example_doc(printed, "f") is None  # what it prints would not be shown
    mutated = [
        c.model_copy(update={"args_after": encode_input([[0]])}) for c in [case([[1]], 1), case([[2]], 2)]
    ]
    assert ex.example_doc(mutated, "f") is None
    unchanged = [c.model_copy(update={"args_after": c.input}) for c in [case([[1]], 1), case([[2]], 2)]]
    assert ex.example_doc(unchanged, "f") is not None  # compared, and the same as before the call


MODULE = textwrap.dedent(
    """
    def scale_all(values, factor):
        out = []
        for v in values:
            out.append(v * factor)
        return out

    def shout(word):
        print(word.upper())
        return len(word)

    class Tally:
        def __init__(self, start):
            self.total = start
            self.seen = []

        def add(self, amount):
            self.total += amount
            self.seen.append(amount)
            return self.total
    """
)


def test_an_undocumented_function_gets_its_instruction_from_its_own_executed_calls() -> None:
    require_docker()
    settings = PipelineSettings(sandbox=SandboxSettings(backend="docker", image=IMAGE, workers=1))
    where = Provenance(source_uri="test:", path="m.py")
    snippet = Snippet(id=content_id(MODULE), code=MODULE, provenance=where)
    functions = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    assert [f.entry_point for f in functions] == ["scale_all", "shout", "add"]
    instructed = [r for r in Summarize(settings).run(functions) if isinstance(r, Instructed)]
    assert [r.instruction_source for r in instructed] == ["examples", "examples", "examples"]
    with_inputs = [r for r in Testgen(settings).run(instructed) if isinstance(r, WithInputs)]
    by_id = {r.id: r for r in Execute(settings).run(with_inputs)}
    scale, shout, add = (by_id[r.id] for r in instructed)
    assert isinstance(scale, Executed), scale
    text = scale.instruction
    assert text.startswith("Implement the Python function `scale_all(values, factor)`.")
    shown = [line for line in text.splitlines() if line.startswith(">>> scale_all(")]
    assert len(shown) >= 2
    # Each shown call is one of the row's tests, and its shown result is what the original returned.
    for call in shown:
        args = ast.literal_eval(call.removeprefix(">>> scale_all"))
        args = args if isinstance(args, tuple) else (args,)
        result = text.splitlines()[text.splitlines().index(call) + 1]
        assert ast.literal_eval(result) == [v * args[1] for v in args[0]]
        assert encode_input(list(args)) in {c.input for c in scale.test_cases}
    # Its output is printed: results alone would not specify it, so it is dropped with the reason.
    assert isinstance(shout, Rejected) and shout.drop_reason == "no_instruction_source"
    # A method: the instance is built, the method called, and its attributes shown afterwards,
    # each as the original's run left them.
    assert isinstance(add, Executed), add
    assert add.instruction.startswith(
        "Implement the Python class `Tally` with the method `add(self, amount)`."
    )
    lines = add.instruction.splitlines()
    built = [
        i
        for i, line in enumerate(lines)
        if line.startswith(">>> obj = Tally(") and "raises" not in lines[i + 2]
    ]
    assert len(built) >= 2
    for i in built:
        start = ast.literal_eval(lines[i].removeprefix(">>> obj = Tally"))
        amount = ast.literal_eval(lines[i + 1].removeprefix(">>> obj.add"))
        assert ast.literal_eval(lines[i + 2]) == start + amount
        after = dict(zip(lines[i + 3 : i + 7 : 2], lines[i + 4 : i + 8 : 2], strict=True))
        assert {k: ast.literal_eval(v) for k, v in after.items()} == {
            ">>> obj.total": start + amount,
            ">>> obj.seen": [amount],
        }

    off = PipelineSettings(summarize=SummarizeSettings(example_docs=False))
    rejected = list(Summarize(off).run(functions))
    assert all(isinstance(r, Rejected) and r.drop_reason == "no_instruction_source" for r in rejected)


def test_an_iterator_that_ends_is_shown_as_the_list_of_its_items() -> None:
    iterated = [
        Case(input=encode_input([[1, 2]]), expected='{"__iter__": [1, 2]}'),
        Case(input=encode_input([[3]]), expected='{"__iter__": [3]}'),
        Case(input=encode_input([[4]]), expected='{"__iter_cut__": [[4, 4], 1, "ab", false]}'),
    ]
    assert ex.examples(iterated, "walk") == [">>> list(walk([3]))\n[3]", ">>> list(walk([1, 2]))\n[1, 2]"]


def test_a_method_example_builds_the_instance_and_shows_its_state_afterwards() -> None:
    def method_case(titles: list, title: str, lent: int, books: list) -> Case:
        state = {"books": books, "lent": [title]}
        expected = canonical_json({"returned": lent, "state": state})
        return Case(input=encode_input([[titles], {}, [title], {}]), expected=expected)

    cases = [method_case(["a", "b"], "a", 1, ["b"]), method_case(["x"], "x", 2, [])]
    lines = ex.examples(cases, "borrow", "method", "Shelf")
    assert lines[1] == (
        ">>> obj = Shelf(['a', 'b'])\n>>> obj.borrow('a')\n1\n>>> obj.books\n['b']\n>>> obj.lent\n['a']"
    )
    assert len(lines) == 2
    # The same result on instances built differently: the states differ, but the examples say
    # nothing about what the method does.
    same = [method_case(["a", "b"], "a", 1, ["b"]), method_case(["x"], "x", 1, [])]
    assert ex.examples(same, "borrow", "method", "Shelf") == []
    # An attribute that is not a literal (an object) cannot be shown: no example from it.
    opaque = Case(
        input=cases[0].input,
        expected='{"__dict__": [["returned", 1], ["state", {"__object__": ["T", null]}]]}',
    )
    assert ex.examples([opaque, cases[1]], "borrow", "method", "Shelf") == []
    prop = Case(
        input=encode_input([[["a"]], {}, [], {}]), expected=canonical_json({"returned": 2, "state": {}})
    )
    other = Case(
        input=encode_input([[["b", "c"]], {}, [], {}]), expected=canonical_json({"returned": 3, "state": {}})
    )
    assert (
        ex.examples([prop, other], "size", "property", "Shelf")[0]
        == ">>> obj = Shelf(['a'])\n>>> obj.size\n2"
    )


def test_a_set_in_an_example_is_shown_sorted_whatever_the_hash_seed() -> None:
    """A set's own order follows the process's hash seed: the same row shows the same text on
    every run only when its items are sorted."""
    from codemint.codec import canonical_json, encode_input
    from codemint.records import TestCase
    from codemint.tasks.execute.example_instructions import examples

    words = {"pear", "apple", "fig", "kiwi", "plum", "lime"}
    cases = [
        TestCase(input=encode_input([n]), expected=canonical_json(set(sorted(words)[:n]) | {str(n)}))
        for n in (2, 3, 4)
    ]
    shown = examples(cases, "first_words")
    assert shown[0] == ">>> first_words(2)\n{'2', 'apple', 'fig'}"
    assert shown[1] == ">>> first_words(3)\n{'3', 'apple', 'fig', 'kiwi'}"
