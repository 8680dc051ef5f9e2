"""All settings in one place: one pydantic model per stage, nested in `PipelineSettings`.

A stage's cache key includes the JSON of its own settings model, so changing, say, the
testgen cap re-runs testgen and what follows, but not ingest or reformat.
Settings load from a TOML file (`codemint run --config`), then CODEMINT_* environment
variables (nested with `__`, e.g. CODEMINT_SANDBOX__BACKEND=local), then CLI flags.
The old `[curation]` section (CODEMINT_CURATION__*) still loads: each key is moved to its
stage's section with a warning naming the new key (CURATION_KEYS). So does the old `[tasks]`
section (CODEMINT_TASKS__*), now `[exercises]`.
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from codemint.decontam_specs import BenchmarkSpec

# The bundled default input: pure-Python stdlib modules, present on every machine.
DEFAULT_STDLIB_MODULES = [
    "textwrap", "colorsys", "posixpath", "ntpath", "fnmatch", "heapq", "bisect", "html", "base64",
    "calendar", "shlex", "statistics", "difflib", "string", "keyword", "operator", "urllib.parse",
    "email.utils", "quopri", "json", "secrets",
]  # fmt: skip


class IngestSettings(BaseModel):
    # Column names for JSONL / Parquet inputs.
    code_column: str = "content"
    path_column: str | None = "path"
    repo_column: str | None = "repo_name"
    license_column: str | None = "license"
    revision_column: str | None = None
    max_file_bytes: int = 1_000_000
    max_files: int | None = None


class ReformatSettings(BaseModel):
    min_lines: int = 2
    max_lines: int = 200
    include_private: bool = False  # every private function, documented or not
    # Private helpers (`_name`) kept when they have a docstring or a kept definition calls them.
    keep_used_private: bool = True
    # Methods become samples with the parts of their class they need; static methods and
    # methods that never use `self` become plain functions.
    methods: bool = True
    # Nested functions lifted to the top level, free variables of the enclosing scope as parameters.
    lift_nested: bool = True
    # Single-statement bodies below this many AST nodes, one-line delegations and accessors
    # are dropped as trivial (0 turns the check off).
    min_body_nodes: int = 8


class SummarizeSettings(BaseModel):
    strategy: Literal["docstring", "llm"] = "docstring"
    min_instruction_chars: int = 12
    # A special method (`__len__`, `__eq__`, ...) with no docstring, in a class with one: the
    # instruction is the class's docstring plus what the data model asks of that method.
    protocol_methods: bool = True
    # An override with no docstring: the docstring of the method it overrides (a class of the
    # same code, a builtin or an imported standard-library class), see codemint/inherited_docs.py.
    inherited_docs: bool = True
    # No docstring: a comment block documenting the function (tasks/reformat/comments.py).
    comment_docs: bool = True
    # None of these: the instruction is written after execution from the original's own calls
    # and results (tasks/execute/example_instructions.py); off, such code is dropped.
    example_docs: bool = True
    # The prompt shows the context the code works in (a function's helpers, constants,
    # imports and exception classes; a method's class: header, cut docstring, constructor and
    # the methods it uses) beside the instruction, and a method row's tests compare only the
    # instance attributes that context shows (codemint/prompt_context.py). Off: the bare
    # instruction with the whole class docstring, and the instance's whole state compared.
    # On, `__repr__`, `__str__`, `__hash__` and `__format__` get no protocol or inherited words
    # (`__hash__` not even its docstring's): none says the exact text or number tests expect.
    context_prompts: bool = True
    # LLM strategy: candidates per sample and the self-evaluation threshold.
    candidates: int = 3
    # Calibrated score (codemint/llm/instructions.py): 0.5 means the model cannot tell the
    # instruction's own code from another function's; raw P(yes) when `calibrate` is off.
    min_score: float = 0.6
    calibrate: bool = True


class TestgenSettings(BaseModel):
    strategies: list[
        Literal[
            "doctest",
            "annotations",
            "defaults",
            "mutation",
            "feedback",
            "llm",
            "llm_generator",
            "llm_mutants",
        ]
    ] = [
        "doctest",
        "annotations",
        "defaults",
        "mutation",
        "feedback",
    ]
    max_inputs: int = 20
    mutation_rounds: int = 2
    seed: int = 0
    max_input_chars: int = 2_000
    # Feedback (runs the original and its mutants in the sandbox, keeps inputs that add
    # coverage or kill a mutant): candidates proposed per row, type hypotheses tried,
    # mutants used to rank inputs.
    feedback_pool: int = 48
    feedback_type_hypotheses: int = 10
    feedback_mutants: int = 24
    # A mutant runs only the inputs whose traced run of the original executes its changed
    # lines (on the others its outcome is the original's); off: every input (the baseline).
    feedback_reach_bound: bool = True
    # A mutant's job stops at the first input telling it apart, inputs in the order the
    # selection prefers them (what coverage keeps first): the selection needs one killing
    # input per mutant, not all of them. Later rounds run only the mutants still alive.
    # Off: every mutant runs every input of every round (the full kill matrix).
    feedback_first_kill: bool = True
    # A row whose original raised on every input of the first two rounds, or returned one value
    # from every input it returned from (and cannot print), runs no mutants: execute drops it
    # (no_normal_returns, constant_outcome) whatever they show. Not with the LLM, whose mutant
    # round may still find other inputs. Off: mutants run.
    feedback_skip_raising: bool = True
    # Then inputs aimed at the mutants that survive: mutations of inputs reaching their line.
    feedback_targeted: int = 24
    # llm_mutants (with feedback): surviving mutants shown to the LLM per row, inputs asked for.
    llm_mutants_shown: int = 5
    llm_mutants_inputs: int = 6
    # Quality rules for the kept inputs.
    min_normal_tests: int = 10
    max_exception_share: float = Field(default=0.25, ge=0.0, lt=1.0)
    # Drop inputs outside what the annotations and docstring state a parameter accepts
    # (codemint/offline/contracts.py); off: a baseline that keeps them.
    contract_inputs: bool = True
    # Adaptive time limits: after the first inputs, cap each at a multiple of their time.
    adaptive_first_inputs: int = 3
    adaptive_time_factor: float = 20.0
    adaptive_time_floor_s: float = 0.25


class ExecLimits(BaseModel):
    """Per-input resource limits the sandbox runner applies to each child (codemint.sandbox)."""

    timeout_s: float = 3.0
    cpu_s: int = 3
    memory_mb: int = 512
    max_procs: int = 32
    max_open_files: int = 64
    max_file_size_mb: int = 16
    output_cap_bytes: int = 16_384
    # Cap on the encoded return value of one call (bigger -> status "output_limit").
    result_cap_bytes: int = 4_000_000


class SandboxSettings(BaseModel):
    backend: Literal["docker", "local", "auto"] = "auto"
    image: str = "codemint-sandbox:latest"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    jobs_per_container: int = 500
    limits: ExecLimits = Field(default_factory=ExecLimits)
    # Runs from installed packages get a derived image with those exact versions (sandbox/images.py).
    package_env: bool = True
    # Jobs of execute, verify and the reward cannot reach the row's own function or class in
    # the module it came from (codemint/original_module.py); off: a baseline that can.
    hide_original: bool = True
    # A job's code is imported once and each input forked from that state (a per-job zygote,
    # sandbox/import_once.py); off: every input executes the code's top level afresh. Outcomes
    # are the same either way: not part of any cache key.
    import_once: bool = True
    # Mutation runs (testgen's and adequacy's mutants, repair's screen) run up to this many
    # suites of one row in one process, one after another (sandbox/suite.py `run_suites`);
    # 1: a process each. The results are each suite's own: not part of any cache key.
    suites_per_process: int = Field(default=8, ge=1)


class ExecuteSettings(BaseModel):
    # Runs of the original per input; differing outputs drop the sample as nondeterministic.
    repeats: int = 2
    # Tests that return normally, at least: tests expecting an exception are kept but do not
    # count, since any mutant raising the same type passes them.
    min_tests: int = 3
    # Exception tests beyond this share of a row's tests are discarded (one per exception
    # type is kept first), whatever strategy proposed the inputs.
    max_exception_share: float = Field(default=0.25, ge=0.0, lt=1.0)
    # Tests judge only what the prompt asks for (tasks/execute/checks.py): tests expecting
    # sandbox-only values go, argument state is compared only when changing it is the code's
    # job, and rows a trivially wrong solution passes are dropped. Off: a baseline to measure.
    outcome_checks: bool = True
    # Distinct outcomes (everything a test compares) a row's normal tests must show, unless
    # they are all bools (then both True and False).
    min_distinct_outcomes: int = Field(default=3, ge=1)
    # Take the first run of each input from what feedback testgen ran (the original's traced
    # outcomes, carried on the row as `input_runs`) and run only the second, on another hash
    # seed, to check it; a row whose second run differs, prints or changes its arguments runs
    # the first here too, as before. Off: both runs here (the baseline).
    reuse_testgen_runs: bool = True
    # With reuse: a row that testgen's run already dooms for what its outcomes show (raises on
    # every input, too few tests, trivially passed, no examples) is dropped with the drop's
    # reason and message without running it; `predecided:<reason>` counts them. Off: it runs.
    predecide: bool = True
    # With predecide: a row without testgen's run (a method sample) first runs all its inputs
    # in one sandbox process (`prescreen_jobs`) and is pre-decided on that run alike; a row it
    # does not drop runs as before. Off: such a row always runs in full.
    prescreen: bool = True
    # With a reference run (testgen's, or the screen's standing for a first run): an input on
    # which it raised an exception the prompt does not state is not run here (its test would
    # be dropped as unstated_exception); that run's outcome stands for it. Off: every input runs.
    skip_unstated: bool = True
    # A row whose words (docstring or comment) are under 8 words also shows a few of its tests
    # as examples in its instruction (tasks/execute/example_instructions.py): "Return a
    # formatted day." does not say the format its tests expect. Off: the words alone.
    terse_examples: bool = True


class VerifySettings(BaseModel):
    keep_threshold: float = 1.0
    candidate: Literal["reformatted", "regenerated", "both"] = "reformatted"
    # LLM solutions written from the instruction per sample (candidate regenerated/both).
    regenerate_n: int = 1


class AdequacySettings(BaseModel):
    """How well each row's tests tell the original from its mutants (the adequacy stage)."""

    enabled: bool = True
    max_mutants: int = 20
    seed: int = 0
    # Survivors are re-run on this many extra inputs (typed proposals and mutations of the
    # tests' inputs); a mutant is reported as equivalent only when at least
    # `equivalence_min_reaching` of them run its changed lines and it matches the original there.
    equivalence_inputs: int = 20
    equivalence_min_reaching: int = Field(default=2, ge=1)
    # Per-test time budget for a mutant: this multiple of the original's time, at least the floor.
    time_factor: float = 10.0
    time_floor_s: float = 0.2
    # The quality floor: a row whose mutation score (killed over all mutants, none excused) is
    # below it is exported in the `weak` config, out of `generation` and `rl`; it is not
    # dropped. None: no floor at all (every row is exported as before, e.g. for a baseline).
    min_mutation_score: float | None = Field(default=0.5, ge=0.0, le=1.0)
    # A row with fewer mutants than this cannot be scored fairly by them: it is judged by the
    # line coverage of its entry point instead (`adequacy_basis` "coverage"; None: no floor there).
    min_mutants: int = Field(default=3, ge=1)
    min_line_coverage: float | None = Field(default=0.8, ge=0.0, le=1.0)
    # Each mutant runs the tests covering its changed lines first and stops at the first it
    # fails, a returned value included; the equivalence check on a survivor's extra inputs
    # stops at the first difference too. The scores are the same. Off: the whole suite in
    # input order, stopping only on a raised type or a dead job (the baseline).
    first_failure: bool = True
    # The original's per-test coverage and outcomes as feedback testgen traced them (the
    # row's `input_runs`), not a traced run of its own; rows without them are run here.
    reuse_testgen_runs: bool = True
    # A mutant testgen saw a test's input tell apart (`input_runs` `kills`: the same mutant of
    # the same code in the same harness) counts as killed by that test without a job of its own.
    reuse_testgen_kills: bool = True


class JudgeSettings(BaseModel):
    """WaveCoder's discriminator: an LLM checks each final pair against written criteria."""

    enabled: bool = False
    min_score: float = 0.5


class ExercisesSettings(BaseModel):
    """The exercise rows derived from every exported row (WaveCoder's four code tasks):
    `docs/exercise-kinds.md`. Until 2026-12 this section was `[tasks]`, which still loads."""

    # Exercise kinds by name (tasks/derive/registry.py: generation, summarization, repair,
    # translation); an unknown name is an error when the run starts.
    kinds: list[str] = ["generation", "summarization", "repair"]
    # Repair: mutants run per row, and buggy variants kept per row (fewest failing tests first).
    repair_mutants: int = Field(default=8, ge=1)
    repair_per_row: int = Field(default=2, ge=1)
    repair_seed: int = 0
    # Screen the variants first, each running every test in one suite job, and judge only the
    # hardest caught ones as verify runs a row (a process per test); off: judge every variant.
    repair_screen: bool = True
    # With the screen: judge a caught variant only on the first two tests it failed there (still
    # a process per test, the original beside it; `tests_failed` is the screen's count), not on
    # every test; off: on every test.
    repair_confirm_failing: bool = True
    # With the LLM: buggy versions asked per row from realistic-bug prompts (0: none).
    llm_bugs: int = Field(default=0, ge=0)
    # Translation (LLM; JavaScript, checked by Node in the sandbox): translations asked per
    # row, and the fewest of the row's tests that must map to JSON for a translation to count.
    translation_candidates: int = Field(default=2, ge=1)
    translation_min_tests: int = Field(default=3, ge=1)
    # Summaries only from the function's own words (tasks/derive/summary_target.py): no target from
    # the data model's, a base method's or example calls, and no doctest output the shown code
    # does not contain. Off: every instruction is a target, doctests whole (the old rule).
    summary_own_words: bool = True


class LLMSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "Qwen/Qwen2.5-Coder-7B-Instruct"
    api_key: str = "EMPTY"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 1024
    concurrency: int = 256
    timeout_s: float = 120.0
    max_retries: int = 5
    # Backoff before retry k: min(backoff_max_s, backoff_base_s * 2**(k-1)), jittered.
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # Alternatives per token requested where a strategy scores from logprobs (vLLM caps at 20).
    top_logprobs: int = 5
    # Failed answers (unusable replies, 400s) are cached and replayed; True re-sends them
    # (`--retry-llm-failures`). Not part of any cache key.
    retry_failures: bool = False
    # The model's context in tokens, to fit prompts; None asks the server (GET /v1/models).
    max_model_len: int | None = None


class NearDedupSettings(BaseModel):
    """Near-dedup: MinHash LSH over token shingles. Candidates from the LSH bands are
    verified by estimated Jaccard >= threshold (BigCode uses 5-grams and 0.7 on code)."""

    shingle: int = 5
    num_perm: int = 128
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    bands: int | None = None  # None: chosen from threshold and num_perm
    normalize_locals: bool = True  # parameters/local variables compared as one name
    seed: int = 1
    # Near twins (tasks/near_dedup/twins.py): a wrapper that only calls a kept helper, and rows with
    # the same instruction over different code, keep one row.
    twins: bool = True


class DecontaminateSettings(BaseModel):
    """Decontamination: word n-grams of the row's instruction and code against each
    benchmark's prompt/solution/tests; a row matching `min_matches` prompt or solution
    n-grams, or `overlap` of any field's n-grams, or containing a normalised solution of
    >= `min_substring_words` words, is dropped."""

    benchmarks: list[BenchmarkSpec] = Field(default_factory=lambda: [BenchmarkSpec(name="humaneval")])
    ngram: int = 13
    overlap: float = 0.5
    min_matches: int = 1
    min_substring_words: int = 8
    missing: Literal["error", "skip"] = "skip"  # a named benchmark whose data is absent


class SelectSettings(BaseModel):
    """Diversity selection: k-center greedy on embeddings; neither budget set keeps all rows."""

    budget: int | None = None
    fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    embeddings_base_url: str | None = None  # OpenAI-compatible /v1; None: local hashed TF-IDF
    embeddings_model: str = "text-embedding-3-small"
    embeddings_api_key: str = "EMPTY"
    embeddings_batch_size: int = 64
    embedding_dim: int = 256  # local vectors' size; remote ones are projected down to it if larger


class ExportSettings(BaseModel):
    """Export: train/validation split by hashing id with the seed."""

    validation_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    split_seed: int = 0


# The old `[curation]` section (one model for four stages, so one cache key): each of its keys
# and where it lives now, as (section, key); section None is a top-level field.
CURATION_KEYS: dict[str, tuple[str | None, str]] = {
    "workers": (None, "index_workers"),
    "near_dedup_shingle": ("near_dedup", "shingle"),
    "near_dedup_num_perm": ("near_dedup", "num_perm"),
    "near_dedup_threshold": ("near_dedup", "threshold"),
    "near_dedup_bands": ("near_dedup", "bands"),
    "near_dedup_normalize_locals": ("near_dedup", "normalize_locals"),
    "near_dedup_seed": ("near_dedup", "seed"),
    "near_dedup_twins": ("near_dedup", "twins"),
    "benchmarks": ("decontaminate", "benchmarks"),
    "decontam_ngram": ("decontaminate", "ngram"),
    "decontam_overlap": ("decontaminate", "overlap"),
    "decontam_min_matches": ("decontaminate", "min_matches"),
    "decontam_min_substring_words": ("decontaminate", "min_substring_words"),
    "decontam_missing": ("decontaminate", "missing"),
    "select_budget": ("select", "budget"),
    "select_fraction": ("select", "fraction"),
    "embeddings_base_url": ("select", "embeddings_base_url"),
    "embeddings_model": ("select", "embeddings_model"),
    "embeddings_api_key": ("select", "embeddings_api_key"),
    "embeddings_batch_size": ("select", "embeddings_batch_size"),
    "embedding_dim": ("select", "embedding_dim"),
    "validation_fraction": ("export", "validation_fraction"),
    "split_seed": ("export", "split_seed"),
}


class SettingsError(Exception):
    """A mistake in the settings given, told in one line: not a ValueError, which pydantic
    would wrap in a multi-line validation report."""


def new_name(section: str | None, key: str) -> str:
    """`[section] key (CODEMINT_SECTION__KEY)`: how a moved setting is written now."""
    if section is None:
        return f"{key} (CODEMINT_{key.upper()})"
    return f"[{section}] {key} (CODEMINT_{section.upper()}__{key.upper()})"


def move_curation(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with the keys of an old `[curation]` section moved to their sections, each with
    a warning naming the new key; a setting given both ways, or an unknown key, is an error."""
    old = data.pop("curation")
    if not isinstance(old, dict):
        raise SettingsError(f"[curation] must be a table of settings, not {old!r}")
    for key, value in old.items():
        if key not in CURATION_KEYS:
            raise SettingsError(f"[curation] {key}: no such setting (known: {', '.join(CURATION_KEYS)})")
        section, new = CURATION_KEYS[key]
        if section is None:
            target = data
        else:
            given = data.get(section, {})
            # A model given directly counts only the fields it was given.
            target = given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else dict(given)
            data[section] = target
        if new in target:
            raise SettingsError(
                f"[curation] {key} and {new_name(section, new)} set the same setting: drop [curation] {key}"
            )
        target[new] = value
        warnings.warn(
            f"settings: [curation] {key} is now {new_name(section, new)}; the old name still works for now",
            FutureWarning,
            stacklevel=2,
        )
    return data


def move_tasks(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with an old `[tasks]` section as `[exercises]` (the kinds of training rows derive
    makes were called tasks, like Prefect's), with a warning; both given is an error."""
    old = data.pop("tasks")
    if "exercises" in data:
        raise SettingsError("[tasks] and [exercises] are the same section: drop [tasks]")
    data["exercises"] = old
    warnings.warn(
        "settings: [tasks] is now [exercises] (CODEMINT_EXERCISES__*); the old name still works for now",
        FutureWarning,
        stacklevel=2,
    )
    return data


class CurationEnv(PydanticBaseSettingsSource):
    """The old section's environment variables (CODEMINT_CURATION__SELECT_BUDGET=...) as a
    `curation` table: the settings no longer have that field, so the usual source skips them."""

    section = "curation"
    prefix = "codemint_curation__"
    json_keys = {"benchmarks"}  # a list: JSON in the environment, as pydantic-settings reads it

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the environment itself

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in os.environ.items():
            if name.lower().startswith(self.prefix):
                key = name[len(self.prefix) :].lower()
                found[key] = json.loads(value) if key in self.json_keys else value
        return {self.section: found} if found else {}


class TasksEnv(CurationEnv):
    """The old `[tasks]` section's environment variables (CODEMINT_TASKS__KINDS=...)."""

    section = "tasks"
    prefix = "codemint_tasks__"
    json_keys = {"kinds"}


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEMINT_", env_nested_delimiter="__", extra="forbid")

    # A local directory, or an fsspec URL (s3://bucket/runs, gs://...) that workers on several
    # machines share (codemint/store.py); a file:// URL is its local path.
    runs_dir: Path | str = Path("runs")
    shards: int = 4
    # A corpus with more source bytes than shards * this gets more shards (and at most `shards`
    # of them in memory at once), so memory stays flat as the corpus grows. None: `shards` only.
    shard_max_bytes: int | None = 1_200_000
    # A re-run records the leading stages whose every task is a cache hit as Cached task runs in
    # one batch, without running each through the task engine (flows/cache_walk.py). Off: every
    # task run goes through the engine, as before. Not part of any cache key.
    cache_walk: bool = True
    # Rows a sandbox stage (testgen, execute, verify, adequacy, derive) works on at once: its
    # jobs and results for those rows are held together, so a shard is run this many rows at a
    # time and its memory does not grow with the shard. The rows kept are the same for any
    # size: not part of any cache key. None: a whole shard at once.
    stage_chunk_rows: int | None = Field(default=256, ge=1)
    # Worker processes for per-shard work inside an index build (near-dedup's MinHash
    # signatures; None: one per CPU). The results are the same for any count: not part of any
    # cache key.
    index_workers: int | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    reformat: ReformatSettings = Field(default_factory=ReformatSettings)
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings)
    testgen: TestgenSettings = Field(default_factory=TestgenSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    execute: ExecuteSettings = Field(default_factory=ExecuteSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    adequacy: AdequacySettings = Field(default_factory=AdequacySettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    # Curation after verify, one model per stage (each stage's cache key covers only its own).
    decontaminate: DecontaminateSettings = Field(default_factory=DecontaminateSettings)
    near_dedup: NearDedupSettings = Field(default_factory=NearDedupSettings)
    select: SelectSettings = Field(default_factory=SelectSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    exercises: ExercisesSettings = Field(default_factory=ExercisesSettings)
    # Fault injection for drills and tests: "stage:shard" task runs that raise.
    fail_shards: list[str] = Field(default_factory=list)

    @field_validator("runs_dir", mode="before")
    @classmethod
    def _runs_location(cls, value: Any) -> Any:
        # A local path stays a Path as before; a URL other than file:// stays text, since
        # Path("s3://b/runs") would fold its "//".
        if isinstance(value, str) and not ("://" in value and not value.startswith("file://")):
            return Path(unquote(urlsplit(value).path)) if value.startswith("file://") else Path(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _old_sections(cls, data: Any) -> Any:
        # Config files, environments and run.json files written before the split (and before
        # `[tasks]` became `[exercises]`) keep working.
        if isinstance(data, dict) and "curation" in data:
            data = move_curation(dict(data))
        if isinstance(data, dict) and "tasks" in data:
            data = move_tasks(dict(data))
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        old = (CurationEnv(settings_cls), TasksEnv(settings_cls))
        return init_settings, env_settings, *old, dotenv_settings, file_secret_settings

    def enable_llm(self) -> None:
        """Every LLM strategy on: summaries, LLM test inputs, regenerated code, the judge,
        realistic bugs for repair rows, JavaScript translation rows."""
        self.summarize.strategy = "llm"
        for name in ("llm", "llm_generator", "llm_mutants"):
            if name not in self.testgen.strategies:
                self.testgen.strategies.append(name)
        self.verify.candidate = "both"
        self.judge.enabled = True
        self.exercises.llm_bugs = max(self.exercises.llm_bugs, 2)
        if "translation" not in self.exercises.kinds:
            self.exercises.kinds.append("translation")

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> PipelineSettings:
        data: dict[str, Any] = {}
        if config is not None:
            try:
                data = tomllib.loads(config.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"{config}: cannot read settings: {exc}") from exc
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except SettingsError as exc:
            raise ValueError(f"{config}: {exc}" if config is not None else str(exc)) from None
