"""Adequacy of a test suite, measured in the sandbox: coverage of the original, mutants killed.

For a batch of suites (code, entry point, inputs), in three sandbox batches:
1. the original runs every input once, traced: per test its outcome, time, lines and arcs;
2. each mutant (`codemint.mutants`) runs the whole suite in one job, each test capped at a
   multiple of the original's time on it (with a floor); a mutant is killed when some
   test's outcome differs from the original's, or its job dies (timeout, memory);
3. survivors are checked for equivalence on extra inputs (typed proposals from the signature
   and body, and seeded mutations of the suite's inputs): the original runs them traced, and
   a survivor is reported as (likely) equivalent only when at least
   `equivalence_min_reaching` of them run its changed lines and it matches the original on
   all of those. Extra inputs that never reach the change prove nothing about it, so a
   mutant no input reaches stays a survivor.
The mutation score is killed over every mutant the sandbox ran: nothing is excused in it;
equivalents are counted apart (and `mutation_score_excused` leaves them out).
A method sample (`codemint/samples.py`) is measured the same way: mutants of its method in
its class, the harness appended to the original and to each mutant, inputs the harness's.
Outcomes are compared here, in the host, as canonical texts.
"""

from __future__ import annotations

import ast
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from codemint import mutants as mutant_gen
from codemint import safe_ast
from codemint.codec import decode_input, encode_input
from codemint.coverage_map import CoverageMap, coverage_map
from codemint.offline import proposals
from codemint.offline.inputs import mutate
from codemint.records import Verified
from codemint.samples import CLASS_KINDS, compared_state, runnable
from codemint.sandbox.api import ExecJob, ExecLimits, Sandbox
from codemint.sandbox.suite import SUITES_PER_PROCESS, SuiteRun, TestOutcome, parse, run_suites, suite_job

# Appended to the code under test when its tests compare argument state: the outcome is the
# returned value with the arguments as the call left them, compared as verify compares them.
WITH_ARGS = """

def __codemint_with_args__(*args, **kwargs):
    return (ENTRY(*args, **kwargs), list(args), kwargs)
"""


@dataclass
class Suite:
    key: str
    code: str
    entry_point: str
    inputs: list[str]
    # A method sample's kind and class: it runs through the harness and its inputs are the
    # harness's `[init_args, init_kwargs, args, kwargs]`.
    sample_kind: str = "function"
    class_name: str | None = None
    # The instance attributes its tests compare (`codemint.samples.compared_state`; None: all).
    state_attributes: list[str] | None = None
    # Inputs for the equivalence check; None: proposed here from the function's signature.
    extra_inputs: list[str] | None = None
    # The tests compare the arguments' state after the call (`args_after`): so does the suite,
    # or a mutant that leaves a heap wrong while returning None would pass every test.
    compare_args: bool = False
    # The original's traced outcomes on `inputs` when another stage already ran them as this
    # suite runs (feedback testgen): the original is not run again. None: run it here.
    original_runs: list[TestOutcome] | None = None
    # Per input, the mutants (`Mutant.key`) that stage saw it tell apart from the original, as
    # this suite would (same code and harness, a longer time cap): they count as killed by
    # that test without a job. Used only with `original_runs`.
    known_kills: list[list[str]] | None = None

    @property
    def target_class(self) -> str | None:
        """The class whose method is mutated, or None for a top-level function."""
        return self.class_name if self.sample_kind in CLASS_KINDS else None

    def runnable(self, code: str) -> tuple[str, str]:
        """(code, entry point) to run `code` (the original or a mutant) as this suite's tests do."""
        shown = self.state_attributes
        code, entry = runnable(code, self.sample_kind, self.entry_point, self.class_name, shown)
        if not self.compare_args:
            return code, entry
        return code.rstrip("\n") + "\n" + WITH_ARGS.replace("ENTRY", entry), "__codemint_with_args__"


def _known_kills(suite: Suite) -> dict[str, int]:
    """Mutant key -> the first test known to kill it (`Suite.known_kills`)."""
    if (
        suite.original_runs is None
        or suite.known_kills is None
        or len(suite.known_kills) != len(suite.inputs)
    ):
        return {}
    out: dict[str, int] = {}
    for i, keys in enumerate(suite.known_kills):
        for key in keys:
            out.setdefault(key, i)
    return out


def row_suite(rec: Verified) -> Suite:
    """A verified row's tests as a suite run as verify runs them: a method through its harness,
    comparing the same instance attributes, and the arguments' state when its tests compare it."""
    inputs = [c.input for c in rec.test_cases]
    compare_args = any(c.args_after is not None for c in rec.test_cases)
    if rec.sample_kind not in CLASS_KINDS:
        return Suite(rec.id, rec.original_code, rec.entry_point, inputs, compare_args=compare_args)
    return Suite(
        rec.id,
        rec.original_code,
        rec.entry_point,
        inputs,
        sample_kind=rec.sample_kind,
        class_name=rec.class_name,
        state_attributes=compared_state(rec),
        compare_args=compare_args,
    )


@dataclass
class MutantResult:
    mutant: mutant_gen.Mutant
    status: str  # "killed", "survived", "equivalent", "unknown" (the sandbox could not run it)
    killing_tests: list[int] = field(default_factory=list)  # known only when run in full
    reached: bool = False  # some test of the suite runs its changed lines
    reaching_extras: int = 0  # extra inputs that run its changed lines (equivalence evidence)
    known: bool = False  # killed by a test whose input another stage saw kill it (`known_kills`)


@dataclass
class Measurement:
    suite: Suite
    original: SuiteRun
    mutants: list[MutantResult]
    cmap: CoverageMap
    seconds: float = 0.0  # sandbox time spent on this suite (sum of its jobs' durations)

    @property
    def killed(self) -> int:
        return sum(1 for m in self.mutants if m.status == "killed")

    @property
    def equivalent(self) -> int:
        return sum(1 for m in self.mutants if m.status == "equivalent")

    @property
    def scored(self) -> int:
        """Mutants the sandbox ran (an `unknown` one says nothing about the tests)."""
        return sum(1 for m in self.mutants if m.status != "unknown")

    @property
    def unreached(self) -> int:
        """Survivors whose changed lines no test runs: the tests cannot see them at all."""
        return sum(1 for m in self.mutants if m.status == "survived" and not m.reached)

    @property
    def mutation_score(self) -> float | None:
        """Killed over every mutant run: none excused."""
        return self.killed / self.scored if self.scored else None

    @property
    def mutation_score_excused(self) -> float | None:
        """Killed over the mutants not shown equivalent."""
        counted = self.scored - self.equivalent
        return self.killed / counted if counted else None

    def covered_lines(self) -> list[list[int]]:
        """Per test, the lines of the suite's code it runs (not those of a method's harness,
        appended after the code)."""
        last = len(self.suite.code.splitlines())
        return [[line for line in o.lines if line <= last] for o in self.original.outcomes]

    @property
    def line_coverage(self) -> float | None:
        lines = {line for o in self.original.outcomes for line in o.lines}
        return self.cmap.line_coverage(lines)

    @property
    def branch_coverage(self) -> float | None:
        arcs = {arc for o in self.original.outcomes for arc in o.arcs}
        return self.cmap.branch_coverage(arcs)


@dataclass(frozen=True)
class MeasureConfig:
    max_mutants: int = 20
    seed: int = 0
    equivalence_inputs: int = 20
    time_factor: float = 10.0
    time_floor_s: float = 0.2
    stop_early: bool = True  # False: run every test on every mutant (to know which tests kill it)
    # Extra inputs that must run a survivor's changed lines (and agree) for it to be equivalent.
    equivalence_min_reaching: int = 2
    # Each mutant runs the tests that cover its changed lines first and stops at the first
    # test it fails (a returned value too, not only a raised type or a dead job); so does the
    # equivalence check on its extra inputs. The verdicts are the same: a mutant needs one
    # failing test to be killed, and a survivor still runs every test.
    first_failure: bool = False
    # Mutant suites of one suite run in one process (`run_suites`); 1: a process each.
    suites_per_process: int = SUITES_PER_PROCESS


def budgets_for(original: Sequence[TestOutcome], factor: float, floor: float) -> list[float]:
    """Per-test caps for a mutant: a multiple of the original's (traced) time, with a floor."""
    return [max(floor, factor * o.seconds) for o in original]


def expectation(
    outcomes: Sequence[TestOutcome], values: bool = False
) -> list[tuple[str, str | None, str | None]]:
    """What the suite harness stops on: the kind and exception type of each outcome, and with
    `values` a returned value's canonical text (an iterator's is left to the host)."""
    return [
        ("error", o.value, None)
        if o.kind == "error"
        else ("ok", None, o.value if values and o.kind == "ok" and _utf8(o.value) else None)
        for o in outcomes
    ]


def _utf8(text: str | None) -> bool:
    """A text a job can carry: a returned str with a lone surrogate (a decoded file name) is
    canonical text the job's JSON cannot encode; the host compares that one instead."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def covering_first(outcomes: Sequence[TestOutcome], lines: Sequence[int]) -> list[int]:
    """Test indexes, those whose original run executes any of `lines` first (a test that never
    reaches a mutant's change runs the original's code and can only kill it by chance)."""
    wanted = set(lines)
    hit = [i for i, o in enumerate(outcomes) if wanted.intersection(o.lines)]
    return hit + [i for i in range(len(outcomes)) if i not in set(hit)]


def differs(original: Sequence[TestOutcome], run: SuiteRun) -> tuple[bool | None, list[int]]:
    """(told apart?, tests that tell it apart); None when the sandbox could not run it."""
    if run.job_status == "infra":
        return None, []
    if run.job_status != "ok":
        return True, []  # the mutant's job died (timeout, memory, crash): the original's did not
    tests = [i for i, (a, b) in enumerate(zip(original, run.outcomes, strict=False)) if a.key != b.key]
    return bool(tests), tests


def _extra_inputs(suite: Suite, count: int, seed: str) -> list[str]:
    """Inputs independent of how strong the suite is: the suite's own `extra_inputs` when it
    has them (a method's, made by the caller), else half typed proposals from the signature
    and body (`codemint.offline.proposals`), half mutations of the suite's inputs."""
    if suite.extra_inputs is not None:
        return [t for t in dict.fromkeys(suite.extra_inputs) if t not in suite.inputs][:count]
    rng = random.Random(seed)
    out: list[str] = []

    def add(args: list[object], kwargs: dict[str, object]) -> None:
        try:
            text = encode_input(args, kwargs)
        except (TypeError, ValueError, RecursionError):
            return
        if text not in suite.inputs and text not in out and '"__repr__"' not in text and len(text) < 4000:
            out.append(text)

    try:
        func = next(
            (
                n
                for n in safe_ast.parse(suite.code).body
                if isinstance(n, ast.FunctionDef) and n.name == suite.entry_point
            ),
            None,
        )
    except SyntaxError:
        func = None
    if func is not None:
        plan = proposals.plan(func, proposals.module_classes(suite.code))
        assignments = plan.assignments()
        per = max(1, (count // 2) // max(1, len(assignments)))
        for assignment in assignments:
            for args, kwargs in proposals.inputs_for(plan, assignment, rng, per):
                add(args, kwargs)
    seeds = []
    for text in suite.inputs:
        try:
            seeds.append(decode_input(text))
        except ValueError:
            continue
    for _ in range(count * 4):
        if not seeds or len(out) >= count:
            break
        args, kwargs = mutate(rng.choice(seeds), rng)
        add(args, kwargs)
    return out[:count]


def _duration(run: SuiteRun) -> float:
    return sum(o.seconds for o in run.outcomes)


def target_source(suite: Suite) -> str:
    """Code in which the suite's target is the top-level function `entry_point` at its own
    line numbers, as `coverage_map` reads it: a method is lifted out of its class (its lines
    dedented by the class's indentation, every other line left blank)."""
    if suite.target_class is None:
        return suite.code
    func = mutant_gen.find_target(safe_ast.parse(suite.code), suite.entry_point, suite.target_class)
    if func is None or func.end_lineno is None:
        return ""
    lines = suite.code.splitlines()
    out = [""] * len(lines)
    indent = func.col_offset
    for i in range(func.lineno - 1, func.end_lineno):
        line = lines[i]
        # a line of a multi-line string may start left of the indentation: kept as it is
        out[i] = line[indent:] if not line[:indent].strip() else line
    return "\n".join(out) + "\n"


def _coverage_map(suite: Suite) -> CoverageMap:
    try:
        return coverage_map(target_source(suite), suite.entry_point)
    except SyntaxError:
        return CoverageMap(frozenset(), ())


def _original_runs(sandbox: Sandbox, suites: Sequence[Suite], limits: ExecLimits) -> list[SuiteRun]:
    """The original's traced run of each suite: the one handed over when there is one for
    every input, else run here (one batch for those without)."""
    runs: list[SuiteRun | None] = [
        SuiteRun(list(s.original_runs), "ok")
        if s.original_runs is not None and len(s.original_runs) == len(s.inputs)
        else None
        for s in suites
    ]
    todo = [n for n, r in enumerate(runs) if r is None]
    jobs = [
        suite_job(
            f"{suites[n].key}#orig",
            *suites[n].runnable(suites[n].code),
            suites[n].inputs,
            budgets=[limits.timeout_s] * len(suites[n].inputs),
            expect=None,
            trace=True,
            base=limits,
        )
        for n in todo
    ]
    for n, result in zip(todo, sandbox.run_batch(jobs) if jobs else [], strict=True):
        runs[n] = parse(result, trace=True)
    return [r for r in runs if r is not None]


@dataclass
class _MutantJob:
    owner: int
    mutant: mutant_gen.Mutant
    order: list[int]  # test indexes in the order the job runs them


def _mutant_job(
    suite: Suite,
    original: SuiteRun,
    k: int,
    mutant: mutant_gen.Mutant,
    cfg: MeasureConfig,
    limits: ExecLimits,
) -> tuple[ExecJob, list[int]]:
    outcomes = original.outcomes
    order = covering_first(outcomes, mutant.lines) if cfg.first_failure else list(range(len(outcomes)))
    ordered = [outcomes[i] for i in order]
    expect = expectation(ordered, values=cfg.first_failure) if cfg.stop_early else None
    job = suite_job(
        f"{suite.key}#m{k}",
        *suite.runnable(mutant.code),
        [suite.inputs[i] for i in order],
        budgets=budgets_for(ordered, cfg.time_factor, cfg.time_floor_s),
        expect=expect,
        trace=False,
        base=limits,
    )
    return job, order


@dataclass
class Stopped:
    """A job that stopped on a returned text differing from the original's, before its end."""

    key: str  # the job's id stem
    code: str  # runnable code of the mutant (`Suite.runnable`)
    entry_point: str
    inputs: list[str]  # every input of the job, in its order
    originals: list[TestOutcome]  # the original's outcomes on them
    run: SuiteRun


def run_rest(
    sandbox: Sandbox, stopped: list[Stopped], factor: float, floor: float, limits: ExecLimits
) -> None:
    """The verdict's rule found the texts equal (2 and 2.0): the rest of each job's inputs run,
    stopping only on a kind as before, and their outcomes are added to its run."""
    jobs = []
    for item in stopped:
        done = len(item.run.outcomes)
        rest = item.originals[done:]
        jobs.append(
            suite_job(
                f"{item.key}#rest",
                item.code,
                item.entry_point,
                item.inputs[done:],
                budgets=budgets_for(rest, factor, floor),
                expect=expectation(rest),
                trace=False,
                base=limits,
            )
        )
    for item, result in zip(stopped, sandbox.run_batch(jobs) if jobs else [], strict=True):
        more = parse(result, trace=False)
        if more.job_status == "ok":
            item.run.outcomes.extend(more.outcomes)
        else:  # died on the rest: the original finished every one of them
            item.run.outcomes, item.run.job_status = [], more.job_status
            item.run.infra_error, item.run.detail = more.infra_error, more.detail


def stopped_equal(originals: list[TestOutcome], run: SuiteRun) -> bool:
    """The job stopped early on a text the verdict's rule finds equal: the rest must run."""
    return (
        run.job_status == "ok" and len(run.outcomes) < len(originals) and differs(originals, run)[0] is False
    )


def measure(
    sandbox: Sandbox, suites: Sequence[Suite], cfg: MeasureConfig, limits: ExecLimits
) -> list[Measurement]:
    """Coverage and mutation results for every suite (see the module docstring)."""
    started = time.perf_counter()
    originals = _original_runs(sandbox, suites, limits)
    results: list[Measurement] = []
    mutant_jobs: list[ExecJob] = []
    owners: list[_MutantJob] = []
    for n, (suite, original) in enumerate(zip(suites, originals, strict=True)):
        try:
            found = mutant_gen.generate(
                suite.code,
                suite.entry_point,
                max_mutants=cfg.max_mutants,
                seed=cfg.seed,
                class_name=suite.target_class,
            )
        except SyntaxError:
            found = []
        results.append(Measurement(suite, original, [], _coverage_map(suite), _duration(original)))
        if original.job_status != "ok" or len(original.outcomes) != len(suite.inputs):
            continue
        known = _known_kills(suite)
        covered = {line for o in original.outcomes for line in o.lines}
        for k, mutant in enumerate(found):
            if mutant.key in known:  # a test of the suite already told it apart elsewhere
                reached = any(line in covered for line in mutant.lines)
                killed = MutantResult(mutant, "killed", [known[mutant.key]], reached=reached, known=True)
                results[n].mutants.append(killed)
                continue
            job, order = _mutant_job(suite, original, k, mutant, cfg, limits)
            mutant_jobs.append(job)
            owners.append(_MutantJob(n, mutant, order))
    keys = [suites[entry.owner].key for entry in owners]
    mutant_runs = [
        parse(r, trace=False) for r in run_suites(sandbox, mutant_jobs, keys, cfg.suites_per_process)
    ]
    if cfg.first_failure and cfg.stop_early:
        stopped = []
        for entry, run in zip(owners, mutant_runs, strict=True):
            m = results[entry.owner]
            ordered = [m.original.outcomes[i] for i in entry.order]
            if stopped_equal(ordered, run):
                inputs = [m.suite.inputs[i] for i in entry.order]
                code, entry_point = m.suite.runnable(entry.mutant.code)
                stopped.append(Stopped(m.suite.key, code, entry_point, inputs, ordered, run))
        run_rest(sandbox, stopped, cfg.time_factor, cfg.time_floor_s, limits)
    survivors: dict[int, list[MutantResult]] = {}
    for entry, run in zip(owners, mutant_runs, strict=True):
        n, mutant = entry.owner, entry.mutant
        m = results[n]
        told, tests = differs([m.original.outcomes[i] for i in entry.order], run)
        status = "unknown" if told is None else "killed" if told else "survived"
        covered = {line for o in m.original.outcomes for line in o.lines}
        killing = sorted(entry.order[p] for p in tests)
        result = MutantResult(mutant, status, killing, reached=any(line in covered for line in mutant.lines))
        m.mutants.append(result)
        m.seconds += _duration(run)
        if status == "survived":
            survivors.setdefault(n, []).append(result)
    if cfg.equivalence_inputs > 0 and survivors:
        _check_equivalence(sandbox, results, survivors, cfg, limits)
    total = sum(m.seconds for m in results) or 1.0
    elapsed = time.perf_counter() - started
    for m in results:  # wall time shared out by each suite's share of sandbox time
        m.seconds = round(elapsed * m.seconds / total, 4)
    return results


def _check_equivalence(
    sandbox: Sandbox,
    results: list[Measurement],
    survivors: dict[int, list[MutantResult]],
    cfg: MeasureConfig,
    limits: ExecLimits,
) -> None:
    extras = {
        n: _extra_inputs(results[n].suite, cfg.equivalence_inputs, f"{cfg.seed}:{results[n].suite.key}")
        for n in survivors
    }
    extras = {n: e for n, e in extras.items() if e}
    order = sorted(extras)
    # Traced: which extra inputs run each survivor's changed lines.
    base_jobs = [
        suite_job(
            f"{results[n].suite.key}#extra",
            *results[n].suite.runnable(results[n].suite.code),
            extras[n],
            budgets=[limits.timeout_s] * len(extras[n]),
            expect=None,
            trace=True,
            base=limits,
        )
        for n in order
    ]
    base_runs = dict(zip(order, (parse(r, trace=True) for r in sandbox.run_batch(base_jobs)), strict=True))
    jobs: list[ExecJob] = []
    inputs_of: list[list[str]] = []
    owners: list[tuple[int, MutantResult, list[TestOutcome]]] = []
    for n in order:
        base = base_runs[n]
        results[n].seconds += _duration(base)
        if base.job_status != "ok" or len(base.outcomes) != len(extras[n]):
            continue
        suite = results[n].suite
        for k, entry in enumerate(survivors[n]):
            # Inputs the original itself timed out on cannot tell anything apart.
            reaching = [
                i
                for i, o in enumerate(base.outcomes)
                if o.kind not in ("timeout", "memory") and any(line in o.lines for line in entry.mutant.lines)
            ]
            entry.reaching_extras = len(reaching)
            if not reaching or len(reaching) < cfg.equivalence_min_reaching:
                continue  # nothing ran the change: no evidence it is equivalent
            originals = [base.outcomes[i] for i in reaching]
            inputs_of.append([extras[n][i] for i in reaching])
            jobs.append(
                suite_job(
                    f"{suite.key}#eq{k}",
                    *suite.runnable(entry.mutant.code),
                    inputs_of[-1],
                    budgets=budgets_for(originals, cfg.time_factor, cfg.time_floor_s),
                    expect=expectation(originals, values=cfg.first_failure),
                    trace=False,
                    base=limits,
                )
            )
            owners.append((n, entry, originals))
    keys = [results[n].suite.key for n, _, _ in owners]
    runs = [parse(r, trace=False) for r in run_suites(sandbox, jobs, keys, cfg.suites_per_process)]
    if cfg.first_failure:
        run_rest(
            sandbox,
            [
                Stopped(
                    results[n].suite.key,
                    *results[n].suite.runnable(entry.mutant.code),
                    job_inputs,
                    originals,
                    run,
                )
                for (n, entry, originals), job_inputs, run in zip(owners, inputs_of, runs, strict=True)
                if stopped_equal(originals, run)
            ],
            cfg.time_factor,
            cfg.time_floor_s,
            limits,
        )
    for (n, entry, originals), run in zip(owners, runs, strict=True):
        results[n].seconds += _duration(run)
        told, _ = differs(originals, run)
        if told is False:
            entry.status = "equivalent"
