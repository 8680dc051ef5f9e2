"""Cost per final row: today's settings (baseline) vs fewer executions per row, in one run.

Runs the real pipeline (`codemint run`) per corpus twice in the same invocation:
  baseline - `testgen.feedback_reach_bound`, `testgen.feedback_first_kill`,
             `testgen.feedback_skip_raising`, `execute.reuse_testgen_runs`,
             `execute.predecide`, `execute.prescreen`, `execute.skip_unstated`,
             `adequacy.first_failure`, `adequacy.reuse_testgen_runs`,
             `adequacy.reuse_testgen_kills`, `exercises.repair_screen` and
             `exercises.repair_confirm_failing` off and `sandbox.suites_per_process` 1:
             testgen runs every mutant on every input of every round, each suite in a
             process of its own, execute runs the original twice on every row, adequacy
             traces the original again and runs each mutant's whole suite in input order,
             and every repair variant runs every test in a process of its own;
  new      - the defaults: testgen runs a mutant on the inputs reaching its change, in the
             order the selection prefers them, stopping at the first that kills it (later
             rounds run only the survivors; a row raising on every input runs none);
             execute drops the rows testgen's run (or one suite run, for a method) already
             dooms, and checks testgen's (or that suite's) run of the rest with one run of
             its own, not running the inputs whose tests it would drop as raising what the
             prompt does not state; adequacy takes testgen's traces and counts killed the
             mutants a kept test killed there, and each other mutant runs the tests that
             reach its change first and stops at the first one it fails; repair variants are
             screened in one suite job each and only the hardest caught are run, on the first
             two tests they failed there, test by test; a row's mutant suites run 8 to a
             process.
Other settings (the sandbox's per-job zygote among them) are the defaults in both modes.
Prints per corpus and mode: pipeline seconds per final row, sandbox executions per final row
by stage (the run's `run.json` "cost"), final rows, and the adequacy figures on the final
rows: the pipeline's own (mean mutation score with nothing excused, mean excused score,
mutants unreached) and those of benchmarks/test_adequacy.py's judge (40 mutants of another
seed, none excused; line and branch coverage); then the ratio new/baseline, and on the rows
both modes kept, how many have the same mutation_score, mutation_score_excused and
mutants_unreached.

Corpora: `default` = the bundled default (codemint/settings.py DEFAULT_STDLIB_MODULES);
`stdlib` = the 148 public single-file stdlib modules of benchmarks/yield_funnel.py.

Usage: python benchmarks/cost_per_row.py [default|stdlib ...] [--runs-dir DIR] [--keep-runs]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from codemint.records import Verified
from codemint.sandbox import shared_sandbox
from codemint.sandbox.adequacy import measure
from codemint.settings import PipelineSettings
from codemint.tasks.adequacy.stage import Adequacy

sys.path.insert(0, str(Path(__file__).parent))
from test_adequacy import JUDGE
from yield_funnel import stdlib_modules

BASELINE_ENV = {
    "CODEMINT_TESTGEN__FEEDBACK_REACH_BOUND": "false",
    "CODEMINT_TESTGEN__FEEDBACK_FIRST_KILL": "false",
    "CODEMINT_EXERCISES__REPAIR_SCREEN": "false",
    "CODEMINT_EXECUTE__REUSE_TESTGEN_RUNS": "false",
    "CODEMINT_ADEQUACY__FIRST_FAILURE": "false",
    "CODEMINT_ADEQUACY__REUSE_TESTGEN_RUNS": "false",
    "CODEMINT_ADEQUACY__REUSE_TESTGEN_KILLS": "false",
    "CODEMINT_SANDBOX__SUITES_PER_PROCESS": "1",
    "CODEMINT_TESTGEN__FEEDBACK_SKIP_RAISING": "false",
    "CODEMINT_EXECUTE__PREDECIDE": "false",
    "CODEMINT_EXECUTE__PRESCREEN": "false",
    "CODEMINT_EXECUTE__SKIP_UNSTATED": "false",
    "CODEMINT_EXERCISES__REPAIR_CONFIRM_FAILING": "false",
}
CORPORA = {"default": lambda: [], "stdlib": stdlib_modules}
STAGES = ("testgen", "execute", "verify", "adequacy", "derive")
SCORES = ("mutation_score", "mutation_score_excused", "mutants_unreached")


@dataclasses.dataclass
class Run:
    mode: str
    wall: float  # the command, setup included
    cost: dict[str, Any]
    rows: list[dict[str, Any]]
    judge: dict[str, float]
    repairs: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # row id -> buggy codes


def repair_variants(run_dir: Path) -> dict[str, list[str]]:
    """The buggy code of each repair row derive made, per function (row id)."""
    out: dict[str, list[str]] = {}
    for path in sorted((run_dir / "derive").glob("part-*.parquet")):
        if path.name.endswith(".rejected.parquet"):
            continue
        table = pq.read_table(path, columns=["id", "exercise", "repair"])
        for row in table.to_pylist():
            if row["exercise"] == "repair" and row["repair"]:
                out.setdefault(row["id"], []).append(row["repair"]["buggy_code"])
    return out


def run(corpus: str, mode: str, runs_dir: Path) -> tuple[Path, float]:
    run_id = f"cost-{corpus}-{mode}"
    env = {
        **os.environ,
        "CODEMINT_RUNS_DIR": str(runs_dir),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        **(BASELINE_ENV if mode == "baseline" else {}),
    }
    cmd = [str(Path(sys.executable).with_name("codemint")), "run", "--run-id", run_id]
    for m in CORPORA[corpus]():
        cmd += ["-p", m]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    run_dir = runs_dir / run_id
    if not (run_dir / "run.json").exists():
        raise SystemExit(f"{corpus}/{mode}: no run.json (exit {proc.returncode}): {proc.stderr[-2000:]}")
    print(f"{corpus}/{mode}: command {wall:.0f} s", flush=True)
    return run_dir, wall


def final_rows(run_dir: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows the funnel's last stage kept (its shards' Parquet files)."""
    stage = summary["funnel"][-1]["stage"]
    rows: list[dict[str, Any]] = []
    for path in sorted((run_dir / stage).glob("part-*.parquet")):
        if not path.name.endswith(".rejected.parquet"):
            rows.extend(pq.read_table(path).to_pylist())
    return rows


def judge(rows: list[dict[str, Any]], settings: PipelineSettings) -> dict[str, float]:
    """benchmarks/test_adequacy.py's judge on the rows' tests (built as the adequacy stage
    builds a row's suite): a mutation score with nothing excused from 40 mutants of another
    seed, and line and branch coverage (means). It stops a mutant at its first failing test,
    which gives the same scores sooner."""
    stage = Adequacy(settings)
    suites = [stage._suite(Verified.model_validate(r)) for r in rows]
    cfg = dataclasses.replace(JUDGE, first_failure=True)
    found = measure(shared_sandbox(settings.sandbox), suites, cfg, settings.sandbox.limits) if suites else []
    scores = [m.mutation_score for m in found if m.mutation_score is not None]
    lines = [m.line_coverage for m in found if m.line_coverage is not None]
    branches = [m.branch_coverage for m in found if m.branch_coverage is not None]
    return {
        "judge_mutation_score": _mean(scores),
        "judge_line_coverage": _mean(lines),
        "judge_branch_coverage": _mean(branches),
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def measure_mode(corpus: str, mode: str, runs_dir: Path, settings: PipelineSettings, keep: bool) -> Run:
    run_dir = runs_dir / f"cost-{corpus}-{mode}"
    if keep and (run_dir / "run.json").exists():
        wall = float(json.loads((run_dir / "run.json").read_text())["summary"]["seconds"])
        print(f"{corpus}/{mode}: the finished run in {run_dir} (pipeline {wall:.0f} s)", flush=True)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)  # no cached shards
        run_dir, wall = run(corpus, mode, runs_dir)
    report = json.loads((run_dir / "run.json").read_text())
    rows = final_rows(run_dir, report["summary"])
    return Run(mode, wall, report["cost"], rows, {}, repair_variants(run_dir))


def figures(r: Run) -> dict[str, float]:
    cost = r.cost
    out: dict[str, float] = {
        "final rows": cost["final_rows"],
        "pipeline s per final row": cost["wall_seconds_per_final_row"],
    }
    per = cost["executions_per_final_row"]
    for stage in STAGES:
        out[f"executions per row: {stage}"] = per.get(stage, 0.0)
    out["executions per row: all"] = sum(per.values())
    for stage in STAGES:
        out[f"task s per row: {stage}"] = cost["task_seconds_per_final_row"].get(stage, 0.0)
    scored = [row for row in r.rows if row["mutation_score"] is not None]
    out["mutation score (nothing excused)"] = _mean([row["mutation_score"] for row in scored])
    out["mutation score excused"] = _mean(
        [row["mutation_score_excused"] for row in scored if row["mutation_score_excused"] is not None]
    )
    out["mutants unreached (sum)"] = sum(row["mutants_unreached"] for row in r.rows)
    out["repair rows"] = sum(len(v) for v in r.repairs.values())
    out["judge mutation score"] = r.judge["judge_mutation_score"]
    out["judge line coverage"] = r.judge["judge_line_coverage"]
    out["judge branch coverage"] = r.judge["judge_branch_coverage"]
    return out


def report(corpus: str, base: Run, new: Run) -> None:
    a, b = figures(base), figures(new)
    print(f"\n== {corpus} ==")
    print(f"{'':36}{'baseline':>12}{'new':>12}{'new/base':>10}")
    for key in a:
        ratio = f"{b[key] / a[key]:.2f}x" if a[key] else "-"
        print(f"{key:36}{a[key]:>12.3f}{b[key]:>12.3f}{ratio:>10}")
    by_id = {row["id"]: row for row in base.rows}
    common = [row for row in new.rows if row["id"] in by_id]
    same = [row for row in common if all(row[k] == by_id[row["id"]][k] for k in SCORES)]
    print(f"rows in both modes: {len(common)}; same {', '.join(SCORES)} on {len(same)} of them")
    for row in [row for row in common if row not in same][:10]:
        was = {k: by_id[row["id"]][k] for k in SCORES}
        now = {k: row[k] for k in SCORES}
        print(f"  differs: {row['entry_point']} ({row['id'][:8]}): {was} -> {now}")
    both = set(base.repairs) & set(new.repairs)
    same_bugs = sum(sorted(base.repairs[k]) == sorted(new.repairs[k]) for k in both)
    print(f"functions with repair rows in both modes: {len(both)}; the same buggy variants on {same_bugs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpora", nargs="*", default=["default"], choices=sorted(CORPORA))
    parser.add_argument("--runs-dir", type=Path, default=Path("runs-bench/cost"))
    parser.add_argument(
        "--keep-runs",
        action="store_true",
        help="read a mode's finished run in --runs-dir instead of running it again",
    )
    args = parser.parse_args(argv)
    settings = PipelineSettings()
    for corpus in args.corpora:
        runs: dict[str, Run] = {}
        for mode in ("baseline", "new"):
            runs[mode] = measure_mode(corpus, mode, args.runs_dir / mode, settings, args.keep_runs)
        for r in runs.values():  # after the pipelines: the judge's time is not theirs
            r.judge = judge(r.rows, settings)
        report(corpus, runs["baseline"], runs["new"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
