"""codemint sandbox runner: executes untrusted code, one fresh job process per input.

Standard library only, Python 3.11. It is copied into the sandbox image (and staged by the
local backend) together with zygote.py and the value codec (`codemint/codec.py`), which it
imports as `zygote` / `codec` there and as `codemint.sandbox.zygote` / `codemint.codec` on the
host: sandbox/files.py `RUNNER_FILES` lists what is staged.

Protocol (as a long-lived process,
`python3 -I runner.py [--scratch DIR] [--wipe DIR]... [--child-uid UID] [--tag OWNER]
[--wipe-namespace]`):
the runner first writes one line `{"ready": true, ...}`, then reads jobs as JSON lines on
stdin ({"job_id", "code", "entry_point", "inputs", "limits", "zygote", "hide"}) and writes one JSON
line per job in the ExecResult shape (plus "dirty": true when cleanup failed and the worker
should be recycled). It exits on EOF.

This process holds job data, so it never forks a job: per input it asks a zygote (a fresh
interpreter spawned before any job, see zygote.py) for a job process, feeds that process its
job over a pipe, reads its stdout/stderr/result pipes while it runs, enforces the wall-clock
timeout, kills its process group, sweeps leftovers (every other process of the namespace
when PID 1, else its children as a subreaper), reaps, wipes SysV IPC, POSIX queues, the work
dir and the wiped dirs, and decides the status itself. Jobs with a different `zygote`
number run on another zygote with another hash seed (the nondeterminism check's repeats).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import math
import os
import secrets
import select
import signal
import socket
import stat
import sys
import time
from typing import TYPE_CHECKING, Any

_HERE = os.path.dirname(os.path.abspath(__file__))
if TYPE_CHECKING or __package__:  # on the host: codemint.sandbox.runner
    from codemint import codec
    from codemint.sandbox import import_once, zygote
else:  # run as a script in the sandbox, with codec.py and zygote.py staged beside this file
    sys.path.insert(0, _HERE)
    import codec
    import import_once
    import zygote

    sys.path.remove(_HERE)

PROTOCOL_VERSION = 2
MAX_ZYGOTES = 4
ZYGOTE_START_S = 30.0
ZYGOTE_REPLY_S = 2.0
# Cleanup gives up (and recycles the worker) beyond this many entries in one work dir.
CLEANUP_ENTRY_LIMIT = 200_000
IPC_RMID = 0
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
Limits = zygote.Limits
_len = len


# --------------------------------------------------------------------------- cleanup helpers


def _rmtree(path: str) -> bool:
    """Remove a tree a job may have made hostile (mode 000 dirs, thousands of levels, symlinks);
    True if gone. Iterative and relative (chdir), so neither depth nor PATH_MAX can crash it;
    symlinks are removed, never followed."""
    try:
        os.rmdir(path)  # the common case: the job left its work dir empty
        return True
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _rmtree_dir(path)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.fchdir(cwd)
        os.close(cwd)


def _rmtree_dir(path: str) -> bool:
    os.chmod(path, 0o700)
    os.chdir(path)
    names: list[str] = []  # the path from `path` down to the current directory
    budget = CLEANUP_ENTRY_LIMIT
    while True:
        budget -= 1
        if budget < 0:
            return False
        with contextlib.suppress(OSError):
            os.chmod(".", 0o700)
        sub = None
        with os.scandir(".") as entries:
            for entry in entries:
                budget -= 1
                if entry.is_dir(follow_symlinks=False):
                    sub = entry.name
                    break
                os.unlink(entry.name)
        if sub is not None:
            st = os.lstat(sub)
            if not stat.S_ISDIR(st.st_mode):
                continue
            os.chmod(sub, 0o700)
            os.chdir(sub)
            if not os.path.samestat(os.stat("."), st):  # swapped underneath us: give up
                return False
            names.append(sub)
            continue
        if not names:
            break
        os.chdir("..")
        os.rmdir(names.pop())
    os.chdir("..")
    os.rmdir(path)
    return not os.path.lexists(path)


def _load_ipc_calls() -> dict[str, Any]:
    libc = zygote.LIBC
    if libc is None:
        return {}
    calls = {}
    for kind, name in (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl")):
        fn = getattr(libc, name, None)
        if fn is not None:
            calls[kind] = fn
    return calls


_IPC_CALLS = _load_ipc_calls()


def wipe_sysv_ipc() -> bool:
    """Remove every SysV shared memory segment, message queue and semaphore set visible in
    this IPC namespace; True when none is left."""
    clean = True
    for kind, fn in _IPC_CALLS.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if _len(fields) < 2:
                continue
            ident = int(fields[1])
            ok = fn(ident, 0, IPC_RMID) == 0 if kind == "sem" else fn(ident, IPC_RMID, None) == 0
            clean = clean and ok
    return clean


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"T", b"t")


def _pids_in_namespace() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


# --------------------------------------------------------------------------- zygotes


class Zygote:
    """One zygote interpreter (zygote.py) with its own hash seed, reached over a socket."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        script = [os.path.join(_HERE, "zygote.py")]
        target = ["-m", f"{__package__}.zygote"] if __package__ else script
        # Not -I: PYTHONHASHSEED must apply. The environment is ours alone (-s, -P: no user
        # site, no script dir on sys.path beyond what zygote.py adds itself).
        argv = [sys.executable, "-s", "-P", "-B", *target]
        env = dict(SAFE_ENV, PYTHONHASHSEED=str(seed), HOME=os.environ.get("HOME", "/tmp"))
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, 2, 1),  # never our stdout: that is the protocol stream
            (os.POSIX_SPAWN_DUP2, child.fileno(), zygote.CONTROL_FD),
        ]
        try:
            self.pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions)
        finally:
            child.close()
        self.sock = parent
        self.alive = True
        if self._recv(1, time.monotonic() + ZYGOTE_START_S) != b"R":
            self.kill()
            raise RuntimeError("zygote did not start")

    def _recv(self, n: int, deadline: float) -> bytes:
        data = b""
        while _len(data) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                return b""
            chunk = self.sock.recv(n - _len(data))
            if not chunk:
                return b""
            data += chunk
        return data

    def fork_job(self, fds: list[int]) -> int:
        """The pid of a new job process holding `fds`, or 0 when the zygote failed."""
        try:
            socket.send_fds(self.sock, [zygote.FORK_REQUEST], fds)
        except OSError:
            return 0
        reply = self._recv(4, time.monotonic() + ZYGOTE_REPLY_S)
        return int.from_bytes(reply, "little") if _len(reply) == 4 else 0

    def kill(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)
        self.sock.close()


# --------------------------------------------------------------------------- the runner


def _describe_exit(status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return None, None


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class Runner:
    """Runs jobs; one instance per runner process (or per benchmark worker)."""

    def __init__(
        self,
        scratch: str | None = None,
        wipe: list[str] | None = None,
        pid1: bool | None = None,
        child_uid: int | None = None,
        wipe_namespace: bool = False,
    ) -> None:
        self.pid1 = os.getpid() == 1 if pid1 is None else pid1
        # Set by backends whose IPC namespace, /dev and /dev/mqueue are private to this runner.
        self.wipe_namespace = wipe_namespace
        self.child_uid = child_uid
        if scratch is None:
            # Work dirs are made and removed per input: prefer a tmpfs to a journaled disk.
            base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else os.environ.get("TMPDIR") or "/tmp"
            scratch = os.path.join(base, f"codemint-runner-{os.getpid()}")
            os.makedirs(scratch, mode=0o700, exist_ok=True)
            self._own_scratch = True
            atexit.register(self.close)
        else:
            self._own_scratch = False
        self.scratch = scratch
        self.wipe = list(wipe or [])
        self._counter = 0
        self.dirty = False
        if not self.pid1 and not zygote.prctl(zygote.PR_SET_CHILD_SUBREAPER, 1):
            raise RuntimeError("runner: needs to be PID 1 or a child subreaper to wait for job processes")
        # Hash seeds: distinct per zygote, fresh per runner.
        seeds: list[int] = []
        while _len(seeds) < MAX_ZYGOTES:
            seed = secrets.randbelow(2**32)
            if seed not in seeds:
                seeds.append(seed)
        self._seeds = seeds
        self._zygotes: dict[int, Zygote] = {}
        # Other processes of ours that outlive one input (a per-job zygote): sweeps spare them.
        self.keep_pids: set[int] = set()
        # Per code: the seconds of its import and of a process's spawn and teardown, measured
        # on an input of an earlier job (import_once decides with them).
        self.import_costs: dict[str, tuple[float, float]] = {}
        self._zygote(0)  # before any job arrives
        # What a job may change but must not leave changed for the next one.
        # Only a runner with private namespaces (IPC, /dev) may reset them: one running on the
        # host (benchmarks, direct use) must never touch the host's IPC objects or /dev.
        shared = ["/tmp", "/dev", "/dev/shm", "/dev/mqueue"] if wipe_namespace else []
        watched = [self.scratch, *self.wipe, *shared]
        self._modes = {}
        for path in dict.fromkeys(watched):
            with contextlib.suppress(OSError):
                self._modes[path] = stat.S_IMODE(os.lstat(path).st_mode)
        self._dev_baseline = self._dev_entries() if wipe_namespace else set()

    def close(self) -> None:
        for z in list(self._zygotes.values()):
            z.kill()
        self._zygotes.clear()
        if self._own_scratch:
            _rmtree(self.scratch)

    def _zygote(self, number: int) -> Zygote:
        z = self._zygotes.get(number)
        if z is not None and z.alive:
            try:
                got, _st = os.waitpid(z.pid, os.WNOHANG)
            except ChildProcessError:
                got = z.pid
            if got == 0 and not _stopped(z.pid):
                return z
            z.kill()  # a job killed or stopped it: start a fresh one
        z = Zygote(self._seeds[number % MAX_ZYGOTES])
        self._zygotes[number] = z
        return z

    def _zygote_pids(self) -> set[int]:
        return {z.pid for z in self._zygotes.values() if z.alive} | self.keep_pids

    # ---- jobs

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        job_id = job.get("job_id")
        self.dirty = False
        try:
            code = job["code"]
            entry_point = job["entry_point"]
            inputs = job["inputs"]
            if not isinstance(code, str) or not isinstance(entry_point, str) or not isinstance(inputs, list):
                raise TypeError("code/entry_point must be strings and inputs a list")
            limits = Limits(job.get("limits"))
            number = int(job.get("zygote") or 0)
            if not 0 <= number < MAX_ZYGOTES:
                raise ValueError(f"zygote must be in [0, {MAX_ZYGOTES})")
            hide = zygote.hidden_original(job.get("hide"))
            texts = [str(text) for text in inputs]
            if job.get("import_once") is True and import_once.worthwhile(self, texts):
                outcomes, imports = import_once.run_job(self, code, entry_point, texts, limits, number, hide)
            else:
                outcomes = [self.run_input(code, entry_point, text, limits, number, hide) for text in texts]
                imports = {"imports": len(texts), "import_s": 0.0, "import_fallback": None}
        except Exception as exc:
            return {
                "job_id": job_id,
                "outcomes": [],
                "infra_error": f"runner: {codec.type_name(type(exc))}: {exc}",
                "dirty": True,
            }
        reply = {"job_id": job_id, "outcomes": outcomes, "infra_error": None, "dirty": self.dirty}
        return reply | imports

    def run_input(
        self,
        code: str,
        entry_point: str,
        input_text: str,
        limits: Limits,
        number: int = 0,
        hide: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        started = time.monotonic()
        outcome = self._run_input(code, entry_point, input_text, limits, number, hide)
        return import_once.split_costs(outcome, started, time.monotonic())

    def new_workdir(self) -> str:
        self._counter += 1
        workdir = os.path.join(self.scratch, f"job-{os.getpid()}-{self._counter}")
        os.mkdir(workdir, 0o700)
        if self.child_uid is not None:
            os.chown(workdir, self.child_uid, self.child_uid)
        return workdir

    def _run_input(
        self,
        code: str,
        entry_point: str,
        input_text: str,
        limits: Limits,
        number: int,
        hide: dict[str, Any] | None,
    ) -> dict[str, Any]:
        workdir = self.new_workdir()
        job_r, job_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        child_ends = [job_r, out_w, err_w, res_w]
        ours = [job_w, out_r, err_r, res_r]
        try:
            pid = 0
            for _attempt in range(2):
                pid = self._zygote(number).fork_job(child_ends)
                if pid:
                    break
                self._zygotes.pop(number).kill()  # stopped or broken: a fresh one next
            for fd in child_ends:
                os.close(fd)
            child_ends = []
            if not pid:
                raise RuntimeError("the zygote could not fork a job process")
            start = time.monotonic()
            payload = {
                "code": code,
                "entry_point": entry_point,
                "input": input_text,
                "limits": limits.as_dict(),
                "workdir": workdir,
                "child_uid": self.child_uid,
                "hide": hide,
            }
            # A job process that died before reading is reported from its exit below.
            with contextlib.suppress(OSError):
                zygote.write_all(job_w, json.dumps(payload).encode("utf-8", "surrogatepass"))
            os.close(job_w)
            ours.remove(job_w)
            return self._supervise(pid, start, limits, out_r, err_r, res_r)
        finally:
            for fd in child_ends + ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._cleanup(workdir)

    def _supervise(
        self,
        pid: int,
        start: float,
        limits: Limits,
        out_r: int,
        err_r: int,
        res_r: int,
        prefix: tuple[bytes, bytes] = (b"", b""),
        budget_s: float | None = None,
    ) -> dict[str, Any]:
        """`prefix`: what the job's import already wrote to stdout and stderr (a per-job zygote's);
        `budget_s`: the wall-clock time left to this input (its limit less that import's)."""
        caps = {
            out_r: limits.output_cap_bytes,
            err_r: limits.output_cap_bytes,
            res_r: limits.result_cap_bytes,
        }
        bufs = {out_r: bytearray(prefix[0]), err_r: bytearray(prefix[1]), res_r: bytearray()}
        overflow: int | None = None
        deadline = start + (limits.timeout_s if budget_s is None else budget_s)
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        for fd in bufs:
            poller.register(fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        open_fds = set(bufs)
        exited = False
        status = 0
        rusage: Any = None
        timed_out = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                wait_ms = remaining * 1000 if pidfd is not None else min(remaining * 1000, 5)
                for fd, _ev in poller.poll(max(1, math.ceil(wait_ms))):
                    if fd == pidfd:
                        exited = True
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    buf = bufs[fd]
                    buf += chunk
                    if _len(buf) > caps[fd]:
                        overflow = fd
                if overflow is not None:
                    break
                if pidfd is None or not open_fds:
                    got, st, ru = os.wait4(pid, os.WNOHANG)
                    if got == pid:
                        exited, status, rusage = True, st, ru
                if exited:
                    break
        finally:
            if pidfd is not None:
                os.close(pidfd)
        # Kill the whole group whatever happened: background children share it.
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            with contextlib.suppress(OSError):
                target()
        if rusage is None:
            _got, status, rusage = os.wait4(pid, 0)
        duration = time.monotonic() - start
        self._sweep()
        for fd in open_fds:
            self._drain(fd, bufs[fd], caps[fd] + 1)
        if overflow is None:
            overflow = next((fd for fd in (out_r, err_r) if _len(bufs[fd]) > caps[fd]), None)
        outcome = self._decide(status, rusage, limits, timed_out, overflow, bufs[res_r], overflow == res_r)
        cap = limits.output_cap_bytes
        outcome["stdout"] = bytes(bufs[out_r][:cap]).decode("utf-8", "replace")
        outcome["stderr"] = bytes(bufs[err_r][:cap]).decode("utf-8", "replace")
        outcome["duration_s"] = round(duration, 6)
        return outcome

    @staticmethod
    def _drain(fd: int, buf: bytearray, limit: int) -> None:
        os.set_blocking(fd, False)
        while _len(buf) < limit:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            buf += chunk

    @staticmethod
    def _decide(
        status: int,
        rusage: Any,
        limits: Limits,
        timed_out: bool,
        overflow: int | None,
        result: bytearray,
        result_overflow: bool,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "killed", "result": None, "exc_type": None, "exc_message": None}
        if timed_out:
            out.update(status="timeout", exc_message=f"wall-clock limit {limits.timeout_s:g}s exceeded")
            return out
        if overflow is not None:
            what = "return value" if result_overflow else "output"
            out.update(status="output_limit", exc_message=f"{what} exceeded its size cap")
            return out
        message = _parse_result(bytes(result))
        if message is not None:
            out.update(message)
            return out
        code, sig = _describe_exit(status)
        peak_mb = (rusage.ru_maxrss / 1024) if rusage is not None else 0.0
        if sig == signal.SIGXCPU:
            out.update(status="timeout", exc_message=f"CPU limit {limits.cpu_s}s exceeded")
        elif sig == signal.SIGKILL and peak_mb >= 0.8 * limits.memory_mb:
            # Not killed by us (no timeout): the kernel's OOM killer under the memory limit.
            out.update(status="memory", exc_message=f"killed near the memory limit ({peak_mb:.0f} MB)")
        elif sig is not None:
            out.update(exc_message=f"killed by {_signal_name(sig)}")
        elif result:
            out.update(exc_message="malformed result")
        else:
            out.update(exc_message=f"exited with code {code} without a result")
        return out

    def _sweep(self) -> None:
        """Kill and reap everything the job left behind (daemons that left its group too);
        the zygotes stay."""
        keep = self._zygote_pids()
        me = os.getpid()
        deadline = time.monotonic() + 2.0
        while True:
            leftovers = _pids_in_namespace() if self.pid1 else self._children()
            for pid in leftovers:
                if pid != me and pid not in keep:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            try:
                got, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if got in keep:  # a job killed a zygote; it is replaced on next use
                for z in self._zygotes.values():
                    if z.pid == got:
                        z.alive = False
                self.keep_pids.discard(got)
                keep = self._zygote_pids()
                continue
            if got:
                continue
            if not [
                p
                for p in (_pids_in_namespace() if self.pid1 else self._children())
                if p != me and p not in keep
            ]:
                return
            if time.monotonic() > deadline:
                self.dirty = True
                return
            time.sleep(0.001)

    @staticmethod
    def _children() -> list[int]:
        me = os.getpid()
        try:
            with open(f"/proc/{me}/task/{me}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    @staticmethod
    def _dev_entries() -> set[str]:
        try:
            return set(os.listdir("/dev"))
        except OSError:
            return set()

    def _cleanup(self, workdir: str, keep: str | None = None) -> None:
        """`keep`: a per-job zygote's work dir, emptied but kept for its next input."""
        if not _rmtree(workdir):
            self.dirty = True
        for base in self.wipe:
            try:
                entries = os.listdir(base)
            except OSError:
                continue
            for name in entries:
                path = os.path.join(base, name)
                if path != keep and not _rmtree(path):
                    self.dirty = True
        if keep is not None and not empty_dir(keep, self.child_uid):
            self.dirty = True
        for path, mode in self._modes.items():
            try:
                if stat.S_IMODE(os.lstat(path).st_mode) != mode:
                    os.chmod(path, mode)
            except OSError:
                self.dirty = True
        if self.wipe_namespace:
            self._wipe_namespace()

    def _wipe_namespace(self) -> None:
        """IPC objects, POSIX queues and new /dev entries: all of this namespace is the jobs'."""
        if not wipe_sysv_ipc():
            self.dirty = True
        try:
            queues = os.listdir("/dev/mqueue")
        except OSError:
            queues = []
        for name in queues:
            try:
                os.unlink(os.path.join("/dev/mqueue", name))
            except OSError:
                self.dirty = True
        for name in self._dev_entries() - self._dev_baseline:
            if not _rmtree(os.path.join("/dev", name)):
                self.dirty = True


def _parse_result(raw: bytes) -> dict[str, Any] | None:
    """Validate the child's single result line; anything else is no result."""
    if not raw.endswith(b"\n") or raw.count(b"\n") != 1:
        return None
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if type(msg) is not dict:
        return None
    after = msg.pop("args_after", None)
    if after is not None and type(after) is not str:
        return None
    stamps = msg.pop("t", None)
    out: dict[str, Any] | None = None
    status = msg.get("status")
    if status == "ok" and type(msg.get("result")) is str and set(msg) == {"status", "result"}:
        out = {"status": "ok", "result": msg["result"]}
    elif status in ("error", "memory") and set(msg) == {"status", "exc_type", "exc_message"}:
        exc_type, exc_message = msg["exc_type"], msg["exc_message"]
        if type(exc_type) is str and type(exc_message) is str:
            out = {
                "status": status,
                "exc_type": exc_type[:200],
                "exc_message": exc_message[: codec.MESSAGE_LIMIT + 100],
            }
    if out is not None and after is not None:
        out["args_after"] = after
    if out is not None and type(stamps) is list and [type(t) for t in stamps] == [float] * 3:
        out["_t"] = stamps  # the child's word, for metrics only (split_costs)
    return out


def empty_dir(path: str, uid: int | None = None) -> bool:
    """`path` an empty directory of mode 0700 (owned by `uid`) again, whatever a job did to it
    (filled, chmodded, removed, replaced by a symlink); True when it is."""
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            raise FileNotFoundError(path)
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(path, 0o700)
        names = os.listdir(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, 0o700)
            if uid is not None:
                os.chown(path, uid, uid)
        except OSError:
            return False
        return True
    except OSError:
        return False
    return all(_rmtree(os.path.join(path, name)) for name in names)


# --------------------------------------------------------------------------- main loop


def _parse_args(argv: list[str]) -> tuple[str | None, list[str], int | None, bool]:
    scratch: str | None = None
    wipe: list[str] = []
    child_uid: int | None = None
    wipe_namespace = False
    it = iter(argv)
    for arg in it:
        if arg == "--scratch":
            scratch = next(it)
        elif arg == "--wipe":
            wipe.append(next(it))
        elif arg == "--child-uid":
            child_uid = int(next(it))
        elif arg == "--tag":  # the owner's token, for tracing leftovers; not used here
            next(it)
        elif arg == "--wipe-namespace":
            wipe_namespace = True
        else:
            raise SystemExit(f"runner: unknown argument {arg!r}")
    return scratch, wipe, child_uid, wipe_namespace


def main(argv: list[str] | None = None) -> int:
    scratch, wipe, child_uid, wipe_namespace = _parse_args(sys.argv[1:] if argv is None else argv)
    # Nothing of whoever started us reaches the jobs.
    os.environ.clear()
    os.environ.update(SAFE_ENV)
    os.environ["HOME"] = scratch or "/tmp"
    zygote.prctl(zygote.PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # As PID 1 only signals with a handler arrive; jobs must not stop us with SIGINT & co.
    for sig in zygote.SHIELDED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    runner = Runner(scratch=scratch, wipe=wipe, child_uid=child_uid, wipe_namespace=wipe_namespace)
    stdin = open(0, "rb", buffering=0, closefd=False)  # noqa: SIM115
    stdout = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115
    ready = {
        "ready": True,
        "protocol": PROTOCOL_VERSION,
        "pid": os.getpid(),
        "python": sys.version.split()[0],
    }
    zygote.write_all(stdout.fileno(), (json.dumps(ready) + "\n").encode())
    reader = io.BufferedReader(stdin, buffer_size=1 << 16)
    try:
        while True:
            line = reader.readline()
            if not line:
                return 0
            if not line.strip():
                continue
            try:
                job = json.loads(line)
                if type(job) is not dict:
                    raise ValueError("job must be a JSON object")
            except (ValueError, RecursionError) as exc:
                reply: dict[str, Any] = {
                    "job_id": None,
                    "outcomes": [],
                    "infra_error": f"runner: bad job line: {exc}",
                }
            else:
                reply = runner.run_job(job)
            del line
            zygote.write_all(stdout.fileno(), (json.dumps(reply, ensure_ascii=True) + "\n").encode("ascii"))
    finally:
        runner.close()


if __name__ == "__main__":
    sys.exit(main())
