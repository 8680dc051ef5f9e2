"""Local backend: the runner as a host subprocess inside fresh namespaces (weaker than Docker).

Preferred: bubblewrap with every namespace unshared (network, PID, IPC, UTS, user, cgroup),
uid 65534, no capabilities, only /usr, the Python prefix and the runner bound read-only, a
read-only root, a private tmpfs /tmp and the runner as PID 1.
Fallback as root: `unshare` (network, PID, IPC, UTS, mount namespaces) with private tmpfs
/tmp, /var/tmp and /dev/shm, the runner as PID 1 and every job dropped to uid 65534; the
host filesystem stays visible (writable only where permissions let that uid write).
Fallback as non-root: `unshare --user --map-root-user`, where jobs write wherever the caller
can (logged loudly). None has a cgroup: memory is bounded per process only (RLIMIT_AS).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from codemint.sandbox.api import ExecLimits, SandboxUnavailableError
from codemint.sandbox.files import RUNNER_FILES, RUNNER_SCRIPT, stage_runner
from codemint.sandbox.pool import ProcessWorker, WorkerPool, spawn_worker

log = logging.getLogger(__name__)

SANDBOX_DIR = "/opt/codemint"
SANDBOX_RUNNER = f"{SANDBOX_DIR}/{RUNNER_SCRIPT}"
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
NOBODY = 65534
PROBE = "import os; print(os.getpid())"


def host_python() -> str:
    """The real interpreter behind the venv: the sandbox sees the stdlib, not our packages."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def bwrap_argv(tmpfs_mb: int) -> list[str]:
    python = host_python()
    argv = [
        "bwrap",
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--uid", "65534", "--gid", "65534",
        "--die-with-parent", "--new-session", "--as-pid-1",
        "--cap-drop", "ALL",
        "--clearenv", "--setenv", "PATH", SAFE_ENV["PATH"], "--setenv", "LANG", "C.UTF-8",
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    if os.path.exists("/etc/ld.so.cache"):
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for name, source in RUNNER_FILES.items():
        argv += ["--ro-bind", str(source), f"{SANDBOX_DIR}/{name}"]
    argv += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
        "--size", str(16 * 1024 * 1024), "--tmpfs", "/dev/shm",
        "--remount-ro", "/",
        "--chdir", "/tmp",
        python, "-I", SANDBOX_RUNNER, "--scratch", "/tmp", "--wipe", "/tmp", "--wipe", "/dev/shm",
    ]  # fmt: skip
    return argv


def unshare_root_argv(tmpfs_mb: int, probe: bool = False) -> list[str]:
    """As real root: private tmpfs over every world-writable place, the Python prefix bound
    read-only where uid 65534 can read it (a prefix under /root is not), the runner as PID 1."""
    prefix = os.path.realpath(sys.base_prefix)
    python = "/var/tmp/python/" + os.path.relpath(host_python(), prefix)
    staged = "/var/tmp/codemint"
    files = sorted(RUNNER_FILES.items())
    # Hold the runtime files open first: the tmpfs mounts below may hide where they live (a
    # checkout under /tmp or /var/tmp); they are copied into the private /var/tmp.
    opens = [f"exec {3 + i}< {shlex.quote(str(src))}" for i, (_n, src) in enumerate(files)]
    copies = [f"cat <&{3 + i} > {staged}/{name} && exec {3 + i}<&-" for i, (name, _s) in enumerate(files)]
    mounts = [
        *opens,
        f"mount -t tmpfs -o size={tmpfs_mb}m,mode=1777,nosuid,nodev tmpfs /tmp",
        "mount -t tmpfs -o size=16m,mode=1777,nosuid,nodev tmpfs /dev/shm",
        "mount -t tmpfs -o size=1m,mode=755,nosuid,nodev tmpfs /var/tmp",
        # Hides host sockets (the Docker socket among them).
        "mount -t tmpfs -o size=1m,mode=755,nosuid,nodev tmpfs /run",
        "mkdir /var/tmp/python",
        f"mount --bind {shlex.quote(prefix)} /var/tmp/python",
        "mount -o remount,bind,ro /var/tmp/python",
        f"mkdir {staged}",
        *copies,
        f"chmod 444 {staged}/*",
        "cd /tmp",
    ]
    if probe:
        command = [python, "-I", "-c", PROBE]
    else:
        command = [python, "-I", f"{staged}/{RUNNER_SCRIPT}", "--scratch", "/tmp", "--wipe", "/tmp"]
        command += ["--wipe", "/dev/shm", "--child-uid", str(NOBODY)]
    script = " && ".join([*mounts, "exec " + shlex.join(command)])
    return [
        "unshare", "--net", "--pid", "--ipc", "--uts", "--mount", "--propagation", "private",
        "--fork", "--mount-proc", "--kill-child", "/bin/sh", "-c", script,
    ]  # fmt: skip


def unshare_user_argv(scratch: str, probe: bool = False) -> list[str]:
    if probe:
        command = [host_python(), "-I", "-c", PROBE]
    else:
        command = [host_python(), "-I", str(stage_runner(scratch.rstrip("/") + ".runtime"))]
    if not probe:
        command += ["--scratch", scratch]
    return [
        "unshare", "--user", "--map-root-user", "--net", "--pid", "--ipc", "--uts", "--mount",
        "--fork", "--mount-proc", "--kill-child", *command,
    ]  # fmt: skip


def _probe(argv: list[str]) -> str | None:
    try:
        res = subprocess.run(
            argv, capture_output=True, text=True, timeout=20, env=SAFE_ENV, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if res.returncode == 0 and res.stdout.strip() == "1":  # PID 1 of a new namespace
        return None
    return res.stderr.strip()[-300:] or f"exit {res.returncode}, output {res.stdout.strip()[:50]!r}"


@functools.cache
def isolation_method(allow_bwrap: bool = True) -> str:
    """'bwrap', 'unshare-root' or 'unshare-user': the first that works here (cached)."""
    problems = []
    if allow_bwrap and shutil.which("bwrap"):
        # Same flags as a worker, but running the probe instead of the runner.
        argv = bwrap_argv(16)
        problem = _probe([*argv[: argv.index(host_python())], host_python(), "-I", "-c", PROBE])
        if problem is None:
            return "bwrap"
        problems.append(f"bwrap: {problem}")
    if shutil.which("unshare"):
        if os.geteuid() == 0:
            method, problem = "unshare-root", _probe(unshare_root_argv(16, probe=True))
        else:
            method, problem = "unshare-user", _probe(unshare_user_argv("/", probe=True))
        if problem is None:
            return method
        problems.append(f"{method}: {problem}")
    raise SandboxUnavailableError(
        "the local sandbox needs bubblewrap (apt-get install bubblewrap) or unshare: "
        + ("; ".join(problems) or "neither is installed")
    )


_WARNINGS = {
    "bwrap": (
        "local backend (bubblewrap namespaces, no cgroup memory/CPU limits) is weaker isolation than Docker"
    ),
    "unshare-root": (
        "local backend via unshare (network/PID/mount namespaces, jobs as uid 65534, host filesystem "
        "visible, no cgroup limits) is weaker isolation than Docker; install bubblewrap"
    ),
    "unshare-user": (
        "local backend via unshare --map-root-user: jobs can WRITE the host filesystem wherever this "
        "user can; much weaker isolation than Docker; install bubblewrap"
    ),
}


class LocalSandbox(WorkerPool):
    backend_name = "local"

    def __init__(
        self,
        workers: int,
        jobs_per_worker: int,
        limits: ExecLimits,
        start_concurrency: int = 4,
        method: str | None = None,
    ) -> None:
        self.method = method or isolation_method()
        self._tmpfs_mb = max(64, 4 * limits.max_file_size_mb)
        self._scratch_root: str | None = None
        if self.method == "unshare-user":
            self._scratch_root = tempfile.mkdtemp(prefix="codemint-sandbox-")
        log.warning("sandbox: %s", _WARNINGS[self.method])
        super().__init__(self._start_process, workers, jobs_per_worker, start_concurrency)

    def _argv(self, slot: int) -> list[str]:
        if self.method == "bwrap":
            return bwrap_argv(self._tmpfs_mb)
        if self.method == "unshare-root":
            return unshare_root_argv(self._tmpfs_mb)
        assert self._scratch_root is not None
        return unshare_user_argv(tempfile.mkdtemp(prefix=f"w{slot}-", dir=self._scratch_root))

    def _start_process(self, slot: int) -> ProcessWorker:
        holder: list[ProcessWorker] = []

        def on_kill() -> None:
            # bwrap's --die-with-parent / unshare's --kill-child take the namespace down
            # with the launcher; the group kill covers a launcher that is still starting.
            if holder:
                with contextlib.suppress(OSError):
                    os.killpg(holder[0].proc.pid, 9)

        worker = spawn_worker(f"local-{os.getpid()}-{slot}", self._argv(slot), dict(SAFE_ENV), on_kill)
        holder.append(worker)
        return worker

    def _after_close(self) -> None:
        if self._scratch_root is not None:
            shutil.rmtree(self._scratch_root, ignore_errors=True)
