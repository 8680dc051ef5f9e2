from codemint.tasks.execute.stated_exceptions import defined_classes, stated, unstated_exception

CALENDAR = """
class IllegalMonthError(ValueError):
    pass

def monthlen(year, month):
    if not 1 <= month <= 12:
        raise IllegalMonthError(month)
    return 31
"""


def test_the_codes_own_exception_class_is_stated_by_the_context() -> None:
    assert defined_classes(CALENDAR) == {"IllegalMonthError"}
    assert stated("__codemint__.IllegalMonthError", CALENDAR, "Return the month's length.", "monthlen")


def test_an_exception_the_instruction_names_is_stated() -> None:
    prompt = "Return the mean. Raises StatisticsError if data is empty."
    assert stated("statistics.StatisticsError", "def mean(data): ...", prompt, "mean")


def test_an_exception_junk_input_provokes_is_not_stated() -> None:
    code = "def indent(text, prefix):\n    return prefix + text\n"
    assert unstated_exception("TypeError", None, code, "Add prefix to each line.", "indent") == "TypeError"
    # A name inside a longer word does not state it.
    assert not stated("TypeError", code, "Returns a NotATypeErrorish value.", "indent")


def test_an_undocumented_explicit_raise_is_not_stated() -> None:
    code = "def f(n):\n    if n < 0:\n        raise ValueError('negative')\n    return n\n"
    assert unstated_exception("ValueError", None, code, "Return n.", "f") == "ValueError"


def test_a_special_methods_protocol_states_its_exceptions() -> None:
    doc = "Return the item stored under `key` (`obj[key]`), raising as a mapping or sequence would."
    assert unstated_exception("KeyError", None, "class C: ...", doc, "__getitem__") is None
    assert unstated_exception("ValueError", None, "class C: ...", doc, "__getitem__") == "ValueError"


def test_an_error_raised_inside_a_returned_iterator_follows_the_same_rule() -> None:
    raised = '{"__iter_raised__": [[1, 2], "TypeError", "bad operand"]}'
    assert unstated_exception(None, raised, "def f(x): ...", "Yield the items.", "f") == "TypeError"
    assert (
        unstated_exception(None, raised, "def f(x): ...", "Yield the items; a TypeError ends it.", "f")
        is None
    )
    assert unstated_exception(None, "[1, 2]", "def f(x): ...", "Yield the items.", "f") is None
