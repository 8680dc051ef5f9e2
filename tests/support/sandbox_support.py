"""Shared fixtures and helpers for the sandbox tests (imported by tests/sandbox/test_*.py).

Docker: `docker_image` runs deployments/docker-engine.sh and sandbox/build_image.sh
once per session. Without an engine the Docker cases skip locally, but fail when CI=true.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemint.codec import encode_input
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, Sandbox

REPO = Path(__file__).resolve().parents[2]
# The same variable the settings read (and sandbox/build_image.sh builds).
IMAGE = os.environ.get("CODEMINT_SANDBOX__IMAGE", "codemint-sandbox:latest")
FAKE_SECRET_VAR = "CODEMINT_FAKE_SECRET"
FAKE_SECRET = "s3cr3t-do-not-leak-7f1c"
FAST = ExecLimits(timeout_s=1.5, cpu_s=2, memory_mb=256)

# "unshare": the local backend's fallback when bubblewrap is missing (as root).
BACKENDS = ["local", "unshare", pytest.param("docker", marks=pytest.mark.docker)]


@functools.cache
def _prepare_docker() -> str | None:
    """None when the engine runs and the image is built, else the reason."""
    for script in (REPO / "deployments/docker-engine.sh", REPO / "sandbox/build_image.sh"):
        try:
            res = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{script.name}: {exc}"
        if res.returncode != 0:
            return f"{script.name} failed: {(res.stderr or res.stdout)[-1500:]}"
    return None


def require_docker() -> None:
    problem = _prepare_docker()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Docker engine/image unavailable on CI: {problem}")
    pytest.skip(f"Docker unavailable: {problem}")


def make_sandbox(
    backend: str, workers: int = 2, jobs_per_worker: int = 500, limits: ExecLimits = FAST
) -> Sandbox:
    if backend == "docker":
        require_docker()
        from codemint.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(IMAGE, workers, jobs_per_worker, limits)
    from codemint.sandbox.local_backend import LocalSandbox, isolation_method

    if backend == "unshare":
        if os.geteuid() != 0:
            pytest.skip("the unshare fallback drops jobs to another uid only when run as root")
        return LocalSandbox(workers, jobs_per_worker, limits, method=isolation_method(allow_bwrap=False))
    return LocalSandbox(workers, jobs_per_worker, limits)


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    # The secret is in the host environment while the pool starts and runs: it must not leak.
    os.environ[FAKE_SECRET_VAR] = FAKE_SECRET
    box = make_sandbox(request.param)
    try:
        yield box
    finally:
        box.close()
        os.environ.pop(FAKE_SECRET_VAR, None)


def run_one(
    box: Sandbox,
    code: str,
    *args: Any,
    entry: str = "f",
    limits: ExecLimits = FAST,
    kwargs: dict[str, Any] | None = None,
) -> CallOutcome:
    job = ExecJob(
        job_id="t", code=code, entry_point=entry, inputs=[encode_input(args, kwargs)], limits=limits
    )
    (result,) = box.run_batch([job])
    assert result.infra_error is None, result.infra_error
    assert len(result.outcomes) == 1
    return result.outcomes[0]


HEALTH_CODE = "def f(a, b=2):\n    return {'sum': a + b, 'items': (a, b)}\n"


def assert_healthy(box: Sandbox) -> None:
    """The pool still serves a normal job correctly (on every worker: run a few)."""
    jobs = [
        ExecJob(
            job_id=f"h{i}",
            code=HEALTH_CODE,
            entry_point="f",
            inputs=[encode_input([i], {"b": 1})],
            limits=FAST,
        )
        for i in range(4)
    ]
    for i, res in enumerate(box.run_batch(jobs)):
        assert res.infra_error is None, res.infra_error
        (out,) = res.outcomes
        assert out.status == "ok", out
        assert out.result == f'{{"__dict__":[["items",{{"__tuple__":[{i},1]}}],["sum",{i + 1}]]}}'


def processes_matching(*markers: str) -> list[str]:
    """`pid: cmdline` of every other process whose command line contains one of `markers`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in markers):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found
