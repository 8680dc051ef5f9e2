"""Feedback-driven testgen on a real sandbox: inputs that run normally and tell mutants apart."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any

import pytest
from factories import verified

from codemint.codec import Construct, decode_input
from codemint.records import Executed, Instructed, Rejected, Verified, WithInputs
from codemint.settings import PipelineSettings
from codemint.tasks.execute.stage import Execute
from codemint.tasks.testgen import feedback as feedback_module
from codemint.tasks.testgen import stage as testgen_stage
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

MOONS = '''
def moons(planet):
    """How many moons a planet of the solar system has."""
    table = {"Mercury": 0, "Venus": 0, "Earth": 1, "Mars": 2, "Jupiter": 95}
    return table[planet]
'''

COUNT = '''
def count_char(text, ch="x"):
    """Count how often ch occurs in text."""
    n = 0
    for i in range(len(text)):
        if text[i] == ch:
            n += 1
    return n
'''

SLOW = '''
def countdown(n):
    """Count down from n."""
    while n != 0:
        n -= 1
    return n
'''

RECORD = '''
from dataclasses import dataclass


@dataclass
class Interval:
    lo: int
    hi: int


def overlap(a: Interval, b: Interval) -> int:
    """Length of the overlap of two intervals, 0 when they are apart."""
    if a.lo > a.hi or b.lo > b.hi:
        raise ValueError("empty interval")
    return max(0, min(a.hi, b.hi) - max(a.lo, b.lo))
'''

READER = '''
def read_record(fp):
    """Read one record from a binary file: a byte giving its length, then that many bytes."""
    header = fp.read(1)
    if not header:
        raise EOFError("no record")
    size = header[0]
    data = fp.read(size)
    if len(data) < size:
        raise ValueError("truncated record")
    return data
'''


# What the function is for needs an input that holds what it looks for: a ':' (in a helper),
# an entity (a module-level pattern), a backslash (a helper's separators), a heap with items.
SPLITPASSWD = """
def splitpasswd(user):
    return _splitpasswd(user)


def _splitpasswd(user):
    user, delim, passwd = user.partition(':')
    return user, (passwd if delim else None)
"""

UNESCAPE = """
def unescape(s):
    if '&' not in s:
        return s
    return _charref.sub(_replace, s)


import re as _re

_charref = _re.compile(r'&(#[0-9]+;?|[a-z]+;)')
_names = {'amp;': '&', 'lt;': '<', 'gt;': '>'}


def _replace(m):
    s = m.group(1)
    if s[0] == '#':
        return chr(int(s[1:].rstrip(';')))
    return _names.get(s, '&' + s)
"""

NTSPLIT = r"""
def ntsplit(p):
    seps = _get_bothseps(p)
    i = len(p)
    while i and p[i - 1] not in seps:
        i -= 1
    head, tail = p[:i], p[i:]
    return head.rstrip(seps) or head, tail


def _get_bothseps(path):
    return '\\/'
"""

HEAPPUSH = """
def heappush(heap, item):
    heap.append(item)
    _siftdown(heap, 0, len(heap) - 1)


def _siftdown(heap, startpos, pos):
    newitem = heap[pos]
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = heap[parentpos]
        if newitem < parent:
            heap[pos] = parent
            pos = parentpos
            continue
        break
    heap[pos] = newitem
"""


def _settings(tmp_path: Path, feedback: bool) -> PipelineSettings:
    settings = PipelineSettings(runs_dir=tmp_path / "runs")
    settings.sandbox.backend = "local"
    settings.sandbox.workers = 2
    base = ["doctest", "annotations", "defaults", "mutation"]
    settings.testgen.strategies = [*base, "feedback"] if feedback else base  # type: ignore[assignment]
    return settings


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, WithInputs]]:
    tmp = tmp_path_factory.mktemp("fb")
    rows = [
        Instructed(**{k: v for k, v in verified(code).model_dump().items() if k in Instructed.model_fields})
        for code in (MOONS, COUNT, SLOW, RECORD, READER, SPLITPASSWD, UNESCAPE, NTSPLIT, HEAPPUSH)
    ]
    out = {}
    for feedback in (False, True):
        stage = Testgen(_settings(tmp, feedback))
        produced = [r for r in stage.run(rows) if isinstance(r, WithInputs)]
        out["feedback" if feedback else "baseline"] = {r.entry_point: r for r in produced}
    return out


def _args(row: WithInputs) -> list[list[object]]:
    return [decode_input(t)[0] for t in row.test_inputs]


def test_body_literals_meet_preconditions(generated: dict[str, dict[str, WithInputs]]) -> None:
    baseline = {a[0] for a in _args(generated["baseline"]["moons"]) if a}
    feedback = {a[0] for a in _args(generated["feedback"]["moons"]) if a}
    planets = {"Mercury", "Venus", "Earth", "Mars", "Jupiter"}
    assert not baseline & planets
    # different outputs preferred: the kept planets do not all have the same number of moons
    assert len(feedback & planets) >= 3


def test_text_names_get_strings_and_suite_is_minimised(generated: dict[str, dict[str, WithInputs]]) -> None:
    row = generated["feedback"]["count_char"]
    args = _args(row)
    assert args and all(isinstance(a[0], str) for a in args)
    assert any(a[0].count("x") or (len(a) > 1 and a[1] in a[0]) for a in args)  # the branch is taken
    assert len(row.test_inputs) <= 20
    assert "feedback" not in row.input_sources  # sources say which strategy proposed each input


def test_adaptive_time_limits_skip_slow_inputs(generated: dict[str, dict[str, WithInputs]]) -> None:
    row = generated["feedback"]["countdown"]
    # negative n never terminates: such inputs time out in the sandbox and are not kept
    assert all(a[0] >= 0 for a in _args(row) if isinstance(a[0], int))
    assert any(a[0] > 0 for a in _args(row) if isinstance(a[0], int))


def test_dataclass_parameters_get_instances_that_run_and_verify(
    generated: dict[str, dict[str, WithInputs]], tmp_path: Path
) -> None:
    row = generated["feedback"]["overlap"]
    args = _args(row)
    assert args and all(isinstance(a, Construct) and a.name == "Interval" for x in args for a in x[:2])
    # The kept inputs reach both branches: some intervals overlap, some do not.
    settings = _settings(tmp_path, True)
    (executed,) = Execute(settings).run([row])
    assert isinstance(executed, Executed), executed
    results = {c.expected for c in executed.test_cases if c.exception is None}
    assert "0" in results and len(results) >= 3
    (checked,) = Verify(settings).run([executed])
    assert isinstance(checked, Verified), checked


def test_file_object_parameters_get_in_memory_files_whose_reads_are_tested(
    generated: dict[str, dict[str, WithInputs]], tmp_path: Path
) -> None:
    row = generated["feedback"]["read_record"]
    files = [a[0] for a in _args(row)]
    assert all(type(f) in (io.BytesIO, io.StringIO) for f in files)
    assert sum(type(f) is io.BytesIO for f in files) >= 3  # `header[0]`: the binary ones run
    settings = _settings(tmp_path, True)
    (executed,) = Execute(settings).run([row])
    assert isinstance(executed, Executed), executed
    normal = [c for c in executed.test_cases if c.exception is None]
    assert len({c.expected for c in normal}) >= 3
    # How far the record was read is part of every test: the file's state after the call.
    assert all(c.args_after is not None and '"__stream__"' in c.args_after for c in normal)
    (checked,) = Verify(settings).run([executed])
    assert isinstance(checked, Verified), checked


def test_targeted_inputs_mutate_what_reaches_a_surviving_mutant() -> None:
    from codemint.mutants import Mutant
    from codemint.sandbox.suite import SuiteRun, TestOutcome
    from codemint.settings import TestgenSettings
    from codemint.tasks.testgen.feedback import Row, _targeted_proposals

    row = Row("k", "def f(x):\n    if x > 50:\n        return 1\n    return 0\n", "f", None, None)
    for x in (1, 2, 99):
        row.add(([x], {}), "typed", 10, 100)
    row.outcomes = [TestOutcome("ok", "0", 0.0, [2, 4]), TestOutcome("ok", "0", 0.0, [2, 4]),
                    TestOutcome("ok", "1", 0.0, [2, 3])]  # fmt: skip
    killed = Mutant(0, "const", 4, "0 -> 1", "")
    survivor = Mutant(1, "const", 3, "1 -> 2", "")  # only x=99 reaches line 3, and it survives
    same = SuiteRun([TestOutcome("ok", v, 0.0) for v in ("0", "0", "1")], "ok")
    differ = SuiteRun([TestOutcome("ok", v, 0.0) for v in ("1", "1", "1")], "ok")
    cfg = TestgenSettings(feedback_targeted=6)
    proposed = _targeted_proposals([row], {0: [0, 1, 2]}, {0: [(killed, differ), (survivor, same)]}, cfg)
    values = [decode_input(t)[0][0] for t in proposed[0]]
    assert 1 <= len(values) <= 6 and not {1, 2, 99} & set(values)
    # mutations (one or two) of the input reaching the survivor's line, 99: those of 1 or 2
    # never exceed 24, so every value above 50 comes from 99
    assert sum(v > 50 for v in values) >= len(values) / 2, values


def test_inputs_hold_what_the_code_looks_for(generated: dict[str, dict[str, WithInputs]]) -> None:
    def texts(name: str) -> list[str]:
        return [a[0] for a in _args(generated["feedback"][name]) if a and isinstance(a[0], str)]

    # a ':' amid text, so the password part is returned (not only `(user, None)`)
    assert any(":" in t and t.split(":", 1)[1] for t in texts("splitpasswd"))
    # an entity the pattern replaces, so `return s` fails a test
    assert any(re.search(r"&(#[0-9]+;?|[a-z]+;)", t) for t in texts("unescape"))
    # a backslash path with a part on each side
    assert any(re.search(r"\w\\\w", t) for t in texts("ntsplit"))
    # pushes onto heaps that hold items, not only onto []
    heaps = [a[0] for a in _args(generated["feedback"]["heappush"]) if a]
    assert sum(1 for h in heaps if isinstance(h, list) and h) >= 3


def _func_of(code: str) -> ast.FunctionDef:
    node = ast.parse(code).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def test_main_return_line() -> None:
    from codemint.tasks.testgen.feedback import main_return_line

    def line(code: str) -> int | None:
        return main_return_line(_func_of(code))

    assert line("def f(s):\n    if '&' not in s:\n        return s\n    return g(s)\n") == 4
    # a fallback `return None` after a loop is not what the function is for
    assert (
        line("def f(xs):\n    for x in xs:\n        if x:\n            return x * 2\n    return None\n") == 4
    )
    assert line('def f(h, x):\n    """Push."""\n    if not h:\n        return\n    h.append(x)\n') == 5
    assert line('def f(x):\n    """Doc."""\n    if x:\n        return 1\n    return 0\n') == 5
    assert line('def f(x):\n    """Only a docstring."""\n') is None


def test_selection_keeps_an_input_reaching_the_main_return() -> None:
    from codemint.coverage_map import coverage_map
    from codemint.sandbox.suite import TestOutcome
    from codemint.settings import TestgenSettings
    from codemint.tasks.testgen.feedback import Row, _select

    code = "def f(s):\n    if '&' not in s:\n        return s\n    return s.replace('&amp;', '&')\n"
    row = Row("k", code, "f", _func_of(code), None)
    for text in ("a", "bb", "ccc", "&"):
        row.add(([text], {}), "typed", 10, 100)
    row.outcomes = [TestOutcome("ok", f'"{t}"', 0.0, [2, 3]) for t in ("a", "bb", "ccc")]
    row.outcomes.append(TestOutcome("ok", '"&"', 0.0, [2, 4]))
    # room for one input: the main return (line 4) is reached before anything else is added
    cfg = TestgenSettings(max_inputs=1, min_normal_tests=1)
    chosen = _select(row, [0, 1, 2, 3], {}, coverage_map(code, "f"), cfg, None)
    assert chosen == [3]


def test_selection_prefers_inputs_holding_items_between_equals() -> None:
    from codemint.coverage_map import coverage_map
    from codemint.offline import proposals
    from codemint.sandbox.suite import TestOutcome
    from codemint.settings import TestgenSettings
    from codemint.tasks.testgen.feedback import Row, _select

    code = "def push(heap, item):\n    heap.append(item)\n    heap.sort()\n"
    row = Row("k", code, "push", _func_of(code), None)
    for heap, item in (([], 1), ([], 2), ([0, 5], 3), ([1, 4, 9], 2)):
        row.add(([heap, item], {}), "typed", 10, 100)
    row.outcomes = [TestOutcome("ok", "null", 0.0, [2, 3]) for _ in range(4)]  # alike but the heap
    cfg = TestgenSettings(max_inputs=3, min_normal_tests=2)
    lits = proposals.body_literals(_func_of(code), ast.parse(code))
    chosen = _select(row, [0, 1, 2, 3], {}, coverage_map(code, "push"), cfg, None, lits)
    # the shorter text won such ties before: every kept input pushed onto []; now a heap with
    # items is a goal of its own, and the empty heap stays as the other kind of input
    heaps = [decode_input(row.texts[i])[0][0] for i in chosen]
    assert len(heaps) == 2 and [] in heaps and any(heaps)


def test_a_typed_proposal_already_proposed_counts_for_its_type() -> None:
    from codemint.sandbox.suite import TestOutcome
    from codemint.tasks.testgen.feedback import Row, _learned_assignment

    # the plain strategies and the type search seed texts alike: a text the type search
    # proposes again still shows that its hypothesis (0, text) returns normally
    row = Row("k", "def f(s):\n    return s.upper()\n", "f", None, None)
    for text in ("a:b", "ab:", "x"):
        row.add(([text], {}), "defaults", 10, 100)
    for text in ("a:b", "ab:", "x"):
        assert not row.add(([text], {}), "typed", 10, 100, 0)
    row.add(([[1]], {}), "typed", 10, 100, 1)
    row.add(([[2]], {}), "typed", 10, 100, 1)
    row.outcomes = [TestOutcome("ok", '"A:B"', 0.0)] * 3 + [TestOutcome("ok", "[1]", 0.0)] * 2
    assert row.assignment_of == [0, 0, 0, 1, 1]
    assert _learned_assignment(row) == 0


def test_rows_carry_the_original_runs_execute_and_adequacy_take_over(
    generated: dict[str, dict[str, WithInputs]], tmp_path: Path
) -> None:
    """Feedback rows carry the original's traced run on each kept input (plain strategies ran
    nothing: none); execute checks them with one run of its own and makes the same tests."""
    assert all(not r.input_runs for r in generated["baseline"].values())
    for row in generated["feedback"].values():
        assert len(row.input_runs) == len(row.test_inputs), row.entry_point
        assert all(r.kind in ("ok", "iter", "error") and r.lines for r in row.input_runs), row.entry_point
    assert {r.value for r in generated["feedback"]["moons"].input_runs if r.kind == "ok"} >= {"0", "1", "2"}
    # the heap as the call left it, as the runner reports it (constructed inputs: always)
    assert any(r.args_after for r in generated["feedback"]["heappush"].input_runs)
    assert all(r.args_after for r in generated["feedback"]["overlap"].input_runs)
    settings = _settings(tmp_path, True)
    for name in ("moons", "heappush", "overlap"):
        outs = {}
        for reuse in (False, True):
            settings.execute.reuse_testgen_runs = reuse
            stage = Execute(settings)
            (outs[reuse],) = stage.run([generated["feedback"][name]])
            assert stage.metrics["testgen_runs_reused"] == reuse, (name, dict(stage.metrics))
        assert isinstance(outs[True], Executed) and isinstance(outs[False], Executed), name
        assert outs[True].test_cases == outs[False].test_cases, name


def test_mutants_run_only_the_inputs_reaching_their_change_and_the_same_inputs_are_kept(
    generated: dict[str, dict[str, WithInputs]], tmp_path: Path
) -> None:
    """An input that never executes a mutant's changed lines cannot tell it apart: with
    `feedback_reach_bound` (on in `generated`) such runs are skipped, and the kept inputs
    are those the whole matrix of mutants and inputs gives."""
    names = ("moons", "count_char", "heappush", "unescape", "ntsplit")
    rows = [
        Instructed(**{k: v for k, v in verified(code).model_dump().items() if k in Instructed.model_fields})
        for code in (MOONS, COUNT, HEAPPUSH, UNESCAPE, NTSPLIT)
    ]
    settings = _settings(tmp_path, True)
    settings.testgen.feedback_reach_bound = False
    stage = Testgen(settings)
    whole = {r.entry_point: r for r in stage.run(rows) if isinstance(r, WithInputs)}
    assert set(whole) == set(names)
    for name in names:
        assert whole[name].test_inputs == generated["feedback"][name].test_inputs, name
        ran = [r.model_dump(exclude={"seconds"}) for r in whole[name].input_runs]
        assert ran == [r.model_dump(exclude={"seconds"}) for r in generated["feedback"][name].input_runs], (
            name
        )
    bounded = Testgen(_settings(tmp_path, True))
    list(bounded.run(rows))
    assert bounded.metrics["feedback_executions"] < stage.metrics["feedback_executions"]


def test_mutant_jobs_stop_at_their_first_kill_and_the_kept_inputs_kill_as_many(
    generated: dict[str, dict[str, WithInputs]], tmp_path: Path
) -> None:
    """With `feedback_first_kill` (on in `generated`) a mutant's job stops at the first input
    telling it apart, the inputs in the order the selection prefers them, and later rounds
    run only surviving mutants: far fewer executions, and the kept inputs kill as many of the
    same mutants (measured afresh on the kept suites, every test run) as with the full matrix."""
    from codemint.sandbox import shared_sandbox
    from codemint.sandbox.adequacy import MeasureConfig, Suite, measure

    rows = [
        Instructed(**{k: v for k, v in verified(code).model_dump().items() if k in Instructed.model_fields})
        for code in (MOONS, COUNT, HEAPPUSH, UNESCAPE, NTSPLIT, SPLITPASSWD)
    ]
    settings = _settings(tmp_path, True)
    settings.testgen.feedback_first_kill = False
    full = Testgen(settings)
    whole = {r.entry_point: r for r in full.run(rows) if isinstance(r, WithInputs)}
    lazy = Testgen(_settings(tmp_path, True))
    first = {r.entry_point: r for r in lazy.run(rows) if isinstance(r, WithInputs)}
    assert set(first) == set(whole) and len(first) == len(rows)
    assert lazy.metrics["feedback_executions"] < 0.7 * full.metrics["feedback_executions"]

    cfg = MeasureConfig(
        max_mutants=settings.testgen.feedback_mutants, seed=settings.testgen.seed, equivalence_inputs=0
    )
    box = shared_sandbox(settings.sandbox)

    def killed(produced: dict[str, WithInputs]) -> dict[str, int]:
        names = sorted(produced)
        suites = [Suite(n, produced[n].original_code, n, list(produced[n].test_inputs)) for n in names]
        measured = measure(box, suites, cfg, settings.sandbox.limits)
        return {n: sum(r.status == "killed" for r in m.mutants) for n, m in zip(names, measured, strict=True)}

    assert killed(first) == killed(whole)


ALWAYS_RAISES = '''
def open_store(path, mode="r"):
    """Open the store configured at path."""
    if mode not in ("r", "w"):
        raise ValueError("bad mode " + str(mode))
    raise LookupError("no store configured at " + str(path))
'''


ONE_ANSWER = '''
def default_port(scheme):
    """Return the port a server listens on when none is configured for a URL scheme."""
    ports = {"http": 8080, "https": 8080}
    return ports.get(str(scheme).lower(), 8080)
'''


def test_a_row_raising_on_every_input_runs_no_mutants_and_others_are_unchanged(tmp_path: Path) -> None:
    """With `feedback_skip_raising` a row whose original raised on every input, or returned
    one value from every input it returned from, runs no mutant jobs (execute drops it as
    no_normal_returns or constant_outcome whatever they show); another row keeps the same
    inputs as with the setting off."""
    rows = [
        Instructed(**{k: v for k, v in verified(code).model_dump().items() if k in Instructed.model_fields})
        for code in (ALWAYS_RAISES, MOONS, ONE_ANSWER)
    ]
    produced, metrics = {}, {}
    for skip in (False, True):
        settings = _settings(tmp_path, True)
        settings.testgen.feedback_skip_raising = skip
        stage = Testgen(settings)
        produced[skip] = {r.entry_point: r for r in stage.run(rows) if isinstance(r, WithInputs)}
        metrics[skip] = dict(stage.metrics)
    assert metrics[True]["mutants_skipped_raising_rows"] == 1
    assert metrics[True]["mutants_skipped_one_answer_rows"] == 1
    assert "mutants_skipped_raising_rows" not in metrics[False]
    assert metrics[True]["feedback_executions"] < metrics[False]["feedback_executions"]
    raising = produced[True]["open_store"]
    assert raising.input_runs and all(run.kind == "error" for run in raising.input_runs)
    assert produced[True]["moons"].test_inputs == produced[False]["moons"].test_inputs
    for skip in (False, True):
        (out,) = Execute(_settings(tmp_path, True)).run([produced[skip]["default_port"]])
        assert isinstance(out, Rejected) and out.drop_reason == "constant_outcome", skip


def test_rows_go_a_group_at_a_time_and_keep_the_same_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feedback holds `FEEDBACK_GROUP_ROWS` rows' pools and mutant runs at once, for memory: in
    groups of one row, each row keeps the same inputs with the same runs, and the stage counts
    the same, as all rows together."""
    rows = [
        Instructed(**{k: v for k, v in verified(code).model_dump().items() if k in Instructed.model_fields})
        for code in (MOONS, COUNT, RECORD)
    ]
    real = feedback_module.feedback_inputs
    groups: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        groups.append(len(args[3]))  # the rows
        return real(*args, **kwargs)

    monkeypatch.setattr(feedback_module, "feedback_inputs", counted)
    produced, metrics, calls = {}, {}, {}
    for size in (64, 1):
        monkeypatch.setattr(testgen_stage, "FEEDBACK_GROUP_ROWS", size)
        groups.clear()
        stage = Testgen(_settings(tmp_path, True))
        out = [r for r in stage.run(rows) if isinstance(r, WithInputs)]
        produced[size] = [
            (r.id, r.test_inputs, r.input_sources, [u.model_dump(exclude={"seconds"}) for u in r.input_runs])
            for r in out
        ]
        metrics[size], calls[size] = dict(stage.metrics), list(groups)
    assert calls == {64: [3], 1: [1, 1, 1]}
    assert len(produced[1]) == 3 and all(inputs and runs for _, inputs, _, runs in produced[1])
    assert produced[1] == produced[64]
    assert metrics[1] == metrics[64]
