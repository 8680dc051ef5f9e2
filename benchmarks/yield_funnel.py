"""Yield: verified rows per corpus with improper code made proper, against the old behaviour.

Runs the real pipeline (`codemint run`) twice per corpus in the same invocation:
  baseline - only standalone public functions, every method/closure/private helper dropped,
             no triviality floor, the plain sandbox image, instructions from docstrings only
             (no protocol, inherited, comment or example instructions): codemint before
             issue 13, apart from input generation, which both modes share;
  new      - the defaults: methods with their class, lifted closures, used private helpers,
             trivial bodies dropped, the package's environment in a derived sandbox image.
Prints, per corpus and mode: reformat kept, execute kept, verify kept, final rows, the
`missing_import` count, trivial drops, and the ratio new/baseline.

Corpora: `stdlib` = the 148 top-level public single-file stdlib modules (leading-underscore
modules, idlelib, turtle, tkinter and the import-time side-effect modules `this` and
`antigravity` left out); `packages` = more_itertools + toolz + boltons (installed in the venv).

Usage: python benchmarks/yield_funnel.py [stdlib|packages ...] [--runs-dir DIR] [--mode baseline|new]
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BASELINE_ENV = {
    "CODEMINT_REFORMAT__METHODS": "false",
    "CODEMINT_REFORMAT__LIFT_NESTED": "false",
    "CODEMINT_REFORMAT__KEEP_USED_PRIVATE": "false",
    "CODEMINT_REFORMAT__MIN_BODY_NODES": "0",
    "CODEMINT_SANDBOX__PACKAGE_ENV": "false",
    "CODEMINT_SUMMARIZE__PROTOCOL_METHODS": "false",
    "CODEMINT_SUMMARIZE__INHERITED_DOCS": "false",
    "CODEMINT_SUMMARIZE__COMMENT_DOCS": "false",
    "CODEMINT_SUMMARIZE__EXAMPLE_DOCS": "false",
}
SKIP = {"idlelib", "turtle", "tkinter", "turtledemo", "this", "antigravity"}


def stdlib_modules() -> list[str]:
    names = []
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in SKIP:
            continue
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None or spec.submodule_search_locations or not (spec.origin or "").endswith(".py"):
            continue
        names.append(name)
    return names


CORPORA = {
    "stdlib": stdlib_modules,
    "packages": lambda: ["more_itertools", "toolz", "boltons"],
}


def run(corpus: str, mode: str, runs_dir: Path) -> dict[str, object]:
    modules = CORPORA[corpus]()
    run_id = f"yield-{corpus}-{mode}"
    env = {
        **os.environ,
        "CODEMINT_RUNS_DIR": str(runs_dir),
        # A loaded machine starts the ephemeral Prefect server slowly.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        **(BASELINE_ENV if mode == "baseline" else {}),
    }
    cmd = [str(Path(sys.executable).with_name("codemint")), "run", "--run-id", run_id]
    for m in modules:
        cmd += ["-p", m]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    report = runs_dir / run_id / "run.json"
    if not report.exists():
        raise SystemExit(f"{corpus}/{mode}: no run.json (exit {proc.returncode}): {proc.stderr[-2000:]}")
    funnel = {row["stage"]: row for row in json.loads(report.read_text())["summary"]["funnel"]}
    drops = funnel["reformat"]["dropped"]
    return {
        "modules": len(modules),
        "reformat": funnel["reformat"]["rows_kept"],
        "execute": funnel["execute"]["rows_kept"],
        "verify": funnel["verify"]["rows_kept"],
        "final": funnel["select"]["rows_kept"],
        "missing_import": funnel["execute"]["dropped"].get("dropped:missing_import", 0),
        "trivial": sum(n for k, n in drops.items() if k.startswith("dropped:trivial")),
        "exit": proc.returncode,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpora", nargs="*", default=["stdlib", "packages"])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/bench-yield"))
    parser.add_argument("--mode", choices=["baseline", "new"], action="append")
    args = parser.parse_args()
    modes = args.mode or ["baseline", "new"]
    keys = [
        "modules",
        "reformat",
        "execute",
        "verify",
        "final",
        "missing_import",
        "trivial",
        "exit",
        "seconds",
    ]
    print("corpus   mode      " + " ".join(f"{k:>14}" for k in keys))
    for corpus in args.corpora:
        results = {mode: run(corpus, mode, args.runs_dir.resolve()) for mode in modes}
        for mode, res in results.items():
            print(f"{corpus:8} {mode:9} " + " ".join(f"{res[k]!s:>14}" for k in keys), flush=True)
        if len(results) == 2:
            base, new = results["baseline"], results["new"]
            ratio = {
                k: f"{int(new[k]) / int(base[k]):.2f}x" if int(base[k]) else "-" for k in ("verify", "final")
            }
            print(
                f"{corpus:8} new/baseline: verified {ratio['verify']}, final rows {ratio['final']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
