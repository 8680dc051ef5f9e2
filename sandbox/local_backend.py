"""Local backend: the runner as a host subprocess inside fresh namespaces (weaker than Docker).

Preferred: bubblewrap with every namespace unshared (network, PID, IPC, UTS, user, cgroup),
uid 65534, no capabilities, only /usr, the Python prefix and the runner bound read-only, a
read-only root, a private tmpfs /tmp and the runner as PID 1; started by root, bwrap itself
runs as uid 65534 so the sandbox's uid never maps to host root.
Fallback as root: `unshare` (network, PID, IPC, UTS, mount namespaces) with private tmpfs
/tmp, /var/tmp and /dev/shm, the runner as PID 1 and every job dropped to uid 65534; the
host filesystem stays visible (writable only where permissions let that uid write).
Fallback as non-root: `unshare --user --map-root-user`, where jobs write wherever the caller
can (logged loudly). A probe refuses any method that would let a job act as host root (host
uid 0, writable /proc/sys, a device node it could chmod or write). Each worker's whole process
tree runs under a cgroup memory limit where the host offers one (sandbox/cgroups.py); the log
says so when it does not.
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
from codemint.sandbox.cgroups import MemoryCgroups
from codemint.sandbox.files import RUNNER_FILES, RUNNER_SCRIPT, stage_runner
from codemint.sandbox.lifecycle import owner_token
from codemint.sandbox.pool import ProcessWorker, WorkerPool, spawn_worker

log = logging.getLogger(__name__)

SANDBOX_DIR = "/opt/codemint"
SANDBOX_RUNNER = f"{SANDBOX_DIR}/{RUNNER_SCRIPT}"
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
NOBODY = 65534
# Run in the sandbox as the job's uid (argv[1], dropped to when given): prints its pid (1 in
# a new PID namespace), then "ok" or what breaks the promise that a job is never host root.
PROBE = r"""
import os, stat, sys
if len(sys.argv) > 1:
    os.setgroups([]); os.setgid(int(sys.argv[1])); os.setuid(int(sys.argv[1]))
problems = []
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname", "/proc/sysrq-trigger"):
    try:
        os.close(os.open(path, os.O_WRONLY))
        problems.append(path + " is writable")
    except OSError:
        pass
# Owning a host device node (host root behind a user namespace) shows as being allowed to
# chmod it: tried with its current mode, which changes nothing.
for entry in os.scandir("/dev"):
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        try:
            os.chmod(entry.path, stat.S_IMODE(st.st_mode))
            problems.append(f"/dev/{entry.name} can be chmodded (host root?)")
        except OSError:
            pass
        if entry.name not in {"null", "zero", "full", "random", "urandom", "tty", "ptmx"} and os.access(
            entry.path, os.W_OK
        ):
            problems.append(f"/dev/{entry.name} is writable")
print(os.getpid())
print("; ".join(problems) or "ok")
"""
STAGE = "/var/tmp"
STAGED_PYTHON = f"{STAGE}/python"
STAGED_RUNTIME = f"{STAGE}/codemint"
# Device nodes a job gets (bound from the host: writing them is harmless, and chmod/chown
# of a bind-mounted node needs an ownership a job never has).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def host_python() -> str:
    """The real interpreter behind the venv: the sandbox sees the stdlib, not our packages."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def _staging_steps() -> list[str]:
    """Shell steps, as root in a private mount namespace: a tmpfs on /var/tmp holding the Python
    prefix (bound read-only, so an unprivileged uid can use a prefix under /root) and a copy of
    the runtime files (held open first: the mounts may hide a checkout under /tmp or /var/tmp)."""
    prefix = os.path.realpath(sys.base_prefix)
    files = sorted(RUNNER_FILES.items())
    opens = [f"exec {3 + i}< {shlex.quote(str(src))}" for i, (_n, src) in enumerate(files)]
    copies = [
        f"cat <&{3 + i} > {STAGED_RUNTIME}/{name} && exec {3 + i}<&-" for i, (name, _s) in enumerate(files)
    ]
    return [
        *opens,
        f"mount -t tmpfs -o size=1m,mode=755,nosuid,nodev tmpfs {STAGE}",
        f"mkdir {STAGED_PYTHON} {STAGED_RUNTIME}",
        f"mount --bind {shlex.quote(prefix)} {STAGED_PYTHON}",
        f"mount -o remount,bind,ro {STAGED_PYTHON}",
        *copies,
        f"chmod 444 {STAGED_RUNTIME}/*",
    ]


def _staged_python() -> str:
    return f"{STAGED_PYTHON}/" + os.path.relpath(host_python(), os.path.realpath(sys.base_prefix))


def bwrap_argv(tmpfs_mb: int, probe: bool = False) -> list[str]:
    """bubblewrap with every namespace. As root, bwrap itself runs as uid 65534 (inside a
    private mount namespace that stages Python and the runtime), so the sandbox's uid maps to
    an unprivileged host uid, never to root."""
    as_root = os.geteuid() == 0
    python = host_python()
    prefix = os.path.realpath(sys.base_prefix)
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
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", STAGED_PYTHON if as_root else prefix, prefix]
    if os.path.exists("/etc/ld.so.cache"):
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for name, source in RUNNER_FILES.items():
        staged = f"{STAGED_RUNTIME}/{name}" if as_root else str(source)
        argv += ["--ro-bind", staged, f"{SANDBOX_DIR}/{name}"]
    argv += [
        "--proc", "/proc",
        "--ro-bind", "/proc/sys", "/proc/sys",
        "--dev", "/dev",
        "--mqueue", "/dev/mqueue",
        "--size", str(tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
        "--size", str(16 * 1024 * 1024), "--tmpfs", "/dev/shm",
        "--remount-ro", "/",
        "--chdir", "/tmp",
    ]  # fmt: skip
    if probe:
        argv += [python, "-I", "-c", PROBE]
    else:
        argv += [python, "-I", SANDBOX_RUNNER, "--scratch", "/tmp", "--wipe", "/tmp", "--wipe", "/dev/shm"]
        argv += ["--wipe-namespace", "--tag", owner_token()]
    if not as_root:
        return argv
    drop = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
    script = " && ".join([*_staging_steps(), "exec " + shlex.join([*drop, *argv])])
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]


def unshare_root_argv(tmpfs_mb: int, probe: bool = False) -> list[str]:
    """As real root: private tmpfs over every world-writable place, a private /dev with only
    harmless device nodes, /proc/sys read-only, the runner as PID 1 and every job dropped to
    uid 65534 (in an IPC namespace of its own per job)."""
    dev = f"{STAGE}/dev"
    mounts = [
        *_staging_steps(),
        f"mount -t tmpfs -o size={tmpfs_mb}m,mode=1777,nosuid,nodev tmpfs /tmp",
        # Hides host sockets (the Docker socket among them).
        "mount -t tmpfs -o size=1m,mode=755,nosuid,nodev tmpfs /run",
        f"mkdir {dev}",
        f"mount -t tmpfs -o size=1m,mode=755,nosuid,noexec tmpfs {dev}",
        *[f"touch {dev}/{n} && mount --bind /dev/{n} {dev}/{n}" for n in DEVICES],
        *[f"ln -s /proc/self/fd/{i} {dev}/{n}" for i, n in enumerate(("stdin", "stdout", "stderr"))],
        f"ln -s /proc/self/fd {dev}/fd",
        f"mkdir {dev}/shm {dev}/mqueue",
        f"mount -t tmpfs -o size=16m,mode=1777,nosuid,nodev tmpfs {dev}/shm",
        f"mount -t mqueue -o nosuid,nodev,noexec mqueue {dev}/mqueue",
        f"mount --move {dev} /dev",
        "mount --bind /proc/sys /proc/sys",
        "mount -o remount,bind,ro /proc/sys",
        "cd /tmp",
    ]
    python = _staged_python()
    if probe:
        command = [python, "-I", "-c", PROBE, str(NOBODY)]
    else:
        command = [python, "-I", f"{STAGED_RUNTIME}/{RUNNER_SCRIPT}", "--scratch", "/tmp", "--wipe", "/tmp"]
        command += [
            "--wipe",
            "/dev/shm",
            "--child-uid",
            str(NOBODY),
            "--wipe-namespace",
            "--tag",
            owner_token(),
        ]
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
        command += ["--scratch", scratch, "--tag", owner_token()]
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
    lines = res.stdout.split("\n")
    if res.returncode == 0 and lines[0] == "1" and lines[1:2] == ["ok"]:  # PID 1, never host root
        return None
    if res.returncode == 0 and lines[0] == "1":
        problems = lines[1].split("; ")
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return f"cannot guarantee jobs never act as host root: {'; '.join(problems[:3])}{more}"
    return res.stderr.strip()[-300:] or f"exit {res.returncode}, output {res.stdout.strip()[:50]!r}"


@functools.cache
def isolation_method(allow_bwrap: bool = True) -> str:
    """'bwrap', 'unshare-root' or 'unshare-user': the first that works here (cached)."""
    problems = []
    if allow_bwrap and shutil.which("bwrap"):
        # Same flags as a worker, but running the probe instead of the runner.
        problem = _probe(bwrap_argv(16, probe=True))
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
    "bwrap": ("local backend (bubblewrap namespaces, no CPU cgroup) is weaker isolation than Docker"),
    "unshare-root": (
        "local backend via unshare (network/PID/mount namespaces, jobs as uid 65534, host filesystem "
        "visible read-only to them) is weaker isolation than Docker; install bubblewrap"
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
        import_once: bool = True,
    ) -> None:
        self.method = method or isolation_method()
        self._tmpfs_mb = max(64, 4 * limits.max_file_size_mb)
        self._scratch_root: str | None = None
        if self.method == "unshare-user":
            self._scratch_root = tempfile.mkdtemp(prefix="codemint-sandbox-")
        log.warning("sandbox: %s", _WARNINGS[self.method])
        # The whole tree of a worker (runner, zygotes, jobs and their children) under one
        # memory limit, as Docker's --memory does for a container.
        self._memory_mb = limits.memory_mb + self._tmpfs_mb + 128
        self.cgroups, why_not = MemoryCgroups.open()
        if self.cgroups is None:
            log.warning(
                "sandbox: no cgroup memory limit for local workers (%s): a job's process tree is "
                "bounded only per process (RLIMIT_AS %d MB, at most %d processes)",
                why_not,
                limits.memory_mb,
                limits.max_procs,
            )
        else:
            log.info(
                "sandbox: local workers limited to %d MB each, whole process tree (cgroup %s under %s)",
                self._memory_mb,
                self.cgroups.kind,
                self.cgroups.parent,
            )
        super().__init__(self._start_process, workers, jobs_per_worker, start_concurrency, import_once)

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

        argv = self._argv(slot)
        group = self.cgroups.create(self._memory_mb) if self.cgroups is not None else None
        if group is not None:
            argv = MemoryCgroups.wrap_argv(group, argv)

        def cleanup() -> None:
            on_kill()
            if group is not None:
                MemoryCgroups.remove(group)

        try:
            worker = spawn_worker(f"local-{os.getpid()}-{slot}", argv, dict(SAFE_ENV), cleanup)
        except Exception:
            if group is not None:
                MemoryCgroups.remove(group)
            raise
        holder.append(worker)
        return worker

    def _after_close(self) -> None:
        if self._scratch_root is not None:
            shutil.rmtree(self._scratch_root, ignore_errors=True)
