"""Record schemas: one pydantic model per stage output, and the Arrow schema derived from it.

Each stage's output model extends the previous one, so a row carries everything learned
about it so far (provenance included) and a reader of any stage's Parquet sees one shape.
Rows a stage does not keep become `Rejected` rows in a sibling file, with their reason.
"""

from __future__ import annotations

import hashlib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel

RejectStatus = Literal["dropped", "quarantined"]


def content_id(text: str) -> str:
    """Stable id of a piece of (normalized) code or source: 16 hex chars of sha256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Provenance(BaseModel):
    source_uri: str  # e.g. "package:textwrap", "file:///abs/dir", "jsonl:/abs/data.jsonl"
    path: str  # file path within the source, or the input file itself
    row: int | None = None  # row number in a JSONL/Parquet input (1-based lines for JSONL)
    line_start: int | None = None
    line_end: int | None = None
    revision: str | None = None  # git commit, package version or Python version
    license: str | None = None


class SourceRef(BaseModel):
    """One input file to ingest: the planner's output and the ingest stage's input."""

    id: str
    kind: Literal["py", "jsonl", "parquet"]
    path: str  # absolute path on the machine that plans and runs the flow
    sha256: str
    size: int
    provenance: Provenance
    status: Literal["kept"] = "kept"


class Snippet(BaseModel):
    """A unit of source code: a whole .py file or one JSONL/Parquet row."""

    id: str  # content_id of the normalized code
    code: str
    provenance: Provenance
    status: Literal["kept"] = "kept"


class Function(Snippet):
    """A function that stands alone: `original_code` carries what it needs from its module."""

    parent_id: str
    entry_point: str
    signature: str
    docstring: str | None = None
    # A comment block documenting it (above the def or opening the body), when it has no docstring.
    comment: str | None = None
    original_code: str  # the function and its dependencies, verbatim from the source
    # "function"; "method" (entry_point is a method of `class_name`, run through a harness that
    # builds the instance: codemint/samples.py); "lifted" (a nested function made top-level).
    sample_kind: str = "function"
    class_name: str | None = None
    # `code` (inherited) is the reformatted standalone version; `id` hashes it.


class PromptUse(BaseModel):
    """One prompt a stage sent, with the sampling it was sent with."""

    prompt_version: str  # e.g. summarize@v1-3f2a9c01de
    temperature: float
    top_p: float
    max_tokens: int
    n: int


class LLMProvenance(BaseModel):
    """Which server and model wrote the LLM parts of a row, with which prompts."""

    model: str  # the name the server serves
    model_root: str | None = None  # `root` in GET /v1/models: the weights it loaded
    server_version: str | None = None  # GET /version (vLLM's version)
    prompts: list[PromptUse] = []

    def merged(self, other: LLMProvenance | None) -> LLMProvenance:
        """This row's provenance with a later stage's added (its prompts appended once each)."""
        if other is None:
            return self
        seen = {use.prompt_version for use in self.prompts}
        return LLMProvenance(
            model=other.model or self.model,
            model_root=other.model_root or self.model_root,
            server_version=other.server_version or self.server_version,
            prompts=[*self.prompts, *(u for u in other.prompts if u.prompt_version not in seen)],
        )


def merge_llm(current: LLMProvenance | None, added: LLMProvenance | None) -> LLMProvenance | None:
    if current is None:
        return added
    return current.merged(added)


class Instructed(Function):
    instruction: str
    # "docstring", "protocol" (a special method), "inherited" (the overridden method's
    # docstring), "comment" (a documenting comment block), "examples" (the original's own
    # calls and results, written by execute) or "llm"
    instruction_source: str
    # The code the target works in, shown beside the instruction (codemint/prompt_context.py):
    # "" when it needs nothing else; None when prompts show no context (summarize.context_prompts
    # off): then a method row's tests compare the instance's whole state.
    context_code: str | None = None
    instruction_score: float | None = None  # calibrated self-evaluation (llm strategy)
    instruction_p_yes: float | None = None  # P(yes | instruction, its own code)
    instruction_p_yes_baseline: float | None = None  # P(yes | instruction, another function's code)
    llm_model: str | None = None
    prompt_version: str | None = None
    # Every LLM row (from summarize on): server, model, prompt versions and sampling.
    llm: LLMProvenance | None = None


class InputRun(BaseModel):
    """The original's traced run on one input, as feedback testgen ran it (the suite harness,
    `sandbox/suite.py`): execute checks it against a run of its own instead of running it
    twice, and adequacy takes its coverage instead of tracing the original again."""

    kind: str  # "ok", "iter" or "error" (inputs that timed out are never kept)
    value: str | None  # canonical text of what it returned, or the exception type
    seconds: float
    lines: list[int] = []
    arcs: list[list[int]] = []  # [from, to] line pairs
    # The arguments' state after the call when it changed them, as the runner reports it.
    args_after: str | None = None
    # The mutants (`Mutant.key`) testgen saw this input tell apart from the original: adequacy
    # counts them killed by this test without running them again.
    kills: list[str] = []


class WithInputs(Instructed):
    # JSON text {"args": [...], "kwargs": {...}} in the sandbox value encoding.
    test_inputs: list[str]
    input_sources: list[str]  # per input: doctest, annotations, defaults, mutation, llm, ...
    # Per input, the original's run in feedback testgen; empty when testgen did not run them
    # all (a method sample, or plain strategies only). Adequacy empties it once used.
    input_runs: list[InputRun] = []


class TestCase(BaseModel):
    input: str
    expected: str | None = None  # canonical JSON of the return value, when it returned
    exception: str | None = None  # exception type name, when the original raised
    # Lines of the row's `original_code` this test executes (set by the adequacy stage).
    covered_lines: list[int] = []
    # Expected stdout (capped by the sandbox), set when the original's output depends on the
    # input; None means stdout is not compared.
    stdout: str | None = None
    # The arguments' state after the call (input text, codec), set when the original mutates
    # its arguments on some input; None means the arguments are not compared.
    args_after: str | None = None


class HiddenOriginal(BaseModel):
    """Names of the module a row came from that its job must not reach (`sandbox/zygote.py`):
    the row's own function or class, which a candidate could otherwise import instead of
    writing it. Aliases of the same objects in other loaded modules (a package's re-export,
    `os.path` for posixpath, accelerators such as `_heapq`) are hidden with them."""

    module: str  # dotted import name, e.g. "statistics", "json.decoder"
    names: list[str]


class Executed(WithInputs):
    test_cases: list[TestCase]
    discarded_inputs: int = 0  # inputs that timed out, ran out of memory or were killed
    sandbox_image: str | None = None  # the image (and its digest) the original ran in
    # The requirement set that image was derived for (`name==version`; empty: the plain image)
    # and what of the row's module its jobs could not reach: where a reward must run it.
    environment_requirements: list[str] = []
    hidden: HiddenOriginal | None = None


class Verified(Executed):
    candidate_kind: str  # "reformatted" or "regenerated"
    candidate_code: str
    pass_fraction: float
    tests_passed: int
    tests_total: int
    llm_models: list[str] = []  # every model that wrote part of this row (instruction, inputs, code, verdict)
    prompt_versions: list[str] = []
    judge_passed: bool | None = None  # set by the optional judge stage
    judge_score: float | None = None
    judge_reasons: str | None = None
    # Adequacy of the tests (adequacy stage): share of the original's mutants (of the method,
    # for a method sample) that some test tells apart, and line/branch coverage of the entry point.
    mutation_score: float | None = None  # killed / all mutants run: none excused
    mutation_score_excused: float | None = None  # killed / (mutants - equivalent)
    mutants: int = 0  # mutants run (one the sandbox could not run says nothing of the tests)
    mutants_killed: int = 0
    # Survived the tests, and extra inputs that run its changed lines agree with the original.
    mutants_equivalent: int = 0
    mutants_unreached: int = 0  # survived, and no test runs its changed lines
    line_coverage: float | None = None
    branch_coverage: float | None = None
    # What the floor judged the row by: "mutants" (the mutation score), or "coverage" (line
    # coverage: too few mutants to score); None when not measured.
    adequacy_basis: str | None = None
    # Whether the row clears the floor (`adequacy.min_mutation_score` / `min_line_coverage`):
    # False rows are exported in the `weak` config; None when no floor applied.
    adequate: bool | None = None
    adequacy_seconds: float | None = None  # sandbox time spent measuring this row


class RepairDetail(BaseModel):
    """A repair row's bug: the buggy code and the evidence that a test catches it."""

    buggy_code: str
    bug_source: str  # "mutation" (an operator of codemint.mutants) or "llm" (a realistic-bug prompt)
    bug_kind: str  # the mutation operator (e.g. "compare") or the LLM's bug class (e.g. "off_by_one")
    bug_description: str
    failing_test: TestCase  # one test the buggy code fails
    actual: str  # what the buggy code did on it: its return value, or the exception it raised
    tests_failed: int  # how many of the row's tests the buggy code fails (few: a hard bug)
    tests_total: int


class SummaryDetail(BaseModel):
    code: str  # the code shown, docstrings stripped
    target: str  # "docstring" (the function's own) or "instruction"


class TranslationDetail(BaseModel):
    """A translation row's code in the other language and the evidence that it behaves alike."""

    language: str  # "javascript"
    code: str
    tests_run: int  # the row's tests the translation passed (all it was run on)
    tests_skipped: int  # tests with no JSON form, expecting an exception or comparing stdout
    runtime: str  # what ran it: the Node variant image and its digest
    model: str  # the LLM that wrote it
    prompt_version: str


class ExerciseRow(Verified):
    """One training row of one exercise kind (`codemint/exercise.py`), derived from a verified
    row (whose fields it carries).

    `id` stays the verified row's id (all rows of a function share its split); `exercise_id`
    names this row.
    """

    exercise: str  # its kind: "generation", "summarization", "repair", "translation", ...
    exercise_id: str
    prompt: str  # the user turn
    response: str  # the assistant turn
    summary: SummaryDetail | None = None
    repair: RepairDetail | None = None
    translation: TranslationDetail | None = None


class Rejected(BaseModel):
    """A row a stage did not keep, in `part-NNNNN.rejected.parquet` beside its kept rows."""

    id: str
    stage: str
    status: RejectStatus
    drop_reason: str  # machine-readable, e.g. "syntax_error", "no_instruction_source"
    detail: str = ""
    provenance: Provenance | None = None
    record_json: str = ""  # the input row as JSON, so nothing is lost


# --- Arrow schemas derived from the models -------------------------------------------------

_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """Arrow type for a field annotation, and whether it is nullable."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return _arrow_type(members[0])[0], True
    if origin is Literal:
        return pa.string(), False
    if origin is list:
        (item,) = get_args(annotation)
        return pa.list_(_arrow_type(item)[0]), False
    if origin is dict:
        key, value = get_args(annotation)
        return pa.map_(_arrow_type(key)[0], _arrow_type(value)[0]), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(_fields(annotation)), False
    if annotation in _SCALARS:
        return _SCALARS[annotation], False
    raise TypeError(f"no Arrow type for {annotation!r}")


def _fields(model: type[BaseModel]) -> list[pa.Field]:
    hints = typing.get_type_hints(model)
    out = []
    for name in model.model_fields:
        arrow, nullable = _arrow_type(hints[name])
        out.append(pa.field(name, arrow, nullable=nullable))
    return out


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    return pa.schema(_fields(model))


def to_table(rows: list[BaseModel], model: type[BaseModel]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=arrow_schema(model))


__all__ = [
    "Executed",
    "ExerciseRow",
    "Function",
    "HiddenOriginal",
    "InputRun",
    "Instructed",
    "LLMProvenance",
    "PromptUse",
    "Provenance",
    "Rejected",
    "RepairDetail",
    "Snippet",
    "SourceRef",
    "SummaryDetail",
    "TestCase",
    "Verified",
    "WithInputs",
    "arrow_schema",
    "content_id",
    "to_table",
]
