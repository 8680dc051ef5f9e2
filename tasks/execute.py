"""Execute: run the original code on every input in the sandbox to get expected outputs.

Each input runs `execute.repeats` times; a sample whose outputs differ between runs is
dropped as nondeterministic. An exception raised by the original is expected behaviour
(a test case that expects that exception type). Inputs that time out, run out of memory
or are killed are discarded, not turned into tests. When the original cannot even import
what it needs, the sample is dropped as `missing_import` naming the module, so a sandbox
image lacking a package shows up as such rather than as bad samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from codemint.records import Executed, Rejected, TestCase, WithInputs
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.api import CallOutcome, ExecJob
from codemint.settings import ExecuteSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task

IMPORT_ERRORS = {"ModuleNotFoundError", "ImportError"}
_MODULE_RE = re.compile(r"No module named '([^']+)'|cannot import name '([^']+)'")


def outcome_key(o: CallOutcome) -> tuple[str, str | None]:
    """What two runs must agree on: a return value, or an exception type."""
    if o.status == "ok":
        return "ok", o.result
    if o.status == "error":
        return "error", o.exc_type
    return o.status, None


def missing_module(outcomes: list[CallOutcome]) -> str | None:
    """The module the code failed to import on every input, if that is why it failed."""
    if not outcomes or any(o.status != "error" or o.exc_type not in IMPORT_ERRORS for o in outcomes):
        return None
    match = _MODULE_RE.search(outcomes[0].exc_message or "")
    if match is None:
        return "unknown"
    return (match.group(1) or match.group(2)).split(".")[0]


class Execute(Stage[WithInputs, Executed]):
    name = "execute"
    input_model = WithInputs
    output_model = Executed
    settings_field = "execute"

    @property
    def cfg(self) -> ExecuteSettings:
        return self.settings.execute

    def extra_fingerprint(self) -> list[object]:
        # Limits and image change what runs; the pool size does not.
        return result_fingerprint(self.settings.sandbox)

    def run(self, records: Iterable[WithInputs]) -> Iterator[Executed | Rejected]:
        records = list(records)
        repeats = max(1, self.cfg.repeats)
        jobs = [
            ExecJob(
                job_id=f"{rec.id}#{r}",
                code=rec.original_code,
                entry_point=rec.entry_point,
                inputs=rec.test_inputs,
                limits=self.settings.sandbox.limits,
            )
            for rec in records
            for r in range(repeats)
        ]
        results = shared_sandbox(self.settings.sandbox).run_batch(jobs) if jobs else []
        for i, rec in enumerate(records):
            runs = results[i * repeats : (i + 1) * repeats]
            yield self._decide(rec, [r.outcomes for r in runs], [r.infra_error for r in runs])

    def _decide(
        self, rec: WithInputs, runs: list[list[CallOutcome]], infra: list[str | None]
    ) -> Executed | Rejected:
        errors = [e for e in infra if e]
        if errors or any(len(r) != len(rec.test_inputs) for r in runs):
            self.metrics["sandbox_infra_error"] += 1
            return self.reject(
                rec.id, "sandbox_error", errors[0] if errors else "missing outcomes", record=rec
            )
        module = missing_module(runs[0])
        if module is not None:
            self.metrics[f"missing_import:{module}"] += 1
            return self.reject(rec.id, "missing_import", module, record=rec)
        cases: list[TestCase] = []
        discarded = 0
        statuses: Counter[str] = Counter()
        for j, text in enumerate(rec.test_inputs):
            per_run = [r[j] for r in runs]
            keys = {outcome_key(o) for o in per_run}
            statuses.update(o.status for o in per_run)
            first = per_run[0]
            if any(o.status not in ("ok", "error") for o in per_run):
                discarded += 1  # timeouts, memory, kills: not a behaviour to test against
                continue
            if len(keys) > 1:
                self.metrics["nondeterministic"] += 1
                return self.reject(
                    rec.id, "nondeterministic", f"input {j} gave different outputs", record=rec
                )
            if first.status == "ok":
                cases.append(TestCase(input=text, expected=first.result))
            else:
                cases.append(TestCase(input=text, exception=first.exc_type))
        for status, n in statuses.items():
            self.metrics[f"original_{status}"] += n
        ok = sum(1 for c in cases if c.exception is None)
        if len(cases) < self.cfg.min_tests:
            return self.reject(
                rec.id,
                "too_few_tests",
                f"{len(cases)} tests < {self.cfg.min_tests} ({discarded} discarded)",
                record=rec,
            )
        if ok < self.cfg.min_ok_tests:
            raised = Counter(c.exception for c in cases).most_common(2)
            return self.reject(
                rec.id, "no_normal_returns", f"original raised on every input: {raised}", record=rec
            )
        return Executed(**rec.model_dump(), test_cases=cases, discarded_inputs=discarded)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Execute)
