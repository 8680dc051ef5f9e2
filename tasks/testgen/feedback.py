"""Feedback-driven test inputs: propose many, run the original, keep the inputs that matter.

Per shard, batched over its rows (a few sandbox batches in all):
1. Proposals: the plain strategies' inputs, docstring examples in every style, and inputs
   for each type hypothesis of the parameters (`codemint.offline.proposals`).
2. Run the original on them, traced (lines and arcs), with adaptive time limits (the first
   inputs' runtime caps the later ones). Learn which type assignment returns normally and
   propose more of it, plus structure-keeping mutations of inputs that returned normally;
   run those too.
3. Run the mutants of the original on every input that finished (one job per mutant; with
   `feedback_reach_bound`, only on the inputs that execute the mutant's changed lines).
   Then aim at the mutants no input tells apart: mutations of the inputs that reach the
   mutated line (`feedback_targeted` per row), run on the original and every mutant.
4. Keep greedily: an input that returns normally is kept when it adds a line, a branch
   outcome or a killed mutant to what the kept ones already give; docstring examples first.
   Then the quality rules: at least `min_normal_tests` normal returns when there are that many
   (different outputs preferred), exception inputs only when they add something and at
   most `max_exception_share` of the kept inputs, `max_inputs` in all.
"""

from __future__ import annotations

import ast
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codemint import mutants as mutant_gen
from codemint import safe_ast
from codemint.codec import decode_input, encode_input
from codemint.coverage_map import CoverageMap, coverage_map
from codemint.offline import proposals
from codemint.offline.contracts import RowContract
from codemint.offline.inputs import mutate
from codemint.records import InputRun
from codemint.sandbox.adequacy import Stopped, expectation, run_rest, stopped_equal
from codemint.sandbox.api import ExecJob, ExecLimits, Sandbox
from codemint.sandbox.suite import SUITES_PER_PROCESS, SuiteRun, TestOutcome, parse, run_suites, suite_job
from codemint.settings import TestgenSettings
from codemint.tasks.execute.stage import code_may_print


@dataclass
class Row:
    """One function and its candidate inputs (encoded texts, with the strategy of each)."""

    key: str
    code: str  # the original code, as the execute stage runs it
    entry_point: str
    func: ast.FunctionDef | None
    docstring: str | None
    signature: str = ""
    texts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    outcomes: list[TestOutcome | None] = field(default_factory=list)
    assignment_of: list[int] = field(default_factory=list)  # type assignment that proposed it, or -1
    # What the row states it accepts (codemint/offline/contracts.py): candidates outside it are
    # not proposed, so the budget fills with inputs testgen keeps (None: no contract applied).
    contract: RowContract | None = None
    # Per input index, the mutants (`Mutant.key`) its run told apart from the original.
    kills: dict[int, list[str]] = field(default_factory=dict)

    def add(self, args: tuple[list[object], dict[str, object]], source: str, cap: int, max_chars: int,
            assignment: int = -1) -> bool:  # fmt: skip
        if len(self.texts) >= cap:
            return False
        try:
            text = encode_input(args[0], args[1])
        except (TypeError, ValueError, RecursionError):
            return False
        return self.add_text(text, source, cap, max_chars, assignment)

    def add_text(self, text: str, source: str, cap: int, max_chars: int, assignment: int = -1) -> bool:
        if assignment >= 0 and text in self.texts:
            # a plain strategy proposed it first (the same texts seed both): it still counts
            # for the type hypothesis, or the type search would not see it return normally
            k = self.texts.index(text)
            if self.assignment_of[k] < 0:
                self.assignment_of[k] = assignment
            return False
        if len(self.texts) >= cap or len(text) > max_chars or '"__repr__"' in text or text in self.texts:
            return False
        if self.contract is not None and self.contract.violation(text) is not None:
            return False
        self.texts.append(text)
        self.sources.append(source)
        self.outcomes.append(None)
        self.assignment_of.append(assignment)
        return True


@dataclass
class Stats:
    executions: int = 0  # inputs run (original and mutants)
    per_process: int = SUITES_PER_PROCESS  # mutant suites of a row run in one process
    proposed: int = 0
    kept: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def _run_original(
    box: Sandbox,
    rows: Sequence[Row],
    pending: dict[int, list[int]],
    cfg: TestgenSettings,
    limits: ExecLimits,
    stats: Stats,
) -> None:
    """Run the original, traced, on the pending inputs of each row (indexes into row.texts)."""
    order = [n for n in pending if pending[n]]
    jobs = [
        suite_job(
            f"{rows[n].key}#fb{len(rows[n].texts)}",
            rows[n].code,
            rows[n].entry_point,
            [rows[n].texts[i] for i in pending[n]],
            budgets=[limits.timeout_s] * len(pending[n]),
            expect=None,
            trace=True,
            base=limits,
            adaptive=(cfg.adaptive_first_inputs, cfg.adaptive_time_factor, cfg.adaptive_time_floor_s),
            state=True,  # as execute records a test: the arguments' state when the call changed it
        )
        for n in order
    ]
    for n, result in zip(order, box.run_batch(jobs) if jobs else [], strict=True):
        run = parse(result, trace=True)
        stats.executions += len(run.outcomes)
        for i, outcome in zip(pending[n], run.outcomes, strict=False):
            rows[n].outcomes[i] = outcome
        if run.job_status != "ok":
            stats.counts[f"original_job_{run.job_status}"] += 1


def kept_runs(row: Row, texts: Sequence[str]) -> dict[str, InputRun]:
    """The original's traced runs on `texts` (kept inputs of `row`) that finished, by text:
    what execute and adequacy take instead of running the original on them again."""
    index = {text: i for i, text in enumerate(row.texts)}
    out: dict[str, InputRun] = {}
    for text in texts:
        o = row.outcomes[index[text]] if text in index else None
        if o is not None and o.kind in ("ok", "iter", "error"):
            arcs = [[a, b] for a, b in o.arcs]
            out[text] = InputRun(
                kind=o.kind,
                value=o.value,
                seconds=o.seconds,
                lines=list(o.lines),
                arcs=arcs,
                args_after=o.args_after,
                kills=row.kills.get(index[text], []),
            )
    return out


def _learned_assignment(row: Row) -> int | None:
    """The type search's answer: the most plausible assignment (they are tried in order of
    plausibility) among those returning normally at least half as often as the best one."""
    normal: Counter[int] = Counter()
    for outcome, assignment in zip(row.outcomes, row.assignment_of, strict=True):
        if assignment >= 0 and outcome is not None and outcome.normal:
            normal[assignment] += 1
    if not normal:
        return None
    best = max(normal.values())
    return min(a for a, n in normal.items() if 2 * n >= best)


def _signature(text: str) -> tuple[str, ...]:
    """Top-level argument types of an input, for keeping a suite's inputs type-consistent."""
    try:
        args, kwargs = decode_input(text)
    except ValueError:
        return ()
    return (
        *(type(a).__name__ for a in args),
        *(f"{k}={type(v).__name__}" for k, v in sorted(kwargs.items())),
    )


def _mutant_runs(
    box: Sandbox,
    rows: Sequence[Row],
    usable: dict[int, list[int]],
    cfg: TestgenSettings,
    limits: ExecLimits,
    stats: Stats,
    known: dict[int, list[mutant_gen.Mutant]] | None = None,
    orders: dict[int, list[int]] | None = None,
) -> dict[int, list[tuple[mutant_gen.Mutant, SuiteRun]]]:
    """Every mutant of each row on its usable inputs, one job per mutant. With `orders` (input
    indexes, most preferred first: `feedback_first_kill`), a job runs the inputs in that order
    and stops at the first one telling the mutant apart: the selection needs one killing
    input per mutant, and the same order for every mutant credits the kills to the inputs it
    keeps anyway. Without, no early stop (the full kill matrix). With `feedback_reach_bound`,
    a mutant runs only the inputs whose traced run of the original executes its changed
    lines: on the others it runs the original's code, and their outcomes are the original's.
    A mutant whose lines no input was ever seen to execute (a default value, a generator's
    body, which runs untraced) runs every input. The returned runs hold one outcome per
    usable input: the original's where the mutant did not run it."""
    jobs: list[ExecJob] = []
    owners: list[tuple[int, mutant_gen.Mutant, list[int]]] = []  # positions in usable[n], as run
    for n, indexes in usable.items():
        row = rows[n]
        if not indexes:
            continue
        if known is not None:
            found = known.get(n, [])
        else:
            try:
                found = mutant_gen.generate(
                    row.code, row.entry_point, max_mutants=cfg.feedback_mutants, seed=cfg.seed
                )
            except SyntaxError:
                continue
        budgets = [
            max(cfg.adaptive_time_floor_s, cfg.adaptive_time_factor * (row.outcomes[i] or _ZERO).seconds)
            for i in indexes
        ]
        ordered = list(range(len(indexes)))
        if orders is not None:
            rank = {i: r for r, i in enumerate(orders.get(n, []))}
            ordered.sort(key=lambda p: (rank.get(indexes[p], len(rank)), p))
        traced = {line for o in row.outcomes if o is not None for line in o.lines}
        for k, mutant in enumerate(found):
            positions = ordered
            if cfg.feedback_reach_bound and traced.intersection(mutant.lines):
                positions = [p for p in ordered if _reaches(row.outcomes[indexes[p]], mutant)]
            owners.append((n, mutant, positions))
            if not positions:
                continue  # no input reaches it: every outcome is the original's
            originals = [row.outcomes[indexes[p]] or _ZERO for p in positions]
            jobs.append(
                suite_job(
                    f"{row.key}#fm{k}.{len(indexes)}",
                    mutant.code,
                    row.entry_point,
                    [row.texts[indexes[p]] for p in positions],
                    budgets=[budgets[p] for p in positions],
                    expect=expectation(originals, values=True) if orders is not None else None,
                    trace=False,
                    base=limits,
                )
            )
    keys = [rows[n].key for n, _, positions in owners if positions]
    runs = [parse(r, trace=False) for r in run_suites(box, jobs, keys, stats.per_process)] if jobs else []
    stats.executions += sum(len(run.outcomes) for run in runs)
    if orders is not None:
        # A differing text the verdict's rule finds equal (2 and 2.0) stopped a job: run the rest.
        stopped = []
        ran = iter(runs)
        for n, mutant, positions in owners:
            if not positions:
                continue
            run = next(ran)
            row, indexes = rows[n], usable[n]
            originals = [row.outcomes[indexes[p]] or _ZERO for p in positions]
            if stopped_equal(originals, run):
                inputs = [row.texts[indexes[p]] for p in positions]
                stopped.append(Stopped(f"{row.key}#fm", mutant.code, row.entry_point, inputs, originals, run))
        before = sum(len(item.run.outcomes) for item in stopped)
        run_rest(box, stopped, cfg.adaptive_time_factor, cfg.adaptive_time_floor_s, limits)
        stats.executions += sum(len(item.run.outcomes) for item in stopped) - before
    results = iter(runs)
    out: dict[int, list[tuple[mutant_gen.Mutant, SuiteRun]]] = {}
    for n, mutant, positions in owners:
        run = next(results) if positions else SuiteRun([], "ok")
        if run.job_status == "ok":
            run = _with_originals(rows[n], usable[n], positions, run)
        out.setdefault(n, []).append((mutant, run))
    return out


def _reaches(outcome: TestOutcome | None, mutant: mutant_gen.Mutant) -> bool:
    return outcome is not None and any(line in mutant.lines for line in outcome.lines)


def _with_originals(row: Row, indexes: list[int], positions: list[int], run: SuiteRun) -> SuiteRun:
    """The run of a mutant on every usable input, in their order: its outcomes where it ran
    (`positions`, in the order it ran them), the original's on the inputs that do not reach
    its change or that it did not run after its first kill."""
    ran = dict(zip(positions, run.outcomes, strict=False))
    outcomes: list[TestOutcome] = []
    for p, i in enumerate(indexes):
        o = ran.get(p)
        if o is None:
            original = row.outcomes[i] or _ZERO
            o = TestOutcome(original.kind, original.value, 0.0)
        outcomes.append(o)
    return SuiteRun(outcomes, "ok")


def _survivors(
    row: Row, indexes: list[int], runs: list[tuple[mutant_gen.Mutant, SuiteRun]]
) -> list[mutant_gen.Mutant]:
    """Mutants no usable input tells apart from the original."""
    out = []
    for mutant, run in runs:
        if run.job_status != "ok":
            continue  # died (killed) or could not run (unknown)
        if all(
            run.outcomes[pos].key == (row.outcomes[i] or _ZERO).key
            for pos, i in enumerate(indexes)
            if pos < len(run.outcomes)
        ):
            out.append(mutant)
    return out


def _kills(
    row: Row, indexes: list[int], runs: list[tuple[mutant_gen.Mutant, SuiteRun]]
) -> dict[int, list[str]]:
    """Per input index, the mutants its run told apart from the original (a job that died,
    or that the sandbox could not run, credits no input: only tests it did not finish could
    have caused it)."""
    out: dict[int, list[str]] = {}
    for mutant, run in runs:
        if run.job_status != "ok":
            continue
        for pos, i in enumerate(indexes):
            if pos < len(run.outcomes) and run.outcomes[pos].key != (row.outcomes[i] or _ZERO).key:
                out.setdefault(i, []).append(mutant.key)
    return out


# Asks the LLM, per (row, diffs of surviving mutants), for inputs that tell them apart.
AskLLM = Callable[[list[tuple[Row, list[str]]]], dict[str, list[str]]]


_ZERO = TestOutcome("ok", None, 0.0)


def _select(
    row: Row,
    indexes: list[int],
    kills: dict[int, list[str]],
    cmap: CoverageMap,
    cfg: TestgenSettings,
    learned: int | None,
    lits: proposals.BodyLiterals | None = None,
) -> list[int]:
    """Greedy over lines, branch outcomes and mutants killed (`kills`: per input index, the
    mutants its run told apart, as `_kills` finds them); then the quality rules. The
    main return's line is reached by a kept normal return whenever a candidate reaches it.
    What the code looks for (`proposals.held`: a marker or example text in a text argument,
    items in a container) counts as coverage too; between inputs adding alike, one holding
    a new mix of it (none of it included), then more of it, then the shorter goes first."""
    holds = _holds(row, indexes, lits or proposals.BodyLiterals())
    reach = {i: len(h) for i, h in holds.items()}
    gains: dict[int, set[tuple[object, ...]]] = {}
    for i in indexes:
        outcome = row.outcomes[i]
        assert outcome is not None
        gain: set[tuple[object, ...]] = {("line", line) for line in outcome.lines if line in cmap.statements}
        gain |= {("branch", *b) for b in cmap.branch_outcomes(outcome.arcs)}
        if outcome.normal:  # a separator in a text, a heap with items: reached, not refused
            gain |= {("holds", h) for h in holds[i]}
        gain |= {("mutant", key) for key in kills.get(i, [])}
        gains[i] = gain
    normal = [i for i in indexes if (row.outcomes[i] or _ZERO).normal]
    raised = [i for i in indexes if (row.outcomes[i] or _ZERO).kind == "error"]
    # Keep the argument types the docstring and the type search agree on: a `text` that
    # also "works" with a list of ints should still be tested with strings.
    allowed = {
        _signature(row.texts[i])
        for i in normal
        if row.sources[i] in ("doctest", "docstring")
        or (learned is not None and row.assignment_of[i] == learned)
    }
    every_normal = normal
    if allowed:
        typed = [i for i in normal if _signature(row.texts[i]) in allowed]
        normal = typed or normal
    chosen: list[int] = []
    covered: set[tuple[object, ...]] = set()
    outputs: set[str | None] = set()
    kinds: set[frozenset[str]] = set()  # what of the looked-for texts each kept input holds

    def take(i: int) -> None:
        chosen.append(i)
        covered.update(gains[i])
        outputs.add((row.outcomes[i] or _ZERO).value)
        kinds.add(frozenset(holds[i]))

    # Docstring examples are what the author meant: keep those that return normally first.
    for i in normal:
        if row.sources[i] in ("doctest", "docstring") and len(chosen) < cfg.max_inputs:
            take(i)
    # The main return is what the function is for: one kept input must get there (of the
    # agreed argument types when one does).
    main = main_return_line(row.func) if row.func is not None else None

    def reaches(i: int) -> bool:
        return main in (row.outcomes[i] or _ZERO).lines

    if main is not None and len(chosen) < cfg.max_inputs and not any(reaches(i) for i in chosen):
        for group in (normal, every_normal):
            candidates = [i for i in group if reaches(i)]
            if candidates:
                take(max(candidates, key=lambda i: (len(gains[i] - covered), reach[i], -len(row.texts[i]))))
                break
    pool = [i for i in normal if i not in chosen]
    while pool and len(chosen) < cfg.max_inputs:
        best = max(
            pool,
            key=lambda i: (
                len(gains[i] - covered),
                (row.outcomes[i] or _ZERO).value not in outputs,
                frozenset(holds[i]) not in kinds,
                reach[i],
                -len(row.texts[i]),
            ),
        )
        if not gains[best] - covered:
            break
        take(best)
        pool.remove(best)
    # At least `min_normal_tests` normal returns, new outputs first.
    while (
        pool and sum(1 for i in chosen if i in normal) < cfg.min_normal_tests and len(chosen) < cfg.max_inputs
    ):
        best = max(
            pool,
            key=lambda i: (
                (row.outcomes[i] or _ZERO).value not in outputs,
                frozenset(holds[i]) not in kinds,  # a plain text too, an empty heap too
                reach[i],
                -len(row.texts[i]),
            ),
        )
        take(best)
        pool.remove(best)
    # Exception inputs: only those adding something, within the share cap.
    max_raised = int(cfg.max_exception_share * max(len(chosen), 1) / max(1e-9, 1 - cfg.max_exception_share))
    raised_pool = list(raised)
    kept_raised = 0
    while raised_pool and kept_raised < max_raised and len(chosen) < cfg.max_inputs:
        best = max(raised_pool, key=lambda i: (len(gains[i] - covered), -len(row.texts[i])))
        if not gains[best] - covered:
            break
        take(best)
        raised_pool.remove(best)
        kept_raised += 1
    # Still short of the minimum: raising inputs (kept, though they are not normal returns).
    rest = [i for i in normal if i not in chosen]
    rest += [i for i in raised if i not in chosen]
    while rest and len(chosen) < min(cfg.min_normal_tests, cfg.max_inputs):
        best = max(
            rest,
            key=lambda i: ((row.outcomes[i] or _ZERO).normal, len(gains[i] - covered), -len(row.texts[i])),
        )
        take(best)
        rest.remove(best)
    return sorted(chosen)


def _holds(row: Row, indexes: list[int], lits: proposals.BodyLiterals) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for i in indexes:
        try:
            out[i] = proposals.held(decode_input(row.texts[i]), lits)
        except ValueError:
            out[i] = set()
    return out


def _own_nodes(func: ast.FunctionDef) -> list[ast.AST]:
    """The nodes of a function's body, nested functions, lambdas and classes left out."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return out


def main_return_line(func: ast.FunctionDef) -> int | None:
    """The line of what a function is for: its last return of something other than a
    constant (a fallback `return None` or `return -1` after a loop is not it), else the last
    statement when the body falls off its end, else its last return."""
    returns = [n for n in _own_nodes(func) if isinstance(n, ast.Return)]
    computed = [r for r in returns if r.value is not None and not isinstance(r.value, ast.Constant)]
    if computed:
        return max(r.lineno for r in computed)
    body = func.body[1:] if ast.get_docstring(func) is not None else func.body
    if body and not isinstance(body[-1], ast.Return | ast.Raise):
        return body[-1].lineno
    return max((r.lineno for r in returns), default=None)


def _module(code: str) -> ast.Module | None:
    try:
        return safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _coverage_map(row: Row) -> CoverageMap:
    try:
        return coverage_map(row.code, row.entry_point)
    except SyntaxError:
        return CoverageMap(frozenset(), ())


def _preference(
    row: Row, indexes: list[int], cmap: CoverageMap, cfg: TestgenSettings, lits: proposals.BodyLiterals | None
) -> list[int]:
    """The usable inputs in the order mutant jobs run them (`feedback_first_kill`): those the
    selection keeps for coverage alone first, then the other normal returns reaching the most
    lines, then the raising inputs. A mutant is credited to the first input that kills it,
    so kills land on inputs kept anyway and the kept suite stays small."""
    kept = _select(row, indexes, {}, cmap, cfg, _learned_assignment(row), lits)
    chosen = set(kept)

    def reach(i: int) -> tuple[bool, int, int]:
        outcome = row.outcomes[i] or _ZERO
        return (not outcome.normal, -len(set(outcome.lines)), len(row.texts[i]))

    return kept + sorted((i for i in indexes if i not in chosen), key=reach)


def feedback_inputs(
    box: Sandbox,
    limits: ExecLimits,
    cfg: TestgenSettings,
    rows: Sequence[Row],
    stats: Stats,
    ask: AskLLM | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """The kept inputs (text, source) per row key; rows are filled with proposals first."""
    plans: dict[int, proposals.Plan] = {}
    assignments: dict[int, list[tuple[proposals.TypeSpec, ...]]] = {}
    pending: dict[int, list[int]] = {}
    cap, max_chars = cfg.feedback_pool, cfg.max_input_chars
    for n, row in enumerate(rows):
        rng = random.Random(f"{cfg.seed}:{row.key}:fb")
        before = len(row.texts)
        if row.func is not None:
            params = [a.arg for a in [*row.func.args.posonlyargs, *row.func.args.args]]
            for args in proposals.docstring_examples(row.docstring, row.entry_point, params):
                row.add(args, "docstring", cap, max_chars)
            p = proposals.plan(row.func, proposals.module_classes(row.code), _module(row.code))
            plans[n] = p
            assignments[n] = list(proposals.combos(p, cfg.feedback_type_hypotheses))
            per = max(2, (cap // 2) // max(1, len(assignments[n])))
            for a, assignment in enumerate(assignments[n]):
                for args in proposals.inputs_for(p, assignment, rng, per):
                    row.add(args, "typed", cap, max_chars, a)
        pending[n] = list(range(len(row.texts)))
        stats.proposed += len(row.texts) - before
    _run_original(box, rows, pending, cfg, limits, stats)
    # Round 2: more of what returned normally.
    pending = {}
    for n, row in enumerate(rows):
        rng = random.Random(f"{cfg.seed}:{row.key}:fb2")
        start = len(row.texts)
        learned = _learned_assignment(row)
        room = cap + cfg.feedback_pool // 2
        if learned is not None and n in plans:
            for args in proposals.inputs_for(
                plans[n], assignments[n][learned], random.Random(rng.random()), 12
            ):
                row.add(args, "typed", room, max_chars, learned)
        seeds = []
        for text, outcome in zip(row.texts, row.outcomes, strict=True):
            if outcome is not None and outcome.normal:
                try:
                    seeds.append(decode_input(text))
                except ValueError:
                    continue
        for _ in range(cfg.feedback_pool):
            if not seeds or len(row.texts) >= room:
                break
            row.add(mutate(rng.choice(seeds), rng), "mutation", room, max_chars)
        pending[n] = list(range(start, len(row.texts)))
        stats.proposed += len(row.texts) - start
    _run_original(box, rows, pending, cfg, limits, stats)
    usable = {
        n: [i for i, o in enumerate(row.outcomes) if o is not None and o.kind in ("ok", "iter", "error")]
        for n, row in enumerate(rows)
    }
    cmaps = {n: _coverage_map(row) for n, row in enumerate(rows)}
    literals = {n: p.literals for n, p in plans.items()}
    orders = None
    if cfg.feedback_first_kill:
        orders = {n: _preference(rows[n], usable[n], cmaps[n], cfg, literals.get(n)) for n in usable}
    # Mutants only where an input returns normally, unless the LLM may still find one: a row
    # that raises on every input is dropped by execute whatever its mutants show. So is a row
    # that gave one answer on every input it returned from (a subset of them is kept).
    aimed = usable
    if cfg.feedback_skip_raising and ask is None:
        aimed = {
            n: idx for n, idx in usable.items() if any((rows[n].outcomes[i] or _ZERO).normal for i in idx)
        }
        stats.counts["mutants_skipped_raising_rows"] += len(usable) - len(aimed)
        answered = len(aimed)
        aimed = {n: idx for n, idx in aimed.items() if not _one_answer(rows[n], idx)}
        stats.counts["mutants_skipped_one_answer_rows"] += answered - len(aimed)
    runs = _mutant_runs(box, rows, aimed, cfg, limits, stats, orders=orders)
    if cfg.feedback_targeted:
        targeted = _targeted_proposals(rows, usable, runs, cfg)
        stats.counts["targeted_inputs"] += _extra_round(
            box, rows, usable, runs, cfg, limits, stats, targeted, "targeted"
        )
    if ask is not None:
        _llm_round(box, rows, usable, runs, cfg, limits, stats, ask)
    out: dict[str, list[tuple[str, str]]] = {}
    for n, row in enumerate(rows):
        row.kills = _kills(row, usable[n], runs.get(n, []))
        lits = literals.get(n, proposals.BodyLiterals())
        chosen = _select(row, usable[n], row.kills, cmaps[n], cfg, _learned_assignment(row), lits)
        stats.kept += len(chosen)
        out[row.key] = [(row.texts[i], row.sources[i]) for i in chosen]
    return out


def _one_answer(row: Row, indexes: list[int]) -> bool:
    """Whether the original gave the same value on every input it returned from, left the
    arguments as they were, and cannot print: execute drops a row whose normal tests all
    expect one outcome (constant_outcome, one_sided_predicate), and its tests are some of
    these inputs (with no mutant run, no targeted input is added)."""
    normal = [o for i in indexes if (o := row.outcomes[i]) is not None and o.normal]
    if not normal or len({o.value for o in normal}) != 1 or any(o.args_after is not None for o in normal):
        return False
    return not code_may_print(row.code)


def _llm_round(
    box: Sandbox,
    rows: Sequence[Row],
    usable: dict[int, list[int]],
    runs: dict[int, list[tuple[mutant_gen.Mutant, SuiteRun]]],
    cfg: TestgenSettings,
    limits: ExecLimits,
    stats: Stats,
    ask: AskLLM,
) -> None:
    """MuTAP: show the LLM the surviving mutants as diffs, run what it proposes on the
    original and on every mutant, and merge the results (the selection decides what stays)."""
    requests: list[tuple[Row, list[str]]] = []
    for n, row in enumerate(rows):
        survivors = _survivors(row, usable[n], runs.get(n, []))
        if survivors:
            requests.append((row, [m.diff(row.code) for m in survivors[: cfg.llm_mutants_shown]]))
    stats.counts["llm_mutants_asked"] += len(requests)
    if not requests:
        return
    answers = ask(requests)
    index = {row.key: n for n, row in enumerate(rows)}
    proposed = {index[key]: texts for key, texts in answers.items()}
    stats.counts["llm_mutants_inputs"] += _extra_round(
        box, rows, usable, runs, cfg, limits, stats, proposed, "llm_mutants"
    )


def _targeted_proposals(
    rows: Sequence[Row],
    usable: dict[int, list[int]],
    runs: dict[int, list[tuple[mutant_gen.Mutant, SuiteRun]]],
    cfg: TestgenSettings,
) -> dict[int, list[str]]:
    """Offline inputs aimed at surviving mutants: mutations of the normal-return inputs that
    reach the mutated line (any normal input when none does), round-robin over survivors."""
    out: dict[int, list[str]] = {}
    for n, row in enumerate(rows):
        survivors = _survivors(row, usable[n], runs.get(n, []))
        normal = [i for i in usable[n] if (row.outcomes[i] or _ZERO).normal]
        if not survivors or not normal:
            continue
        rng = random.Random(f"{cfg.seed}:{row.key}:targeted")
        texts: list[str] = []
        for k in range(cfg.feedback_targeted * 3):
            if len(texts) >= cfg.feedback_targeted:
                break
            mutant = survivors[k % len(survivors)]
            reach = [i for i in normal if mutant.line in (row.outcomes[i] or _ZERO).lines] or normal
            try:
                args = decode_input(row.texts[rng.choice(reach)])
            except ValueError:
                continue
            for _ in range(rng.choice((1, 1, 2))):
                args = mutate(args, rng)
            try:
                text = encode_input(*args)
            except (TypeError, ValueError, RecursionError):
                continue
            if text not in texts and text not in row.texts:
                texts.append(text)
        out[n] = texts
    return out


def _extra_round(
    box: Sandbox,
    rows: Sequence[Row],
    usable: dict[int, list[int]],
    runs: dict[int, list[tuple[mutant_gen.Mutant, SuiteRun]]],
    cfg: TestgenSettings,
    limits: ExecLimits,
    stats: Stats,
    proposed: dict[int, list[str]],
    source: str,
) -> int:
    """Run more inputs per row on the original and on every mutant already run, and merge
    them into `usable` and `runs` (the selection decides what stays); returns how many."""
    pending: dict[int, list[int]] = {}
    added = 0
    for n, texts in proposed.items():
        room = len(rows[n].texts) + len(texts)
        start = len(rows[n].texts)
        for text in texts:
            rows[n].add_text(text, source, room, cfg.max_input_chars)
        pending[n] = list(range(start, len(rows[n].texts)))
        added += len(pending[n])
    _run_original(box, rows, pending, cfg, limits, stats)
    fresh = {
        n: [i for i in idx if (o := rows[n].outcomes[i]) is not None and o.kind in ("ok", "iter", "error")]
        for n, idx in pending.items()
    }
    if cfg.feedback_first_kill:
        # A mutant already told apart needs no more killing inputs: only the survivors run.
        known = {n: _survivors(rows[n], usable[n], runs.get(n, [])) for n in fresh}
        orders: dict[int, list[int]] | None = {n: fresh[n] for n in fresh}
    else:
        known = {n: [m for m, _ in runs.get(n, [])] for n in fresh}
        orders = None
    more = _mutant_runs(box, rows, fresh, cfg, limits, stats, known, orders)
    for n in fresh:
        new_runs = {id(mutant): run for mutant, run in more.get(n, [])}
        merged = []
        for mutant, old in runs.get(n, []):
            new = new_runs.get(id(mutant))
            if new is None:  # not run again: on the new inputs it is taken as the original
                originals = [rows[n].outcomes[i] or _ZERO for i in fresh[n]]
                new = SuiteRun([TestOutcome(o.kind, o.value, 0.0) for o in originals], "ok")
            if old.job_status == "ok" and new.job_status == "ok":
                merged.append((mutant, SuiteRun(old.outcomes + new.outcomes, "ok")))
            else:  # one of them died: the mutant is told apart, but not by a known input
                merged.append(
                    (mutant, SuiteRun([], new.job_status if old.job_status == "ok" else old.job_status))
                )
        runs[n] = merged
        usable[n] = usable[n] + fresh[n]
    return added
