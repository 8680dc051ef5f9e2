"""codemint sandbox runner: executes untrusted code, one forked child per input.

Standard library only, Python 3.11. It is copied into the sandbox image (and staged by the
local backend) together with the value codec, `codemint/codec.py`, which it imports as
`codec` there and as `codemint.codec` on the host: `RUNNER_FILES` lists what is staged.

Protocol (as a long-lived process,
`python3 -I runner.py [--scratch DIR] [--wipe DIR]... [--child-uid UID]`):
the runner first writes one line `{"ready": true, ...}`, then reads jobs as JSON lines on
stdin ({"job_id", "code", "entry_point", "inputs", "limits"}) and writes one JSON line per job
in the ExecResult shape (plus "dirty": true when cleanup failed and the worker should be
recycled). It exits on EOF.

Per input, a child is forked from this warm interpreter. The child gets a new session,
rlimits, oom_score_adj 1000, a fresh work dir, /dev/null as stdin, pipes for stdout/stderr
and one private result pipe (fd 3); every other fd is closed. The parent reads all pipes
while the child runs, enforces the wall-clock timeout, kills the child's process group,
sweeps leftovers (kill(-1) when it is PID 1 of a namespace, else as a child subreaper),
reaps, and decides the status itself. The child only reports what the entry point returned
or raised; stdout content, exit codes and atexit hooks never count as a verdict.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import math
import os
import resource
import select
import shutil
import signal
import sys
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

PROTOCOL_VERSION = 1
MODULE_NAME = "__codemint__"
RESULT_FD = 3

_HERE = os.path.dirname(os.path.abspath(__file__))
if TYPE_CHECKING or __package__:  # on the host: codemint.sandbox.runner
    from codemint import codec
else:  # run as a script in the sandbox, with codec.py staged beside this file
    sys.path.insert(0, _HERE)
    import codec

    sys.path.remove(_HERE)

_type = type
_len = len


# --------------------------------------------------------------------------- limits


class Limits:
    """Mirror of `codemint.sandbox.api.ExecLimits` (the runner cannot import pydantic)."""

    __slots__ = (
        "cpu_s",
        "max_file_size_mb",
        "max_open_files",
        "max_procs",
        "memory_mb",
        "output_cap_bytes",
        "result_cap_bytes",
        "timeout_s",
    )

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.timeout_s = float(data.get("timeout_s", 3.0))
        self.cpu_s = int(data.get("cpu_s", 3))
        self.memory_mb = int(data.get("memory_mb", 512))
        self.max_procs = int(data.get("max_procs", 32))
        self.max_open_files = int(data.get("max_open_files", 64))
        self.max_file_size_mb = int(data.get("max_file_size_mb", 16))
        self.output_cap_bytes = int(data.get("output_cap_bytes", 16_384))
        self.result_cap_bytes = int(data.get("result_cap_bytes", 4_000_000))


# --------------------------------------------------------------------------- process helpers


def _load_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn: Callable[..., int] = libc.prctl
        return fn
    except Exception:
        return None


_PRCTL = _load_prctl()
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if _PRCTL is None:
        return False
    try:
        return _PRCTL(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def _set_rlimit(which: int, value: int) -> None:
    try:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _rmtree(path: str) -> bool:
    """Remove a tree the job may have made awkward (chmod 000 dirs); True if gone."""
    try:
        os.rmdir(path)  # the common case: the job left its work dir empty
        return True
    except OSError:
        pass

    def _fix(func: Any, p: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=_fix)
        else:
            os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return not os.path.lexists(path)


# --------------------------------------------------------------------------- the child


def _child_main(
    code: str,
    entry_point: str,
    input_text: str,
    limits: Limits,
    workdir: str,
    fds: tuple[int, int, int],
    child_uid: int | None,
) -> None:
    """Runs in the forked child; never returns."""
    out_w, err_w, res_w = fds
    try:
        os.setsid()
        for sig in _SHIELDED_SIGNALS:  # the job gets Python's usual dispositions back
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        # The runner is non-dumpable (so jobs cannot ptrace it or open /proc/1/fd);
        # the child must be dumpable to write its own /proc/self files.
        _prctl(PR_SET_DUMPABLE, 1)
        try:
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            os.write(fd, b"1000")
            os.close(fd)
        except OSError:
            pass
        max_fd = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        mb = 1024 * 1024
        cpu = max(1, limits.cpu_s)
        try:  # soft limit -> SIGXCPU (reported as timeout); hard limit 1 s later -> SIGKILL
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        except (ValueError, OSError):
            _set_rlimit(resource.RLIMIT_CPU, cpu)
        _set_rlimit(resource.RLIMIT_AS, limits.memory_mb * mb)
        _set_rlimit(resource.RLIMIT_NPROC, limits.max_procs)
        _set_rlimit(resource.RLIMIT_NOFILE, limits.max_open_files)
        _set_rlimit(resource.RLIMIT_FSIZE, limits.max_file_size_mb * mb)
        _set_rlimit(resource.RLIMIT_CORE, 0)
        if child_uid is not None:
            # A root runner (local backend via unshare) drops the job to an unprivileged uid:
            # no capabilities, no write access to root-owned host files, cannot signal us.
            os.setgroups([])
            os.setgid(child_uid)
            os.setuid(child_uid)
            _prctl(PR_SET_DUMPABLE, 1)  # setuid reset it
        os.chdir(workdir)
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, RESULT_FD)
        _close_other_fds(max_fd)
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
            if fd == 0:
                stream = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
            else:  # line-buffered so output survives a kill mid-run
                stream = open(  # noqa: SIM115
                    fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
                )
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
        sys.argv = ["<codemint>"]
        if "random" in sys.modules:
            sys.modules["random"].seed()
    except BaseException:
        os._exit(125)
    message = _call_entry_point(code, entry_point, input_text)
    _finish(message)


def _close_other_fds(max_fd: int) -> None:
    # One close_range(2) where available; bounded by the fd limit we inherited.
    if max_fd == resource.RLIM_INFINITY or max_fd > 1 << 20:
        max_fd = 1 << 20
    os.closerange(RESULT_FD + 1, max_fd)


def _call_entry_point(code: str, entry_point: str, input_text: str) -> dict[str, Any]:
    my_pid = os.getpid()
    try:
        args, kwargs = codec.decode_input(input_text)
        module = types.ModuleType(MODULE_NAME)
        module.__file__ = "<codemint>"
        sys.modules[MODULE_NAME] = module
        compiled = compile(code, "<codemint>", "exec")
        exec(compiled, module.__dict__)
        fn = module.__dict__.get(entry_point)
        if fn is None:
            raise NameError(f"entry point {entry_point!r} is not defined")
        value = fn(*args, **kwargs)
        if os.getpid() != my_pid:
            os._exit(0)  # a forked copy of the job returning: never report for it
        codec.restore_builtins()
        return {"status": "ok", "result": codec.canonical_json(value)}
    except MemoryError:
        if os.getpid() != my_pid:
            os._exit(0)
        return {"status": "memory", "exc_type": "MemoryError", "exc_message": ""}
    except BaseException as exc:
        if os.getpid() != my_pid:
            os._exit(0)
        codec.restore_builtins()
        return {
            "status": "error",
            "exc_type": codec.type_name(_type(exc)),
            "exc_message": codec.exc_message(exc),
        }


def _finish(message: dict[str, Any]) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    try:
        data = (codec.dump_ascii(message) + "\n").encode("ascii")
        _write_all(RESULT_FD, data)
    except BaseException:
        os._exit(124)
    os._exit(0)


# --------------------------------------------------------------------------- the parent


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
    ) -> None:
        self.pid1 = os.getpid() == 1 if pid1 is None else pid1
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
        self.subreaper = False if self.pid1 else _prctl(PR_SET_CHILD_SUBREAPER, 1)

    def close(self) -> None:
        if self._own_scratch:
            _rmtree(self.scratch)

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
            outcomes = [self.run_input(code, entry_point, str(text), limits) for text in inputs]
        except Exception as exc:
            return {
                "job_id": job_id,
                "outcomes": [],
                "infra_error": f"runner: {codec.type_name(type(exc))}: {exc}",
                "dirty": True,
            }
        return {"job_id": job_id, "outcomes": outcomes, "infra_error": None, "dirty": self.dirty}

    def run_input(self, code: str, entry_point: str, input_text: str, limits: Limits) -> dict[str, Any]:
        self._counter += 1
        workdir = os.path.join(self.scratch, f"job-{os.getpid()}-{self._counter}")
        os.mkdir(workdir, 0o700)
        if self.child_uid is not None:
            os.chown(workdir, self.child_uid, self.child_uid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                for fd in (out_r, err_r, res_r):
                    os.close(fd)
                fds = (out_w, err_w, res_w)
                _child_main(code, entry_point, input_text, limits, workdir, fds, self.child_uid)
            finally:
                os._exit(125)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        try:
            return self._supervise(pid, start, limits, out_r, err_r, res_r)
        finally:
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            self._cleanup(workdir)

    def _supervise(
        self, pid: int, start: float, limits: Limits, out_r: int, err_r: int, res_r: int
    ) -> dict[str, Any]:
        caps = {
            out_r: limits.output_cap_bytes,
            err_r: limits.output_cap_bytes,
            res_r: limits.result_cap_bytes,
        }
        bufs: dict[int, bytearray] = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        overflow: int | None = None
        deadline = start + limits.timeout_s
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
        """Kill and reap everything the job left behind (daemons that left its group too)."""
        if self.pid1:
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)  # never signals ourselves, PID 1
        deadline = time.monotonic() + 2.0
        while True:
            leftovers = self._children() if not self.pid1 else []
            for child in leftovers:
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)
            try:
                got, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if got:
                continue
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

    def _cleanup(self, workdir: str) -> None:
        if not _rmtree(workdir):
            self.dirty = True
        for base in self.wipe:
            try:
                entries = os.listdir(base)
            except OSError:
                continue
            for name in entries:
                if not _rmtree(os.path.join(base, name)):
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
    status = msg.get("status")
    if status == "ok" and type(msg.get("result")) is str and set(msg) == {"status", "result"}:
        return {"status": "ok", "result": msg["result"]}
    if status in ("error", "memory") and set(msg) == {"status", "exc_type", "exc_message"}:
        exc_type, exc_message = msg["exc_type"], msg["exc_message"]
        if type(exc_type) is str and type(exc_message) is str:
            return {
                "status": status,
                "exc_type": exc_type[:200],
                "exc_message": exc_message[: codec.MESSAGE_LIMIT + 100],
            }
    return None


# --------------------------------------------------------------------------- main loop

_SHIELDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGQUIT,
)
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def _parse_args(argv: list[str]) -> tuple[str | None, list[str], int | None]:
    scratch: str | None = None
    wipe: list[str] = []
    child_uid: int | None = None
    it = iter(argv)
    for arg in it:
        if arg == "--scratch":
            scratch = next(it)
        elif arg == "--wipe":
            wipe.append(next(it))
        elif arg == "--child-uid":
            child_uid = int(next(it))
        else:
            raise SystemExit(f"runner: unknown argument {arg!r}")
    return scratch, wipe, child_uid


def main(argv: list[str] | None = None) -> int:
    scratch, wipe, child_uid = _parse_args(sys.argv[1:] if argv is None else argv)
    # Nothing of whoever started us reaches the jobs.
    os.environ.clear()
    os.environ.update(SAFE_ENV)
    os.environ["HOME"] = scratch or "/tmp"
    _prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # As PID 1 only signals with a handler arrive; jobs must not stop us with SIGINT & co.
    for sig in _SHIELDED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    runner = Runner(scratch=scratch, wipe=wipe, child_uid=child_uid)
    stdin = open(0, "rb", buffering=0, closefd=False)  # noqa: SIM115
    stdout = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115
    ready = {
        "ready": True,
        "protocol": PROTOCOL_VERSION,
        "pid": os.getpid(),
        "python": sys.version.split()[0],
    }
    _write_all(stdout.fileno(), (json.dumps(ready) + "\n").encode())
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
            _write_all(stdout.fileno(), (json.dumps(reply, ensure_ascii=True) + "\n").encode("ascii"))
    finally:
        runner.close()


if __name__ == "__main__":
    sys.exit(main())
