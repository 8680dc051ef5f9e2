"""Process-level lifecycle: a pipeline that dies (SIGKILL) or is stopped (SIGTERM, Ctrl-C)
while holding a pool leaves no container or worker behind for long."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from sandbox_support import IMAGE, REPO, processes_matching, require_docker

from codemint.sandbox.api import ExecJob, ExecLimits

HOLDER = """
import sys, time
from codemint.sandbox.api import ExecJob, ExecLimits
backend = sys.argv[1]
limits = ExecLimits(timeout_s=60)
if backend == "docker":
    from codemint.sandbox.docker_backend import DockerSandbox
    box = DockerSandbox(sys.argv[2], 2, 100, limits)
else:
    from codemint.sandbox.local_backend import LocalSandbox
    box = LocalSandbox(2, 100, limits)
box.run_batch([ExecJob(job_id="warm", code="def f():\\n    return 1\\n", entry_point="f", inputs=["{}"])] * 2)
print("ready", flush=True)
job = ExecJob(job_id="sleep", code="import time\\ndef f():\\n    time.sleep(60)\\n", entry_point="f",
              inputs=["{}"], limits=limits)
box.run_batch([job, job])
"""


def _start_holder(backend: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, backend, IMAGE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _out, err = proc.communicate()
        pytest.fail(f"holder did not start: {line!r} {err[-2000:]}")
    time.sleep(0.5)  # both workers are inside the sleeping job now
    return proc


def _owner_containers(pid: int) -> list[str]:
    from codemint.sandbox.docker_backend import list_containers

    return [cid for cid, owner in list_containers() if owner.startswith(f"{pid}:")]


def _worker_processes(marker: str) -> list[str]:
    return processes_matching(marker)


def _wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return bool(predicate())  # type: ignore[operator]


@pytest.mark.docker
def test_sigkilled_holder_leaves_containers_that_the_next_pool_removes() -> None:
    require_docker()
    from codemint.sandbox.docker_backend import DockerSandbox

    holder = _start_holder("docker")
    stale = _owner_containers(holder.pid)
    assert len(stale) == 2
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    # No cleanup ran in the dead process; the next pool start removes its containers.
    with DockerSandbox(IMAGE, 1, 10, ExecLimits()) as box:
        assert box.backend_name == "docker"
        assert _owner_containers(holder.pid) == []
    assert _owner_containers(holder.pid) == []


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signalled_holder_removes_its_containers(sig: signal.Signals) -> None:
    require_docker()
    holder = _start_holder("docker")
    assert len(_owner_containers(holder.pid)) == 2
    holder.send_signal(sig)
    holder.communicate(timeout=60)
    assert holder.returncode != 0  # the signal still ends the process (handlers chain)
    assert _owner_containers(holder.pid) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_local_workers_die_with_their_holder(sig: signal.Signals) -> None:
    holder = _start_holder("local")
    # bwrap --die-with-parent / unshare --kill-child: the namespace dies with its launcher.
    ours = f"--tag {holder.pid}:"  # the holder's workers, not other sandboxes on this machine
    assert _worker_processes(ours)
    holder.send_signal(sig)
    holder.communicate(timeout=60)
    assert _wait_until(lambda: not _worker_processes(ours), 15)


def test_local_backend_refuses_what_would_run_jobs_as_host_root() -> None:
    import os

    from codemint.sandbox.local_backend import _probe, unshare_user_argv

    # unshare --map-root-user maps the job to the caller: host root when the caller is root.
    problem = _probe(unshare_user_argv("/", probe=True))
    if os.geteuid() == 0:
        assert problem is not None and "never act as host root" in problem
        assert "core_pattern is writable" in problem
    else:
        assert problem is None


@pytest.mark.docker
def test_two_pools_in_one_process_keep_their_own_containers() -> None:
    require_docker()
    from codemint.sandbox.docker_backend import POOL_LABEL, DockerSandbox, list_containers

    limits = ExecLimits(timeout_s=2.0)
    job = ExecJob(job_id="j", code="def f():\n    return 1\n", entry_point="f", inputs=['{"args":[]}'])
    with DockerSandbox(IMAGE, 1, 10, limits) as first, DockerSandbox(IMAGE, 1, 10, limits) as second:
        assert first.pool_id != second.pool_id
        assert first.run_batch([job])[0].outcomes[0].result == "1"
        assert second.run_batch([job])[0].outcomes[0].result == "1"
        first.close()
        assert list_containers(f"{POOL_LABEL}={first.pool_id}") == []
        # The other pool's live container survived the first one's cleanup and still serves.
        assert len(list_containers(f"{POOL_LABEL}={second.pool_id}")) == 1
        assert second.run_batch([job])[0].outcomes[0].result == "1"
