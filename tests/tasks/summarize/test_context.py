"""Summarize records the context a prompt shows, and says whose path rules apply."""

from __future__ import annotations

import importlib
import inspect

from codemint.curation.prompts import ANSWER_FORMAT, fenced, generation_prompt
from codemint.records import Function, Instructed, Provenance, Snippet, content_id
from codemint.settings import PipelineSettings, SummarizeSettings
from codemint.tasks.reformat.stage import Reformat
from codemint.tasks.summarize.stage import Summarize


def instructed(module: str, settings: PipelineSettings | None = None) -> list[Instructed]:
    """Summarize's rows for a standard-library module's real source."""
    settings = settings or PipelineSettings()
    source = inspect.getsource(importlib.import_module(module))
    where = Provenance(source_uri=f"stdlib:{module}", path=f"{module}.py")
    snippet = Snippet(id=content_id(source), code=source, provenance=where)
    functions = [f for f in Reformat(settings).run([snippet]) if isinstance(f, Function)]
    return [r for r in Summarize(settings).run(functions) if isinstance(r, Instructed)]


def by_name(rows: list[Instructed], entry_point: str, kind: str) -> Instructed:
    (found,) = [r for r in rows if r.entry_point == entry_point and r.sample_kind == kind]
    return found


def test_rows_of_ntpath_say_windows_path_rules_apply_and_posixpath_posix() -> None:
    nt = instructed("ntpath")
    assert len(nt) >= 10
    assert all("Windows path rules apply" in r.instruction for r in nt)
    posix = instructed("posixpath")
    assert posix and all("POSIX path rules apply" in r.instruction for r in posix)
    assert not any("path rules" in r.instruction for r in instructed("textwrap"))


def test_the_prompt_shows_the_context_apart_from_the_instruction() -> None:
    rows = instructed("calendar")
    monthrange = by_name(rows, "monthrange", "function")
    assert monthrange.context_code and "class IllegalMonthError(ValueError):" in monthrange.context_code
    assert "IllegalMonthError" not in monthrange.instruction  # context is not pasted into the prose
    prompt = generation_prompt(monthrange.instruction, monthrange.context_code)
    # The exception the tests expect (`__codemint__.IllegalMonthError`) is defined in the block.
    instruction, block = prompt.split("\n\nIt works in this context.", 1)
    assert instruction == monthrange.instruction.rstrip()
    assert fenced(monthrange.context_code) in block and "run on its own" in block

    formatday = by_name(rows, "formatday", "method")
    assert formatday.context_code is not None
    assert "class HTMLCalendar(Calendar):" in formatday.context_code
    assert "def __init__(self, firstweekday=0):" in formatday.context_code
    assert "def __init__" not in formatday.instruction


def test_the_setting_off_gives_the_bare_instruction_and_no_context() -> None:
    off = PipelineSettings(summarize=SummarizeSettings(context_prompts=False))
    rows = instructed("difflib", off)
    on = {(r.entry_point, r.sample_kind): r for r in instructed("difflib")}
    assert rows and all(r.context_code is None for r in rows)
    longest = by_name(rows, "find_longest_match", "method")
    # The whole class docstring and the list of other methods, as before context prompts.
    whole_doc = "human-friendly diff"  # the class docstring's second paragraph
    assert whole_doc in longest.instruction and "It also needs the methods" in longest.instruction
    shown = on[("find_longest_match", "method")]
    assert whole_doc not in shown.instruction and "It also needs" not in shown.instruction
    assert shown.instruction.split("\n\n")[1].endswith('"gestalt pattern matching".')
    assert generation_prompt(longest.instruction, longest.context_code).endswith(f"\n\n{ANSWER_FORMAT}")


def test_a_row_whose_instruction_execute_writes_keeps_its_context() -> None:
    rows = instructed("calendar")
    pending = [r for r in rows if r.instruction_source == "examples"]
    assert pending and all(r.context_code is not None for r in pending)
    methods = [r for r in pending if r.sample_kind == "method"]
    assert methods and all(f"class {r.class_name}" in (r.context_code or "") for r in methods)


def test_a_repr_or_hash_without_words_of_its_own_gets_no_protocol_instruction() -> None:
    """`NormalDist.__repr__` has no docstring and `__hash__`'s says only when hashes are equal:
    neither says which text or number the tests expect, so they wait for example instructions
    (a config of their own) instead of becoming generation rows; `__eq__`'s words still do."""
    rows = instructed("statistics")
    normal = {r.entry_point: r for r in rows if r.class_name == "NormalDist"}
    assert normal["__hash__"].instruction_source == "examples"
    assert normal["__repr__"].instruction_source == "examples"
    assert normal["__eq__"].instruction_source in ("docstring", "protocol")
    off = instructed("statistics", PipelineSettings(summarize=SummarizeSettings(context_prompts=False)))
    assert {
        r.instruction_source for r in off if r.entry_point == "__repr__" and r.class_name == "NormalDist"
    } == {"protocol"}
