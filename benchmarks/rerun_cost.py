"""What a re-run with nothing changed costs: `codemint run` again on a finished run.

Runs the bundled default once (skipped when --runs-dir already holds it), then re-runs it
--repeat times each way, alternating:

- with a running Prefect server (PREFECT_API_URL when set, else one up on 127.0.0.1:4200,
  else one this script starts under a PREFECT_HOME of its own and stops at the end): with the
  cache walk (the leading cached stages recorded as Cached task runs in one batch,
  flows/cache_walk.py) and without it (every task run through Prefect's task engine,
  CODEMINT_CACHE_WALK=false: the baseline);
- with Prefect's temporary server (no API URL: Prefect starts one per command), cache walk.

Prints, per way, the median wall time of the command, its CPU time (user + sys of the process
tree; a running server's own CPU is not in it), the flow's own seconds (run.json), the ratio
of the medians (cache walk / baseline) and the load average.

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


# The ways a re-run is measured: (label, cache walk on, Prefect server).
WAYS = [
    ("baseline: every task run through the engine, running server", False, "running"),
    ("cache walk, running server", True, "running"),
    ("cache walk, temporary server per command", True, "temporary"),
]


def healthy(url: str) -> bool:
    import httpx

    try:
        return bool(httpx.get(f"{url}/health", timeout=1.0).json() is True)
    except Exception:  # nothing listening, or not a Prefect server
        return False


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def running_server(home: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The API URL of a running Prefect server: the configured or local one, else one started
    here (returned with its process, to stop at the end)."""
    url = os.environ.get("PREFECT_API_URL") or "http://127.0.0.1:4200/api"
    if healthy(url):
        return url, None
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).parent / "prefect"
    cmd = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while not healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit("could not start a Prefect server for the benchmark")
        time.sleep(1)
    return url, server


def codemint_run(
    packages: list[str],
    runs_dir: Path,
    run_id: str,
    walk: bool,
    code: Path | None = None,
    api_url: str | None = None,
) -> dict[str, float]:
    """One `codemint run`; `api_url` None: Prefect's temporary server (no running one found)."""
    cmd = [sys.executable, "-m", "codemint", "run", "--run-id", run_id, "--runs-dir", str(runs_dir)]
    for name in packages:
        cmd += ["-p", name]
    env = {**os.environ, "CODEMINT_CACHE_WALK": "true" if walk else "false"}
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    else:  # the CLI would take a server up on this port: point it at one that is not there
        env["PREFECT_SERVER_API_PORT"] = str(free_port())
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    # Not from the checkout: `-m` puts the working directory first on sys.path, before the copy.
    cwd = tempfile.gettempdir()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
    figures: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in WAYS}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="codemint-rerun-") as tmp:
        runs_dir = (args.runs_dir or Path(tmp)).resolve()  # the runs start elsewhere
        run_id = "rerun-bench"
        code = frozen_copy(Path(tmp) / "code") if args.frozen else None
        if args.frozen:  # and the sandbox image as it is now, under a tag no rebuild moves
            subprocess.run(["docker", "tag", "codemint-sandbox:latest", PINNED], check=True)
            os.environ["CODEMINT_SANDBOX__IMAGE"] = PINNED
        api_url, server = running_server(Path(tmp) / "prefect-home")
        try:
            first = codemint_run(args.packages, runs_dir, run_id, True, code, api_url)
            print(
                f"first run (or a re-run of it): {first['wall']:.1f} s wall, {first['rows']} final rows",
                flush=True,
            )
            codemint_run(args.packages, runs_dir, run_id, False, code, api_url)  # settle what it left
            for _ in range(args.repeat):
                for label, walk, where in WAYS:
                    loads.append(os.getloadavg()[0])
                    before = cpu_seconds()
                    url = api_url if where == "running" else None
                    result = codemint_run(args.packages, runs_dir, run_id, walk, code, url)
                    result["cpu"] = cpu_seconds() - before
                    figures[label].append(result)
                    print(
                        json.dumps({"way": label, **{k: round(v, 2) for k, v in result.items()}}), flush=True
                    )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    if args.frozen:
        subprocess.run(["docker", "rmi", PINNED], check=False, capture_output=True)  # the tag only
    med = {
        label: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "flow")}
        for label, rs in figures.items()
    }
    print("\n| re-run, nothing changed | wall s | CPU s | flow s |")
    print("|---|---|---|---|")
    for label, m in med.items():
        print(f"| {label} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['flow']:.2f} |")
    cached, base = med[WAYS[1][0]], med[WAYS[0][0]]
    print(
        f"\nratio cache walk / baseline (running server): wall {cached['wall'] / base['wall']:.2f}, "
        f"CPU {cached['cpu'] / base['cpu']:.2f}, flow {cached['flow'] / base['flow']:.2f}"
    )
    print(
        f"load average (1 min) while measured: {min(loads):.1f}-{max(loads):.1f} "
        f"(median {statistics.median(loads):.1f}) on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
