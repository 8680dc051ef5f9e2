"""Testgen: propose test inputs for every function, capped per sample.

Offline strategies, in order of trust: doctest examples, then annotations / literal
defaults / telling parameter names, then type-aware mutations of those seeds. Inputs are
encoded with the sandbox codec and deduplicated by their canonical text.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterable, Iterator
from typing import Any

from codemint import safe_ast
from codemint.codec import encode_input
from codemint.offline.inputs import Args, doctest_inputs, mutate, signature_inputs
from codemint.records import Instructed, Rejected, WithInputs
from codemint.settings import TestgenSettings
from codemint.stage import Stage


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


class Testgen(Stage[Instructed, WithInputs]):
    __test__ = False  # not a pytest test class, despite the name
    name = "testgen"
    input_model = Instructed
    output_model = WithInputs
    settings_field = "testgen"

    @property
    def cfg(self) -> TestgenSettings:
        return self.settings.testgen

    def extra_fingerprint(self) -> list[Any]:
        from codemint.tasks.testgen_llm import llm_stage_inputs

        names = llm_stage_inputs(self)
        if not names:
            return []
        from codemint.tasks.llm_runtime import llm_fingerprint

        # The generator runs in the sandbox: its limits shape the inputs too.
        return [llm_fingerprint(self.settings, names), self.settings.sandbox.result_fingerprint()]

    def gather_inputs(self, rec: Instructed, llm: list[tuple[str, str]]) -> InputSet:
        """Doctest examples first, then the LLM's targeted inputs, then the signature-based
        ones and their mutations fill what is left of the cap."""
        cfg = self.cfg
        inputs = InputSet(cfg.max_inputs, cfg.max_input_chars)
        func = find_function(rec.code, rec.entry_point)
        rng = random.Random(f"{cfg.seed}:{rec.id}")
        if "doctest" in cfg.strategies:
            for args in doctest_inputs(rec.docstring, rec.entry_point):
                inputs.add(args, "doctest")
        for text, source in llm:
            inputs.add_text(text, source)
        if func is not None and ({"annotations", "defaults"} & set(cfg.strategies)):
            budget = max(1, cfg.max_inputs // 2)
            for args, source in signature_inputs(func, budget, rng):
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
        if {"llm", "llm_generator"} & set(self.cfg.strategies):
            from codemint.tasks.testgen_llm import llm_inputs

            extra = llm_inputs(self, records)
        for rec in records:
            try:
                inputs = self.gather_inputs(rec, extra.get(rec.id, []))
            except Exception as exc:  # one odd sample must not fail its shard; keep it, with the reason
                yield self.reject(rec.id, "testgen_error", f"{type(exc).__name__}: {exc}", record=rec)
                continue
            if not inputs.texts:
                yield self.reject(rec.id, "no_test_inputs", "no strategy could propose an input", record=rec)
                continue
            for source in inputs.sources:
                self.metrics[f"inputs_from_{source}"] += 1
            yield WithInputs(**rec.model_dump(), test_inputs=inputs.texts, input_sources=inputs.sources)
