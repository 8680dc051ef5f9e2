"""Buggy variants of a verified row's original for repair rows, proven buggy by its own tests.

A variant is kept only if, run in the sandbox, it fails at least one of the row's tests with
a definite wrong answer (a different value or exception, not a timeout that load could
cause), while the original, run in the same batch, passes all of them. Among the kept
variants the ones the fewest tests catch come first: they are the hard bugs. The verdict
per test is verify's own comparison (`passes`), so "fails" means what verification means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from codemint import mutants
from codemint.records import RepairDetail, TestCase, Verified
from codemint.samples import CLASS_KINDS
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, ExecResult, Sandbox
from codemint.sandbox.row_jobs import RowJobs
from codemint.settings import ExercisesSettings, SandboxSettings
from codemint.tasks.execute.checks import sandbox_only_text
from codemint.value_text import result_text
from codemint.verdict import passes

_MESSAGE_CHARS = 300
_DEFINITE = ("ok", "error")  # outcomes that are behaviour, not resource exhaustion
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


def pick(details: Sequence[RepairDetail], limit: int) -> list[RepairDetail]:
    """The `limit` hardest bugs, one per kind of bug before a second of any kind."""
    chosen: list[RepairDetail] = []
    kinds: set[str] = set()
    for d in details:
        if len(chosen) < limit and d.bug_kind not in kinds:
            chosen.append(d)
            kinds.add(d.bug_kind)
    for d in details:
        if len(chosen) >= limit:
            break
        if d not in chosen:
            chosen.append(d)
    return sorted(chosen, key=lambda d: d.tests_failed)


def repair_details(
    records: Sequence[Verified],
    candidates: dict[str, list[BugCandidate]],
    sandbox: Sandbox,
    limits: ExecLimits,
    per_row: int,
    settings: SandboxSettings | None = None,
) -> tuple[dict[str, list[RepairDetail]], dict[str, int]]:
    """Run every row's original and its bug candidates in one batch; kept details per row id.
    Each runs as verify ran the row: a method through the harness comparing the same state,
    and (given the sandbox `settings`) with the original module hidden."""
    jobs: list[ExecJob] = []
    for rec in records:
        inputs = [c.input for c in rec.test_cases]
        codes = [rec.original_code, *(c.code for c in candidates.get(rec.id, []))]
        row = RowJobs.of(rec, settings)
        jobs.extend(row.job(code, f"{rec.id}#bug{n}", inputs, limits) for n, code in enumerate(codes))
    results = sandbox.run_batch(jobs) if jobs else []
    out: dict[str, list[RepairDetail]] = {}
    totals: dict[str, int] = {}
    at = 0
    for rec in records:
        cands = candidates.get(rec.id, [])
        fix, runs = results[at], results[at + 1 : at + 1 + len(cands)]
        at += 1 + len(cands)
        details, counts = judge_variants(rec, cands, fix, runs)
        out[rec.id] = pick(details, per_row)
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
    return out, totals
