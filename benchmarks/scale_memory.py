"""Peak memory of one run as the corpus grows: 10k, 30k and 100k definitions.

Generates a corpus of documented Python functions (40 per module, 5% of them exact copies of
an earlier function in another module, which dedup must drop), runs `codemint run DIR` on it,
and prints, per size, the peak RSS of the flow process and of every worker process, the wall
time and the funnel, then the ratio of each peak at the largest size to the smallest.

By default the run stops at summarize (`--until summarize`: ingest, reformat, dedup,
summarize, the stages that run no code), minutes at 100k definitions. `--until all` takes it
through every stage and the export: the stages from testgen on run the sandbox per row, about
0.18 s a definition on 2 cores, hours at 100k. Such a run need not finish in one sitting: with
`--keep DIR`, run the same command again and an unfinished run resumes from its cached shard
tasks; its wall time is the sum of its segments and its peaks the highest of any segment (a
segment's peaks are saved every 10 s, so a killed one counts too).

Peaks are the kernel's high-water marks (VmHWM) of each process, polled every 0.1 s, and the
flow process's own ru_maxrss when it exits. With --dask the shards run on a local Dask
cluster (2 worker processes of 1 thread), whose workers' peaks are listed too; without it
they run in threads of the flow process. Other children (the Prefect server Prefect starts for
the run, near-dedup's signature workers) are listed apart.

    .venv/bin/python benchmarks/scale_memory.py                    # 10k, 30k, 100k to summarize
    .venv/bin/python benchmarks/scale_memory.py --sizes 2000 --dask
    .venv/bin/python benchmarks/scale_memory.py --until all --keep /data/scale   # hours; resumable
"""

from __future__ import annotations

import argparse
import contextlib
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
            path, text = root / f"mod_{i // PER_MODULE:05d}.py", "".join(module)
            if not path.exists() or path.read_text(encoding="utf-8") != text:  # a resumed run: as is
                path.write_text(text, encoding="utf-8")
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


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _label(pid: int, under_flow: bool) -> str:
    cmd = _cmdline(pid).replace(b"\0", b" ").decode(errors="replace")
    if "uvicorn" in cmd or "prefect server" in cmd or "prefect.server" in cmd:
        return "prefect-server"
    if "resource_tracker" in cmd:
        return "resource-tracker"
    if "distributed" in cmd or "dask" in cmd or "multiprocessing" in cmd:
        # The flow's own spawned processes are near-dedup's signature workers; the Dask
        # workers are this script's (its LocalCluster).
        return "signature-worker" if under_flow else "worker"
    return cmd.split(" ")[0].rsplit("/", 1)[-1] or "?"


def _reset_hwm(pid: int) -> None:
    """Start the process's high-water mark again from its current RSS (Linux clear_refs 5)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def descendants(root: int, tree: dict[int, int] | None = None) -> list[int]:
    """`root`'s descendants in `tree` (pid -> parent pid; default: the processes now)."""
    tree = _children() if tree is None else tree
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in tree.items():
            if ppid == parent:
                found.append(pid)
                frontier.append(pid)
    return found


def _write_json(path: Path, data: Any) -> None:
    """Atomically: a benchmark killed mid-write leaves the previous segments readable."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def run_segment(
    corpus: Path, runs_dir: Path, run_id: str, until: str, dask_address: str | None
) -> dict[str, Any]:
    """One `codemint run` of the corpus, polled for peaks. Run again with the same run id, it
    resumes: the shard tasks that finished are cached. Every segment of a run (a killed one
    too: its peaks so far are saved every 10 s) goes in `<run_id>.segments.json`, so a run too
    long for one sitting is measured over all the sittings it took."""
    cmd = [str(Path(sys.executable).with_name("codemint")), "run", str(corpus)]
    cmd += [] if until == "all" else ["--until", until]
    cmd += ["--run-id", run_id, "--runs-dir", str(runs_dir)]
    if dask_address:
        cmd += ["--dask-address", dask_address]
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    me = os.getpid()
    for pid in descendants(me):  # Dask's workers outlive a size: each size's peak is its own
        _reset_hwm(pid)
    runs_dir.mkdir(parents=True, exist_ok=True)
    segments_file = runs_dir / f"{run_id}.segments.json"
    segments: list[dict[str, Any]] = json.loads(segments_file.read_text()) if segments_file.exists() else []
    segment: dict[str, Any] = {"started": time.time(), "seconds": 0.0, "flow_kb": 0, "children": {}}
    segments.append(segment)
    with (runs_dir / f"{run_id}.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    started, saved = time.perf_counter(), 0.0
    while True:
        # wait4 gives this one process's ru_maxrss (RUSAGE_CHILDREN would be the max over runs).
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        flow_kb = _hwm_kb(proc.pid)
        if flow_kb is not None:
            segment["flow_kb"] = max(segment["flow_kb"], flow_kb)
        # Read each poll: right after Popen the child may not have exec'd the flow yet.
        flow_cmdline = _cmdline(proc.pid)
        tree = _children()  # one /proc scan per poll for both walks
        flow_side = set(descendants(proc.pid, tree))
        # This script's descendants: the flow's, and with --dask the cluster's workers.
        for child in descendants(me, tree):
            if child == proc.pid or (child in flow_side and _cmdline(child) == flow_cmdline):
                continue  # a fork of the flow not yet exec'd: its VmHWM is the flow's, inherited
            kb = _hwm_kb(child)
            if kb is not None and kb > segment["children"].get(str(child), ["", 0])[1]:
                segment["children"][str(child)] = [_label(child, child in flow_side), kb]
        segment["seconds"] = round(time.perf_counter() - started, 1)
        if segment["seconds"] - saved >= 10:
            _write_json(segments_file, segments)
            saved = segment["seconds"]
        time.sleep(0.1)
    segment["flow_kb"] = max(segment["flow_kb"], usage.ru_maxrss)
    segment["seconds"] = round(time.perf_counter() - started, 1)
    segment["exit"] = os.waitstatus_to_exitcode(status)
    _write_json(segments_file, segments)
    if segment["exit"] != 0:
        log_text = (runs_dir / f"{run_id}.log").read_text(errors="replace")
        raise SystemExit(f"run {run_id} failed ({segment['exit']}):\n{log_text[-4000:]}")
    return figures(runs_dir, run_id, segments)


def figures(runs_dir: Path, run_id: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """A finished run's funnel, and its peaks over all its segments."""
    report = json.loads((runs_dir / run_id / "run.json").read_text())
    funnel = {f["stage"]: f for f in report["summary"]["funnel"]}
    children = [c for s in segments for c in s["children"].values()]
    last = report["summary"]["funnel"][-1]
    return {
        "definitions": sum(y["definitions"] for y in report["yield_by_source"]),
        "shards": funnel["reformat"]["shards"],
        "duplicates": funnel["dedup"]["dropped"].get("dropped:duplicate", 0),
        "summarized": funnel["summarize"]["rows_kept"],
        "last_stage": last["stage"],
        "final_rows": last["rows_kept"],
        "segments": len(segments),
        "seconds": round(sum(s["seconds"] for s in segments), 1),
        "flow_mb": round(max(s["flow_kb"] for s in segments) / 1024, 1),
        # Dask workers; near-dedup's signature workers and the Prefect server apart.
        "workers_mb": sorted(round(kb / 1024, 1) for label, kb in children if label == "worker"),
        "other_mb": {
            label: round(max(kb for lab, kb in children if lab == label) / 1024, 1)
            for label in sorted({lab for lab, _ in children if lab != "worker"})
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument(
        "--until",
        default="summarize",
        help="the last stage run (default summarize); `all`: every stage and the export",
    )
    parser.add_argument("--dask", action="store_true", help="run the shards on a local 2-worker Dask cluster")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep corpora and runs here (default: a temporary dir); run again with the same "
        "--keep to resume an unfinished run and add its time and peaks to the earlier ones",
    )
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
            planted = write_corpus(corpus, n)  # the same files again for the same size and seed
            run_id = f"scale-{n}" if args.until == "summarize" else f"scale-{n}-{args.until}"
            result = run_segment(
                corpus, root / "runs", run_id, args.until, cluster.scheduler_address if cluster else None
            )
            result["planted_copies"] = planted
            results.append(result)
            print(json.dumps({"size": n, **result}), flush=True)
    if cluster is not None:
        cluster.close()
    print(
        "\n| definitions | shards | dedup drops (planted) | summarized | final rows | wall s "
        "| flow peak MB | worker processes peak MB | other processes peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        workers = ", ".join(f"{w:.0f}" for w in r["workers_mb"]) or "- (threads of the flow process)"
        others = ", ".join(f"{label} {mb:.0f}" for label, mb in r["other_mb"].items()) or "-"
        print(
            f"| {r['definitions']} | {r['shards']} | {r['duplicates']} ({r['planted_copies']}) | "
            f"{r['summarized']} | {r['final_rows']} ({r['last_stage']}) | {r['seconds']} "
            f"({r['segments']} segment(s)) | {r['flow_mb']:.0f} | {workers} | {others} |"
        )
    if len(results) > 1:
        small = min(results, key=lambda r: r["definitions"])
        big = max(results, key=lambda r: r["definitions"])
        print(
            f"\nflow peak ratio {big['definitions']}/{small['definitions']} definitions: "
            f"{big['flow_mb'] / small['flow_mb']:.2f}x"
        )
        if small["workers_mb"] and big["workers_mb"]:
            print(f"worker peak ratio: {max(big['workers_mb']) / max(small['workers_mb']):.2f}x")


if __name__ == "__main__":
    main()
