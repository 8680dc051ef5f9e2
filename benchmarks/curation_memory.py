"""Peak memory of the cross-shard curation stages as the verified rows grow: 10k, 30k, 100k.

scale_memory.py stops at summarize: every stage from testgen on runs the sandbox per row,
hours at 100k definitions on 2 cores. This benchmark writes realistic `Verified` shards
directly (documented functions with tests, shards of 5,000 rows, one row in 20 a near copy of
an earlier one: a renamed local and another constant, which near-dedup must cluster) and runs
the curation stages over them through the real flow machinery: a Prefect flow that submits
decontaminate -> near_dedup -> judge (off by default: rows pass) -> select with the pipeline's
own `submit_pipeline` (index tasks, shard tasks, caching, at most `shards` in flight).
Select is given a budget (`--fraction`, default 0.1), since without one it keeps every row
and embeds nothing.

One flow process per size; peaks are the kernel's high-water marks (VmHWM) of that process
(its own ru_maxrss when it exits) and of its children (near-dedup's spawned signature
workers), polled every 0.1 s. Prints, per size, the peaks, wall time, the index figures and
the funnel, then each peak's ratio to the first (smallest) size, measured in the same run.

    .venv/bin/python benchmarks/curation_memory.py                 # 10k, 30k, 100k
    .venv/bin/python benchmarks/curation_memory.py --sizes 2000 5000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_memory import WORDS, _hwm_kb, _label, descendants, function_text

SHARD_ROWS = 5_000  # about what one shard of `shard_max_bytes` source yields
NEAR_COPY_EVERY = 20
STAGES = ["decontaminate", "near_dedup", "judge", "select"]


def near_copy(text: str, rng: random.Random) -> str:
    """`text` with its loop variable renamed and one constant changed: a near duplicate."""
    out = text.replace(" v ", " item ").replace("(v", "(item").replace(" v:", " item:")
    out = out.replace(" v,", " item,").replace("v *", "item *").replace("v %", "item %")
    return out.replace("    total = ", f"    total = {rng.randint(1, 9)} + ", 1)


def verified_rows(start: int, count: int, rng: random.Random, earlier: list[str]) -> list[Any]:
    from codemint.records import Provenance, TestCase, Verified, content_id

    rows = []
    for i in range(start, start + count):
        if i % NEAR_COPY_EVERY == NEAR_COPY_EVERY - 1 and len(earlier) > 100:
            code = near_copy(earlier[rng.randrange(len(earlier) - 50)], rng)
        else:
            code = function_text(i, rng).strip("\n") + "\n"
        earlier.append(code)
        header, doc_line = code.split("\n", 2)[:2]
        name = header.removeprefix("def ").split("(", 1)[0]
        signature = header.removesuffix(":")
        doc = doc_line.strip().strip('"')
        word = rng.choice(WORDS)
        cases = [
            TestCase(
                input=json.dumps({"args": [[rng.randint(-50, 200) for _ in range(6)]], "kwargs": {}}),
                expected=json.dumps([rng.randint(0, 500) for _ in range(3)]),
                covered_lines=list(range(3, 3 + rng.randint(2, 5))),
            )
            for _ in range(6)
        ]
        rows.append(
            Verified(
                id=content_id(f"{i}:{code}"),
                code=code,
                provenance=Provenance(
                    source_uri="file:///corpus", path=f"mod_{i // 40:05d}.py", line_start=1 + (i % 40) * 9
                ),
                parent_id=content_id(f"parent:{i // 40}"),
                entry_point=name,
                signature=signature,
                docstring=doc,
                original_code=code,
                instruction=f"Implement `{signature.removeprefix('def ')}`.\n\n{doc} The {word}s are ints.",
                instruction_source="docstring",
                context_code="",
                test_inputs=[c.input for c in cases],
                input_sources=["annotations"] * len(cases),
                test_cases=cases,
                candidate_kind="reformatted",
                candidate_code=code,
                pass_fraction=1.0,
                tests_passed=len(cases),
                tests_total=len(cases),
                mutation_score=0.9,
                mutants=10,
                mutants_killed=9,
                line_coverage=1.0,
                adequate=True,
            )
        )
    return rows


def write_shards(root: Path, n: int, seed: int = 0) -> list[str]:
    from codemint import store
    from codemint.records import Verified, to_table

    rng = random.Random(seed)
    earlier: list[str] = []
    paths = []
    for shard, start in enumerate(range(0, n, SHARD_ROWS)):
        rows = verified_rows(start, min(SHARD_ROWS, n - start), rng, earlier)
        path = root / f"verified-{shard:05d}.parquet"
        store.write_table(path, to_table(rows, Verified))
        paths.append(str(path))
    return paths


def child(run_dir: Path, shard_paths: list[str], fraction: float) -> None:
    """The flow process of one size: the curation stages over the given verified shards."""
    import pyarrow.parquet as pq
    from prefect import flow

    from codemint import store
    from codemint.flows.funnel import build_funnel
    from codemint.flows.pipeline import collect, shard_runner, stage_plans, submit_pipeline
    from codemint.settings import PipelineSettings, SelectSettings
    from codemint.stage_task import ShardInput

    settings = PipelineSettings(select=SelectSettings(fraction=fraction))

    @flow(name="curation-memory")
    def curation() -> dict[str, Any]:
        upstream = {
            i: ShardInput(path=p, digest=store.file_digest(Path(p))) for i, p in enumerate(shard_paths)
        }
        plans = stage_plans(settings, STAGES)
        runner = shard_runner(len(upstream), settings)
        if runner is None:
            results, failures = collect(
                run_dir.name, submit_pipeline(run_dir, settings, upstream, STAGES, plans), []
            )
        else:
            with runner:
                submitted = submit_pipeline(run_dir, settings, upstream, STAGES, plans, runner)
                results, failures = collect(run_dir.name, submitted, [])
        if failures:
            raise SystemExit(f"failed shards: {failures}")
        funnel = build_funnel(results, STAGES)
        clusters = pq.read_metadata(run_dir / "near_dedup" / "index.clusters.parquet").num_rows
        # Which rows each stage kept, as one digest: the same rows old and new, or not.
        kept = hashlib.sha256()
        for stage in STAGES:
            for shard in sorted(results[stage]):
                ids = pq.read_table(results[stage][shard].kept_path, columns=["id"]).column("id")
                kept.update(f"{stage}:{shard}:{','.join(ids.to_pylist())};".encode())
        return {
            "funnel": {
                f.stage: {"in": f.rows_in, "kept": f.rows_kept, "dropped": f.dropped, "task_s": f.seconds}
                for f in funnel
            },
            "funnel_rows": {f.stage: [f.rows_in, f.rows_kept, f.dropped] for f in funnel},
            "kept_digest": kept.hexdigest()[:16],
            "near_dedup_clusters": clusters,
        }

    print("RESULT " + json.dumps(curation()), flush=True)


def run_child(root: Path, shards: list[str], name: str, fraction: float, src: Path | None) -> dict[str, Any]:
    """One flow process over `shards`, its code from `src` (a checkout) or this tree."""
    run_dir = root / "runs" / name
    cmd = [sys.executable, __file__, "--child", str(run_dir), "--fraction", str(fraction), *shards]
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    log_file = root / f"{name}.log"
    started = time.perf_counter()
    with log_file.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    peaks: dict[int, tuple[str, int]] = {}
    while True:
        # wait4 gives this one process's ru_maxrss (RUSAGE_CHILDREN would be the max over runs).
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        for child_pid in descendants(proc.pid):
            kb = _hwm_kb(child_pid)
            if kb is not None and kb > peaks.get(child_pid, ("", 0))[1]:
                peaks[child_pid] = (_label(child_pid), kb)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    output = log_file.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0 or "RESULT " not in output:
        raise SystemExit(f"{name} failed:\n{output[-4000:]}")
    result = json.loads(output.rsplit("RESULT ", 1)[1].splitlines()[0])
    return {
        "seconds": round(seconds, 1),
        "flow_mb": round(usage.ru_maxrss / 1024, 1),
        "children_mb": sorted(
            (round(kb / 1024, 1) for label, kb in peaks.values() if label != "prefect-server"), reverse=True
        )[:4],
        **result,
    }


def table(label: str, results: list[dict[str, Any]]) -> None:
    print(f"\n{label}\n")
    print("| verified rows | shards | wall s | flow peak MB | children peak MB | near-dup drops | selected |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        near = r["funnel"]["near_dedup"]
        children = ", ".join(f"{c:.0f}" for c in r["children_mb"]) or "-"
        print(
            f"| {r['rows']} | {r['shards']} | {r['seconds']} | {r['flow_mb']:.0f} | {children} | "
            f"{near['in'] - near['kept']} | {r['funnel']['select']['kept']} |"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        sizes = f"{last['rows']}/{first['rows']} rows"
        print(f"\nflow peak ratio {sizes}: {last['flow_mb'] / first['flow_mb']:.2f}x")
        if first["children_mb"] and last["children_mb"]:
            print(f"child peak ratio: {max(last['children_mb']) / max(first['children_mb']):.2f}x")
        print(f"wall time ratio {sizes}: {last['seconds'] / first['seconds']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--fraction", type=float, default=0.1, help="select's budget as a fraction of rows")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run each size on the code of this checkout (PYTHONPATH; its codemint/ needs links "
        "tasks, flows and sandbox to ../) and compare: same funnel, peaks old -> new",
    )
    parser.add_argument("--keep", type=Path, help="keep shards and runs here (default: a temporary dir)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("shards", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.shards, args.fraction)
        return
    results: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codemint-curation-") as tmp:
        root = args.keep or Path(tmp)
        for n in args.sizes:
            started = time.perf_counter()
            shards = write_shards(root / f"verified-{n}", n)
            info = {"rows": n, "shards": len(shards), "generate_s": round(time.perf_counter() - started, 1)}
            if args.baseline_src:
                old = {**info, **run_child(root, shards, f"baseline-{n}", args.fraction, args.baseline_src)}
                baseline.append(old)
                print(json.dumps({"baseline": True, **old}), flush=True)
            new = {**info, **run_child(root, shards, f"curation-{n}", args.fraction, None)}
            results.append(new)
            print(json.dumps(new), flush=True)
            if args.baseline_src:
                same = all(old[key] == new[key] for key in ("funnel_rows", "kept_digest"))
                print(f"size {n}: the same rows kept by each stage as the baseline: {same}", flush=True)
    if baseline:
        table("baseline (--baseline-src)", baseline)
    table("this tree", results)
    for old, new in zip(baseline, results, strict=False):
        print(
            f"{new['rows']} rows: flow peak {old['flow_mb']:.0f} -> {new['flow_mb']:.0f} MB "
            f"({new['flow_mb'] / old['flow_mb']:.2f}x), wall {old['seconds']} -> {new['seconds']} s"
        )


if __name__ == "__main__":
    main()
