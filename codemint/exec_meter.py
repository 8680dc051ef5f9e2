"""Executions a stage's shard runs in the sandbox (inputs run: a suite job's tests count one
each), counted where every stage's sandbox calls pass (`codemint.sandbox.shared_sandbox`) and
read by the stage base around `run()`: the figure behind executions per final row.

A context variable, not a global: shards running side by side in one worker count apart,
and a batch run from a helper thread (`asyncio.to_thread` copies the context) still counts
for the shard that started it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Meter:
    executions: int = 0
    jobs: int = 0


_current: ContextVar[Meter | None] = ContextVar("codemint_exec_meter", default=None)


def add(executions: int, jobs: int = 0) -> None:
    """Count executions for the shard being run (nothing outside `metering`)."""
    meter = _current.get()
    if meter is not None:
        meter.executions += executions
        meter.jobs += jobs


@contextmanager
def metering() -> Iterator[Meter]:
    """A fresh meter for what runs inside the block."""
    meter = Meter()
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)
