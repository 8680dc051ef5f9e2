"""Summarize: give every function an instruction.

Offline strategy `docstring`: the instruction is built from the signature and docstring;
a method without one takes the data model's words for a special method (`protocol`) or the
docstring of the method it overrides (`inherited`), and any function a documenting comment
block (`comment`, see tasks/reformat/comments.py). The rest get their instruction after
execution, from the original's own calls and results (`examples`, see
tasks/execute/example_instructions.py), or, with that setting off, are dropped as
`no_instruction_source`. The `llm` strategy
(Inverse-Instruct) summarizes the code itself and self-evaluates the candidates.

Every strategy also records the context the prompt shows beside the instruction
(`context_code`, codemint/prompt_context.py; setting `summarize.context_prompts`), and code
from a platform-specific module (ntpath, posixpath, ...) says whose path rules apply.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Sequence

from codemint.inherited_docs import inherited_doc
from codemint.llm import instructions
from codemint.llm.errors import LLMError
from codemint.llm.stage import LLMStage
from codemint.prompt_context import context_code, platform_note
from codemint.records import Function, Instructed, Rejected
from codemint.samples import CLASS_KINDS, method_instruction, protocol_doc
from codemint.settings import SummarizeSettings
from codemint.stage_task import shard_task
from codemint.tasks.execute import example_instructions


def docstring_instruction(signature: str, docstring: str) -> str:
    body = inspect.cleandoc(docstring)
    return f"Implement the Python function `{signature.removeprefix('def ')}`.\n\n{body}"


# Special methods whose exact result the data model leaves to each class ("the object's
# developer representation", "a hash consistent with equality"): without words of their own
# (for `__hash__`, whatever its docstring says) they fall to example instructions (their own
# config) or are dropped, never a generation row whose tests pin a repr or hash value its
# prompt does not state.
OPEN_OUTPUT = frozenset({"__repr__", "__str__", "__hash__", "__format__"})


def instruction_for(rec: Function, doc: str, context: bool | None = None) -> str:
    """The offline instruction: the signature (and, for a method, its class) and `doc`, and
    whose path rules apply for code of a platform-specific module. `context`: the prompt shows
    the code's context beside it (None: as the row says, by its `context_code`)."""
    if context is None:
        context = getattr(rec, "context_code", None) is not None
    if rec.sample_kind in CLASS_KINDS and rec.class_name:
        text = method_instruction(rec.code, rec.class_name, rec.signature, doc, rec.sample_kind, context)
    else:
        text = docstring_instruction(rec.signature, doc)
    return with_platform_note(text, rec)


def with_platform_note(text: str, rec: Function) -> str:
    note = platform_note(rec.provenance.path)
    return text if note is None else f"{text}\n\n{note}"


def prompt_context(rec: Function, on: bool) -> str | None:
    """The context the row's prompt shows (None when `summarize.context_prompts` is off)."""
    if not on:
        return None
    try:
        method_of = rec.class_name if rec.sample_kind in CLASS_KINDS else None
        return context_code(rec.original_code, rec.entry_point, method_of)
    except (SyntaxError, ValueError, RecursionError):
        return ""  # the code parsed for reformat; a context that cannot be cut shows nothing


class Summarize(LLMStage[Function, Instructed]):
    name = "summarize"
    input_model = Function
    output_model = Instructed
    settings_field = "summarize"

    @property
    def cfg(self) -> SummarizeSettings:
        return self.settings.summarize

    def llm_prompts(self) -> Sequence[str]:
        return instructions.PROMPTS if self.cfg.strategy == "llm" else ()

    def run(self, records: Iterable[Function]) -> Iterator[Instructed | Rejected]:
        if self.cfg.strategy == "llm":
            yield from self.run_llm(list(records))
            return
        for rec in records:
            doc = (rec.docstring or "").strip()
            source = "docstring"
            method_of = rec.class_name if rec.sample_kind in CLASS_KINDS else None
            if self.cfg.context_prompts and rec.entry_point in OPEN_OUTPUT:
                method_of = None  # the data model's words leave the exact output open
                if rec.entry_point == "__hash__":
                    doc = ""  # no docstring states a hash's value ("equal if mu and sigma are")
            if not doc and method_of and self.cfg.protocol_methods:
                # A special method of a documented class: the data model says what it must do.
                doc = protocol_doc(rec.code, method_of, rec.entry_point) or ""
                source = "protocol"
            if not doc and method_of and self.cfg.inherited_docs:
                # An override keeps its base's contract: the base method's docstring states it.
                doc = inherited_doc(rec.code, method_of, rec.entry_point) or ""
                source = "inherited"
            if not doc and rec.comment and self.cfg.comment_docs:
                doc, source = rec.comment, "comment"  # the author's own words, in a comment
            context = prompt_context(rec, self.cfg.context_prompts)
            if not doc and self.cfg.example_docs and rec.sample_kind in example_instructions.KINDS:
                # Execute replaces the provisional words with the original's own examples.
                pending = instruction_for(rec, "(examples follow execution)", self.cfg.context_prompts)
                yield Instructed(
                    **rec.model_dump(),
                    instruction=pending,
                    instruction_source=example_instructions.PENDING,
                    context_code=context,
                )
                continue
            if not doc:
                yield self.reject(rec.id, "no_instruction_source", "no docstring", record=rec)
                continue
            if len(doc) < self.cfg.min_instruction_chars:
                yield self.reject(rec.id, "instruction_too_short", f"{len(doc)} chars", record=rec)
                continue
            yield Instructed(
                **rec.model_dump(),
                instruction=instruction_for(rec, doc, self.cfg.context_prompts),
                instruction_source=source,
                context_code=context,
            )

    def run_llm(self, records: list[Function]) -> Iterator[Instructed | Rejected]:
        cfg = self.cfg
        results = self.call_llm(lambda client: instructions.best_instructions(client, cfg, records))
        for rec, result in zip(records, results, strict=True):
            if isinstance(result, LLMError):
                yield self.reject_llm_error(rec.id, result, record=rec)
            elif result.score < cfg.min_score:
                base = result.p_yes_baseline
                vs = "" if base is None else f" vs {base:.2f} on other code"
                yield self.reject(
                    rec.id,
                    "low_instruction_score",
                    f"best self-evaluation {result.score:.2f} (P(yes) {result.p_yes:.2f}{vs})",
                    record=rec,
                )
            else:
                yield Instructed(
                    **rec.model_dump(),
                    instruction=with_platform_note(result.instruction, rec),
                    instruction_source="llm",
                    context_code=prompt_context(rec, cfg.context_prompts),
                    instruction_score=result.score,
                    instruction_p_yes=result.p_yes,
                    instruction_p_yes_baseline=result.p_yes_baseline,
                    llm_model=result.model,
                    prompt_version=result.prompt_version,
                    llm=self.llm_provenance,
                )


# The Prefect task of this stage: cached on content, retried once (codemint/stage_task.py).
shard = shard_task(Summarize)
