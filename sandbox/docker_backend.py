"""Docker backend: a pool of warm, locked-down containers, each running the runner as PID 1.

The control plane uses the Docker SDK (`docker`): containers are created, listed and removed
by label, images inspected by id. The job stream is the runner's stdin/stdout, attached with
`docker start -ai` (a CLI client per container), which measured faster than the SDK's attach
socket (`transport="sdk"`, kept for that comparison in benchmarks/sandbox_throughput.py).
The runner is the container's PID 1, so a job's `kill(-1, 9)` or `kill(ppid, 9)` cannot kill
it and it reaps and sweeps every leftover process itself; no `--init` is needed.
Containers carry `codemint.sandbox=1`, `codemint.sandbox.owner=<pid>:<start>` and
`codemint.sandbox.pool=<id>` (unique per pool instance, as are container names): a pool's
cleanup removes only its own containers, and a new pool removes the containers of owners that
are gone (e.g. a SIGKILLed pipeline).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import os
import secrets
import select
import shutil
import socket
import threading
import time
from typing import Any, Literal

import docker
import docker.errors
from docker.types import LogConfig, Ulimit

from codemint.sandbox.api import ExecLimits, SandboxUnavailableError
from codemint.sandbox.files import IMAGE_HASH_LABEL, image_context_hash
from codemint.sandbox.lifecycle import owner_alive, owner_token
from codemint.sandbox.pool import READY_TIMEOUT_S, Worker, WorkerError, WorkerPool, spawn_worker

log = logging.getLogger(__name__)

LABEL = "codemint.sandbox"
OWNER_LABEL = "codemint.sandbox.owner"
POOL_LABEL = "codemint.sandbox.pool"
RUNNER_ARGS = ["--scratch", "/tmp", "--wipe", "/tmp", "--wipe", "/dev/shm", "--wipe-namespace"]
# Each container runs its jobs under its own uid: RLIMIT_NPROC counts per uid across the
# host, so one container's fork bomb must not starve another container's jobs.
UID_BASE = 20000
_uid_counter = itertools.count()
_client_lock = threading.Lock()


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise SandboxUnavailableError("the docker CLI is not installed (run deployments/docker-engine.sh)")
    return path


@functools.cache
def _client_cached(timeout: int) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def client(timeout: int = 60) -> docker.DockerClient:
    """A process-wide SDK client (DOCKER_HOST & co. from the environment)."""
    try:
        with _client_lock:
            return _client_cached(timeout)
    except docker.errors.DockerException as exc:
        raise SandboxUnavailableError(
            f"docker engine not reachable: {exc} (run deployments/docker-engine.sh)"
        ) from None


def engine_problem(image: str, timeout: float = 15.0) -> str | None:
    """None if the engine answers and `image` exists, built from this codemint's runner files;
    else why not."""
    try:
        api = client().api
        api.ping()
    except (SandboxUnavailableError, docker.errors.DockerException, OSError) as exc:
        return f"docker engine not reachable: {exc} (run deployments/docker-engine.sh)"
    try:
        labels = api.inspect_image(image)["Config"].get("Labels") or {}
    except docker.errors.ImageNotFound:
        return f"sandbox image {image!r} not found (run sandbox/build_image.sh)"
    except (docker.errors.DockerException, OSError) as exc:
        return f"docker engine not reachable: {exc}"
    # A runner from another codemint speaks another protocol (or compares differently):
    # jobs must never run on it.
    built, want = labels.get(IMAGE_HASH_LABEL), image_context_hash()
    if built != want:
        return (
            f"sandbox image {image!r} is stale: built from other runner files "
            f"(label {built}, this codemint's {want}); run sandbox/build_image.sh"
        )
    return None


def image_id(image: str, timeout: float = 15.0) -> str:
    """The image's content id (sha256:..., inspected through the SDK), which changes whenever
    it is rebuilt differently; never its tag."""
    try:
        return str(client().api.inspect_image(image)["Id"])
    except docker.errors.ImageNotFound:
        raise SandboxUnavailableError(
            f"sandbox image {image!r} not found (run sandbox/build_image.sh)"
        ) from None
    except (docker.errors.DockerException, OSError) as exc:
        raise SandboxUnavailableError(f"docker engine not reachable: {exc}") from None


def list_containers(label_filter: str = f"{LABEL}=1") -> list[tuple[str, str]]:
    """(id, owner) of every container (running or not) carrying the label."""
    try:
        found = client().api.containers(all=True, filters={"label": label_filter})
    except (docker.errors.DockerException, OSError) as exc:
        raise SandboxUnavailableError(f"listing containers failed: {exc}") from None
    return [(c["Id"], (c.get("Labels") or {}).get(OWNER_LABEL, "")) for c in found]


def remove_containers(ids: list[str]) -> None:
    api = client().api
    for cid in ids:
        try:
            api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass  # auto-remove got there first
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                log.warning("sandbox: removing container %s failed: %s", cid[:12], exc)


def remove_stale_containers() -> list[str]:
    """Remove sandbox containers whose owning process is gone; returns their ids."""
    stale = [cid for cid, owner in list_containers() if not owner_alive(owner)]
    if stale:
        log.warning("sandbox: removing %d stale container(s) of dead owners", len(stale))
        remove_containers(stale)
    return stale


class AttachedWorker:
    """A runner reached over the SDK's attach socket (the alternative job stream transport):
    stdin written raw, stdout/stderr read as the engine's multiplexed frames."""

    def __init__(self, name: str, sock: Any, on_kill: Any) -> None:
        self.name = name
        self._keep = sock  # holds the HTTP response that owns the connection
        raw = getattr(sock, "_sock", sock)
        self._sock: socket.socket = raw
        self._sock.setblocking(False)
        self._on_kill = on_kill
        self._raw = bytearray()
        self._out = bytearray()
        self._err = bytearray()
        self._killed = False

    def stderr_tail(self, limit: int = 2000) -> str:
        return bytes(self._err[-limit:]).decode("utf-8", "replace").strip()

    def _wait(self, event: int, deadline: float, what: str) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), event)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
            raise WorkerError(f"{self.name}: no progress {what} before the host deadline")

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(select.POLLOUT, deadline, "sending a job")
            try:
                n = self._sock.send(view)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WorkerError(f"{self.name}: stream closed ({exc})") from None
            view = view[n:]

    def read_line(self, deadline: float) -> bytes:
        while True:
            nl = self._out.find(b"\n")
            if nl >= 0:
                line = bytes(self._out[: nl + 1])
                del self._out[: nl + 1]
                return line
            self._wait(select.POLLIN, deadline, "waiting for a result")
            try:
                chunk = self._sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WorkerError(f"{self.name}: stream closed ({exc})") from None
            if not chunk:
                raise WorkerError(f"{self.name}: exited; {self.stderr_tail()}")
            self._raw += chunk
            self._demux()

    def _demux(self) -> None:
        raw = self._raw
        while len(raw) >= 8:
            size = int.from_bytes(raw[4:8], "big")
            if len(raw) < 8 + size:
                return
            target = self._out if raw[0] == 1 else self._err
            target += raw[8 : 8 + size]
            del raw[: 8 + size]

    def close(self, grace_s: float = 2.0) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)  # stdin EOF: the runner exits
        self.kill()

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        try:
            self._on_kill()
        except Exception as exc:
            log.warning("sandbox: cleanup of %s failed: %s", self.name, exc)
        with contextlib.suppress(OSError):
            self._sock.close()


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
        transport: Literal["cli", "sdk"] = "cli",
        import_once: bool = True,
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
        self.pool_id = secrets.token_hex(4)
        self.transport = transport
        super().__init__(self._start_container, workers, jobs_per_container, start_concurrency, import_once)

    def container_config(self, name: str, uid: int) -> dict[str, Any]:
        """Arguments of the SDK's create_container for one locked-down worker container."""
        mem = self._memory_mb * 1024 * 1024
        host_config = client().api.create_host_config(
            auto_remove=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self._tmpfs_mb}m,mode=1777"},
            shm_size="16m",
            ipc_mode="private",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=self._pids,
            mem_limit=mem,
            memswap_limit=mem,  # equal: no swap, so the limit really limits
            nano_cpus=int(self._cpus * 1e9),
            ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
            log_config=LogConfig(type=LogConfig.types.NONE),
        )
        return {
            "image": self.image,
            "command": [*RUNNER_ARGS, "--tag", self._owner],
            "name": name,
            "labels": {LABEL: "1", OWNER_LABEL: self._owner, POOL_LABEL: self.pool_id},
            "user": f"{uid}:{uid}",
            "hostname": "sandbox",
            "stdin_open": True,
            "host_config": host_config,
        }

    def _start_container(self, slot: int) -> Worker:
        name = f"codemint-sbx-{os.getpid()}-{self.pool_id}-{slot}-{next(self._seq)}"
        uid = UID_BASE + (os.getpid() % 500) * 16 + next(_uid_counter) % 16
        with self._names_lock:
            self._names.add(name)
        try:
            cid = client().api.create_container(**self.container_config(name, uid))["Id"]
        except (docker.errors.DockerException, OSError) as exc:
            self._remove(name)
            raise SandboxUnavailableError(f"creating container {name} failed: {exc}") from None
        if self.transport == "sdk":
            return self._attach(name, cid)
        # The CLI itself may need DOCKER_HOST etc.; the container gets no host variables.
        argv = [docker_cli(), "start", "--attach", "--interactive", cid]
        return spawn_worker(name, argv, dict(os.environ), lambda: self._remove(name))

    def _attach(self, name: str, cid: str) -> AttachedWorker:
        api = client().api
        try:
            params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            worker = AttachedWorker(name, api.attach_socket(cid, params=params), lambda: self._remove(name))
            api.start(cid)
            ready = json.loads(worker.read_line(time.monotonic() + READY_TIMEOUT_S))
            if not isinstance(ready, dict) or ready.get("ready") is not True:
                raise WorkerError(f"{name}: unexpected first line {ready!r:.200}")
        except (docker.errors.DockerException, OSError, ValueError, WorkerError) as exc:
            self._remove(name)
            raise WorkerError(f"{name}: failed to start: {exc}") from None
        return worker

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
            # Only this pool's: another pool of this process keeps its live containers.
            ours = [cid for cid, _owner in list_containers(f"{POOL_LABEL}={self.pool_id}")]
            remove_containers(ours)
        except (SandboxUnavailableError, docker.errors.DockerException, OSError) as exc:
            log.warning("sandbox: final container sweep failed: %s", exc)
