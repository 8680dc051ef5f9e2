"""Sandbox throughput: the same batch of small programs through every execution path.

    .venv/bin/python benchmarks/sandbox_throughput.py [--executions 400] [--workers 2]

Paths, measured in one run with the same parallelism (`--workers`):
  bare fork    the runner's fork-per-input path on the host, no isolation (the baseline),
               one plain process per worker calling `Runner.run_job` directly;
  local        LocalSandbox (bubblewrap/unshare namespaces), warm pool;
  docker pool  DockerSandbox, warm containers whose runner stream is a `docker start -ai` CLI
               client per container (the pool's transport);
  docker sdk   the same pool with the other transport, the SDK's attach socket (multiplexed
               frames demuxed in Python): kept as the comparison that chose the transport.
               Measured on the 2-core dev machine under load 18-19 (2026-11-23): CLI stream
               56.4 and 80.2 exec/s, SDK attach 35.4 and 77.1 exec/s in two runs, so the pool
               keeps the CLI stream (`docker start -ai`; the SDK does create/list/remove).
               Idle (session 3, 800 executions): CLI 537/s, SDK 552/s, on par;
  docker run   one `docker run --rm` per execution (fewer executions, extrapolated).
Prints executions/second (best of --rounds) and the ratio to bare fork. Needs the engine and image for the
Docker rows (deployments/docker-engine.sh, sandbox/build_image.sh); without them
those rows are skipped with a note. The pools run with `import_once` on (the default).

Then import once on vs off (`SandboxSettings.import_once`, sandbox/import_once.py), on the local
and Docker pools, in turns in the same rounds: the small programs above, and jobs whose module
top level does real work (imports of stdlib modules the zygote has not loaded and a table
built at import, `--heavy-executions`). Prints executions/s for each, the ratio on/off and
where an execution's seconds went (spawn, import, call, teardown; import once: the job's one
import spread over its inputs).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codemint.codec import encode_input
from codemint.sandbox.api import ExecJob, ExecLimits, ExecResult
from codemint.sandbox.files import stage_runner

PROGRAMS = [
    ("def add(a, b):\n    return a + b\n", "add", lambda i: [i, i * 3]),
    (
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "fib",
        lambda i: [i % 40],
    ),
    (
        "import re\n\ndef words(text):\n    return sorted(set(re.findall(r'[a-z]+', text.lower())))\n",
        "words",
        lambda i: [f"The quick brown fox {i} jumps over the lazy dog"],
    ),
    (
        "from collections import Counter\n\ndef top(xs, k=2):\n    return Counter(xs).most_common(k)\n",
        "top",
        lambda i: [[i % 3, i % 5, i % 3, 1, 2, 2]],
    ),
    ("def rev(s):\n    return s[::-1]\n", "rev", lambda i: [f"abc{i}"]),
]
# A module whose top level does real work: imports the zygote has not loaded, a table.
HEAVY = [
    (
        "import csv, decimal, difflib, email.utils, fractions, statistics, textwrap, urllib.parse\n"
        "TABLE = {i: statistics.fmean(range(i + 1)) for i in range(3000)}\n\n"
        "def lookup(i):\n    return [TABLE[i % 3000], textwrap.shorten('word ' * (i % 40), 30)]\n",
        "lookup",
        lambda i: [i],
    )
]
INPUTS_PER_JOB = 10


def make_jobs(executions: int, programs: list[Any] = PROGRAMS) -> list[ExecJob]:
    limits = ExecLimits(timeout_s=5.0)
    jobs = []
    for j in range(max(1, executions // INPUTS_PER_JOB)):
        code, entry, make_args = programs[j % len(programs)]
        inputs = [encode_input(make_args(j * INPUTS_PER_JOB + k)) for k in range(INPUTS_PER_JOB)]
        jobs.append(ExecJob(job_id=f"job-{j}", code=code, entry_point=entry, inputs=inputs, limits=limits))
    return jobs


def count_ok(results: list[ExecResult] | list[dict[str, Any]]) -> int:
    n = 0
    for r in results:
        outcomes = r.outcomes if isinstance(r, ExecResult) else r["outcomes"]
        n += sum(1 for o in outcomes if (o.status if not isinstance(o, dict) else o["status"]) == "ok")
    return n


# ---- bare fork: per worker, a fresh lean interpreter that imports the runner and calls
# Runner.run_job directly (no namespaces, no protocol), started before the clock.

_BARE_WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import runner
jobs = json.loads(sys.stdin.readline())
r = runner.Runner()
print("ready", flush=True)
sys.stdin.readline()
results = [r.run_job(job) for job in jobs]
print(json.dumps(results), flush=True)
r.close()
"""


def bench_bare(jobs: list[ExecJob], workers: int) -> tuple[float, int]:
    payload = [job.model_dump() for job in jobs]
    chunks = [payload[i::workers] for i in range(workers)]
    staged = tempfile.TemporaryDirectory(prefix="codemint-bench-")
    runner_dir = str(stage_runner(staged.name).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-I", "-c", _BARE_WORKER, runner_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in chunks
    ]
    for proc, chunk in zip(procs, chunks, strict=True):
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(chunk) + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results: list[dict[str, Any]] = []
    for proc in procs:
        assert proc.stdout is not None
        results += json.loads(proc.stdout.readline())
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.communicate()
    staged.cleanup()
    return elapsed, count_ok(results)


def timed_batch(box: Any, jobs: list[ExecJob]) -> tuple[float, int]:
    t0 = time.perf_counter()
    results = box.run_batch(jobs)
    return time.perf_counter() - t0, count_ok(results)


def split(results: list[ExecResult]) -> dict[str, float]:
    """Milliseconds per execution by part; a per-job zygote's import counts in `import`."""
    n = sum(len(r.outcomes) for r in results) or 1
    parts = {name: sum(getattr(o, f"{name}_s") for r in results for o in r.outcomes) for name in PARTS}
    parts["import"] += sum(r.import_s for r in results)
    return {name: 1000 * value / n for name, value in parts.items()}


PARTS = ("spawn", "import", "call", "teardown")


def bench_import_once(
    makers: dict[str, Callable[[bool], Any]], workloads: dict[str, list[ExecJob]], rounds: int
) -> dict[str, dict[str, Any]]:
    """Per backend and workload: exec/s with import once on and off (best of `rounds`, in
    turns), and the per-execution split of the best round."""
    rows: dict[str, dict[str, Any]] = {}
    for backend, make in makers.items():
        boxes = {on: make(on) for on in (True, False)}
        try:
            for box in boxes.values():
                box.run_batch(next(iter(workloads.values()))[:2])  # every worker serving
            for workload, jobs in workloads.items():
                n = sum(len(j.inputs) for j in jobs)
                best: dict[bool, tuple[float, int, dict[str, float], int]] = {}
                for _ in range(rounds):
                    for on, box in boxes.items():
                        t0 = time.perf_counter()
                        results = box.run_batch(jobs)
                        elapsed = time.perf_counter() - t0
                        if on not in best or elapsed < best[on][0]:
                            imports = sum(r.imports for r in results)
                            best[on] = (elapsed, count_ok(results), split(results), imports)
                rows[f"{backend}, {workload}"] = {
                    "n": n,
                    **{f"{'on' if on else 'off'}": best[on] for on in (True, False)},
                }
        finally:
            for box in boxes.values():
                box.close()
    return rows


def print_import_once(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    print(
        f"\nimport once on vs off{'':<20} {'on/s':>8} {'off/s':>8} {'on/off':>7}  ms per execution (on | off)"
    )
    ratios = {}
    for name, row in rows.items():
        n = row["n"]
        on, off = row["on"], row["off"]
        rate_on, rate_off = n / on[0], n / off[0]
        ratios[name] = rate_on / rate_off
        parts = " | ".join(
            " ".join(f"{p} {ms[p]:.2f}" for p in PARTS) + f" ({imports} imports, {ok}/{n} ok)"
            for _e, ok, ms, imports in (on, off)
        )
        print(f"{name:<41} {rate_on:8.1f} {rate_off:8.1f} {ratios[name]:7.2f}  {parts}")
    return ratios


def bench_docker_run(image: str, jobs: list[ExecJob], executions: int, workers: int) -> tuple[float, int]:
    """One fresh container per execution (the naive approach) with the same security flags."""
    from codemint.sandbox.docker_backend import docker_cli

    singles = []
    for job in jobs:
        for text in job.inputs:
            singles.append(job.model_copy(update={"inputs": [text]}))
    singles = singles[:executions]
    argv = [
        docker_cli(), "run", "-i", "--rm", "--network", "none", "--read-only",
        "--tmpfs", "/tmp:rw,size=64m,mode=1777", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--pids-limit", "128", "--memory", "768m",
        "--memory-swap", "768m", "--log-driver", "none", "--label", "codemint.sandbox=1",
        image, "--scratch", "/tmp", "--wipe", "/tmp",
    ]  # fmt: skip

    def one(job: ExecJob) -> dict[str, Any]:
        out = subprocess.run(
            argv, input=job.model_dump_json() + "\n", capture_output=True, text=True, timeout=120
        )
        lines = out.stdout.splitlines()
        if len(lines) < 2:  # no reply: counted as not ok, and said why
            print(f"docker run: no reply (exit {out.returncode}): {out.stderr.strip()[-300:]}")
            return {"outcomes": []}
        reply: dict[str, Any] = json.loads(lines[1])  # lines[0] is the ready line
        return reply

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, singles))
    return time.perf_counter() - t0, count_ok(results)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--docker-run-executions", type=int, default=16)
    parser.add_argument(
        "--image", default=os.environ.get("CODEMINT_SANDBOX__IMAGE", "codemint-sandbox:latest")
    )
    parser.add_argument("--skip-docker", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="best of N rounds for every warm path")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    parser.add_argument("--heavy-executions", type=int, default=200)
    parser.add_argument("--only-import-once", action="store_true", help="only the import once on/off rows")
    args = parser.parse_args()

    from codemint.sandbox.docker_backend import DockerSandbox, engine_problem
    from codemint.sandbox.local_backend import LocalSandbox

    jobs = make_jobs(args.executions)
    n = sum(len(j.inputs) for j in jobs)
    limits = jobs[0].limits
    problem = "skipped (--skip-docker)" if args.skip_docker else engine_problem(args.image)
    if problem is not None:
        print(f"docker rows skipped: {problem}")
    once_makers: dict[str, Callable[[bool], Any]] = {
        "local": lambda on: LocalSandbox(args.workers, 10_000, limits, import_once=on)
    }
    if problem is None:
        once_makers["docker pool"] = lambda on: DockerSandbox(
            args.image, args.workers, 10_000, limits, import_once=on
        )
    workloads = {"small programs": jobs, "heavy top level": make_jobs(args.heavy_executions, HEAVY)}
    if args.only_import_once:
        ratios = print_import_once(bench_import_once(once_makers, workloads, args.rounds))
        if args.json:
            print(json.dumps({k: round(v, 3) for k, v in ratios.items()}))
        return 0

    # Warm pools first (start-up reported apart), then the paths in turns, round after
    # round, keeping each one's best: a shared, noisy machine slows all of them alike.
    paths: dict[str, Callable[[], tuple[float, int]]] = {"bare fork": lambda: bench_bare(jobs, args.workers)}
    boxes: list[Any] = []
    starts: dict[str, float] = {}
    makers: dict[str, Callable[[], Any]] = {"local": lambda: LocalSandbox(args.workers, 10_000, limits)}
    if problem is None:
        makers["docker pool"] = lambda: DockerSandbox(args.image, args.workers, 10_000, limits)
        makers["docker sdk"] = lambda: DockerSandbox(
            args.image, args.workers, 10_000, limits, transport="sdk"
        )
    try:
        for name, make in makers.items():
            t0 = time.perf_counter()
            box = make()
            boxes.append(box)
            box.run_batch(jobs[:2])  # every worker started and serving
            starts[name] = time.perf_counter() - t0
            paths[name] = functools.partial(timed_batch, box, jobs)
        best: dict[str, tuple[float, int]] = {}
        for _ in range(args.rounds):
            for name, run in paths.items():
                elapsed, ok = run()
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, ok)
    finally:
        for box in boxes:
            box.close()

    rows: dict[str, tuple[float, int, str]] = {}
    for name, (elapsed, ok) in best.items():
        start = f" (pool start {starts[name]:.2f}s)" if name in starts else ""
        rows[name] = (n / elapsed, ok, f"{n} executions in {elapsed:.2f}s{start}")
    if problem is None:
        m = min(args.docker_run_executions, n)
        elapsed, ok = bench_docker_run(args.image, jobs, m, args.workers)
        rows["docker run"] = (m / elapsed, ok, f"{m} in {elapsed:.2f}s, extrapolated")

    base = rows["bare fork"][0]
    print(f"\n{'path':<12} {'exec/s':>9} {'vs bare':>8} {'ok':>5}  detail")
    for name, (rate, ok, detail) in rows.items():
        print(f"{name:<12} {rate:9.1f} {rate / base:8.3f} {ok:5d}  {detail}")
    if "docker pool" in rows:
        ratio = rows["docker pool"][0] / rows["docker run"][0]
        print(f"\ndocker pool / docker run: {ratio:.1f}x")
        cli, sdk = rows["docker pool"][0], rows["docker sdk"][0]
        faster = "CLI stream (docker start -ai)" if cli >= sdk else "SDK attach socket"
        print(f"job stream: CLI {cli:.1f}/s, SDK attach {sdk:.1f}/s -> faster here: {faster}")
    ratios = print_import_once(bench_import_once(once_makers, workloads, args.rounds))
    if args.json:
        figures = {k: round(v[0], 2) for k, v in rows.items()}
        print(json.dumps(figures | {f"import once on/off, {k}": round(v, 3) for k, v in ratios.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
