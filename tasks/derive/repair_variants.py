"""Buggy variants of a verified row's original for repair rows, proven buggy by its own tests.

A variant is kept only if, run in the sandbox, it fails at least one of the row's tests with
a definite wrong answer (a different value or exception, not a timeout that load could
cause), while the original, run in the same batch, passes the tests the variant ran (all of
them, or with `exercises.repair_confirm_failing` the first two a suite screen saw it fail).
Among the kept variants the ones the fewest tests catch come first: they are the hard bugs.
The verdict per test is verify's own comparison (`passes`), so "fails" means what
verification means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from codemint import mutants
from codemint.records import RepairDetail, TestCase, Verified
from codemint.samples import CLASS_KINDS
from codemint.sandbox.adequacy import budgets_for, row_suite
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, ExecResult, Sandbox
from codemint.sandbox.row_jobs import RowJobs
from codemint.sandbox.suite import parse, run_suites, suite_job
from codemint.settings import ExercisesSettings, SandboxSettings
from codemint.tasks.execute.checks import sandbox_only_text
from codemint.value_text import result_text
from codemint.verdict import passes

T = TypeVar("T")

_MESSAGE_CHARS = 300
_DEFINITE = ("ok", "error")  # outcomes that are behaviour, not resource exhaustion
# The screen's per-test time cap: a multiple of the original's time, as adequacy caps a mutant.
_SCREEN_TIME_FACTOR = 10.0
_SCREEN_TIME_FLOOR_S = 0.2
# The tests a screened variant is judged on (`failing_only`): the first two it failed there, so
# one that passes when run alone, or shows what only the sandbox knows, has a second to show.
CONFIRMED = 2
# The module job code runs as (sandbox/runner.py): to a reader of the prompt, a class the row's
# code defines is just its name (`StatisticsError`, not `__codemint__.StatisticsError`).
_JOB_MODULE = re.compile(r"\b__codemint__\.")


def without_job_module(text: str) -> str:
    """`text` with the code's own names unqualified by the job module."""
    return _JOB_MODULE.sub("", text)


@dataclass(frozen=True)
class BugCandidate:
    """A buggy version of a row's original, from a mutation operator or an LLM prompt."""

    code: str
    source: str  # "mutation" or "llm"
    kind: str
    description: str
    order: int  # tie-break: the generator's own order


def mutation_candidates(rec: Verified, cfg: ExercisesSettings) -> list[BugCandidate]:
    # A method sample's bugs are in its method, in its class (its tests run through the harness).
    target = rec.class_name if rec.sample_kind in CLASS_KINDS else None
    try:
        found = mutants.generate(
            rec.original_code,
            rec.entry_point,
            max_mutants=cfg.repair_mutants,
            seed=cfg.repair_seed,
            class_name=target,
        )
    except (SyntaxError, ValueError, RecursionError):
        return []
    return [BugCandidate(m.code, "mutation", m.operator, m.description, m.index) for m in found]


def actual_text(outcome: CallOutcome, sample_kind: str = "function") -> str:
    """What a call did, as a repair prompt shows it (values as Python, not the codec)."""
    if outcome.status == "ok":
        return without_job_module(result_text(outcome.result or "null", sample_kind))
    if outcome.status == "error":
        message = (outcome.exc_message or "").strip()
        if len(message) > _MESSAGE_CHARS:
            message = message[:_MESSAGE_CHARS] + "..."
        return without_job_module(f"raises `{outcome.exc_type}`" + (f": {message}" if message else ""))
    return f"does not finish ({outcome.status})"


def failing_tests(cases: Sequence[TestCase], result: ExecResult) -> list[int] | None:
    """Indices of the tests a run fails; None when the run could not be judged at all."""
    if result.infra_error or len(result.outcomes) != len(cases):
        return None
    return [i for i, (c, o) in enumerate(zip(cases, result.outcomes, strict=True)) if not passes(c, o)]


def outcomes_on(tests: Sequence[int], result: ExecResult) -> dict[int, CallOutcome] | None:
    """A run on the tests `tests` (indices into the row's tests, in that order), per test; None
    when the run could not be judged at all."""
    if result.infra_error or len(result.outcomes) != len(tests):
        return None
    return dict(zip(tests, result.outcomes, strict=True))


def judge_variant(
    rec: Verified, cand: BugCandidate, outcomes: dict[int, CallOutcome], tests_failed: int | None = None
) -> RepairDetail | str:
    """The repair detail of a candidate that failed some of the tests it ran (`outcomes`, per
    test index) with a definite wrong answer, or why it is not one: "survived" (no failure, or
    only timeouts and the like: not a proven bug) or "sandbox_only". `tests_failed`: how many
    tests it fails, when it ran only some of them (else: how many of those it failed)."""
    failed = [i for i in sorted(outcomes) if not passes(rec.test_cases[i], outcomes[i])]
    definite = [i for i in failed if outcomes[i].status in _DEFINITE]
    if not definite:
        return "survived"
    # The failing test the prompt shows must not show what only the sandbox knows (its work
    # directory, an address): a solver could not reproduce it, and it differs run to run.
    shown_text = {i: actual_text(outcomes[i], rec.sample_kind) for i in definite}
    clean = [i for i in definite if sandbox_only_text(shown_text[i], rec.test_cases[i].input) is None]
    if not clean:
        return "sandbox_only"
    shown = clean[0]
    return RepairDetail(
        buggy_code=cand.code,
        bug_source=cand.source,
        bug_kind=cand.kind,
        bug_description=cand.description,
        failing_test=rec.test_cases[shown],
        actual=shown_text[shown],
        tests_failed=len(failed) if tests_failed is None else max(tests_failed, len(failed)),
        tests_total=len(rec.test_cases),
    )


def judge_variants(
    rec: Verified, candidates: Sequence[BugCandidate], fix: ExecResult, runs: Sequence[ExecResult]
) -> tuple[list[RepairDetail], dict[str, int]]:
    """Repair details for the candidates that the tests catch, hardest first; and counts. Each
    run (`fix`, the original's, and one per candidate) ran every test of the row."""
    counts = _counts(len(candidates))
    if failing_tests(rec.test_cases, fix) != []:
        counts["fix_failed"] = 1
        return [], counts
    every = list(range(len(rec.test_cases)))
    judged = [(Screened(cand, None), every, run) for cand, run in zip(candidates, runs, strict=True)]
    return _caught(rec, judged, counts), counts


def _caught(
    rec: Verified, judged: Sequence[tuple[Screened, list[int], ExecResult]], counts: dict[str, int]
) -> list[RepairDetail]:
    """The details of the candidates caught by their runs (each on the tests listed beside it),
    hardest first; each verdict counted in `counts`."""
    caught: list[tuple[int, int, RepairDetail]] = []
    for s, tests, run in judged:
        outcomes = outcomes_on(tests, run)
        if outcomes is None:
            verdict: RepairDetail | str = "unjudged"
        else:
            screen_failed = None if s.tests is None else len(s.tests)
            verdict = judge_variant(rec, s.candidate, outcomes, screen_failed)
        if isinstance(verdict, str):
            counts[verdict] += 1
            continue
        counts["caught"] += 1
        caught.append((verdict.tests_failed, s.candidate.order, verdict))
    return [d for _, _, d in sorted(caught, key=lambda t: (t[0], t[1]))]


def _counts(run: int) -> dict[str, int]:
    return {"run": run, "caught": 0, "survived": 0, "unjudged": 0, "fix_failed": 0, "sandbox_only": 0}


def kinds_first(items: Sequence[T], kind: Callable[[T], str]) -> list[T]:
    """`items` in their order, but the first of each kind of bug before a second of any kind."""
    first: list[T] = []
    kinds: set[str] = set()
    for item in items:
        if kind(item) not in kinds:
            first.append(item)
            kinds.add(kind(item))
    return first + [item for item in items if item not in first]


def pick(details: Sequence[RepairDetail], limit: int) -> list[RepairDetail]:
    """The `limit` hardest bugs, one per kind of bug before a second of any kind."""
    chosen = kinds_first(details, lambda d: d.bug_kind)[:limit]
    return sorted(chosen, key=lambda d: d.tests_failed)


def repair_details(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_row: int,
    settings: SandboxSettings | None = None,
    screen: bool = False,
    failing_only: bool = False,
) -> tuple[dict[str, list[RepairDetail]], dict[str, int]]:
    """Kept details per row id, and counts. Each candidate judged runs with the row's original
    in one batch, as verify ran the row: a method through the harness comparing the same
    state, and (given the sandbox `settings`) with the original module hidden. With `screen`,
    a suite run first tells which candidates fail a test (`screen_candidates`), and only the
    hardest of those are judged so, `per_row` at a time until enough are kept. With
    `failing_only` too, a screened candidate is judged only on the first `CONFIRMED` tests the
    screen saw it fail (each still in a process of its own, the original beside it on the same
    tests): the failing test a row shows is proven as before, and its `tests_failed` is the
    screen's count (the same verdict rule, over the suite run)."""
    totals: dict[str, int] = {}
    if not screen:
        return _judge(records, candidates, sandbox, limits, per_row, settings, totals), totals
    per_process = settings.suites_per_process if settings is not None else 1
    order, survived, unjudged = screen_candidates(records, candidates, sandbox, limits, per_process)
    totals["run"] = sum(len(candidates.get(rec.id, [])) for rec in records)
    totals["screened_out"] = survived
    totals["screen_unjudged"] = unjudged
    kept: dict[str, list[RepairDetail]] = {rec.id: [] for rec in records}
    fixes: dict[str, dict[int, CallOutcome]] = {}  # the original's run per row, per test
    fix_failed: set[str] = set()  # rows whose original fails its own tests here
    tried = dict.fromkeys(kept, 0)
    while True:
        batch: dict[str, list[Screened]] = {}
        for rec in records:
            if rec.id in fix_failed:
                continue  # no variant can be judged
            want = per_row - len(kept[rec.id])
            rest = order.get(rec.id, [])[tried[rec.id] :]
            if want > 0 and rest:
                batch[rec.id] = rest[:want]
                tried[rec.id] += len(batch[rec.id])
        if not batch:
            break
        if not failing_only:  # every test, as without the screen
            batch = {k: [Screened(s.candidate, None) for s in v] for k, v in batch.items()}
        judged = [rec for rec in records if rec.id in batch]
        found = _judge_on(judged, batch, sandbox, limits, settings, totals, fixes, fix_failed)
        for rec_id, details in found.items():
            kept[rec_id] = pick([*kept[rec_id], *details], per_row)
    return {k: v for k, v in kept.items() if v}, totals


def _judge_on(
    records: Sequence[Verified],
    batch: dict[str, list[Screened]],
    sandbox: Sandbox,
    limits: ExecLimits,
    settings: SandboxSettings | None,
    totals: dict[str, int],
    fixes: dict[str, dict[int, CallOutcome]],
    fix_failed: set[str],
) -> dict[str, list[RepairDetail]]:
    """Run each screened candidate on its tests (all, where it has none) and each row's original
    on those of them `fixes` does not hold yet, as verify runs the row: a test per process. The
    caught details per row id; counts added to `totals`, the original's runs to `fixes`."""
    jobs: list[ExecJob] = []
    plans: list[tuple[list[int], list[list[int]]]] = []
    for rec in records:
        every = list(range(len(rec.test_cases)))
        inputs = [c.input for c in rec.test_cases]
        own = [every if s.tests is None else s.tests[:CONFIRMED] for s in batch[rec.id]]
        need = sorted({i for tests in own for i in tests} - fixes.get(rec.id, {}).keys())
        row = RowJobs.of(rec, settings)
        if need:
            jobs.append(row.job(rec.original_code, f"{rec.id}#fix", [inputs[i] for i in need], limits))
        jobs.extend(
            row.job(s.candidate.code, f"{rec.id}#bug{s.candidate.order}", [inputs[i] for i in tests], limits)
            for s, tests in zip(batch[rec.id], own, strict=True)
        )
        plans.append((need, own))
    results = sandbox.run_batch(jobs) if jobs else []
    out: dict[str, list[RepairDetail]] = {}
    at = 0
    for rec, (need, own) in zip(records, plans, strict=True):
        counts = _counts(0)
        if need:
            fix = outcomes_on(need, results[at])
            at += 1
            if fix is None or any(not passes(rec.test_cases[i], o) for i, o in fix.items()):
                fix_failed.add(rec.id)
            else:
                fixes.setdefault(rec.id, {}).update(fix)
        runs = results[at : at + len(own)]
        at += len(own)
        if rec.id in fix_failed:
            counts["fix_failed"] = 1
        else:
            out[rec.id] = _caught(rec, list(zip(batch[rec.id], own, runs, strict=True)), counts)
        for key, n in counts.items():
            if key != "run":
                totals[key] = totals.get(key, 0) + n
    return out


def _judge(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_row: int,
    settings: SandboxSettings | None,
    totals: dict[str, int],
) -> dict[str, list[RepairDetail]]:
    """Run every candidate and each row's original on every test as verify runs the row; the
    kept details per row id, counts added to `totals`."""
    jobs: list[ExecJob] = []
    for rec in records:
        inputs = [c.input for c in rec.test_cases]
        codes = [rec.original_code, *(c.code for c in candidates.get(rec.id, []))]
        row = RowJobs.of(rec, settings)
        jobs.extend(row.job(code, f"{rec.id}#bug{n}", inputs, limits) for n, code in enumerate(codes))
    results = sandbox.run_batch(jobs) if jobs else []
    out: dict[str, list[RepairDetail]] = {}
    at = 0
    for rec in records:
        cands = candidates.get(rec.id, [])
        fix, runs = results[at], results[at + 1 : at + 1 + len(cands)]
        at += 1 + len(cands)
        details, counts = judge_variants(rec, cands, fix, runs)
        out[rec.id] = pick(details, per_row)
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
    return out


@dataclass(frozen=True)
class Screened:
    """A candidate the screen caught, and the tests it failed there (indices into the row's
    tests); None: not known (the screen could not run the row, or the candidate's job died)."""

    candidate: BugCandidate
    tests: list[int] | None


def screen_candidates(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_process: int = 1,
) -> tuple[dict[str, list[Screened]], int, int]:
    """Per row id, the candidates that fail one of its tests with a definite wrong answer when
    each runs every test in one suite job (as adequacy runs a mutant), in the order `pick`
    takes them: the fewest failing tests first, one per kind of bug before a second. Also how
    many the screen found passing every test, and how many it could not run. A row whose
    original the suite cannot run keeps every candidate, in the generator's order."""
    suites = {rec.id: row_suite(rec) for rec in records if candidates.get(rec.id)}
    jobs = [
        suite_job(f"{key}#screen", *suite.runnable(suite.code), suite.inputs,
                  budgets=[limits.timeout_s] * len(suite.inputs), expect=None, trace=False, base=limits)
        for key, suite in suites.items()
    ]  # fmt: skip
    originals = dict(
        zip(suites, (parse(r, trace=False) for r in (sandbox.run_batch(jobs) if jobs else [])), strict=True)
    )
    usable = {
        k
        for k, run in originals.items()
        if run.job_status == "ok" and len(run.outcomes) == len(suites[k].inputs)
    }
    owners: list[tuple[str, BugCandidate]] = []
    jobs = []
    for key in usable:
        suite, original = suites[key], originals[key].outcomes
        for cand in candidates[key]:
            owners.append((key, cand))
            jobs.append(
                suite_job(f"{key}#screen{cand.order}", *suite.runnable(cand.code), suite.inputs,
                          budgets=budgets_for(original, _SCREEN_TIME_FACTOR, _SCREEN_TIME_FLOOR_S),
                          expect=None, trace=False, base=limits)
            )  # fmt: skip
    caught: dict[str, list[tuple[int, Screened]]] = {}
    survived = unjudged = 0
    keys = [key for key, _ in owners]
    for (key, cand), result in zip(owners, run_suites(sandbox, jobs, keys, per_process), strict=True):
        run = parse(result, trace=False)
        original = originals[key].outcomes
        failed = [
            i for i, (a, b) in enumerate(zip(original, run.outcomes, strict=False))
            if b.kind in ("ok", "iter", "error") and a.key != b.key
        ]  # fmt: skip
        if run.job_status == "ok" and not failed:
            survived += 1
        elif failed or run.job_status != "infra":
            # a job that died may still fail a test definitely when each test runs alone
            # tests failed before a job died are not all its failures: judged on every test
            found = Screened(cand, failed if run.job_status == "ok" else None)
            caught.setdefault(key, []).append((len(failed) if failed else len(original) + 1, found))
        else:
            unjudged += 1
    order: dict[str, list[Screened]] = {}
    for key in suites:
        if key not in usable:
            order[key] = [Screened(c, None) for c in candidates[key]]
            continue
        ranked = [s for _, s in sorted(caught.get(key, []), key=lambda t: (t[0], t[1].candidate.order))]
        order[key] = kinds_first(ranked, lambda s: s.candidate.kind)
    return order, survived, unjudged
