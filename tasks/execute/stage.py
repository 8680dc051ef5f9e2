"""Execute: run the original code on every input in the sandbox to get expected outputs.

Each input runs `execute.repeats` times; a sample whose outputs differ between runs is
dropped as nondeterministic; each run is forked from its own zygote (another hash seed,
no shared process state). With `execute.reuse_testgen_runs` the first run is the one
feedback testgen made (the row's `input_runs`): only the others run here, and a row whose
runs here differ from it (a result, an exception type, the arguments' state) or print runs
its first here too. With `execute.predecide` as well, a row whose outcomes in testgen's run
already drop it (`no_normal_returns`, `too_few_tests`, the trivial-solution reasons,
`no_instruction_source`) is dropped before any run here, with the reason and message its run
would give (`_predecide` says when that holds; `predecided:<reason>` counts them). With
`execute.prescreen` too, a row without testgen's run (a method sample: feedback testgen does
not run those) is first run on all its inputs in one sandbox process, a suite job
(sandbox/suite.py, `prescreen_jobs`), and pre-decided on that run alike; a row it does not
drop takes that run as testgen's is taken (`screen_runs_reused`): for the first run, checked
by its own run here. With `execute.skip_unstated`, an input on which that reference run (either)
raised an exception the prompt does not state is not run here: its test would be dropped as
`unstated_exception` whatever ran, and the reference's outcome stands for it. A row without
a reference run runs its second run only on the inputs its first finished: one that ran out of
time or memory there is discarded whatever the second gives.
Tests also record stdout when the original's depends on the input, and the arguments'
state after the call when the original mutates them.
An exception raised by the original is expected behaviour (a test case that expects that
exception type), but it does not count toward `min_tests` (any mutant raising the same
type passes it), and such tests are capped at `max_exception_share` of the row's tests.
Inputs that time out, run out of memory or are killed are discarded, not turned into tests.
When the original cannot even import what it needs, the sample is dropped as
`missing_import` naming the module, so a sandbox image lacking a package shows up as such
rather than as bad samples. With `execute.outcome_checks` (tasks/execute/checks.py) a test
expecting what only the sandbox knows is dropped, the arguments are compared only when
changing them is the code's job, a test expecting an exception the prompt does not define
or name is dropped (tasks/execute/stated_exceptions.py), so is a test calling it outside a
precondition its docstring states ("Assume y1 <= y2", "assuming a is sorted":
codemint/offline/contract_relations.py; testgen keeps such inputs out already, with
`testgen.contract_inputs`), and a row whose tests a trivially wrong
solution passes is dropped (`constant_outcome`, `identity_outcome`, `one_sided_predicate`,
`few_distinct_outcomes`). A row summarize could only give a provisional instruction
(`instruction_source` "examples") gets its instruction here, from its kept tests
(tasks/execute/example_instructions.py), or is dropped as `no_instruction_source`.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator

from codemint import codec, safe_ast
from codemint.offline.contracts import RowContract, row_contract
from codemint.original_module import hidden_for
from codemint.prompt_context import platform_note
from codemint.records import Executed, InputRun, Rejected, TestCase, WithInputs
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.api import CallOutcome, ExecJob, ExecResult
from codemint.sandbox.images import environment_requirements, image_identity
from codemint.sandbox.row_jobs import RowJobs
from codemint.sandbox.suite import TestOutcome, parse, suite_job
from codemint.settings import ExecuteSettings
from codemint.stage import Stage
from codemint.stage_task import shard_task
from codemint.tasks.execute import checks, example_instructions, stated_exceptions
from codemint.tasks.summarize.stage import instruction_for

IMPORT_ERRORS = {"ModuleNotFoundError", "ImportError"}
# Words (of a docstring or comment) below which an instruction also shows examples of its tests.
TERSE_WORDS = 8
_MODULE_RE = re.compile(r"No module named '([^']+)'|cannot import name '([^']+)'")

# Drops `execute.predecide` may make on feedback testgen's run alone: decided from outcomes
# (status, value, exception type, argument state), which testgen's run records as execute's does.
PREDECIDED = frozenset(
    {
        "no_normal_returns",
        "too_few_tests",
        "constant_outcome",
        "identity_outcome",
        "one_sided_predicate",
        "few_distinct_outcomes",
        "no_instruction_source",
    }
)
# Of those, the one stdout cannot change: it reads only which inputs raised. Stdout (testgen
# does not record it) makes tests distinct, is shown in no example, and may hold what only
# the sandbox knows (tests dropped: other counts in a message).
SILENT_INDEPENDENT = frozenset({"no_normal_returns"})
# An input whose testgen run took more than this share of the time limit may time out here
# on a loaded machine (discarded, which changes the decision): such a row runs.
PREDECIDE_TIME_SHARE = 0.25
# Names through which code may write to the job's stdout (fd 1): printing, streams, other
# processes, dynamic calls that may reach any of them, and stdlib helpers that print.
_PRINTING_NAMES = frozenset(
    {
        "print", "pprint", "pp", "stdout", "__stdout__", "write", "writelines", "writev", "dup2",
        "fdopen", "open", "dis", "disassemble", "distb", "show_code", "help", "input", "breakpoint",
        "set_trace", "interact", "system", "popen", "Popen", "subprocess", "spawnl", "spawnv",
        "execv", "execl", "execve", "execvp",
        "fork", "eval", "exec", "__import__", "import_module", "getattr", "globals",
        "__builtins__", "builtins", "testmod", "main", "_test", "test", "prcal", "prmonth",
        "prweek", "print_exc", "print_exception", "print_stack", "print_tb", "dump", "display",
        "show", "redirect_stdout",
    }
)  # fmt: skip


def outcome_key(o: CallOutcome) -> tuple[str, str | None, str | None]:
    """What two runs must agree on: a return value or an exception type, and the arguments'
    state after the call. (Stdout that differs between runs is only left uncompared.)"""
    if o.status == "ok":
        return "ok", o.result, o.args_after
    if o.status == "error":
        return "error", o.exc_type, o.args_after
    return o.status, None, None


def behaviour_fields(runs: list[list[CallOutcome]], kept: list[int]) -> tuple[bool, bool]:
    """(compare stdout, compare arguments) for a sample's tests: stdout when the original's
    differs between inputs and is the same on every run of an input; arguments when the
    original changed them on some input."""
    firsts = [runs[0][j] for j in kept]
    stable = all(len({r[j].stdout for r in runs}) == 1 for j in kept)
    stdout = stable and len({o.stdout for o in firsts}) > 1
    args = any(o.args_after is not None for o in firsts)
    return stdout, args


def missing_module(outcomes: list[CallOutcome]) -> str | None:
    """The module the code failed to import on every input, if that is why it failed."""
    if not outcomes or any(o.status != "error" or o.exc_type not in IMPORT_ERRORS for o in outcomes):
        return None
    match = _MODULE_RE.search(outcomes[0].exc_message or "")
    if match is None:
        return "unknown"
    return (match.group(1) or match.group(2)).split(".")[0]


def may_print(rec: WithInputs) -> bool:
    """Whether the original might write to stdout (`code_may_print`)."""
    return code_may_print(rec.original_code)


def code_may_print(code: str) -> bool:
    """Whether `code` might write to stdout: a name of its code (not its words: names and
    attributes it uses, and `print`-like names; its helpers are part of it) through which it
    could. The arguments cannot: a function argument is a pure builtin (codemint/codec.py)."""
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.alias):
            name = node.asname or node.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            name = (node.module or "").split(".")[0]
        else:
            continue
        if name in _PRINTING_NAMES or name.startswith(("print", "_print", "show", "dump")):
            return True
    return False


def cap_exception_tests(cases: list[TestCase], share: float) -> tuple[list[TestCase], int]:
    """Keep exception tests up to `share` of the kept tests, one per exception type first
    (in input order within a type); returns the kept tests in their order and how many went."""
    raising = [i for i, c in enumerate(cases) if c.exception is not None]
    normal = len(cases) - len(raising)
    allowed = int(share * normal / (1 - share) + 1e-9)
    if len(raising) <= allowed:
        return cases, 0
    first_of_type: dict[str | None, int] = {}
    for i in raising:
        first_of_type.setdefault(cases[i].exception, i)
    firsts = set(first_of_type.values())
    order = [*first_of_type.values(), *(i for i in raising if i not in firsts)]
    keep = set(order[:allowed])
    kept = [c for i, c in enumerate(cases) if c.exception is None or i in keep]
    return kept, len(cases) - len(kept)


def _outside_precondition(contract: RowContract, input_text: str) -> bool:
    """Whether the call breaks a precondition the row's docstring states of the whole call
    (its other contract violations are testgen's to keep out, `testgen.contract_inputs`)."""
    violation = contract.violation(input_text)
    return violation is not None and violation.kind == "precondition"


def _call_outcome(kind: str, value: str | None, args_after: str | None) -> CallOutcome:
    """A run's outcome in the suite harness's form (kind "ok" or "error", the value's text or
    the exception type) as the runner reports it."""
    if kind == "ok":
        return CallOutcome(status="ok", result=value, args_after=args_after)
    return CallOutcome(status="error", exc_type=value, args_after=args_after)


# Codec tags whose text may depend on when the value is encoded: an iterator in it is consumed
# when the suite's whole result is, after later inputs ran, not right after its call.
_DEFERRED_TAGS = ('"__iter__"', '"__iter_cut__"', '"__iter_raised__"')
# The suite's result holds a value two levels deeper than a run's result does; a value nested
# near the codec's depth limit (past which it writes a repr) may be written otherwise there.
_DEPTH_MARGIN = 8


def _same_text(o: TestOutcome) -> bool:
    """Whether the screen's outcome has the text execute's own run of the input gives: the
    same type name for an exception (`codec.type_name` both), the same canonical text for a
    value (the codec's, re-canonicalized by `suite.parse`) unless it holds an iterator or a
    repr the depth limit may have made. A RecursionError depends on the stack's depth, which
    the suite's harness adds to: it, and what the call had changed by then, may differ."""
    if o.kind == "error":
        return o.value != "RecursionError"
    if o.kind != "ok" or o.value is None or any(tag in o.value for tag in _DEFERRED_TAGS):
        return False
    return '"__repr__"' not in o.value or _depth(json.loads(o.value)) < codec.MAX_DEPTH - _DEPTH_MARGIN


def _depth(data: object) -> int:
    """How deep JSON data nests (lists and dicts)."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
        elif isinstance(item, dict):
            stack.extend((x, depth + 1) for x in item.values())
    return deepest


def _filled(result: ExecResult, ran: list[int], base: list[CallOutcome] | None) -> ExecResult:
    """`result` of a run on the inputs `ran` (indices), with `base`'s outcome (another run's,
    one per input) at each input it did not run: one outcome per input again."""
    if base is None or len(ran) == len(base) or result.infra_error or len(result.outcomes) != len(ran):
        return result
    outcomes = list(base)
    for j, o in zip(ran, result.outcomes, strict=True):
        outcomes[j] = o
    return result.model_copy(update={"outcomes": outcomes})


class Execute(Stage[WithInputs, Executed]):
    name = "execute"
    chunked = True  # rows are independent: a shard runs a chunk at a time
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
        limits = self.settings.sandbox.limits

        def jobs_for(rec: WithInputs, runs: range, only: list[int]) -> list[ExecJob]:
            # Tests are recorded as candidates will face them: without the original.
            row = RowJobs.of(rec, self.settings.sandbox)
            inputs = [rec.test_inputs[j] for j in only]
            # Each run on its own zygote: another hash seed, nothing shared with the other.
            return [row.job(rec.original_code, f"{rec.id}#{r}", inputs, limits, zygote=r % 4) for r in runs]

        # A row whose first run feedback testgen already made runs the others only.
        reuse = [
            self.cfg.reuse_testgen_runs and repeats > 1 and len(rec.input_runs) == len(rec.test_inputs)
            for rec in records
        ]
        # A row testgen's run already dooms for what its outcomes show is dropped unrun.
        early: dict[int, Rejected] = {}
        for n, rec in enumerate(records):
            if reuse[n] and self.cfg.predecide and (drop := self._predecide(rec)) is not None:
                early[n] = drop
                reuse[n] = False
        # A row without testgen's run: one process runs all its inputs, and may doom it alike.
        screen = [
            n
            for n, rec in enumerate(records)
            if self.cfg.predecide
            and self.cfg.prescreen
            and not reuse[n]
            and n not in early
            and rec.test_inputs
            and len(rec.input_runs) != len(rec.test_inputs)
        ]
        screen_jobs = [self._screen_job(records[n]) for n in screen]
        screened = shared_sandbox(self.settings.sandbox).run_batch(screen_jobs) if screen else []
        self.metrics["prescreen_jobs"] += len(screen)
        # The run standing for the first (testgen's, or else the screen's) per row that has one.
        reference = {n: rec.input_runs for n, rec in enumerate(records) if reuse[n]}
        stands_in: set[int] = set()
        for n, result in zip(screen, screened, strict=True):
            drop, screen_run = self._prescreened(records[n], result)
            if drop is not None:
                early[n] = drop
            elif screen_run is not None and self.cfg.reuse_testgen_runs and repeats > 1:
                reference[n] = screen_run  # it stands for the first run as testgen's run does
                reuse[n] = True
                stands_in.add(n)
        # Inputs whose test would be dropped for an exception the prompt does not state run no
        # more: the reference run's outcome stands for them in every run.
        only = {
            n: self._inputs_to_run(rec, reference.get(n)) if n not in early else []
            for n, rec in enumerate(records)
        }
        bases = {
            n: [_call_outcome(r.kind, r.value, r.args_after) for r in ref] for n, ref in reference.items()
        }
        # A row with a reference run runs the others; a row without, its first here first.
        plans = [
            [] if n in early else jobs_for(rec, range(1, repeats) if r else range(1), only[n])
            for n, (rec, r) in enumerate(zip(records, reuse, strict=True))
        ]
        own = self._run_plans(plans, only, bases)
        # Then its others, on the inputs its first run finished: an input that ran out of time
        # or memory there is discarded whatever they give, and their outcome is the first's.
        later = [n for n in range(len(records)) if n not in early and not reuse[n] and repeats > 1]
        rest: dict[int, list[int]] = {}
        for n in later:
            first = own[n][0]
            finished = not first.infra_error and len(first.outcomes) == len(records[n].test_inputs)
            rest[n] = [j for j in only[n] if not finished or first.outcomes[j].status in ("ok", "error")]
            bases[n] = first.outcomes if finished else []
            self.metrics["inputs_not_rerun:unfinished"] += len(only[n]) - len(rest[n])
        again = self._run_plans(
            [jobs_for(records[n], range(1, repeats), rest[n]) if rest[n] else [] for n in later],
            dict(enumerate(rest[n] for n in later)),
            {k: bases[n] for k, n in enumerate(later)},
        )
        for n, runs in zip(later, again, strict=True):
            # nothing finished: the first run stands for the others (every input discarded)
            own[n] += runs or [own[n][0]] * (repeats - 1)
        # Where the reference run cannot stand for the first (it differs, or there is output or
        # argument state it did not record), the first runs here, as without reuse.
        redo: list[int] = []
        for n, rec in enumerate(records):
            why = self._unusable(rec, own[n], reference[n]) if reuse[n] else None
            if why is not None:
                redo.append(n)
                self.metrics[f"testgen_runs_redone:{why}"] += 1
        first_jobs = [jobs_for(records[n], range(1), only[n])[0] for n in redo]
        firsts = shared_sandbox(self.settings.sandbox).run_batch(first_jobs) if redo else []
        for n, first in zip(redo, firsts, strict=True):
            own[n] = [_filled(first, only[n], bases.get(n)), *own[n]]
        self.metrics["testgen_runs_reused"] += sum(reuse) - len(stands_in) - len(set(redo) - stands_in)
        self.metrics["screen_runs_reused"] += len(stands_in - set(redo))
        for n, (rec, runs) in enumerate(zip(records, own, strict=True)):
            if n in early:
                yield early[n]
            else:
                yield self._decide(rec, [r.outcomes for r in runs], [r.infra_error for r in runs])

    def _run_plans(
        self, plans: list[list[ExecJob]], ran: dict[int, list[int]], bases: dict[int, list[CallOutcome]]
    ) -> list[list[ExecResult]]:
        """Each plan's results in one sandbox batch, each run filled from its base run at the
        inputs it did not run (`_filled`)."""
        flat = [job for plan in plans for job in plan]
        results = shared_sandbox(self.settings.sandbox).run_batch(flat) if flat else []
        out: list[list[ExecResult]] = []
        at = 0
        for n, plan in enumerate(plans):
            out.append([_filled(r, ran[n], bases.get(n) or None) for r in results[at : at + len(plan)]])
            at += len(plan)
        return out

    def _predecide(self, rec: WithInputs) -> Rejected | None:
        """The drop `_decide` gives on feedback testgen's run of the original alone, when that
        drop is one the outcomes decide (PREDECIDED) and execute's own run would decide the
        same; else None (the row runs as usual). Where its run would agree with testgen's
        (the common case: see `_unusable`), `_decide` on it and on testgen's outcomes see the
        same statuses, values, exception types and argument states; what testgen's lack
        (stdout, exception messages), what it encodes its own way (iterators) and what a
        loaded machine may change (an input near its time limit) leave the row to its run."""
        limit = self.settings.sandbox.limits.timeout_s
        if any(
            r.kind not in ("ok", "error") or r.seconds > PREDECIDE_TIME_SHARE * limit for r in rec.input_runs
        ):
            return None
        return self._predecide_on(rec, [_call_outcome(r.kind, r.value, r.args_after) for r in rec.input_runs])

    def _screen_job(self, rec: WithInputs) -> ExecJob:
        """The original on all of `rec`'s inputs in one process, as its own run here runs each:
        the same code (a method through the same harness), hidden original and limits per input,
        each input on a fresh module; its outcomes are the suite harness's (testgen's format),
        with the arguments' state."""
        limits = self.settings.sandbox.limits
        own = RowJobs.of(rec, self.settings.sandbox).job(rec.original_code, f"{rec.id}#screen", [], limits)
        job = suite_job(
            own.job_id,
            own.code,
            own.entry_point,
            rec.test_inputs,
            # an input slower than this leaves the row to its runs anyway: no longer wait for it
            budgets=[PREDECIDE_TIME_SHARE * limits.timeout_s] * len(rec.test_inputs),
            expect=None,
            trace=False,
            base=limits,
            state=True,
        )
        return job.model_copy(update={"hide": own.hide})

    def _prescreened(
        self, rec: WithInputs, result: ExecResult
    ) -> tuple[Rejected | None, list[InputRun] | None]:
        """`_predecide` on the screen's run (`_screen_job`) instead of testgen's: the same rules
        (its suite harness is the one testgen runs; what it printed counts as `may_print`); a
        job that did not finish, an input near its time limit or an outcome whose text the
        per-input run may write otherwise (`_same_text`) leave the row to its runs. Also the
        screen's run as testgen's runs are recorded, to stand for a first run as theirs do,
        when the row is not dropped and nothing of that kind stood in the way."""
        try:
            run = parse(result, trace=False)
        except (ValueError, TypeError, IndexError, KeyError):
            return None, None  # not the harness's reply: the row runs as without the screen
        if run.job_status != "ok" or len(run.outcomes) != len(rec.test_inputs):
            return None, None
        limit = self.settings.sandbox.limits.timeout_s
        if any(not _same_text(o) or o.seconds > PREDECIDE_TIME_SHARE * limit for o in run.outcomes):
            return None, None
        outcomes = [_call_outcome(o.kind, o.value, o.args_after) for o in run.outcomes]
        # It printed: as for code that may print, its tests may compare what it printed.
        printed = any(o.stdout for o in result.outcomes)
        runs = [
            InputRun(kind=o.kind, value=o.value, seconds=o.seconds, args_after=o.args_after)
            for o in run.outcomes
        ]
        return self._predecide_on(rec, outcomes, printed=printed), None if printed else runs

    def _inputs_to_run(self, rec: WithInputs, reference: list[InputRun] | None) -> list[int]:
        """The inputs execute runs: all, but with `execute.skip_unstated` and a reference run,
        not those on which that run raised an exception the prompt does not state (their tests
        are dropped as `unstated_exception` whatever runs here) and left the arguments as they
        were; unless the code may print (stdout that differs by input is compared on all of
        them), the exception is an import error (its message names the missing module) or
        nothing else would run."""
        every = list(range(len(rec.test_inputs)))
        if not (self.cfg.skip_unstated and self.cfg.outcome_checks) or reference is None:
            return every
        if len(reference) != len(every) or may_print(rec):
            return every
        prompt = f"{rec.instruction}\n{rec.context_code or ''}"
        skipped = {
            j
            for j, ran in enumerate(reference)
            if ran.kind == "error"
            and ran.args_after is None
            and ran.value not in IMPORT_ERRORS
            and stated_exceptions.unstated_exception(
                ran.value, None, rec.original_code, prompt, rec.entry_point
            )
        }
        if len(skipped) == len(every):
            return every
        self.metrics["inputs_skipped:unstated_exception"] += len(skipped)
        return [j for j in every if j not in skipped]

    def _predecide_on(
        self, rec: WithInputs, outcomes: list[CallOutcome], printed: bool = False
    ) -> Rejected | None:
        """The drop `_decide` gives on one run's `outcomes` (ok or error, no stdout) when the
        outcomes alone decide it (PREDECIDED); else None. `printed`: the run wrote to stdout."""
        # What only the sandbox knows (an address, a job's work path) differs from job to job:
        # its run here would likely be dropped as nondeterministic, not for these outcomes.
        for text, o in zip(rec.test_inputs, outcomes, strict=True):
            if checks.sandbox_only(TestCase(input=text, expected=o.result, args_after=o.args_after)):
                return None
        saved, self.metrics = self.metrics, Counter()
        try:
            out = self._decide(rec, [outcomes], [None])
        finally:
            seen, self.metrics = self.metrics, saved
        if not isinstance(out, Rejected) or out.drop_reason not in PREDECIDED:
            return None  # kept, or a verdict an outcome alone cannot give (missing_import)
        if out.drop_reason not in SILENT_INDEPENDENT and (printed or may_print(rec)):
            return None  # output that differs by input could make its tests distinct
        # The per-test counts its decision made stand; `original_*` count runs, and none ran.
        self.metrics.update({k: v for k, v in seen.items() if not k.startswith("original_")})
        self.metrics[f"predecided:{out.drop_reason}"] += 1
        return out

    def _unusable(self, rec: WithInputs, runs: list[ExecResult], reference: list[InputRun]) -> str | None:
        """Why the reference run (feedback testgen's, or the screen's) of the original cannot
        stand for execute's first run of it, or None: each of this stage's runs must give the
        same result or exception type and argument state on every input, and print nothing
        (the reference run does not record it)."""
        if any(r.infra_error for r in runs):
            return None  # a sandbox failure is decided as one, as before
        for run in runs:
            if len(run.outcomes) != len(reference):
                return None
            for ran, o in zip(reference, run.outcomes, strict=True):
                if o.stdout:
                    return "output"
                if o.args_after != ran.args_after:
                    return "arguments_differ"
                if ran.kind == "error":
                    same = o.status == "error" and o.exc_type == ran.value
                else:
                    same = o.status == "ok" and o.result == ran.value
                if not same:
                    return "differs"
        return None

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
        kept: list[int] = []
        discarded = 0
        statuses: Counter[str] = Counter()
        for j in range(len(rec.test_inputs)):
            per_run = [r[j] for r in runs]
            keys = {outcome_key(o) for o in per_run}
            statuses.update(o.status for o in per_run)
            if any(o.status not in ("ok", "error") for o in per_run):
                discarded += 1  # timeouts, memory, kills: not a behaviour to test against
                continue
            if len(keys) > 1:
                self.metrics["nondeterministic"] += 1
                return self.reject(
                    rec.id, "nondeterministic", f"input {j} gave different outputs", record=rec
                )
            kept.append(j)
        with_stdout, with_args = behaviour_fields(runs, kept)
        if with_args and self.cfg.outcome_checks:
            with_args = self._args_are_its_job(rec, [runs[0][j] for j in kept])
        cases: list[TestCase] = []
        unproducible = 0
        prompt = f"{rec.instruction}\n{rec.context_code or ''}"
        contract = row_contract(rec.original_code, rec.entry_point, rec.sample_kind, rec.class_name)
        for j in kept:
            first, text = runs[0][j], rec.test_inputs[j]
            case = TestCase(
                input=text,
                stdout=first.stdout if with_stdout else None,
                args_after=(first.args_after or text) if with_args else None,
            )
            if first.status == "ok":
                case.expected = first.result
            else:
                case.exception = first.exc_type
            if self.cfg.outcome_checks and (why := checks.sandbox_only(case)) is not None:
                self.metrics[f"test_dropped:{why}"] += 1  # no prompt can say what to produce
                unproducible += 1
                continue
            if self.cfg.outcome_checks and _outside_precondition(contract, text):
                # "Assume y1 <= y2": what the code does otherwise is no part of the task.
                self.metrics["test_dropped:outside_precondition"] += 1
                continue
            if self.cfg.outcome_checks and stated_exceptions.unstated_exception(
                case.exception, case.expected, rec.original_code, prompt, rec.entry_point
            ):
                # A correct solution may fail this junk another way, or not at all.
                self.metrics["test_dropped:unstated_exception"] += 1
                continue
            cases.append(case)
        for status, n in statuses.items():
            self.metrics[f"original_{status}"] += n
        ok = sum(1 for c in cases if c.exception is None)
        if kept and all(runs[0][j].status == "error" for j in kept):
            raised = Counter(runs[0][j].exc_type for j in kept).most_common(2)
            return self.reject(
                rec.id, "no_normal_returns", f"original raised on every input: {raised}", record=rec
            )
        if ok < self.cfg.min_tests:
            return self.reject(
                rec.id,
                "too_few_tests",
                f"{ok} normal-return tests < {self.cfg.min_tests}"
                f" ({len(cases) - ok} raising, {discarded} discarded"
                f"{f', {unproducible} expecting sandbox-only values' if unproducible else ''})",
                record=rec,
            )
        if self.cfg.outcome_checks:
            trivial = checks.trivial_outcomes(
                cases, rec.sample_kind, self.cfg.min_distinct_outcomes, checks.effect_is_its_job(rec)
            )
            if trivial is not None:
                return self.reject(rec.id, trivial[0], trivial[1], record=rec)
        cases, capped = cap_exception_tests(cases, self.cfg.max_exception_share)
        self.metrics["exception_tests_capped"] += capped
        fields = rec.model_dump()
        if rec.instruction_source == example_instructions.PENDING:
            doc = example_instructions.example_doc(cases, rec.entry_point, rec.sample_kind, rec.class_name)
            if doc is None:
                return self.reject(
                    rec.id,
                    "no_instruction_source",
                    "no docstring, and its examples do not specify it: fewer than "
                    f"{example_instructions.MIN_SHOWN} calls that read back as literals and "
                    "return different results (calls that print or change their arguments "
                    "are not shown)",
                    record=rec,
                )
            fields["instruction"] = instruction_for(rec, doc)
            self.metrics["example_instructions"] += 1
        elif self.cfg.terse_examples and (shown := self._terse_examples(rec, cases)) is not None:
            fields["instruction"] = shown
            self.metrics["terse_examples"] += 1
        image = image_identity(self.settings.sandbox)
        return Executed(
            **fields,
            test_cases=cases,
            discarded_inputs=discarded,
            sandbox_image=image,
            # Where a reward must run it: the same image and nothing of the original in reach.
            environment_requirements=environment_requirements(rec.provenance, image),
            hidden=hidden_for(rec, self.settings.sandbox),
        )

    def _terse_examples(self, rec: WithInputs, cases: list[TestCase]) -> str | None:
        """The instruction with a few of the row's tests shown as examples, when its words (a
        docstring or comment) are fewer than TERSE_WORDS: "Return a formatted day." does not
        say the format its tests expect, and a solver writing from the prompt alone could not
        guess it. None when the words are enough, or the examples specify nothing."""
        words = {"docstring": rec.docstring, "comment": rec.comment}.get(rec.instruction_source)
        if words is None or len(re.findall(r"\w+", words)) >= TERSE_WORDS:
            return None
        shown = example_instructions.example_doc(cases, rec.entry_point, rec.sample_kind, rec.class_name)
        if shown is None:
            return None
        # Beside the words, before the note on whose path rules apply (its last paragraph).
        note = platform_note(rec.provenance.path)
        head = rec.instruction
        tail = "" if note is None else f"\n\n{note}"
        if tail and head.endswith(tail):
            return f"{head.removesuffix(tail)}\n\n{shown}{tail}"
        return f"{head}\n\n{shown}"

    def _args_are_its_job(self, rec: WithInputs, outcomes: list[CallOutcome]) -> bool:
        """Whether the arguments' state after the call is part of what the code must do: its
        words say it changes them, it returns None on every normal input (mutation is its only
        effect), or an argument is an in-memory file. Otherwise a solver could not know."""
        if checks.effect_is_its_job(rec):
            return True
        results = [o.result for o in outcomes if o.status == "ok" and o.result is not None]
        return checks.returns_none(results, rec.sample_kind)


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Execute)
