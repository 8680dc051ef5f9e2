"""Testgen: propose test inputs for every function, capped per sample.

Offline strategies, in order of trust: doctest examples, then annotations / literal
defaults / telling parameter names, then type-aware mutations of those seeds. Inputs are
encoded with the sandbox codec and deduplicated by their canonical text.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from codemint import safe_ast
from codemint.codec import decode_value, encode_input
from codemint.llm import inputs as llm_inputs
from codemint.llm import strategies
from codemint.llm.client import LLMClient
from codemint.llm.errors import LLMError
from codemint.llm.stage import LLMStage
from codemint.llm.strategies import LLMResult
from codemint.offline import proposals
from codemint.offline.contracts import row_contract
from codemint.offline.inputs import Args, doctest_inputs, mutate, signature_inputs
from codemint.offline.method_inputs import method_inputs
from codemint.records import InputRun, Instructed, Rejected, WithInputs
from codemint.samples import CLASS_KINDS
from codemint.sandbox import result_fingerprint, shared_sandbox
from codemint.sandbox.api import ExecJob
from codemint.settings import TestgenSettings
from codemint.stage_task import shard_task

NO_ARGS = '{"args":[],"kwargs":{}}'
# Rows whose feedback is held at once: each row's input pool with the original's traced runs,
# and every mutant's outcomes on it (about 1.2 MB a row). A row's feedback depends on nothing
# of any other row (its own seeds), so the group size changes memory, not the kept inputs.
# With `llm_mutants`, the LLM is asked a group's surviving mutants at a time, too.
FEEDBACK_GROUP_ROWS = 64


def generated_inputs(result_json: str | None, cap: int, max_chars: int) -> list[str]:
    """Inputs from what an LLM-written `generate_inputs()` returned: well-formed, small,
    distinct, capped."""
    if result_json is None:
        return []
    try:
        items = decode_value(json.loads(result_json))
    except (ValueError, TypeError):
        return []
    out: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("args", []), list | tuple):
            continue
        kwargs = item.get("kwargs", {})
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            continue
        try:
            text = encode_input(list(item.get("args", [])), kwargs)
        except (TypeError, ValueError, RecursionError):
            continue
        if len(text) <= max_chars and '"__repr__"' not in text and text not in out:
            out.append(text)
        if len(out) >= cap:
            break
    return out


def find_function(code: str, name: str) -> ast.FunctionDef | None:
    for node in safe_ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


class InputSet:
    """Deduplicated, capped inputs with the strategy that proposed each."""

    def __init__(self, cap: int, max_chars: int) -> None:
        self.cap, self.max_chars = cap, max_chars
        self.texts: list[str] = []
        self.sources: list[str] = []
        self.seeds: list[Args] = []
        self.rejected = 0

    def full(self) -> bool:
        return len(self.texts) >= self.cap

    def add(self, args: Args, source: str) -> bool:
        if self.full():
            return False
        try:
            text = encode_input(*args)
        except (TypeError, ValueError, RecursionError):
            self.rejected += 1
            return False
        # A value the codec can only show as repr cannot be sent to the sandbox as input.
        if len(text) > self.max_chars or '"__repr__"' in text or text in self.texts:
            self.rejected += 1
            return False
        self.texts.append(text)
        self.sources.append(source)
        self.seeds.append(args)
        return True

    def add_text(self, text: str, source: str) -> bool:
        """An input that arrives already encoded (from the LLM strategies)."""
        if self.full() or len(text) > self.max_chars or text in self.texts:
            return False
        self.texts.append(text)
        self.sources.append(source)
        return True


class Testgen(LLMStage[Instructed, WithInputs]):
    __test__ = False  # not a pytest test class, despite the name
    name = "testgen"
    chunked = True  # rows are independent: a shard runs a chunk at a time
    input_model = Instructed
    output_model = WithInputs
    settings_field = "testgen"

    @property
    def cfg(self) -> TestgenSettings:
        return self.settings.testgen

    def llm_prompts(self) -> Sequence[str]:
        return llm_inputs.prompt_names(self.cfg)

    def other_fingerprint(self) -> list[Any]:
        # Feedback runs the original and its mutants, and the LLM's generator runs in the
        # sandbox: its limits and image shape the inputs.
        if self.uses_llm() or "feedback" in self.cfg.strategies:
            return result_fingerprint(self.settings.sandbox)
        return []

    def gather_inputs(self, rec: Instructed, llm: list[tuple[str, str]]) -> InputSet:
        """Doctest examples first, then the LLM's targeted inputs, then the signature-based
        ones and their mutations fill what is left of the cap."""
        cfg = self.cfg
        inputs = InputSet(cfg.max_inputs, cfg.max_input_chars)
        rng = random.Random(f"{cfg.seed}:{rec.id}")
        if rec.sample_kind in CLASS_KINDS:
            # The harness takes [init_args, init_kwargs, args, kwargs]: LLM inputs written for a
            # plain signature would not fit it, so method samples use the offline strategies.
            for harness_args, source in method_inputs(rec, cfg.max_inputs, cfg.mutation_rounds, rng):
                inputs.add((harness_args, {}), source)
            self.metrics["inputs_rejected"] += inputs.rejected
            return inputs
        func = find_function(rec.code, rec.entry_point)
        if "doctest" in cfg.strategies:
            for args in doctest_inputs(rec.docstring, rec.entry_point):
                inputs.add(args, "doctest")
        for text, source in llm:
            inputs.add_text(text, source)
        if func is not None and ({"annotations", "defaults"} & set(cfg.strategies)):
            budget = max(1, cfg.max_inputs // 2)
            # Texts holding what the code looks for (a separator, an entity), its helpers' too.
            texts = proposals.text_values(proposals.body_literals(func, safe_ast.parse(rec.code)))
            for args, source in signature_inputs(func, budget, rng, texts):
                if source in cfg.strategies:
                    inputs.add(args, source)
        if "mutation" in cfg.strategies and inputs.seeds:
            seeds = list(inputs.seeds)
            for _ in range(cfg.mutation_rounds * cfg.max_inputs):
                if inputs.full():
                    break
                inputs.add(mutate(rng.choice(seeds), rng), "mutation")
        self.metrics["inputs_rejected"] += inputs.rejected
        return inputs

    def run(self, records: Iterable[Instructed]) -> Iterator[WithInputs | Rejected]:
        records = list(records)
        extra: dict[str, list[tuple[str, str]]] = {}
        if self.uses_llm():
            extra = self.llm_inputs(records)
        gathered: dict[str, InputSet | Exception] = {}
        for rec in records:
            try:
                gathered[rec.id] = self.gather_inputs(rec, extra.get(rec.id, []))
            except Exception as exc:  # one odd sample must not fail its shard; keep it, with the reason
                gathered[rec.id] = exc
        runs: dict[str, dict[str, InputRun]] = {}
        if "feedback" in self.cfg.strategies:
            runs = self.feedback(records, gathered)
        for rec in records:
            inputs = gathered[rec.id]
            if isinstance(inputs, Exception):
                reason = f"{type(inputs).__name__}: {inputs}"
                yield self.reject(rec.id, "testgen_error", reason, record=rec)
                continue
            proposed = bool(inputs.texts)
            if self.cfg.contract_inputs:
                inputs = self.within_contract(rec, inputs)
            if not inputs.texts:
                why = (
                    "every input was outside the documented contract"
                    if proposed
                    else "no strategy could propose an input"
                )
                yield self.reject(rec.id, "no_test_inputs", why, record=rec)
                continue
            for source in inputs.sources:
                self.metrics[f"inputs_from_{source}"] += 1
            ran = runs.get(rec.id, {})
            yield WithInputs(
                **{**rec.model_dump(), "llm": self.with_llm(rec.llm)},
                test_inputs=inputs.texts,
                input_sources=inputs.sources,
                # the original's runs travel with the row only when they cover every input
                input_runs=[ran[t] for t in inputs.texts] if all(t in ran for t in inputs.texts) else [],
            )

    def within_contract(self, rec: Instructed, inputs: InputSet) -> InputSet:
        """The inputs inside what the row's annotations and docstring state it accepts
        (codemint/offline/contracts.py): on the others a correct alternative may differ."""
        contract = row_contract(rec.original_code, rec.entry_point, rec.sample_kind, rec.class_name)
        kept = InputSet(inputs.cap, inputs.max_chars)
        for text, source in zip(inputs.texts, inputs.sources, strict=True):
            violation = contract.violation(text)
            if violation is None:
                kept.add_text(text, source)
            else:
                self.metrics[f"input_outside_contract:{violation.kind}"] += 1
        return kept

    def feedback(
        self, records: list[Instructed], gathered: dict[str, InputSet | Exception]
    ) -> dict[str, dict[str, InputRun]]:
        """Replace each row's inputs by those that run normally and add coverage or kill a
        mutant, chosen from a larger pool (tasks/testgen/feedback.py); returns, per row id,
        the original's traced run on each kept input. Rows go `FEEDBACK_GROUP_ROWS` at a time."""
        runs: dict[str, dict[str, InputRun]] = {}
        for start in range(0, len(records), FEEDBACK_GROUP_ROWS):
            runs.update(self.feedback_group(records[start : start + FEEDBACK_GROUP_ROWS], gathered))
        return runs

    def feedback_group(
        self, records: list[Instructed], gathered: dict[str, InputSet | Exception]
    ) -> dict[str, dict[str, InputRun]]:
        from codemint.tasks.testgen.feedback import Row, Stats, feedback_inputs, kept_runs

        cfg = self.cfg
        rows: list[Row] = []
        for rec in records:
            base = gathered[rec.id]
            if isinstance(base, Exception) or rec.sample_kind in CLASS_KINDS:
                continue  # methods, properties, class methods run through a harness: inputs stay as built
            try:
                func = find_function(rec.original_code, rec.entry_point)
            except SyntaxError:
                func = None
            row = Row(rec.id, rec.original_code, rec.entry_point, func, rec.docstring, rec.signature)
            if cfg.contract_inputs:  # candidates outside the contract would be removed below
                row.contract = row_contract(rec.original_code, rec.entry_point, "function", None)
            for text, source in zip(base.texts, base.sources, strict=True):
                row.add_text(text, source, cfg.feedback_pool, cfg.max_input_chars)
            rows.append(row)
        if not rows:
            return {}
        stats = Stats(per_process=self.settings.sandbox.suites_per_process)
        by_id = {rec.id: rec for rec in records}
        ask = None
        if "llm_mutants" in cfg.strategies:

            def ask(requests: list[tuple[Row, list[str]]]) -> dict[str, list[str]]:
                return self.mutant_killing_inputs([(by_id[row.key], diffs) for row, diffs in requests])

        chosen = feedback_inputs(
            shared_sandbox(self.settings.sandbox), self.settings.sandbox.limits, cfg, rows, stats, ask
        )
        runs: dict[str, dict[str, InputRun]] = {}
        for row in rows:
            kept = chosen.get(row.key, [])
            if not kept:
                continue  # nothing finished in the sandbox: keep the plain strategies' inputs
            inputs = InputSet(cfg.max_inputs, cfg.max_input_chars)
            for text, source in kept:
                inputs.add_text(text, source)
            gathered[row.key] = inputs
            runs[row.key] = kept_runs(row, inputs.texts)
        self.metrics["feedback_executions"] += stats.executions
        self.metrics["feedback_proposed"] += stats.proposed
        self.metrics["feedback_kept"] += stats.kept
        self.metrics.update(stats.counts)
        return runs

    def mutant_killing_inputs(self, requests: list[tuple[Instructed, list[str]]]) -> dict[str, list[str]]:
        """MuTAP: encoded inputs per record id for the mutants its inputs miss (failures count)."""

        async def ask(client: LLMClient) -> list[LLMResult[list[str]] | LLMError]:
            return await llm_inputs.mutant_killing_inputs(client, self.cfg, requests)

        results = self.call_llm(ask)
        out: dict[str, list[str]] = {}
        for (rec, _), result in zip(requests, results, strict=True):
            if isinstance(result, LLMError):
                self.count_llm_failure("llm_mutants_failed", result)
            else:
                out[rec.id] = result.value
        return out

    def llm_inputs(self, records: list[Instructed]) -> dict[str, list[tuple[str, str]]]:
        """Encoded inputs with their source per record id; a failed sample just gets none."""
        cfg = self.cfg
        out: dict[str, list[tuple[str, str]]] = {rec.id: [] for rec in records}

        async def ask(
            client: LLMClient,
        ) -> tuple[list[LLMResult[list[str]] | LLMError], list[LLMResult[str] | LLMError]]:
            proposed = (
                await llm_inputs.proposed_inputs(client, cfg, records) if "llm" in cfg.strategies else []
            )
            generators = (
                await llm_inputs.input_generators(client, cfg, records)
                if "llm_generator" in cfg.strategies
                else []
            )
            return proposed, generators

        proposed, generators = self.call_llm(ask)
        for rec, result in zip(records, proposed, strict=False):
            if isinstance(result, LLMError):
                self.count_llm_failure("llm_inputs_failed", result)
            else:
                out[rec.id].extend((text, "llm") for text in result.value)
        jobs: list[ExecJob] = []
        owners: list[Instructed] = []
        for rec, source in zip(records, generators, strict=False):
            if isinstance(source, LLMError):
                self.count_llm_failure("llm_generator_failed", source)
                continue
            jobs.append(
                ExecJob(
                    job_id=f"{rec.id}#gen",
                    code=source.value,
                    entry_point=strategies.GENERATOR_NAME,
                    inputs=[NO_ARGS],
                    limits=self.settings.sandbox.limits,
                )
            )
            owners.append(rec)
        # The generator is LLM-written code: it runs in the sandbox like everything else.
        results = shared_sandbox(self.settings.sandbox).run_batch(jobs) if jobs else []
        k = llm_inputs.share_per_strategy(cfg)
        for rec, run in zip(owners, results, strict=True):
            outcome = run.outcomes[0] if run.outcomes else None
            texts = generated_inputs(
                outcome.result if outcome and outcome.status == "ok" else None, k, cfg.max_input_chars
            )
            self.metrics["llm_generator_ok" if texts else "llm_generator_no_inputs"] += 1
            out[rec.id].extend((text, "llm_generator") for text in texts)
        return out


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Testgen)
