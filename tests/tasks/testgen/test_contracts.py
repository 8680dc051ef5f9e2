"""Testgen keeps only inputs inside the row's documented contract (testgen.contract_inputs)."""

from __future__ import annotations

import ast

from codemint.codec import encode_input
from codemint.records import Instructed, Provenance, Rejected, WithInputs
from codemint.settings import PipelineSettings
from codemint.tasks.testgen.stage import InputSet, Testgen

REPEAT = '''def repeat(word: str, n: int) -> str:
    """Repeat word n times; n must be positive.

    >>> repeat("ab", 2)
    'abab'
    >>> repeat("ab", 0)
    ''
    >>> repeat(None, 1)
    >>> repeat("c", 3)
    'ccc'
    """
    return word * n
'''


def record(code: str, entry_point: str, kind: str = "function", class_name: str | None = None) -> Instructed:
    return Instructed(
        id=f"{entry_point}-{kind}",
        code=code,
        original_code=code,
        parent_id="p",
        entry_point=entry_point,
        signature=f"def {entry_point}(...)",
        docstring=ast.get_docstring(ast.parse(code).body[0]),
        sample_kind=kind,
        class_name=class_name,
        provenance=Provenance(source_uri="t", path="t.py"),
        instruction="Do it.",
        instruction_source="docstring",
    )


def stage(contract_inputs: bool = True) -> Testgen:
    settings = PipelineSettings()
    settings.testgen.strategies = ["doctest"]  # the inputs are the doctest calls, nothing else
    settings.testgen.contract_inputs = contract_inputs
    return Testgen(settings)


def test_inputs_outside_the_contract_are_removed_and_counted() -> None:
    testgen = stage()
    (out,) = list(testgen.run([record(REPEAT, "repeat")]))
    assert isinstance(out, WithInputs)
    assert out.test_inputs == [encode_input(["ab", 2]), encode_input(["c", 3])]
    assert out.input_sources == ["doctest", "doctest"]
    assert testgen.metrics["input_outside_contract:range"] == 1
    assert testgen.metrics["input_outside_contract:none"] == 1
    assert testgen.metrics["inputs_from_doctest"] == 2


def test_setting_off_keeps_every_input() -> None:
    testgen = stage(contract_inputs=False)
    (out,) = list(testgen.run([record(REPEAT, "repeat")]))
    assert isinstance(out, WithInputs) and len(out.test_inputs) == 4
    assert not any(key.startswith("input_outside_contract") for key in testgen.metrics)


def test_a_row_whose_inputs_are_all_outside_is_rejected() -> None:
    code = '''def half(n: int) -> int:
    """Half of n.

    >>> half("4")
    >>> half(None)
    """
    return n // 2
'''
    testgen = stage()
    (out,) = list(testgen.run([record(code, "half")]))
    assert isinstance(out, Rejected) and out.drop_reason == "no_test_inputs"
    assert "outside the documented contract" in out.detail
    assert testgen.metrics["input_outside_contract:type"] == 1
    assert testgen.metrics["input_outside_contract:none"] == 1


def test_method_inputs_use_the_method_and_constructor_signatures() -> None:
    code = '''class Ring:
    def __init__(self, size: int):
        """size must be positive."""
        self.size = size
        self.items = []

    def push(self, item: str) -> None:
        self.items.append(item)
'''
    testgen = stage()
    texts = {
        "ok": encode_input([[2], {}, ["a"], {}]),
        "bad_item": encode_input([[2], {}, [3], {}]),
        "bad_size": encode_input([[0], {}, ["a"], {}]),
        "bool_size": encode_input([[True], {}, ["a"], {}]),
    }
    inputs = InputSet(10, 2_000)
    for name, text in texts.items():
        inputs.add_text(text, name)
    kept = testgen.within_contract(record(code, "push", "method", "Ring"), inputs)
    assert kept.texts == [texts["ok"]] and kept.sources == ["ok"]
    assert testgen.metrics["input_outside_contract:type"] == 2
    assert testgen.metrics["input_outside_contract:range"] == 1


def test_feedback_candidates_outside_the_contract_are_not_proposed() -> None:
    """The feedback pool holds only inputs testgen would keep, so its budget is not spent on
    inputs removed afterwards."""
    from codemint.offline.contracts import row_contract
    from codemint.tasks.testgen.feedback import Row

    row = Row("r", REPEAT, "repeat", None, None, contract=row_contract(REPEAT, "repeat", "function", None))
    assert row.add_text(encode_input(["ab", 2]), "typed", 10, 1000)
    assert not row.add_text(encode_input([None, 1]), "typed", 10, 1000)  # word: str
    assert not row.add_text(encode_input(["ab", -1]), "typed", 10, 1000)  # n must be positive
    assert row.texts == [encode_input(["ab", 2])]
    free = Row("f", REPEAT, "repeat", None, None)  # no contract: everything is a candidate
    assert free.add_text(encode_input([None, 1]), "typed", 10, 1000)
