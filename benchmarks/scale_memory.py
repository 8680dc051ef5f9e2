"""Peak memory of one run as the corpus grows: 10k, 30k and 100k definitions.

Generates a corpus of documented Python functions (40 per module, 5% of them exact copies of
an earlier function in another module, which dedup must drop), runs `codemint run DIR
--until summarize` on it (ingest, reformat, dedup, summarize: the stages that run no code),
and prints, per size, the peak RSS of the flow process and of every worker process, the wall
time and the funnel, then the 100k/10k ratio of each peak. The stages after summarize run
the sandbox per row: hours at 100k definitions on 2 cores, so they are not covered here.

Peaks are the kernel's high-water marks (VmHWM) of each process, polled every 0.1 s, and the
flow process's own ru_maxrss when it exits. With --dask the shards run on a local Dask
cluster (2 worker processes of 1 thread), whose workers' peaks are listed too; without it
they run in threads of the flow process.

    .venv/bin/python benchmarks/scale_memory.py                    # 10k, 30k, 100k
    .venv/bin/python benchmarks/scale_memory.py --sizes 2000 --dask
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PER_MODULE = 40
DUPLICATE_EVERY = 20  # one function in 20 is a copy of an earlier one, in another module
WORDS = (  # noqa: SIM905 - a word list reads better as text
    "count total value item index offset width height size limit score weight ratio level "
    "depth price amount rate speed name path key token node edge start stop step chunk frame"
).split()
VERBS = "scale clamp filter merge shift pick fold trim".split()  # noqa: SIM905


def function_text(i: int, rng: random.Random) -> str:
    """A documented, non-trivial function, different for every `i`."""
    verb, word, other = rng.choice(VERBS), rng.choice(WORDS), rng.choice(WORDS)
    c1, c2, c3 = rng.randint(2, 97), rng.randint(1, 50), i % 1009
    bodies = [
        f"    out = []\n    for v in {word}s:\n        if v > {c1}:\n"
        f"            out.append(v * limit + {c2})\n    return out[:{c3 + 1}]\n",
        f"    total = {c2}\n    for v in {word}s:\n        total = (total * {c1} + v) % {c3 + 7}\n"
        f"    return total if total > limit else -total\n",
        f"    seen = {{}}\n    for v in {word}s:\n        key = v % {c1}\n"
        f"        seen[key] = seen.get(key, 0) + limit\n    return sorted(seen.items())[:{c2}]\n",
        f"    lo, hi = {c2}, {c1 + c3}\n"
        f"    return [min(max(v, lo), hi) * limit for v in {word}s if v != {c3}]\n",
    ]
    body = bodies[i % len(bodies)]
    return (
        f"def {verb}_{word}_{i}({word}s, limit={c2 % 9 + 1}):\n"
        f'    """{verb.capitalize()} the {word}s by {other} (case {i}) and return the result."""\n'
        f"{body}\n\n"
    )


def write_corpus(root: Path, definitions: int, seed: int = 0) -> int:
    """`definitions` functions in modules of PER_MODULE; returns how many are planted copies."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    texts: list[str] = []
    copies = 0
    module: list[str] = []
    for i in range(definitions):
        if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 and i >= 2 * PER_MODULE:
            text = texts[rng.randrange(0, len(texts) - PER_MODULE)]  # from an earlier module
            copies += 1
        else:
            text = function_text(i, rng)
        texts.append(text)
        module.append(text)
        if len(module) == PER_MODULE or i == definitions - 1:
            (root / f"mod_{i // PER_MODULE:05d}.py").write_text("".join(module), encoding="utf-8")
            module = []
    return copies


def _children() -> dict[int, int]:
    """pid -> parent pid, for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _label(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    if "uvicorn" in cmd or "prefect server" in cmd or "prefect.server" in cmd:
        return "prefect-server"
    if "resource_tracker" in cmd:
        return "resource-tracker"
    if "distributed" in cmd or "dask" in cmd or "multiprocessing" in cmd:
        return "worker"
    return cmd.split(" ")[0].rsplit("/", 1)[-1] or "?"


def descendants(root: int) -> list[int]:
    tree = _children()
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in tree.items():
            if ppid == parent:
                found.append(pid)
                frontier.append(pid)
    return found


def run_once(corpus: Path, runs_dir: Path, run_id: str, dask_address: str | None) -> dict[str, Any]:
    cmd = [str(Path(sys.executable).with_name("codemint")), "run", str(corpus), "--until", "summarize"]
    cmd += ["--run-id", run_id, "--runs-dir", str(runs_dir)]
    if dask_address:
        cmd += ["--dask-address", dask_address]
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    log_file = runs_dir / f"{run_id}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_file.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    peaks: dict[int, tuple[str, int]] = {}
    me = os.getpid()
    while True:
        # wait4 gives this one process's ru_maxrss (RUSAGE_CHILDREN would be the max over runs).
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        for child in descendants(me):
            kb = _hwm_kb(child)
            if child != proc.pid and kb is not None and kb > peaks.get(child, ("", 0))[1]:
                peaks[child] = (_label(child), kb)
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    flow_kb = usage.ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"run {run_id} failed ({proc.returncode}):\n{log_file.read_text()[-4000:]}")
    report = json.loads((runs_dir / run_id / "run.json").read_text())
    funnel = {f["stage"]: f for f in report["summary"]["funnel"]}
    return {
        "definitions": sum(y["definitions"] for y in report["yield_by_source"]),
        "shards": funnel["reformat"]["shards"],
        "duplicates": funnel["dedup"]["dropped"].get("dropped:duplicate", 0),
        "summarized": funnel["summarize"]["rows_kept"],
        "seconds": round(seconds, 1),
        "flow_mb": round(flow_kb / 1024, 1),
        "workers_mb": sorted(round(kb / 1024, 1) for label, kb in peaks.values() if label == "worker"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--dask", action="store_true", help="run the shards on a local 2-worker Dask cluster")
    parser.add_argument("--keep", type=Path, help="keep corpora and runs here (default: a temporary dir)")
    args = parser.parse_args()
    cluster = None
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with tempfile.TemporaryDirectory(prefix="codemint-scale-") as tmp:
        root = args.keep or Path(tmp)
        results = []
        for n in args.sizes:
            corpus = root / f"corpus-{n}"
            planted = write_corpus(corpus, n)
            figures = run_once(
                corpus, root / "runs", f"scale-{n}", cluster.scheduler_address if cluster else None
            )
            figures["planted_copies"] = planted
            results.append(figures)
            print(json.dumps({"size": n, **figures}), flush=True)
    if cluster is not None:
        cluster.close()
    print(
        "\n| definitions | shards | dedup drops (planted) | summarized | wall s "
        "| flow peak MB | workers peak MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        workers = ", ".join(f"{w:.0f}" for w in r["workers_mb"]) or "- (threads of the flow process)"
        print(
            f"| {r['definitions']} | {r['shards']} | {r['duplicates']} ({r['planted_copies']}) | "
            f"{r['summarized']} | {r['seconds']} | {r['flow_mb']:.0f} | {workers} |"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"\nflow peak ratio {last['definitions']}/{first['definitions']} definitions: "
            f"{last['flow_mb'] / first['flow_mb']:.2f}x"
        )
        if first["workers_mb"] and last["workers_mb"]:
            print(f"worker peak ratio: {max(last['workers_mb']) / max(first['workers_mb']):.2f}x")


if __name__ == "__main__":
    main()
