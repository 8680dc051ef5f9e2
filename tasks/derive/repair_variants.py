"""Buggy variants of a verified row's original for repair rows, proven buggy by its own tests.

A variant is kept only if, run in the sandbox, it fails at least one of the row's tests with
a definite wrong answer (a different value or exception, not a timeout that load could
cause), while the original, run in the same batch, passes all of them. Among the kept
variants the ones the fewest tests catch come first: they are the hard bugs. The verdict
per test is verify's own comparison (`passes`), so "fails" means what verification means.
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


def judge_variants(
    rec: Verified, candidates: Sequence[BugCandidate], fix: ExecResult, runs: Sequence[ExecResult]
) -> tuple[list[RepairDetail], dict[str, int]]:
    """Repair details for the candidates that the tests catch, hardest first; and counts."""
    counts = {
        "run": len(candidates),
        "caught": 0,
        "survived": 0,
        "unjudged": 0,
        "fix_failed": 0,
        "sandbox_only": 0,
    }
    if failing_tests(rec.test_cases, fix) != []:
        counts["fix_failed"] = 1
        return [], counts
    caught: list[tuple[int, int, RepairDetail]] = []
    for cand, run in zip(candidates, runs, strict=True):
        failed = failing_tests(rec.test_cases, run)
        if failed is None:
            counts["unjudged"] += 1
            continue
        definite = [i for i in failed if run.outcomes[i].status in _DEFINITE]
        if not definite:  # no failure, or only timeouts and the like: not a proven bug
            counts["survived"] += 1
            continue
        # The failing test the prompt shows must not show what only the sandbox knows (its work
        # directory, an address): a solver could not reproduce it, and it differs run to run.
        shown_text = {i: actual_text(run.outcomes[i], rec.sample_kind) for i in definite}
        clean = [i for i in definite if sandbox_only_text(shown_text[i], rec.test_cases[i].input) is None]
        if not clean:
            counts["sandbox_only"] += 1
            continue
        counts["caught"] += 1
        shown = clean[0]
        detail = RepairDetail(
            buggy_code=cand.code,
            bug_source=cand.source,
            bug_kind=cand.kind,
            bug_description=cand.description,
            failing_test=rec.test_cases[shown],
            actual=shown_text[shown],
            tests_failed=len(failed),
            tests_total=len(rec.test_cases),
        )
        caught.append((len(failed), cand.order, detail))
    caught.sort(key=lambda t: (t[0], t[1]))
    return [d for _, _, d in caught], counts


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
) -> tuple[dict[str, list[RepairDetail]], dict[str, int]]:
    """Kept details per row id, and counts. Each candidate judged runs with the row's original
    in one batch, as verify ran the row: a method through the harness comparing the same
    state, and (given the sandbox `settings`) with the original module hidden. With `screen`,
    a suite run first tells which candidates fail a test (`screen_candidates`), and only the
    hardest of those are judged so, `per_row` at a time until enough are kept."""
    totals: dict[str, int] = {}
    if not screen:
        return _judge(records, candidates, sandbox, limits, per_row, settings, totals), totals
    per_process = settings.suites_per_process if settings is not None else 1
    order, survived, unjudged = screen_candidates(records, candidates, sandbox, limits, per_process)
    totals["run"] = sum(len(candidates.get(rec.id, [])) for rec in records)
    totals["screened_out"] = survived
    totals["screen_unjudged"] = unjudged
    kept: dict[str, list[RepairDetail]] = {rec.id: [] for rec in records}
    fixes: dict[str, ExecResult] = {}
    tried = dict.fromkeys(kept, 0)
    while True:
        batch = {}
        for rec in records:
            if rec.id in fixes and failing_tests(rec.test_cases, fixes[rec.id]) != []:
                continue  # the original fails its own tests here: no variant can be judged
            want = per_row - len(kept[rec.id])
            rest = order.get(rec.id, [])[tried[rec.id] :]
            if want > 0 and rest:
                batch[rec.id] = rest[:want]
                tried[rec.id] += len(batch[rec.id])
        if not batch:
            break
        judged = [rec for rec in records if rec.id in batch]
        counts: dict[str, int] = {}
        found = _judge(judged, batch, sandbox, limits, per_row, settings, counts, fixes)
        for key, n in counts.items():
            if key != "run":
                totals[key] = totals.get(key, 0) + n
        for rec_id, details in found.items():
            kept[rec_id] = pick([*kept[rec_id], *details], per_row)
    return {k: v for k, v in kept.items() if v}, totals


def _judge(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_row: int,
    settings: SandboxSettings | None,
    totals: dict[str, int],
    fixes: dict[str, ExecResult] | None = None,
) -> dict[str, list[RepairDetail]]:
    """Run the candidates (and each row's original, unless `fixes` already holds its run) as
    verify runs the row; the kept details per row id, counts added to `totals`."""
    jobs: list[ExecJob] = []
    for rec in records:
        inputs = [c.input for c in rec.test_cases]
        own = fixes is None or rec.id not in fixes
        codes = [*([rec.original_code] if own else []), *(c.code for c in candidates.get(rec.id, []))]
        row = RowJobs.of(rec, settings)
        jobs.extend(row.job(code, f"{rec.id}#bug{n}", inputs, limits) for n, code in enumerate(codes))
    results = sandbox.run_batch(jobs) if jobs else []
    out: dict[str, list[RepairDetail]] = {}
    at = 0
    for rec in records:
        cands = candidates.get(rec.id, [])
        if fixes is None or rec.id not in fixes:
            fix = results[at]
            at += 1
            if fixes is not None:
                fixes[rec.id] = fix
        else:
            fix = fixes[rec.id]
        runs = results[at : at + len(cands)]
        at += len(cands)
        details, counts = judge_variants(rec, cands, fix, runs)
        out[rec.id] = pick(details, per_row)
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
    return out


def screen_candidates(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_process: int = 1,
) -> tuple[dict[str, list[BugCandidate]], int, int]:
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
    caught: dict[str, list[tuple[int, BugCandidate]]] = {}
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
            caught.setdefault(key, []).append((len(failed) if failed else len(original) + 1, cand))
        else:
            unjudged += 1
    order: dict[str, list[BugCandidate]] = {}
    for key in suites:
        if key not in usable:
            order[key] = list(candidates[key])
            continue
        ranked = [c for _, c in sorted(caught.get(key, []), key=lambda t: (t[0], t[1].order))]
        order[key] = kinds_first(ranked, lambda c: c.kind)
    return order, survived, unjudged
