"""RowJobs: one row's code, a candidate's or a variant's, runs as the row's tests run."""

from __future__ import annotations

import inspect
import statistics

from factories import MEDIAN, verified

from codemint.records import Provenance
from codemint.samples import METHOD_HARNESS
from codemint.sandbox.row_jobs import RowJobs
from codemint.settings import ExecLimits, SandboxSettings

COUNTER = '''
class Counter:
    """Counts."""

    def __init__(self, start=0):
        self.total = start

    def add(self, n):
        self._cache = n
        self.total += n
        return self.total
'''


def test_a_function_row_hides_its_original_unless_switched_off() -> None:
    line = inspect.getsourcelines(statistics.median)[1]
    prov = Provenance(source_uri="stdlib:statistics", path="statistics.py", line_start=line)
    rec = verified(MEDIAN).model_copy(update={"provenance": prov, "entry_point": "median"})
    job = RowJobs.of(rec, SandboxSettings()).job("def median(x): ...", "j", ["[]"], ExecLimits(), zygote=1)
    assert job.hide is not None and (job.hide.module, job.hide.names) == ("statistics", ["median"])
    assert (job.code, job.entry_point, job.zygote) == ("def median(x): ...", "median", 1)
    assert RowJobs.of(rec, SandboxSettings(hide_original=False)).hide is None
    assert RowJobs.of(rec, None).hide is None


def test_a_method_row_runs_any_code_through_the_harness_with_the_reference_s_shown_state() -> None:
    rec = verified(MEDIAN).model_copy(
        update={
            "original_code": COUNTER,
            "sample_kind": "method",
            "entry_point": "add",
            "class_name": "Counter",
            "context_code": "class Counter: ...",
        }
    )
    row = RowJobs.of(rec, None)
    assert row.shown == ["total"]  # the private cache only `add` fills is not shown
    candidate = "class Counter:\n    def __init__(self, start=0):\n        self.total = start\n"
    job = row.job(candidate, "c", ["[]"], ExecLimits())
    assert job.entry_point == METHOD_HARNESS and job.code.startswith(candidate)
    assert "shown = frozenset({'total'})" in job.code  # the harness compares only that
