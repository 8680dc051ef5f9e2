from __future__ import annotations

import ast

import pytest

from codemint import mutants

CODE = '''import math

LIMIT = 10


def helper(x):
    return x + 100


def clamp(values, low=0, high=LIMIT):
    """Clamp each value; "docstring" strings are never mutated."""
    out = []
    for v in values:  # keep comments around
        if v < low and not math.isnan(v):
            out.append(low)
        elif v > high or v == -1:
            out.append(high)
        else:
            out.append(v * 2 - 1)
        if len(out) >= 5:
            break
    total = 0
    total += len(out)
    for i in range(2):
        total += i
    return out[0], total, "sep", divmod(total, 3), out[:2]
'''


def _calls(code: str, *args: object) -> object:
    namespace: dict[str, object] = {}
    exec(compile(code, "<m>", "exec"), namespace)
    func = namespace["clamp"]
    assert callable(func)
    return func(*args)


def test_every_operator_appears_and_every_mutant_compiles_and_differs() -> None:
    found = mutants.generate(CODE, "clamp", max_mutants=500)
    operators = {m.operator for m in found}
    assert operators >= {
        "arith",
        "compare",
        "boolop",
        "not",
        "const",
        "augassign",
        "delete",
        "return_none",
        "break_continue",
        "index",
        "slice",
        "range",
        "variable",
        "swap_args",
        "missing_branch",
    }
    original = ast.dump(ast.parse(CODE))
    dumps = {ast.dump(ast.parse(m.code)) for m in found}
    assert original not in dumps
    assert len(dumps) == len(found)  # no two mutants are the same program
    assert len(found) <= mutants.count_sites(CODE, "clamp")


def test_only_the_bug_span_changes_and_formatting_is_kept() -> None:
    for mutant in mutants.generate(CODE, "clamp", max_mutants=500):
        tail = len(CODE) - mutant.end
        assert mutant.code[: mutant.start] == CODE[: mutant.start]
        assert mutant.code[len(mutant.code) - tail :] == CODE[mutant.end :]
        was, now = CODE[mutant.start : mutant.end], mutant.code[mutant.start : len(mutant.code) - tail]
        assert was != now and "pass" not in now
        assert "helper" not in was and "LIMIT = " not in was and "docstring" not in was
        assert "# keep comments around" in mutant.code
        if mutant.operator not in ("delete", "missing_branch", "not", "swap_args"):
            assert "\n" not in was and "(" not in now.replace("(", "", was.count("(")), (was, now)


def test_edits_are_the_bug_tokens_only() -> None:
    code = "def f(n, xs):\n    if (n < 2):  # small\n        return 'a'\n    return n * (n - 1)\n"
    by = {(m.operator, m.description): m.code for m in mutants.generate(code, "f", max_mutants=100)}
    assert by["compare", "Lt -> LtE"] == code.replace("(n < 2)", "(n <= 2)")
    assert by["arith", "Mult -> FloorDiv"] == code.replace("n * (n", "n // (n")
    assert by["const", "'a' -> ''"] == code.replace("'a'", "''")
    assert by["return_none", "return x -> return None"] == code.replace("n * (n - 1)", "None")


def test_a_deleted_statement_is_removed_never_replaced_by_pass() -> None:
    code = (
        "def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n"
        "    out.sort()  # sorted\n    if not out:\n        return None\n"
        "    elif len(out) > 3:\n        out.pop()\n    else:\n        out.reverse()\n    return out\n"
    )
    found = mutants.generate(code, "f", max_mutants=500)
    deleted = {m.code for m in found if m.operator == "delete"}
    assert code.replace("    out.sort()  # sorted\n", "") in deleted
    # the loop's only statement stays: removing it would need a `pass`
    assert not any("out.append" not in c for c in deleted)
    branches = {m.description: m.code for m in found if m.operator == "missing_branch"}
    assert branches["elif branch removed"] == code.replace("    elif len(out) > 3:\n        out.pop()\n", "")
    assert branches["else branch removed"] == code.replace("    else:\n        out.reverse()\n", "")
    assert branches["if statement removed"].count("if") == 0
    assert all("pass" not in m.code for m in found)


def test_wrong_variable_off_by_one_and_swapped_arguments() -> None:
    code = "def f(a, b):\n    c = a[1:b]\n    for i in range(b):\n        c = divmod(i, b)\n    return c\n"
    by: dict[str, set[str]] = {}
    for m in mutants.generate(code, "f", max_mutants=500):
        by.setdefault(m.operator, set()).add(m.code)
    assert code.replace("a[1:b]", "a[1:b - 1]") in by["slice"]
    assert code.replace("range(b)", "range(b - 1)") in by["range"]
    assert code.replace("divmod(i, b)", "divmod(b, i)") in by["swap_args"]
    assert code.replace("a[1:b]", "a[1:a]") in by["variable"]  # the next name bound before


def test_mutants_change_behaviour() -> None:
    found = mutants.generate(CODE, "clamp", max_mutants=500)
    original = _calls(CODE, [3, -5, 20, 4])
    # most mutants are detectable on one rich input (a mutant that raises counts as detected)
    killed = sum(1 for m in found if _differs(m.code, [3, -5, 20, 4], original))
    assert killed / len(found) > 0.5


def _differs(code: str, arg: list[int], original: object) -> bool:
    try:
        return _calls(code, arg) != original
    except Exception:
        return True


def test_cap_and_seed_are_deterministic_and_spread_over_operators() -> None:
    first = mutants.generate(CODE, "clamp", max_mutants=8, seed=1)
    again = mutants.generate(CODE, "clamp", max_mutants=8, seed=1)
    other = mutants.generate(CODE, "clamp", max_mutants=8, seed=2)
    assert [m.code for m in first] == [m.code for m in again]
    assert [m.code for m in first] != [m.code for m in other]
    assert len(first) <= 8
    assert len({m.operator for m in first}) >= 6  # round-robin, not 8 constants
    assert [m.index for m in first] == sorted(m.index for m in first)  # source order


def test_unknown_entry_point_and_syntax_error() -> None:
    assert mutants.generate(CODE, "nope") == []
    assert mutants.count_sites(CODE, "nope") == 0
    with pytest.raises(SyntaxError):
        mutants.generate("def f(:\n  pass", "f")


def test_non_ascii_source_keeps_byte_offsets_right() -> None:
    code = 'def f(s):\n    return "ünïcode" + s if len(s) > 2 else s * 2\n'
    found = mutants.generate(code, "f", max_mutants=50)
    assert found
    for mutant in found:
        compile(mutant.code, "<m>", "exec")
        if mutant.operator != "return_none":
            assert "ünïcode" in mutant.code or '""' in mutant.code  # its own quotes
            # the untouched tail keeps its text: offsets are bytes, not characters
            assert "else s" in mutant.code
