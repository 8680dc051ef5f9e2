"""A pool of warm runner processes shared by the Docker and local backends.

Each slot is a thread that owns one worker (a `docker run -i` client or a bwrap/unshare
process, both speaking the runner's JSON-lines protocol over stdin/stdout) and pulls jobs
from one shared queue. A slot replaces its worker when it dies, misses the host-side
deadline, reports a dirty cleanup, or has served `jobs_per_worker` jobs; a job whose worker
failed is re-queued once, and a second failure becomes `ExecResult.infra_error`.
Only "how to start a worker" differs between backends: see `WorkerFactory`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from codemint import exec_costs
from codemint.sandbox.api import ExecJob, ExecResult, Sandbox
from codemint.sandbox.lifecycle import register_pool

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
# Host-side slack on top of the per-input limits before a worker counts as wedged.
JOB_MARGIN_S = 10.0
PER_INPUT_MARGIN_S = 1.0
MAX_ATTEMPTS = 2
MAX_START_FAILURES = 3


class WorkerError(Exception):
    """The worker died, timed out or broke the protocol; it must be replaced."""


class ProcessWorker:
    """One runner process reached over pipes, with deadlines on every read and write."""

    def __init__(
        self, name: str, proc: subprocess.Popen[bytes], stderr: IO[bytes], on_kill: Callable[[], None]
    ) -> None:
        self.name = name
        self.proc = proc
        self._stderr = stderr
        self._on_kill = on_kill
        self._buf = bytearray()
        assert proc.stdin is not None and proc.stdout is not None
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._killed = False

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(self._in, select.POLLOUT, deadline, "sending a job")
            try:
                n = os.write(self._in, view)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WorkerError(f"{self.name}: stdin closed ({exc}); {self.stderr_tail()}") from None
            view = view[n:]

    def read_line(self, deadline: float) -> bytes:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[: nl + 1])
                del self._buf[: nl + 1]
                return line
            self._wait(self._out, select.POLLIN, deadline, "waiting for a result")
            try:
                chunk = os.read(self._out, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                code = self.proc.poll()
                raise WorkerError(f"{self.name}: exited (code {code}); {self.stderr_tail()}")
            self._buf += chunk

    def _wait(self, fd: int, event: int, deadline: float, what: str) -> None:
        poller = select.poll()
        poller.register(fd, event)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
            raise WorkerError(f"{self.name}: no progress {what} before the host deadline")

    def close(self, grace_s: float = 2.0) -> None:
        """Polite stop (stdin EOF makes the runner exit), then the hard kill."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=grace_s)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        with contextlib.suppress(OSError):
            self.proc.kill()
        try:
            self._on_kill()
        except Exception as exc:  # cleanup must not mask the original failure
            log.warning("sandbox: cleanup of %s failed: %s", self.name, exc)
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("sandbox: %s did not exit after SIGKILL", self.name)


def spawn_worker(
    name: str, argv: list[str], env: dict[str, str], on_kill: Callable[[], None]
) -> ProcessWorker:
    """Start `argv` (which must run the runner) and wait for its ready line."""
    stderr = tempfile.TemporaryFile(prefix="codemint-worker-")  # noqa: SIM115 - owned by the worker
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        close_fds=True,
        # Own session: a Ctrl-C on the terminal must not hit workers before we clean up.
        start_new_session=True,
    )
    worker = ProcessWorker(name, proc, stderr, on_kill)
    try:
        line = worker.read_line(time.monotonic() + READY_TIMEOUT_S)
        ready = json.loads(line)
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            raise WorkerError(f"{name}: unexpected first line {line[:200]!r}")
    except (WorkerError, ValueError) as exc:
        tail = worker.stderr_tail()
        worker.kill()
        raise WorkerError(f"{name}: failed to start: {exc}; {tail}") from None
    return worker


class Worker(Protocol):
    """What a slot needs of a worker: a process over pipes or an attached container stream."""

    name: str

    def send(self, data: bytes, deadline: float) -> None: ...
    def read_line(self, deadline: float) -> bytes: ...
    def close(self, grace_s: float = 2.0) -> None: ...
    def kill(self) -> None: ...


# Starts a worker for the given slot number; raises on failure.
WorkerFactory = Callable[[int], Worker]


@dataclass
class _Task:
    job: ExecJob
    future: Future[ExecResult] = field(default_factory=Future)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


def job_deadline_s(job: ExecJob, import_once: bool = False) -> float:
    per_input = job.limits.timeout_s + PER_INPUT_MARGIN_S
    # A per-job zygote's import that times out is one more limit before the inputs run anew.
    imports = 1 if import_once and len(job.inputs) > 1 else 0
    return JOB_MARGIN_S + per_input * (len(job.inputs) + imports)


def parse_result(line: bytes, job: ExecJob) -> tuple[ExecResult, bool]:
    """Validate a runner reply for `job`; returns the result and the runner's dirty flag."""
    try:
        data: Any = json.loads(line)
        dirty = bool(data.pop("dirty", False))
        result = ExecResult.model_validate(data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise WorkerError(f"bad reply: {exc}") from None
    if result.job_id != job.job_id:
        raise WorkerError(f"reply for job {result.job_id!r} while running {job.job_id!r}")
    if result.infra_error is None and len(result.outcomes) != len(job.inputs):
        raise WorkerError(f"{len(result.outcomes)} outcomes for {len(job.inputs)} inputs")
    return result, dirty


def encode_job(job: ExecJob, import_once: bool = False) -> bytes:
    """The job's JSON line; `import_once` asks the runner for a per-job zygote."""
    text = job.model_dump_json()
    if import_once:  # the job object is always a JSON object: one more member before its "}"
        text = text[:-1] + ',"import_once":true}'
    return (text + "\n").encode("utf-8")


class WorkerPool(Sandbox):
    """`Sandbox` over N slots; subclasses provide `start_worker(slot)`."""

    backend_name = "pool"

    def __init__(
        self,
        factory: WorkerFactory,
        workers: int,
        jobs_per_worker: int,
        start_concurrency: int = 2,
        import_once: bool = False,
    ) -> None:
        self._factory = factory
        self.import_once = import_once
        self._size = max(1, workers)
        self._jobs_per_worker = max(1, jobs_per_worker)
        # Container creation is slow and degrades badly when many run at once.
        self._start_gate = threading.Semaphore(max(1, start_concurrency))
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        # Reentrant: the SIGTERM/SIGINT handler may close the pool on the main thread.
        self._lock = threading.RLock()
        self._workers: dict[int, Worker] = {}
        self._closed = False
        self._broken: str | None = None
        self._start_failures = 0
        self.started_workers = 0
        self._threads = [
            threading.Thread(target=self._slot_loop, args=(i,), name=f"sandbox-slot-{i}", daemon=True)
            for i in range(self._size)
        ]
        register_pool(self)
        for t in self._threads:
            t.start()

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- Sandbox API

    def run_batch(self, jobs: list[ExecJob]) -> list[ExecResult]:
        if self._closed:
            raise RuntimeError(f"{self.backend_name} sandbox is closed")
        tasks = [_Task(job) for job in jobs]
        for task in tasks:
            if self._broken is not None:
                task.future.set_result(
                    ExecResult(job_id=task.job.job_id, outcomes=[], infra_error=self._broken)
                )
            else:
                self._queue.put(task)
        results = [task.future.result() for task in tasks]
        exec_costs.add(results)
        return results

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
        self._fail_pending("sandbox closed")
        for _ in self._threads:
            self._queue.put(None)
        for worker in workers:
            worker.kill()
        self._after_close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5)

    def _after_close(self) -> None:
        """Backend hook: final sweep of anything the pool may have left."""

    # ---- slots

    def _fail_pending(self, reason: str) -> None:
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                return
            if task is not None and not task.future.done():
                task.future.set_result(ExecResult(job_id=task.job.job_id, outcomes=[], infra_error=reason))

    def _start(self, slot: int) -> Worker | None:
        delay = 0.5
        while not self._closed:
            try:
                with self._start_gate:
                    if self._closed:
                        return None
                    worker = self._factory(slot)
            except Exception as exc:
                with self._lock:
                    self._start_failures += 1
                    failures = self._start_failures
                log.warning("sandbox: starting worker %d failed (%d): %s", slot, failures, exc)
                if failures >= MAX_START_FAILURES * self._size:
                    self._broken = f"cannot start sandbox workers: {exc}"
                    self._fail_pending(self._broken)
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            with self._lock:
                if self._closed:
                    worker.kill()
                    return None
                self._workers[slot] = worker
                self._start_failures = 0
                self.started_workers += 1
            return worker
        return None

    def _retire(self, slot: int, worker: Worker, graceful: bool) -> None:
        with self._lock:
            if self._workers.get(slot) is worker:
                del self._workers[slot]
        if graceful:
            worker.close()
        else:
            worker.kill()

    def _slot_loop(self, slot: int) -> None:
        worker = self._start(slot)
        served = 0
        while True:
            task = self._queue.get()
            if task is None or self._closed:
                if task is not None and not task.future.done():
                    task.future.set_result(
                        ExecResult(job_id=task.job.job_id, outcomes=[], infra_error="sandbox closed")
                    )
                break
            if worker is None:
                worker = self._start(slot)
                served = 0
                if worker is None:
                    reason = self._broken or "sandbox closed"
                    task.future.set_result(
                        ExecResult(job_id=task.job.job_id, outcomes=[], infra_error=reason)
                    )
                    continue
            try:
                result, dirty = self._run_on(worker, task.job)
            except WorkerError as exc:
                log.warning("sandbox: worker %s failed on job %s: %s", worker.name, task.job.job_id, exc)
                self._retire(slot, worker, graceful=False)
                self._retry_or_fail(task, str(exc))
                worker = None if self._closed else self._start(slot)
                served = 0
                continue
            served += 1
            if result.infra_error is not None:
                dirty = True
            if dirty or served >= self._jobs_per_worker:
                self._retire(slot, worker, graceful=not dirty)
                worker = None
            if result.infra_error is not None:
                self._retry_or_fail(task, result.infra_error)
            else:
                task.future.set_result(result)
            if worker is None and not self._closed:
                worker = self._start(slot)  # warm the replacement before the next job
                served = 0
        if worker is not None:
            self._retire(slot, worker, graceful=False)

    def _retry_or_fail(self, task: _Task, error: str) -> None:
        task.attempts += 1
        task.errors.append(error)
        if task.attempts >= MAX_ATTEMPTS or self._closed:
            msg = " | ".join(task.errors)[-2000:]
            task.future.set_result(ExecResult(job_id=task.job.job_id, outcomes=[], infra_error=msg))
        else:
            self._queue.put(task)

    def _run_on(self, worker: Worker, job: ExecJob) -> tuple[ExecResult, bool]:
        deadline = time.monotonic() + job_deadline_s(job, self.import_once)
        worker.send(encode_job(job, self.import_once), deadline)
        line = worker.read_line(deadline)
        return parse_result(line, job)
