"""A per-job zygote: a job's code imported once, one process forked from it per input.

Without it every input's job process executes the code's top level (its imports, its
tables) afresh. With it (`SandboxSettings.import_once`, the job field "import_once") the
runner asks its zygote for one more process, the per-job zygote: it locks down exactly as a
job process does, conceals the row's original, executes the code once and, when nothing of
that import can carry state from one input to the next, forks one job process per input.

Isolation: the per-job zygote never holds an input. Each input's process gets its input, work
dir and pipes from the runner directly; it runs in a session, keyring and work dir of its own
and the runner cleans up after it before the next input starts (the per-job zygote's work dir
is emptied too: a path kept by the import stays usable, never shared). What the import could
leave that outlives one input is checked before any input runs, and its presence makes the
job fall back to a fresh import per input (the old path, counted as `import_fallback`):
threads, child processes, open descriptors beyond the job's own, shared or writable-file
mappings (mmap MAP_SHARED, SysV/POSIX shared memory, memfd), interval timers, and files, IPC
objects or queues the per-input cleanup would remove. Between inputs the per-job zygote runs
no code: signals are blocked, the garbage collector is off, it is non-dumpable (no ptrace,
no /proc/<pid>/mem), and before each fork the runner checks from /proc that it is still one
sleeping thread without children. Like the hidden original, this is not a boundary against
a job that rewrites its own interpreter with ctypes: the per-job zygote is the job's process.

When: a job of two or more inputs whose import costs more than the process a per-job
zygote adds, over its inputs. A code the runner has not seen runs its first input the old
way, which measures the import and a process's spawn and teardown (remembered per code);
cheap imports (most small functions) keep the old path, which is then the faster one.

Limits: the import counts against each input as it did in a fresh process. Each input's
wall-clock budget is the limit less the import's time, its CPU limit less the import's CPU
time (whole seconds, at least 1); memory, processes, descriptors and file size are as before.
Output: what the import printed starts each input's stdout and stderr, under the same cap.
Any failure of the import (exception, exit, timeout, limit, crash) and any failure of the
per-job zygote while serving (killed or stopped by an input) makes the remaining inputs run
the old way, so their outcomes are exactly the old ones.

Standard library only; staged beside runner.py and zygote.py (sandbox/files.py).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import math
import os
import resource
import select
import signal
import socket
import sys
import time
from typing import Any

# Inputs a job needs for a per-job zygote to pay off: one input gains nothing from it.
MIN_INPUTS = 2
# Codes whose import cost a runner remembers (a sha256 each); forgotten all at once when full.
COST_MEMORY = 4096
REPORT_CAP = 4096
# After its report the per-job zygote holds no end of its output pipes: EOF comes at once.
OUTPUT_EOF_S = 1.0
FORK_REPLY_S = 2.0
_LEFTOVER_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


# =========================================================================== in the per-job zygote


def template_main(job: dict[str, Any], zyg: Any) -> None:
    """Import the job's code, report to the runner on fd 3, then fork one process per request.

    Runs in the per-job zygote after `zyg._lock_down` and the concealment; never returns
    normally (exits when the runner closes the socket). `zyg` is the zygote module."""
    # Bound before the job's code runs: what it rebinds in modules does not reach us.
    loads, dumps, fork, recv_fds = json.loads, json.dumps, zyg.fork_sibling, socket.recv_fds
    limits = zyg.Limits(job["limits"])
    writable = [str(p) for p in job.get("writable", [])]
    cpu0 = time.process_time()
    started = time.monotonic()
    namespace: dict[str, Any] | None = None
    failed = "no sibling fork" if not zyg.sibling_fork_works() else "import failed"
    try:
        if failed == "import failed":
            namespace = zyg.import_code(job["code"])
            if namespace.get(job["entry_point"]) is None:
                namespace = None  # each input raises NameError: the old path says so
    except BaseException:
        namespace = None
    import_s = time.monotonic() - started
    import_cpu = time.process_time() - cpu0
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(BaseException):
            stream.flush()  # type: ignore[union-attr]
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 1)  # the import's output pipes: closed here, so the runner sees EOF
    os.dup2(devnull, 2)
    os.close(devnull)
    leftover = failed if namespace is None else leftovers(writable)
    gc_enabled = gc.isenabled()
    gc.disable()  # no finalizer of the import's garbage runs here between inputs
    # `random` reseeds itself in a forked child (an at-fork hook): each input gets the state
    # the import left, as it would after its own import (`random.seed(7)` at the top level).
    rand = sys.modules.get("random")
    restore = None
    with contextlib.suppress(Exception):
        restore = functools.partial(rand.setstate, rand.getstate()) if rand is not None else None
    control = socket.socket(fileno=zyg.RESULT_FD)
    report = {"imported": leftover is None, "leftover": leftover, "import_s": import_s}
    report["import_cpu"] = import_cpu
    with contextlib.suppress(OSError):
        control.sendall(dumps(report).encode("ascii") + b"\n")
    if leftover is not None or namespace is None:
        os._exit(0)
    blocked = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    zyg.prctl(zyg.PR_SET_DUMPABLE, 0)
    cpu_left = max(1, math.ceil(limits.cpu_s - import_cpu))
    while True:
        try:
            msg, fds, _flags, _addr = recv_fds(control, 16, zyg.JOB_FDS)
        except (ConnectionError, OSError):
            os._exit(0)
        if not msg:
            os._exit(0)
        if msg != zyg.FORK_REQUEST or len(fds) != zyg.JOB_FDS:
            for fd in fds:
                os.close(fd)
            control.sendall((0).to_bytes(4, "little"))
            continue
        try:
            pid = fork()
        except OSError:
            pid = -1
        if pid == 0:
            control.detach()
            entry = job["entry_point"]
            _input_main(fds, zyg, namespace, entry, old_mask, gc_enabled, cpu_left, loads, restore)
        for fd in fds:
            os.close(fd)
        control.sendall(max(pid, 0).to_bytes(4, "little"))


def _input_main(
    fds: list[int],
    zyg: Any,
    namespace: dict[str, Any],
    entry_point: str,
    mask: set[Any],
    gc_enabled: bool,
    cpu_s: int,
    loads: Any,
    restore_random: Any,
) -> None:
    """In an input's process, forked from the per-job zygote: the rest of a job process's
    lock-down, then the call. Never returns."""
    job_r, out_w, err_w, res_w = fds
    try:
        os.setsid()
        job = loads(_read_all(job_r))
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, zyg.RESULT_FD)
        max_fd = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if max_fd == resource.RLIM_INFINITY or max_fd > 1 << 20:
            max_fd = 1 << 20
        os.closerange(zyg.RESULT_FD + 1, max_fd)  # the received fds and the control socket's copy
        zyg.prctl(zyg.PR_SET_DUMPABLE, 1)
        if os.geteuid() == 0:  # as a job process run by root: SysV IPC of its own
            zyg.libc_call("unshare", zyg.CLONE_NEWIPC)
        zyg.fresh_keyrings()  # not the per-job zygote's session keyring: another input's keys
        with contextlib.suppress(ValueError, OSError):
            _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            resource.setrlimit(resource.RLIMIT_CPU, (min(cpu_s, hard) if hard >= 0 else cpu_s, hard))
        workdir = str(job["workdir"])
        os.chdir(workdir)
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        input_text = str(job["input"])
        if restore_random is not None:
            restore_random()
        if gc_enabled:
            gc.enable()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    except BaseException:
        os._exit(125)
    message = zyg.call_entry_point("", entry_point, input_text, namespace=namespace)
    zyg.finish(message)


def leftovers(writable: list[str]) -> str | None:
    """What the import left in this process that could carry state from one input's process
    to the next (or that a fork would not carry at all); None when nothing."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return "no /proc"
    if len(tasks) > 1:
        return "threads"
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                if f.read().strip():
                    return "child processes"
        except OSError:
            pass
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 3:
            try:
                os.fstat(fd)
            except OSError:
                continue  # the directory listing's own descriptor, closed since
            return "open file descriptors"
    roots = tuple(os.path.join(p, "") for p in writable)
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            perms = parts[1] if len(parts) > 1 else ""
            path = parts[5].strip() if len(parts) > 5 else ""
            # Shared and writable, or anonymous (shows as a deleted /dev/zero): one input's
            # writes would reach the next. Read-only shared maps of system files (glibc's
            # gconv cache) carry nothing the job could write.
            if perms[3:4] == "s" and ("w" in perms or not path or path.endswith("(deleted)")):
                return "shared memory mappings"
            if path.endswith("(deleted)") or path.startswith(roots) or path.startswith("/memfd:"):
                return "mappings of writable files"
    if any(signal.getitimer(which)[0] for which in _LEFTOVER_TIMERS):
        return "interval timers"
    return None


def split_costs(
    outcome: dict[str, Any], started: float, ended: float, shared_import_s: float = 0.0
) -> dict[str, Any]:
    """Split an input's seconds (`started`: before the fork; `ended`: after cleanup) into
    spawn (fork, lock-down), import (the code's top level), call and teardown (exit, reap,
    transport, cleanup) with the child's timestamps; without them (killed, timed out) the
    child's lifetime counts as call. `shared_import_s`: a per-job zygote's import, which this
    input did not pay itself (its import_s stays 0) but which counts against its limits."""
    stamps = outcome.pop("_t", None)
    total = max(0.0, ended - started)
    if stamps is not None and started <= stamps[0] <= stamps[1] <= stamps[2] <= ended:
        parts = (stamps[0] - started, stamps[1] - stamps[0], stamps[2] - stamps[1], ended - stamps[2])
    else:
        life = min(total, float(outcome.get("duration_s") or 0.0))
        parts = (0.0, 0.0, life, total - life)
    for name, value in zip(("spawn_s", "import_s", "call_s", "teardown_s"), parts, strict=True):
        outcome[name] = round(value, 6)
    if shared_import_s:
        outcome["duration_s"] = round(float(outcome.get("duration_s") or 0.0) + shared_import_s, 6)
    return outcome


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# =========================================================================== in the runner


def worthwhile(runner: Any, inputs: list[str]) -> bool:
    """Whether a job's inputs run from a per-job zygote. Not for one input; not for a root
    runner that cannot wipe its IPC namespace (its job processes each get one of their own,
    which the per-job zygote's inputs, dropped to an unprivileged uid, would share)."""
    if len(inputs) < MIN_INPUTS:
        return False
    return bool(runner.wipe_namespace or runner.child_uid is None)


def run_job(
    runner: Any,
    code: str,
    entry_point: str,
    inputs: list[str],
    limits: Any,
    number: int,
    hide: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every input's outcome, and how often the code was imported (the reply's fields
    `imports`, `import_s`, `import_fallback`).

    A per-job zygote costs about one process more than the old path (its fork, checks and
    teardown) and saves each input its import: worth it only when the import costs more than
    that over the job's inputs. A code not seen before runs its first input the old way,
    which measures both; the runner remembers them per code (execute's second run of the
    original, a mutant's later batches are decided at once)."""
    outcomes: list[dict[str, Any]] = []
    info: dict[str, Any] = {"imports": 0, "import_s": 0.0, "import_fallback": None}
    key = hashlib.sha256(json.dumps([code, hide]).encode("utf-8", "surrogatepass")).hexdigest()
    costs: dict[str, tuple[float, float]] = runner.import_costs
    known = costs.get(key)
    if known is None:
        first = runner.run_input(code, entry_point, inputs[0], limits, number, hide)
        outcomes.append(first)
        info["imports"] = 1
        known = (float(first["import_s"]), float(first["spawn_s"]) + float(first["teardown_s"]))
        if len(costs) >= COST_MEMORY:
            costs.clear()
        costs[key] = known
    import_s, process_s = known
    rest = inputs[len(outcomes) :]
    if import_s * (len(rest) - 1) <= process_s:  # the import is cheaper than a per-job zygote
        for text in rest:
            outcomes.append(runner.run_input(code, entry_point, text, limits, number, hide))
        info["imports"] += len(rest)
        return outcomes, info
    template = Template(runner, limits)
    reason = template.start(code, entry_point, number, hide)
    # A per-job zygote whose import ran but left something still paid for that import.
    info["imports"] += int(template.reported)
    info["import_fallback"] = reason
    if reason is None:
        info["import_s"] = round(template.import_s, 6)
    try:
        for text in rest:
            if info["import_fallback"] is None:
                outcome, why = template.run_input(text)
                if outcome is not None:
                    outcomes.append(outcome)
                    continue
                info["import_fallback"] = why
                template.close()
            outcomes.append(runner.run_input(code, entry_point, text, limits, number, hide))
            info["imports"] += 1
    finally:
        template.close()
    return outcomes, info


class Template:
    """The runner's handle on one per-job zygote."""

    def __init__(self, runner: Any, limits: Any) -> None:
        self.runner = runner
        self.limits = limits
        self.pid = 0
        self.workdir: str | None = None
        self.control: socket.socket | None = None
        self.import_s = 0.0
        self.import_wall = 0.0
        self.import_cpu = 0.0
        self.output = (b"", b"")
        self.reported = False  # the import ran to its report (whatever it said)

    # ---- start: fork, import, checks

    def start(self, code: str, entry_point: str, number: int, hide: dict[str, Any] | None) -> str | None:
        """None when the per-job zygote is ready to fork inputs; else why not (it is gone)."""
        runner = self.runner
        self.workdir = runner.new_workdir()
        job_r, job_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.control = mine
        child_ends = [job_r, out_w, err_w, theirs.fileno()]
        try:
            pid = runner._zygote(number).fork_job(child_ends)
        finally:
            for fd in (job_r, out_w, err_w):
                os.close(fd)
            theirs.close()
        if not pid:
            for fd in (job_w, out_r, err_r):
                os.close(fd)
            self.close()
            return "no per-job zygote"
        self.pid = pid
        runner.keep_pids.add(pid)
        started = time.monotonic()  # as a job process's limits start: once it is forked
        writable = sorted({self.workdir, runner.scratch, *runner.wipe, "/tmp", "/dev/shm"})
        payload = {
            "template": True,
            "code": code,
            "entry_point": entry_point,
            "limits": self.limits.as_dict(),
            "workdir": self.workdir,
            "child_uid": runner.child_uid,
            "hide": hide,
            "writable": writable,
        }
        with contextlib.suppress(OSError):
            _write_all(job_w, json.dumps(payload).encode("utf-8", "surrogatepass"))
        os.close(job_w)
        try:
            reason = self._await_report(started, out_r, err_r)
        finally:
            os.close(out_r)
            os.close(err_r)
        if reason is None:
            reason = self._check_outside()
        if reason is not None:
            self.close()
        return reason

    def _await_report(self, started: float, out_r: int, err_r: int) -> str | None:
        """Read the import's output and report; None when it imported and left nothing."""
        assert self.control is not None
        cap = self.limits.output_cap_bytes
        ctl = self.control.fileno()
        bufs = {out_r: bytearray(), err_r: bytearray(), ctl: bytearray()}
        poller = select.poll()
        for fd in bufs:
            poller.register(fd, select.POLLIN)
        deadline = started + self.limits.timeout_s
        open_fds = set(bufs)
        report: dict[str, Any] | None = None
        report_at = started
        while open_fds:
            if report is not None:  # after the report: only EOF on the output pipes is awaited
                deadline = min(deadline, time.monotonic() + OUTPUT_EOF_S)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "import timed out" if report is None else "import left its output open"
            for fd, _ev in poller.poll(max(1, math.ceil(remaining * 1000))):
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    if fd == ctl and report is None:
                        return "import failed"  # exited or killed before reporting
                    continue
                bufs[fd] += chunk
                if len(bufs[fd]) > (REPORT_CAP if fd == ctl else cap):
                    return "import output over the cap"
                if fd == ctl and report is None and bufs[ctl].endswith(b"\n"):
                    report = _parse_report(bytes(bufs[ctl]))
                    if report is None:
                        return "malformed import report"
                    self.reported = report["leftover"] != "no sibling fork"
                    if not report["imported"]:
                        return str(report["leftover"] or "import failed")
                    report_at = time.monotonic()
                    poller.unregister(ctl)
                    open_fds.discard(ctl)
        if report is None:
            return "import failed"
        # Charged to each input's wall-clock budget: measured here, from the fork to the report.
        self.import_wall = report_at - started
        self.import_s = min(float(report["import_s"]), self.import_wall)
        self.import_cpu = float(report["import_cpu"])
        self.output = (bytes(bufs[out_r]), bytes(bufs[err_r]))
        return None

    def _check_outside(self) -> str | None:
        """What the per-job zygote's own word cannot be taken for: read from /proc and from the
        places the runner wipes after each input."""
        why = self._unhealthy()
        if why is not None:
            return why
        runner = self.runner
        assert self.workdir is not None
        with contextlib.suppress(OSError):
            if os.listdir(self.workdir):
                return "import left files"
        for base in runner.wipe:
            with contextlib.suppress(OSError):
                if [n for n in os.listdir(base) if os.path.join(base, n) != self.workdir]:
                    return "import left files"
        if runner.wipe_namespace:
            with contextlib.suppress(OSError):
                if os.listdir("/dev/mqueue"):
                    return "import left message queues"
            for kind in ("shm", "msg", "sem"):
                with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}") as f:
                    if len(f.read().splitlines()) > 1:
                        return "import left IPC objects"
            if runner._dev_entries() - runner._dev_baseline:
                return "import left files"
        return None

    def _unhealthy(self) -> str | None:
        """Why the per-job zygote cannot fork the next input: not one live thread without
        children (a thread started late, an input stopped or killed it)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                children = f.read().strip()
        except (OSError, ValueError):
            return "per-job zygote gone"
        if status.get("State", "").split()[:1] not in (["S"], ["R"], ["D"]):
            return "per-job zygote stopped"  # or dead
        if status.get("Threads", "").strip() != "1":
            return "threads"
        if children:
            return "child processes"
        return None

    # ---- one input

    def run_input(self, input_text: str) -> tuple[dict[str, Any] | None, str | None]:
        """The input's outcome, or (None, why) when the per-job zygote cannot run it: the
        input has not started and runs the old way."""
        runner = self.runner
        why = self._unhealthy() if self.control is not None else "per-job zygote gone"
        if why is not None:
            return None, why
        assert self.control is not None and self.workdir is not None
        started = time.monotonic()
        workdir = runner.new_workdir()
        job_r, job_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        child_ends = [job_r, out_w, err_w, res_w]
        ours = [job_w, out_r, err_r, res_r]
        try:
            pid = self._fork(child_ends)
            for fd in child_ends:
                os.close(fd)
            child_ends = []
            if not pid:
                # It may have died since the health check (an input killed it and its SIGKILL
                # landed late): reap it and tell that apart from a refusal to fork.
                runner._sweep()
                return None, self._unhealthy() or "per-job zygote did not fork"
            payload = {"input": input_text, "workdir": workdir}
            with contextlib.suppress(OSError):
                _write_all(job_w, json.dumps(payload).encode("utf-8", "surrogatepass"))
            os.close(job_w)
            ours.remove(job_w)
            budget = max(0.001, self.limits.timeout_s - self.import_wall)
            outcome = runner._supervise(
                pid, started, self.limits, out_r, err_r, res_r, prefix=self.output, budget_s=budget
            )
        finally:
            for fd in child_ends + ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
            runner._cleanup(workdir, keep=self.workdir)
        return split_costs(outcome, started, time.monotonic(), self.import_wall), None

    def _fork(self, fds: list[int]) -> int:
        """A new input process from the per-job zygote, verified to be the runner's own child
        (the per-job zygote ran the job's code: its word on a pid is not taken); 0 if none."""
        assert self.control is not None
        try:
            socket.send_fds(self.control, [b"F"], fds)
        except OSError:
            return 0
        reply = b""
        deadline = time.monotonic() + FORK_REPLY_S
        while len(reply) < 4:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.control], [], [], remaining)[0]:
                return 0
            chunk = self.control.recv(4 - len(reply))
            if not chunk:
                return 0
            reply += chunk
        pid = int.from_bytes(reply, "little")
        runner = self.runner
        if pid <= 1 or pid == os.getpid() or pid in runner._zygote_pids():
            return 0
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return 0
        return pid if ppid == os.getpid() else 0

    # ---- end

    def close(self) -> None:
        """Kill and reap the per-job zygote, remove its work dir; safe to call twice."""
        runner = self.runner
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.pid and self.pid not in runner.keep_pids:
            self.pid = 0  # reaped by a sweep already (an input killed it): the pid is not ours
        if self.pid:
            pid, self.pid = self.pid, 0
            for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                with contextlib.suppress(OSError):
                    target()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            runner.keep_pids.discard(pid)
            runner._sweep()
        if self.workdir is not None:
            runner._cleanup(self.workdir)
            self.workdir = None


def _parse_report(raw: bytes) -> dict[str, Any] | None:
    try:
        report = json.loads(raw)
    except ValueError:
        return None
    if type(report) is not dict or type(report.get("imported")) is not bool:
        return None
    leftover = report.get("leftover")
    if leftover is not None and type(leftover) is not str:
        return None
    for key in ("import_s", "import_cpu"):
        if type(report.get(key)) not in (int, float) or not 0 <= report[key] < 1e6:
            return None
    report["leftover"] = leftover[:200] if leftover else None
    return report
