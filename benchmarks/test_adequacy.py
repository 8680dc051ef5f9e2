"""Test adequacy benchmark: today's test generation (baseline) vs feedback-driven, same run.

On the bundled stdlib corpus (and optionally an installed package), both strategies run
testgen -> execute -> verify on the same functions in the same sandbox; then the tests of
each are judged by an independent mutation run (its own seed and a larger cap than the
feedback strategy uses to pick inputs) and by coverage. Prints per strategy: functions
with tests, `no_normal_returns`, mean mutation score (over all functions, a function with
no tests scoring 0; over the functions both strategies test), line/branch coverage,
executions spent, seconds per stage; then the ratios to the baseline, and the adequacy
stage's time against execute+verify.

    .venv/bin/python benchmarks/test_adequacy.py                 # stdlib corpus
    .venv/bin/python benchmarks/test_adequacy.py --package more_itertools --limit 150
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemint.records import Executed, Instructed, Rejected, Verified
from codemint.sandbox import shared_sandbox
from codemint.sandbox.adequacy import MeasureConfig, Suite, measure
from codemint.settings import DEFAULT_STDLIB_MODULES, PipelineSettings
from codemint.tasks.adequacy.stage import Adequacy
from codemint.tasks.execute.stage import Execute
from codemint.tasks.ingest.stage import Ingest, plan_sources
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize
from codemint.tasks.testgen.stage import Testgen
from codemint.tasks.verify.stage import Verify

BASELINE = ["doctest", "annotations", "defaults", "mutation"]
FEEDBACK = [*BASELINE, "feedback"]
# The judge: its own seed and a larger cap than feedback ranks inputs with; no mutant is
# excused as equivalent, so the score is killed / all mutants for both strategies alike.
JUDGE = MeasureConfig(max_mutants=40, seed=1234, equivalence_inputs=0)


@dataclass
class Result:
    name: str
    functions: int = 0
    with_tests: int = 0
    verified: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    scores: dict[str, float] = field(default_factory=dict)  # id -> independent mutation score
    names: dict[str, str] = field(default_factory=dict)  # id -> module.entry_point, for --dump
    line: list[float] = field(default_factory=list)
    branch: list[float] = field(default_factory=list)
    tests: list[int] = field(default_factory=list)
    normal_share: list[float] = field(default_factory=list)
    executions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def instructed(settings: PipelineSettings, packages: list[str], limit: int | None) -> list[Instructed]:
    refs = plan_sources([], packages)
    snippets = [r for r in Ingest(settings).run(refs) if not isinstance(r, Rejected)]
    functions = [r for r in Reformat(settings).run(snippets) if not isinstance(r, Rejected)]
    unique = list({f.id: f for f in functions}.values())
    rows = [r for r in Summarize(settings).run(unique) if isinstance(r, Instructed)]
    return rows[:limit] if limit else rows


def run_strategy(name: str, strategies: list[str], base: PipelineSettings, rows: list[Instructed]) -> Result:
    settings = base.model_copy(deep=True)
    settings.testgen.strategies = list(strategies)  # type: ignore[arg-type]
    out = Result(name, functions=len(rows))

    def stage(label: str, obj: Any, records: list[Any]) -> list[Any]:
        started = time.perf_counter()
        produced = list(obj.run(records))
        out.seconds[label] = time.perf_counter() - started
        for r in produced:
            if isinstance(r, Rejected):
                out.drops[f"{label}:{r.drop_reason}"] += 1
        if hasattr(obj, "metrics"):
            out.executions += int(obj.metrics.get("feedback_executions", 0))
        return [r for r in produced if not isinstance(r, Rejected)]

    with_inputs = stage("testgen", Testgen(settings), rows)
    executed: list[Executed] = stage("execute", Execute(settings), with_inputs)
    out.executions += sum(len(r.test_inputs) * max(1, settings.execute.repeats) for r in with_inputs)
    verified: list[Verified] = stage("verify", Verify(settings), executed)
    out.executions += sum(len(r.test_cases) for r in executed)
    stage("adequacy", Adequacy(settings), verified)
    out.with_tests = len(executed)
    out.verified = len(verified)
    started = time.perf_counter()
    judged = measure(
        shared_sandbox(settings.sandbox),
        [Suite(r.id, r.original_code, r.entry_point, [c.input for c in r.test_cases]) for r in executed],
        JUDGE,
        settings.sandbox.limits,
    )
    out.seconds["judge"] = time.perf_counter() - started
    for rec, m in zip(executed, judged, strict=True):
        if m.mutation_score is not None:
            out.scores[rec.id] = m.mutation_score
            out.names[rec.id] = f"{rec.provenance.source_uri}:{rec.entry_point}:{rec.id[:6]}"
        if m.line_coverage is not None:
            out.line.append(m.line_coverage)
        if m.branch_coverage is not None:
            out.branch.append(m.branch_coverage)
        out.tests.append(len(rec.test_cases))
        out.normal_share.append(
            sum(c.exception is None for c in rec.test_cases) / max(1, len(rec.test_cases))
        )
    return out


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def report(corpus: str, base: Result, new: Result) -> None:
    both = sorted(set(base.scores) & set(new.scores))
    print(f"\n== {corpus}: {base.functions} functions ==")
    header = f"{'':34}{base.name:>14}{new.name:>14}{'ratio':>9}"
    print(header)

    def line(label: str, a: float, b: float, fmt: str = "{:.3f}") -> None:
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"{label:34}{fmt.format(a):>14}{fmt.format(b):>14}{ratio:>9}")

    line("functions with tests", base.with_tests, new.with_tests, "{:.0f}")
    line("share with tests", base.with_tests / base.functions, new.with_tests / new.functions)
    line("verified rows", base.verified, new.verified, "{:.0f}")
    line(
        "no_normal_returns",
        base.drops["execute:no_normal_returns"],
        new.drops["execute:no_normal_returns"],
        "{:.0f}",
    )
    line("too_few_tests", base.drops["execute:too_few_tests"], new.drops["execute:too_few_tests"], "{:.0f}")
    line("mutation score, all functions", sum(base.scores.values()) / base.functions,
         sum(new.scores.values()) / new.functions)  # fmt: skip
    line(
        "mutation score, tested functions",
        _mean(list(base.scores.values())),
        _mean(list(new.scores.values())),
    )
    line(f"mutation score, both tested ({len(both)})", _mean([base.scores[i] for i in both]),
         _mean([new.scores[i] for i in both]))  # fmt: skip
    line("line coverage (mean)", _mean(base.line), _mean(new.line))
    line("branch coverage (mean)", _mean(base.branch), _mean(new.branch))
    line("tests per function", _mean([float(t) for t in base.tests]), _mean([float(t) for t in new.tests]))
    line("normal-return share of tests", _mean(base.normal_share), _mean(new.normal_share))
    line("executions spent", base.executions, new.executions, "{:.0f}")
    for stage in ("testgen", "execute", "verify", "adequacy"):
        line(f"seconds: {stage}", base.seconds.get(stage, 0.0), new.seconds.get(stage, 0.0), "{:.1f}")
    for r in (base, new):
        ev = r.seconds["execute"] + r.seconds["verify"]
        adequacy = r.seconds["adequacy"]
        per_row = adequacy / max(1, r.verified) * 1000
        print(
            f"{r.name}: adequacy stage {adequacy:.1f} s = {adequacy / ev:.2f}x execute+verify ({ev:.1f} s);"
            f" {per_row:.0f} ms/row"
        )
    gain = 100 * (_mean([new.scores[i] for i in both]) - _mean([base.scores[i] for i in both]))
    nnr = (base.drops["execute:no_normal_returns"], new.drops["execute:no_normal_returns"])
    print(f"mutation score gain (both tested): {gain:+.1f} points; no_normal_returns {nnr[0]} -> {nnr[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", action="append", default=[], help="an installed package, by import name")
    parser.add_argument("--limit", type=int, default=None, help="at most this many functions per corpus")
    parser.add_argument("--backend", default=None, help="sandbox backend (default: settings)")
    parser.add_argument("--dump", default=None, help="write per-function judge scores to this JSON file")
    args = parser.parse_args(argv)
    settings = PipelineSettings()
    if args.backend:
        settings.sandbox.backend = args.backend
    corpora = [("stdlib", list(DEFAULT_STDLIB_MODULES))] + [(p, [p]) for p in args.package]
    dump: dict[str, Any] = {}
    for corpus, packages in corpora:
        rows = instructed(settings, packages, args.limit)
        base = run_strategy("baseline", BASELINE, settings, rows)
        new = run_strategy("feedback", FEEDBACK, settings, rows)
        report(corpus, base, new)
        dump[corpus] = {
            r.name: {r.names[i]: s for i, s in r.scores.items()} | {"_drops": dict(r.drops)}
            for r in (base, new)
        }
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
