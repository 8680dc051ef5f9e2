"""Seconds the sandbox spent per execution, by what they paid for, summed per stage shard.

An execution here is one job process: one input of a job (a suite job's whole suite runs in
one process, so it counts once here, unlike `exec_meter`'s count of tests). The sandbox adds
every batch's results (`add`, called by the worker pool in the caller's thread) to the
counter of the current `collecting()` block, which a stage opens around its shard; outside
one nothing is counted. Kept apart from a stage's metrics: timings differ run to run, and
the metrics are part of the dataset card and its cache key.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

SECONDS = ("spawn_s", "import_s", "call_s", "teardown_s")
_current: ContextVar[defaultdict[str, float] | None] = ContextVar("codemint_exec_costs", default=None)


class _Outcome(Protocol):
    spawn_s: float
    import_s: float
    call_s: float
    teardown_s: float


class _Result(Protocol):
    @property
    def outcomes(self) -> Any: ...

    imports: int
    import_s: float
    import_fallback: str | None


@contextlib.contextmanager
def collecting() -> Iterator[defaultdict[str, float]]:
    """Count the executions of this block (this thread and its context) into a new counter."""
    counter: defaultdict[str, float] = defaultdict(float)
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def add(results: Iterable[_Result]) -> None:
    """Add a batch's results: processes, imports, fallbacks and the seconds of each part."""
    counter = _current.get()
    if counter is None:
        return
    for result in results:
        outcomes: list[_Outcome] = list(result.outcomes)
        counter["processes"] += len(outcomes)
        counter["imports"] += result.imports
        counter["import_fallbacks"] += result.import_fallback is not None
        counter["import_s"] += result.import_s  # a per-job zygote's import, once for its inputs
        for outcome in outcomes:
            for name in SECONDS:
                counter[name] += getattr(outcome, name)


def summary(costs: dict[str, float]) -> dict[str, float]:
    """The totals with seconds per process for each part (`<part>_per_process`)."""
    out: dict[str, float] = {k: round(v, 6) for k, v in sorted(costs.items())}
    n = costs.get("processes", 0)
    if n:
        for name in SECONDS:
            out[f"{name}_per_process"] = round(costs.get(name, 0.0) / n, 6)
    return out
