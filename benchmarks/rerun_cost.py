"""What a re-run with nothing changed costs: `codemint run` again on a finished run.

Runs the bundled default once (skipped when --runs-dir already holds it), then re-runs it
--repeat times each way, alternating: with the cache walk (the leading cached stages recorded
as Cached task runs in one batch, flows/cache_walk.py) and without it (every task run through
Prefect's task engine, CODEMINT_CACHE_WALK=false: the baseline). Prints, per way, the median
wall time of the command, its CPU time (user + sys of the process tree), the flow's own
seconds (run.json), and the ratio of the medians. Uses PREFECT_API_URL when set, else a
server already up on 127.0.0.1:4200, else Prefect's temporary server (started per command).

    .venv/bin/python benchmarks/rerun_cost.py --runs-dir /tmp/rerun-bench
    .venv/bin/python benchmarks/rerun_cost.py --packages colorsys bisect heapq fnmatch --frozen

--frozen runs a copy of the code and of the sandbox image (a tag of its own) taken at the start,
so edits to the checkout and image rebuilds meanwhile do not change the cache keys.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codemint.settings import DEFAULT_STDLIB_MODULES

PINNED = f"codemint-sandbox:rerun-bench-{os.getpid()}"


def frozen_copy(root: Path) -> Path:
    """The installed package copied (links followed) under `root`: runs with PYTHONPATH on it
    keep their cache keys while the checkout is being edited."""
    import shutil

    import codemint

    shutil.copytree(Path(codemint.__file__).parent, root / "codemint", symlinks=False, dirs_exist_ok=True)
    return root


def codemint_run(
    packages: list[str], runs_dir: Path, run_id: str, walk: bool, code: Path | None = None
) -> dict[str, float]:
    cmd = [sys.executable, "-m", "codemint", "run", "--run-id", run_id, "--runs-dir", str(runs_dir)]
    for name in packages:
        cmd += ["-p", name]
    env = {**os.environ, "CODEMINT_CACHE_WALK": "true" if walk else "false"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.communicate()[0].decode(errors="replace")
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"codemint run failed ({proc.returncode}):\n{output[-3000:]}")
    summary = json.loads((runs_dir / run_id / "run.json").read_text())["summary"]
    return {"wall": wall, "flow": float(summary["seconds"]), "rows": summary["funnel"][-1]["rows_kept"]}


def cpu_seconds() -> float:
    """CPU time of every child process waited for so far (the command and what it waited for)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=DEFAULT_STDLIB_MODULES)
    parser.add_argument("--runs-dir", type=Path, help="where the run lives (default: a temporary dir)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frozen", action="store_true", help="run a copy of the code taken at the start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codemint-rerun-") as tmp:
        runs_dir = args.runs_dir or Path(tmp)
        run_id = "rerun-bench"
        code = frozen_copy(Path(tmp) / "code") if args.frozen else None
        if args.frozen:  # and the sandbox image as it is now, under a tag no rebuild moves
            subprocess.run(["docker", "tag", "codemint-sandbox:latest", PINNED], check=True)
            os.environ["CODEMINT_SANDBOX__IMAGE"] = PINNED
        first = codemint_run(args.packages, runs_dir, run_id, walk=True, code=code)
        print(
            f"first run (or a re-run of it): {first['wall']:.1f} s wall, {first['rows']} final rows",
            flush=True,
        )
        codemint_run(args.packages, runs_dir, run_id, walk=False, code=code)  # settle what the first left
        figures: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for _ in range(args.repeat):
            for walk in (False, True):
                before = cpu_seconds()
                result = codemint_run(args.packages, runs_dir, run_id, walk, code)
                result["cpu"] = cpu_seconds() - before
                figures[walk].append(result)
                print(
                    json.dumps({"cache_walk": walk, **{k: round(v, 2) for k, v in result.items()}}),
                    flush=True,
                )
    if args.frozen:
        subprocess.run(["docker", "rmi", PINNED], check=False, capture_output=True)  # the tag only
    med = {
        w: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "flow")}
        for w, rs in figures.items()
    }
    print("\n| re-run, nothing changed | wall s | CPU s | flow s |")
    print("|---|---|---|---|")
    for walk, label in ((False, "baseline: every task run through the engine"), (True, "cache walk")):
        m = med[walk]
        print(f"| {label} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['flow']:.2f} |")
    print(
        f"\nratio cache walk / baseline: wall {med[True]['wall'] / med[False]['wall']:.2f}, "
        f"CPU {med[True]['cpu'] / med[False]['cpu']:.2f}, flow {med[True]['flow'] / med[False]['flow']:.2f}"
    )
    load = os.getloadavg()[0]
    print(f"load average while measured: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
