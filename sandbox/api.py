"""The one interface every caller of the sandbox uses: jobs in, per-input outcomes out.

A job is one piece of code plus an entry point and a list of inputs; the runner executes
the code once per input in a fresh child process and reports one `CallOutcome` per input.
Return values travel back as canonical JSON text (see `sandbox/runner.py`), so callers
compare strings decoded in the trusted host process, never objects from the child.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from codemint.records import HiddenOriginal as HiddenOriginal  # a job names it: re-exported
from codemint.settings import ExecLimits

CallStatus = Literal["ok", "error", "timeout", "memory", "killed", "output_limit"]


class ExecJob(BaseModel):
    job_id: str
    code: str
    entry_point: str
    # Each input is JSON text of {"args": [...], "kwargs": {...}}.
    inputs: list[str]
    limits: ExecLimits = Field(default_factory=ExecLimits)
    # Which of the runner's zygote interpreters forks the job processes: each number has its
    # own hash seed, so repeats on different numbers cannot share hash-ordered behaviour.
    zygote: int = Field(default=0, ge=0, le=3)
    # The row's original, out of the job's reach (None: nothing to hide).
    hide: HiddenOriginal | None = None


class CallOutcome(BaseModel):
    status: CallStatus
    # Canonical JSON text of the return value (runner's encoder); None unless status == "ok".
    result: str | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    # The arguments after the call, as input text (codec), when the call changed them.
    args_after: str | None = None
    stdout: str = ""
    stderr: str = ""
    # Wall time against the input's limits (a per-job zygote's shared import included).
    duration_s: float = 0.0
    # Where the input's seconds went, for metrics (the child's timestamps, never a verdict):
    # fork and lock-down, the code's top level, the call, exit/reap/transport/cleanup.
    spawn_s: float = 0.0
    import_s: float = 0.0
    call_s: float = 0.0
    teardown_s: float = 0.0

    @field_validator("result", "exc_type", "exc_message", "args_after", "stdout", "stderr")
    @classmethod
    def _utf8_text(cls, value: str | None) -> str | None:
        # Code can print lone surrogates (bytes decoded with surrogateescape); JSON carries
        # them, UTF-8 (Parquet, the records' JSON) cannot: they become their `\udcXX` escape.
        if value is None or value.isascii():
            return value
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


class ExecResult(BaseModel):
    job_id: str
    outcomes: list[CallOutcome]
    # Set when the job could not be run at all (runner or container failure after retry).
    infra_error: str | None = None
    # How often the code's top level ran (one per input; one in all from a per-job zygote),
    # the seconds of a per-job zygote's import (shared by its inputs), and why a job asked to
    # import once did not (sandbox/import_once.py), for metrics.
    imports: int = 0
    import_s: float = 0.0
    import_fallback: str | None = None


class SandboxUnavailableError(RuntimeError):
    """The requested backend cannot run here (no engine, no image, no namespaces)."""


class Sandbox(abc.ABC):
    """A backend that runs batches of jobs; use as a context manager to release resources."""

    backend_name: str = "abstract"

    @abc.abstractmethod
    def run_batch(self, jobs: list[ExecJob]) -> list[ExecResult]:
        """Run every job; results come back in the order of `jobs`."""

    async def arun_batch(self, jobs: list[ExecJob]) -> list[ExecResult]:
        return await asyncio.to_thread(self.run_batch, jobs)

    def close(self) -> None:  # noqa: B027 - optional hook for backends with resources
        """Release containers/processes. Safe to call twice."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
