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
    return out[0], total, "sep"
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
    }
    original = ast.dump(ast.parse(CODE))
    dumps = {ast.dump(ast.parse(m.code)) for m in found}
    assert original not in dumps
    assert len(dumps) == len(found)  # no two mutants are the same program
    assert len(found) <= mutants.count_sites(CODE, "clamp")


def test_only_the_entry_point_body_changes_and_formatting_is_kept() -> None:
    for mutant in mutants.generate(CODE, "clamp", max_mutants=500):
        diff = mutant.diff(CODE, context=0)
        changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")]
        # one line out, at most one line in: a one-node change keeps the rest verbatim
        assert 1 <= len(changed) <= 2, diff
        assert "helper" not in diff and "LIMIT = " not in diff and "docstring" not in diff
        assert "# keep comments around" in mutant.code


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
            assert "ünïcode" in mutant.code or "''" in mutant.code
            # the untouched tail keeps its text: offsets are bytes, not characters
            assert "else s" in mutant.code or "else (s" in mutant.code
