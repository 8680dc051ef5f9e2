"""The jobs that run code on a row's tests as its candidates are run, in one place.

Execute (the original), verify (each candidate) and repair (each buggy variant) all run a
row's code alike: a method through the harness comparing only the instance attributes the
prompt shows (worked out once from the reference code, never from the code being run), and
with the row's own function or class out of reach in its module (`sandbox.hide_original`).
"""

from __future__ import annotations

from dataclasses import dataclass

from codemint.original_module import hidden_for
from codemint.records import HiddenOriginal, Instructed
from codemint.samples import compared_state, runnable
from codemint.sandbox.api import ExecJob
from codemint.settings import ExecLimits, SandboxSettings


@dataclass(frozen=True)
class RowJobs:
    row: Instructed
    shown: list[str] | None  # the compared instance attributes (None: all, or not a method)
    hide: HiddenOriginal | None

    @classmethod
    def of(cls, row: Instructed, sandbox: SandboxSettings | None) -> RowJobs:
        """`sandbox` None: nothing hidden (a caller without sandbox settings)."""
        hide = hidden_for(row, sandbox) if sandbox is not None else None
        return cls(row, compared_state(row), hide)

    def job(self, code: str, job_id: str, inputs: list[str], limits: ExecLimits, zygote: int = 0) -> ExecJob:
        """`code` (the original, a candidate or a variant) run on `inputs` as the row's tests run."""
        row = self.row
        run_code, entry = runnable(code, row.sample_kind, row.entry_point, row.class_name, self.shown)
        return ExecJob(
            job_id=job_id,
            code=run_code,
            entry_point=entry,
            inputs=inputs,
            limits=limits,
            zygote=zygote,
            hide=self.hide,
        )
