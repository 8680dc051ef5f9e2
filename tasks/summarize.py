"""Summarize: give every function an instruction.

Offline strategy `docstring`: the instruction is built from the signature and docstring;
functions without a docstring are dropped as `no_instruction_source`. The `llm` strategy
(Inverse-Instruct) summarizes the code itself and self-evaluates the candidates.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from codemint.records import Function, Instructed, Rejected
from codemint.settings import SummarizeSettings
from codemint.stage import Stage


def docstring_instruction(signature: str, docstring: str) -> str:
    body = inspect.cleandoc(docstring)
    return f"Implement the Python function `{signature.removeprefix('def ')}`.\n\n{body}"


class Summarize(Stage[Function, Instructed]):
    name = "summarize"
    input_model = Function
    output_model = Instructed
    settings_field = "summarize"

    @property
    def cfg(self) -> SummarizeSettings:
        return self.settings.summarize

    def extra_fingerprint(self) -> list[Any]:
        if self.cfg.strategy != "llm":
            return []
        from codemint.tasks.llm_runtime import llm_fingerprint

        return [llm_fingerprint(self.settings, ["summarize", "self_evaluate"])]

    def run(self, records: Iterable[Function]) -> Iterator[Instructed | Rejected]:
        if self.cfg.strategy == "llm":
            from codemint.tasks.summarize_llm import summarize_with_llm

            yield from summarize_with_llm(self, list(records))
            return
        for rec in records:
            doc = (rec.docstring or "").strip()
            if not doc:
                yield self.reject(rec.id, "no_instruction_source", "no docstring", record=rec)
                continue
            if len(doc) < self.cfg.min_instruction_chars:
                yield self.reject(rec.id, "instruction_too_short", f"{len(doc)} chars", record=rec)
                continue
            yield Instructed(
                **rec.model_dump(),
                instruction=docstring_instruction(rec.signature, doc),
                instruction_source="docstring",
            )
