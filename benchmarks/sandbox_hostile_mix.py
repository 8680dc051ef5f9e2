"""Hostile mix: 1,000 jobs of which 10% are hostile, against an all-benign run of the same size.

    .venv/bin/python benchmarks/sandbox_hostile_mix.py [--jobs 1000] [--hostile 0.1]
        [--backend docker|local] [--workers 2] [--image IMAGE]

Reports benign executions per second in both runs (the hostile share's cost to everyone
else), every wrong benign verdict (there must be none) and anything left behind after the
pool closed (runner processes carrying this process's owner tag, containers labelled with it).
The hostile catalog is tests/support/hostile_mix.py (the CI test runs a small burst of it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from hostile_mix import make_mix, wrong_benign_verdicts  # noqa: E402

from codemint.sandbox.api import ExecJob, Sandbox  # noqa: E402
from codemint.sandbox.lifecycle import owner_token  # noqa: E402


def make_box(backend: str, workers: int, image: str) -> Sandbox:
    limits = make_mix(1, 0.0)[0][0].limits
    if backend == "docker":
        from codemint.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(image, workers, 10_000, limits)
    from codemint.sandbox.local_backend import LocalSandbox

    return LocalSandbox(workers, 10_000, limits)


def run(box: Sandbox, jobs: list[ExecJob], expected: dict[str, str]) -> tuple[float, int, list[str]]:
    t0 = time.perf_counter()
    results = box.run_batch(jobs)
    elapsed = time.perf_counter() - t0
    return elapsed, len(expected), wrong_benign_verdicts(jobs, results, expected)


def leftovers(owner: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if f"--tag {owner}" in cmd:
                found.append(f"process {entry.name}: {cmd[:120]}")
    try:
        from codemint.sandbox.docker_backend import OWNER_LABEL, list_containers

        found += [f"container {cid[:12]}" for cid, _o in list_containers(f"{OWNER_LABEL}={owner}")]
    except Exception as exc:  # no engine: only the processes count
        print(f"(containers not checked: {exc})")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--hostile", type=float, default=0.1)
    parser.add_argument("--backend", choices=["docker", "local"], default="docker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--image", default=os.environ.get("CODEMINT_SANDBOX__IMAGE", "codemint-sandbox:latest")
    )
    args = parser.parse_args()

    benign_jobs, benign_expected = make_mix(args.jobs, 0.0)
    mixed_jobs, mixed_expected = make_mix(args.jobs, args.hostile)
    box = make_box(args.backend, args.workers, args.image)
    try:
        box.run_batch(benign_jobs[: args.workers * 2])  # every worker warm
        base_s, base_n, base_wrong = run(box, benign_jobs, benign_expected)
        mix_s, mix_n, mix_wrong = run(box, mixed_jobs, mixed_expected)
    finally:
        box.close()
    time.sleep(1.0)
    left = leftovers(owner_token())

    base_rate, mix_rate = base_n / base_s, mix_n / mix_s
    hostile = len(mixed_jobs) - sum(j.job_id.startswith("benign-") for j in mixed_jobs)
    print(f"backend {args.backend}, {args.workers} workers, 3 inputs per job")
    print(
        f"all benign  {len(benign_jobs)} jobs: {base_n} benign executions in {base_s:.2f}s "
        f"= {base_rate:.1f}/s"
    )
    print(
        f"hostile mix {len(mixed_jobs)} jobs ({hostile} hostile): {mix_n} benign executions in "
        f"{mix_s:.2f}s = {mix_rate:.1f}/s ({mix_rate / base_rate:.2f}x all-benign)"
    )
    print(f"wrong benign verdicts: {len(base_wrong)} all-benign, {len(mix_wrong)} in the mix")
    for line in (base_wrong + mix_wrong)[:10]:
        print(f"  {line}")
    print(f"left behind after close: {len(left)}")
    for line in left[:10]:
        print(f"  {line}")
    return 1 if base_wrong or mix_wrong or left else 0


if __name__ == "__main__":
    sys.exit(main())
