"""Docker backend: a pool of warm, locked-down containers, each running the runner as PID 1.

Each worker is a `docker run -i --rm` client whose stdin/stdout are the runner's protocol
stream (the CLI was measured simpler and no slower than the SDK's attach socket). The runner
is the container's PID 1, so a job's `kill(-1, 9)` or `kill(ppid, 9)` cannot kill it and it
reaps and sweeps every leftover process itself; no `--init` is needed.
Containers carry the label `codemint.sandbox=1` and `codemint.sandbox.owner=<pid>:<start>`;
a new pool removes the containers of owners that are gone (e.g. a SIGKILLed pipeline).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import subprocess
import threading

from codemint.sandbox.api import ExecLimits, SandboxUnavailableError
from codemint.sandbox.pool import ProcessWorker, WorkerPool, spawn_worker

log = logging.getLogger(__name__)

LABEL = "codemint.sandbox"
OWNER_LABEL = "codemint.sandbox.owner"
RUNNER_ARGS = ["--scratch", "/tmp", "--wipe", "/tmp", "--wipe", "/dev/shm"]
# Each container runs its jobs under its own uid: RLIMIT_NPROC counts per uid across the
# host, so one container's fork bomb must not starve another container's jobs.
UID_BASE = 20000
_uid_counter = itertools.count()


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise SandboxUnavailableError("the docker CLI is not installed (run deployments/docker-engine.sh)")
    return path


def _docker(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_cli(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def engine_problem(image: str, timeout: float = 15.0) -> str | None:
    """None if the engine answers and `image` exists, else why not."""
    try:
        info = _docker(["version", "--format", "{{.Server.Version}}"], timeout=timeout)
    except (SandboxUnavailableError, subprocess.TimeoutExpired, OSError) as exc:
        return f"docker engine not reachable: {exc}"
    if info.returncode != 0:
        return f"docker engine not reachable: {info.stderr.strip()[-300:]} (run deployments/docker-engine.sh)"
    img = _docker(["image", "inspect", "--format", "{{.Id}}", image], timeout=timeout)
    if img.returncode != 0:
        return f"sandbox image {image!r} not found (run sandbox/build_image.sh)"
    return None


def image_id(image: str, timeout: float = 15.0) -> str:
    """The image's content id (sha256:...), which changes whenever it is rebuilt differently."""
    img = _docker(["image", "inspect", "--format", "{{.Id}}", image], timeout=timeout)
    if img.returncode != 0:
        raise SandboxUnavailableError(f"sandbox image {image!r} not found (run sandbox/build_image.sh)")
    return img.stdout.strip()


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22 (starttime) counted after the ")" that ends the command name.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def owner_alive(token: str) -> bool:
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _start_time(pid) == start


def list_containers(label_filter: str = f"{LABEL}=1") -> list[tuple[str, str]]:
    """(id, owner) of every container (running or not) carrying the label."""
    res = _docker(
        [
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            f"label={label_filter}",
            "--format",
            f'{{{{.ID}}}}\t{{{{.Label "{OWNER_LABEL}"}}}}',
        ]
    )
    if res.returncode != 0:
        raise SandboxUnavailableError(f"docker ps failed: {res.stderr.strip()[-300:]}")
    rows = []
    for line in res.stdout.splitlines():
        cid, _, owner = line.partition("\t")
        if cid:
            rows.append((cid, owner))
    return rows


def remove_containers(ids: list[str]) -> None:
    if not ids:
        return
    res = _docker(["rm", "-f", *ids], timeout=120)
    benign = ("No such container", "already in progress")  # --rm got there first
    if res.returncode != 0 and not all(any(b in line for b in benign) for line in res.stderr.splitlines()):
        log.warning("sandbox: docker rm failed: %s", res.stderr.strip()[-300:])


def remove_stale_containers() -> list[str]:
    """Remove sandbox containers whose owning process is gone; returns their ids."""
    stale = [cid for cid, owner in list_containers() if not owner_alive(owner)]
    if stale:
        log.warning("sandbox: removing %d stale container(s) of dead owners", len(stale))
        remove_containers(stale)
    return stale


class DockerSandbox(WorkerPool):
    backend_name = "docker"

    def __init__(
        self,
        image: str,
        workers: int,
        jobs_per_container: int,
        limits: ExecLimits,
        cpus: float = 1.0,
        tmpfs_mb: int | None = None,
        start_concurrency: int = 2,
    ) -> None:
        problem = engine_problem(image)
        if problem is not None:
            raise SandboxUnavailableError(problem)
        remove_stale_containers()
        self.image = image
        self._owner = owner_token()
        self._tmpfs_mb = tmpfs_mb or max(64, 4 * limits.max_file_size_mb)
        # The job child's rlimit is the real cap; the cgroup adds the runner and the tmpfs
        # (tmpfs pages are charged to the container) and bounds whole process trees.
        self._memory_mb = limits.memory_mb + self._tmpfs_mb + 128
        self._cpus = cpus
        self._pids = max(64, 4 * limits.max_procs)
        self._names: set[str] = set()
        self._names_lock = threading.Lock()
        self._seq = itertools.count()
        super().__init__(self._start_container, workers, jobs_per_container, start_concurrency)

    def container_argv(self, name: str, uid: int) -> list[str]:
        mem = f"{self._memory_mb}m"
        return [
            docker_cli(), "run", "-i", "--rm",
            "--name", name,
            "--label", f"{LABEL}=1",
            "--label", f"{OWNER_LABEL}={self._owner}",
            "--network", "none",
            "--read-only",
            "--tmpfs", f"/tmp:rw,nosuid,nodev,size={self._tmpfs_mb}m,mode=1777",
            "--shm-size", "16m",
            "--ipc", "private",
            "--user", f"{uid}:{uid}",
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--pids-limit", str(self._pids),
            "--memory", mem,
            "--memory-swap", mem,
            "--cpus", str(self._cpus),
            "--ulimit", "nofile=1024:1024",
            "--log-driver", "none",
            "--hostname", "sandbox",
            self.image,
            *RUNNER_ARGS,
        ]  # fmt: skip

    def _start_container(self, slot: int) -> ProcessWorker:
        name = f"codemint-sbx-{os.getpid()}-{slot}-{next(self._seq)}"
        uid = UID_BASE + (os.getpid() % 500) * 16 + next(_uid_counter) % 16
        with self._names_lock:
            self._names.add(name)
        # The CLI itself may need DOCKER_HOST etc.; the container gets no host variables.
        return spawn_worker(
            name, self.container_argv(name, uid), dict(os.environ), lambda: self._remove(name)
        )

    def _remove(self, name: str) -> None:
        remove_containers([name])
        with self._names_lock:
            self._names.discard(name)

    def _after_close(self) -> None:
        with self._names_lock:
            names = list(self._names)
            self._names.clear()
        try:
            remove_containers(names)
            ours = [cid for cid, _owner in list_containers(f"{OWNER_LABEL}={self._owner}")]
            remove_containers(ours)
        except (SandboxUnavailableError, subprocess.TimeoutExpired, OSError) as exc:
            log.warning("sandbox: final container sweep failed: %s", exc)
