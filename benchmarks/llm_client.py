"""Throughput of LLMClient against the test server with a fixed per-request latency.

With a concurrency limit C and a server that takes L seconds per request, the best a client
can do is C / L requests per second. This prints what LLMClient achieves and the ratio
(target >= 0.90), and the client's CPU time per request, which sets the ceiling once C / L
gets large (one event loop, one core).

The server runs in a separate process so it does not share the client's GIL.

    .venv/bin/python benchmarks/llm_client.py                       # C = 16..256, L = 50 ms
    .venv/bin/python benchmarks/llm_client.py -c 256 -l 0.5 --cache  # with the SQLite cache
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codemint.llm.cache import RequestCache  # noqa: E402
from codemint.llm.client import LLMClient  # noqa: E402
from codemint.settings import LLMSettings  # noqa: E402

MODEL = "test-model"
TARGET = 0.90
# A realistic request: a system prompt and a function to summarize (~1.5 KB of JSON).
SYSTEM = "You are an expert Python programmer who writes programming exercises. " * 8
CODE = "def f(values):\n" + "".join(f"    x{i} = sorted(values)[:{i}]\n" for i in range(20))


@dataclass
class Row:
    concurrency: int
    latency_s: float
    requests: int
    elapsed_s: float
    cpu_ms_per_request: float

    @property
    def achieved(self) -> float:
        return self.requests / self.elapsed_s

    @property
    def ideal(self) -> float:
        return self.concurrency / self.latency_s

    @property
    def ratio(self) -> float:
        return self.achieved / self.ideal


def start_server(latency_s: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "support" / "openai_server.py"),
            "--delay",
            str(latency_s),
            "--model",
            MODEL,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"test server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


async def measure(base_url: str, concurrency: int, latency_s: float, rounds: int, cache: bool) -> Row:
    settings = LLMSettings(
        base_url=base_url, model=MODEL, concurrency=concurrency, timeout_s=30, max_retries=0
    )
    tmp = tempfile.TemporaryDirectory()
    request_cache = RequestCache(Path(tmp.name) / "llm.sqlite") if cache else None
    try:
        async with LLMClient(settings, request_cache) as client:

            async def one(i: int, tag: str) -> None:
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Item {tag}-{i}\n```python\n{CODE}```"},
                ]
                await client.chat(messages, stage="bench")

            # Warm up: open every connection once.
            await asyncio.gather(*(one(i, "warm") for i in range(concurrency)))
            count = concurrency * rounds
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i, "run") for i in range(count)))
            elapsed = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
    finally:
        if request_cache is not None:
            request_cache.close()
        tmp.cleanup()
    return Row(concurrency, latency_s, count, elapsed, cpu / count * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-c", "--concurrency", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("-l", "--latency", type=float, nargs="+", default=[0.05])
    parser.add_argument("-r", "--rounds", type=int, default=20, help="requests per slot")
    parser.add_argument("--cache", action="store_true", help="write every reply to a fresh SQLite cache")
    opts = parser.parse_args()

    print(
        f"{'C':>5} {'latency':>8} {'requests':>8} {'achieved/s':>11} {'C/L/s':>8} {'ratio':>6} {'cpu/req':>8}"
    )
    rows: list[Row] = []
    for latency in opts.latency:
        proc, base_url = start_server(latency)
        try:
            for concurrency in opts.concurrency:
                row = asyncio.run(measure(base_url, concurrency, latency, opts.rounds, opts.cache))
                rows.append(row)
                mark = "ok" if row.ratio >= TARGET else "below"
                print(
                    f"{row.concurrency:>5} {row.latency_s * 1000:>6.0f}ms {row.requests:>8} "
                    f"{row.achieved:>11.0f} {row.ideal:>8.0f} {row.ratio:>6.2f} "
                    f"{row.cpu_ms_per_request:>6.2f}ms  {mark}",
                    flush=True,
                )
        finally:
            proc.kill()
            proc.wait()
    ceiling = 1000 / max(r.cpu_ms_per_request for r in rows)
    print(f"client CPU ceiling ~{ceiling:.0f} requests/s on one core (1 / worst CPU per request)")


if __name__ == "__main__":
    main()
