"""The exported dataset: chat `messages` and Alpaca rows, train/validation, a card and a manifest.

Layout under the output directory:
    messages/{train,validation}.{parquet,jsonl}   [{role: user, content: instruction},
                                                   {role: assistant, content: ```python code```}]
    alpaca/{train,validation}.{parquet,jsonl}     instruction, input "", output (the code)
    weak/, examples/                              generation rows held out of messages/, alpaca/ and
                                                  rl/ (messages layout): tests below the adequacy
                                                  floor; instructions that are only example calls
    summarization/, repair/, translation/, rl/    the other exercise kinds and the RL data (task_export.py)
    README.md                                     dataset card (sources, licenses, funnel, settings)
    manifest.json                                 counts and sha256 of every file (written last)
Every row also carries id, entry_point, signature, instruction_source, test_cases, provenance
and pass_fraction.
The code is the verified candidate (`candidate_code`). Each file is written atomically.
`messages/` and `alpaca/` are the generation kind (config `generation` and `generation_alpaca`).
Rows are the derive stage's `ExerciseRow`s, of the kinds passed in (`codemint/exercise.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from codemint import store
from codemint.curation.dataset_files import FileInfo, SplitFiles
from codemint.curation.exercise_export import (
    HELD_OUT_CONFIGS,
    RL_SCHEMA,
    generation_config,
    rl_record,
)
from codemint.exercise import ExerciseKind
from codemint.prompt_context import context_block
from codemint.records import ExerciseRow, Verified, arrow_schema

FORMATS = ("messages", "alpaca")
# Per-row test adequacy (adequacy stage); per test, `test_cases[].covered_lines`.
ADEQUACY_FIELDS = (
    "mutation_score",
    "mutation_score_excused",
    "mutants",
    "mutants_killed",
    "mutants_equivalent",
    "mutants_unreached",
    "line_coverage",
    "branch_coverage",
    "adequacy_basis",
    "adequate",
)
# Config name of each format directory in the card (the formats are the generation kind).
FORMAT_CONFIGS = {"messages": "generation", "alpaca": "generation_alpaca"}
SPLITS = ("train", "validation")
_VERIFIED = arrow_schema(Verified)
_COMMON = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("entry_point", pa.string(), nullable=False),
    pa.field("signature", pa.string(), nullable=False),
    pa.field("instruction_source", pa.string(), nullable=False),
    _VERIFIED.field("test_cases"),
    _VERIFIED.field("provenance"),
    pa.field("pass_fraction", pa.float64(), nullable=False),
    *(_VERIFIED.field(name) for name in ADEQUACY_FIELDS),
]
_MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
SCHEMAS = {
    "messages": pa.schema([_COMMON[0], pa.field("messages", pa.list_(_MESSAGE)), *_COMMON[1:]]),
    "alpaca": pa.schema(
        [
            _COMMON[0],
            pa.field("instruction", pa.string()),
            pa.field("input", pa.string()),
            pa.field("output", pa.string()),
            *_COMMON[1:],
        ]
    ),
}


def split_of(row_id: str, seed: int, validation_fraction: float) -> str:
    """'validation' for a stable pseudo-random share of ids (sha256 of seed and id), else 'train'."""
    digest = hashlib.sha256(f"{seed}:{row_id}".encode()).digest()[:8]
    return "validation" if int.from_bytes(digest, "big") / 2**64 < validation_fraction else "train"


def _common(rec: Verified) -> dict[str, Any]:
    return {
        "id": rec.id,
        "entry_point": rec.entry_point,
        "signature": rec.signature,
        "instruction_source": rec.instruction_source,
        "test_cases": [c.model_dump() for c in rec.test_cases],
        "provenance": rec.provenance.model_dump(),
        "pass_fraction": rec.pass_fraction,
        **{name: getattr(rec, name) for name in ADEQUACY_FIELDS},
    }


def format_row(rec: ExerciseRow, fmt: str) -> dict[str, Any]:
    """A generation row in the messages or Alpaca layout."""
    common = _common(rec)
    if fmt == "messages":
        messages = [{"role": "user", "content": rec.prompt}, {"role": "assistant", "content": rec.response}]
        return {"id": rec.id, "messages": messages, **common}
    context = context_block(rec.context_code) or ""  # Alpaca's `input`: the code it works in
    row = {"id": rec.id, "instruction": rec.instruction, "input": context, "output": rec.candidate_code}
    return row | common


def _as_dict(stage: Any) -> dict[str, Any]:
    return stage.model_dump() if hasattr(stage, "model_dump") else dict(stage)


def redact(settings: Any) -> Any:
    """Settings JSON without secrets (any key naming an api key or token)."""
    if isinstance(settings, dict):
        return {
            k: "<redacted>"
            if any(s in k.lower() for s in ("api_key", "token", "secret")) and v
            else redact(v)
            for k, v in settings.items()
        }
    if isinstance(settings, list):
        return [redact(v) for v in settings]
    return settings


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _distribution(values: Sequence[float]) -> str:
    if not values:
        return "| - | - | - | - | - | - |"
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    mean = sum(ordered) / len(ordered)
    return (
        f"| {len(ordered)} | {mean:.3f} | {ordered[0]:.3f} | {q(0.25):.3f} | {q(0.5):.3f} | {q(0.75):.3f} |"
    )


def _floor_text(adequacy: Mapping[str, Any] | None) -> str:
    if adequacy is None:
        return "The floor's settings are not recorded with this export."
    score, coverage = adequacy.get("min_mutation_score"), adequacy.get("min_line_coverage")
    if score is None:
        return "No floor was applied (`adequacy.min_mutation_score` is null): no row is in `weak`."
    few = adequacy.get("min_mutants")
    by_coverage = (
        f"judged by its line coverage instead, which must be at least {coverage}"
        if coverage is not None
        else "not judged"
    )
    return (
        f"The floor: a mutation score of at least {score}, killed over all mutants "
        f"(`adequacy_basis` `mutants`); a row with fewer than {few} mutants is {by_coverage} "
        "(`adequacy_basis` `coverage`). `adequate` says whether a row clears it. Rows below it, "
        "and rows whose tests could not be measured, are in the `weak` config, not in "
        "`generation` or `rl`."
    )


@dataclass
class CardStats:
    """What the card and the manifest say of the functions (one generation row each), counted
    as the rows stream past: the dataset itself is never held."""

    rows: int = 0
    licenses: Counter[str] = field(default_factory=Counter)
    sources: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    instruction_sources: Counter[str] = field(default_factory=Counter)
    # Per figure, its measured values: the four figures, then the mutation score per config.
    measures: dict[str, list[float]] = field(default_factory=dict)
    mutants: Counter[str] = field(default_factory=Counter)  # mutants, killed, equivalent, unreached
    basis: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[bool | None] = field(default_factory=Counter)

    def add(self, row: Verified) -> None:
        self.rows += 1
        license_ = row.provenance.license or "unknown"
        self.licenses[license_] += 1
        self.sources[(row.provenance.source_uri, row.provenance.revision or "", license_)] += 1
        self.instruction_sources[row.instruction_source] += 1
        for name in ("mutation_score", "mutation_score_excused", "line_coverage", "branch_coverage"):
            self._measure(name, getattr(row, name))
        self._measure(f"mutation_score ({generation_config(row)})", row.mutation_score)
        self.mutants.update(
            mutants=row.mutants,
            killed=row.mutants_killed,
            equivalent=row.mutants_equivalent,
            unreached=row.mutants_unreached,
        )
        self.basis[row.adequacy_basis or "not measured"] += 1
        self.verdicts[row.adequate] += 1

    def _measure(self, name: str, value: float | None) -> None:
        values = self.measures.setdefault(name, [])
        if value is not None:
            values.append(value)

    def figures(self) -> dict[str, list[float]]:
        """The card's table: the four figures always, a config's mutation score if measured."""
        base = ("mutation_score", "mutation_score_excused", "line_coverage", "branch_coverage")
        out = {name: self.measures.get(name, []) for name in base}
        for config in ("generation", *HELD_OUT_CONFIGS):
            scores = self.measures.get(f"mutation_score ({config})")
            if scores:
                out[f"mutation_score ({config})"] = scores
        return out


def adequacy_section(stats: CardStats, adequacy: Mapping[str, Any] | None = None) -> list[str]:
    """The tests' adequacy over the rows (measured rows only): the score over all mutants,
    the equivalents apart, and the floor (`adequacy` settings) that sends rows to `weak`."""
    mutants, killed = stats.mutants["mutants"], stats.mutants["killed"]
    equivalent, unreached = stats.mutants["equivalent"], stats.mutants["unreached"]
    verdicts = stats.verdicts
    min_reaching = (adequacy or {}).get("equivalence_min_reaching", "several")
    return [
        "## Test adequacy",
        "",
        "How well each row's tests tell the original code from its mutants (small changes to the "
        "function, or to the method of a method row: operators, comparisons, constants, deleted "
        "statements), and how much of it they execute.",
        "",
        "- `mutation_score` is the mutants the tests kill over **all** of the row's mutants: "
        "none is excused.",
        f"- `mutants_equivalent` counts, apart, the mutants that survived the tests while at "
        f"least {min_reaching} extra inputs that run the changed line gave the same results as "
        "the original: likely equivalent. A mutant no extra input reaches is never counted as "
        "equivalent. `mutation_score_excused` = killed / (mutants - equivalent).",
        "- `mutants_unreached` counts the survivors whose changed line no test runs.",
        f"- {_floor_text(adequacy)}",
        "",
        f"- mutants: {mutants}, killed {killed}"
        + (f" ({killed / mutants:.3f} over all)" if mutants else "")
        + f", equivalent {equivalent}, unreached {unreached}",
        "- rows by basis: " + ", ".join(f"{k} {n}" for k, n in sorted(stats.basis.items())),
        f"- rows: {verdicts[True]} clear the floor, {verdicts[False]} are below it (`weak`), "
        f"{verdicts[None]} not judged",
        "",
        "| figure | rows | mean | min | p25 | median | p75 |",
        "|---|---|---|---|---|---|---|",
        *(f"| {name} | {_distribution(values)[2:]}" for name, values in stats.figures().items()),
    ]


# What a test compares: the rule codemint.verdict applies in verify, the reward and adequacy.
TEST_RULES = [
    "## What a test compares",
    "",
    "A test passes when a solution returns a value equal to the original's, or raises the same "
    "exception type (not its message); where the test records them, it also prints the same "
    "stdout and leaves its arguments in the same state (`args_after`). Numbers compare as users "
    "compare them: an int equals the same float (`2` and `2.0`) anywhere inside a value, a bool "
    "is not a number, floats match within a relative tolerance of 1e-9 (1e-12 absolute near "
    "zero), NaN equals NaN. Container kinds must match (a list is not a tuple); dicts and sets "
    "compare regardless of order. A method row compares the returned value and only the instance "
    "attributes the prompt's context shows. Tests expect only what the prompt states: no memory "
    "addresses, sandbox names or environment values, and an exception only when the prompt "
    "defines or names its class. The row's own function (a method row: its class) cannot be "
    "imported from the module it came from while its tests run, so importing the original earns "
    "nothing. `codemint.reward.compute_score` applies the same rule in the environment the tests "
    "were recorded in.",
    "",
]


def _listed_splits(rows: Mapping[str, int] | None) -> list[str]:
    """The splits a config lists: those with rows (`datasets` refuses to load an empty split's
    file); a config with no rows at all lists every split, so its name and files stay visible."""
    filled = [s for s in SPLITS if (rows or {}).get(s, 0) > 0]
    return filled or list(SPLITS)


def dataset_card(
    stats: CardStats,
    counts: Mapping[str, int],
    funnel: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    code_version: str,
    split: Mapping[str, Any],
    exercises: Mapping[str, Mapping[str, int]] | None = None,
    rl: Mapping[str, int] | None = None,
    held_out: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    """The card of the dataset: `stats` count every exported function's generation row (all
    configs), `counts` the `generation` config's rows per split, `held_out` those of the
    `weak` and `examples` configs."""
    licenses, sources = stats.licenses, stats.sources
    single = next(iter(licenses)) if len(licenses) == 1 else None
    card_license = single.lower() if single and single != "unknown" else "other"
    exercises = dict(exercises or {})
    held_out = {c: dict((held_out or {}).get(c, {})) for c in HELD_OUT_CONFIGS}
    directories = {FORMAT_CONFIGS[fmt]: fmt for fmt in FORMATS} | {c: c for c in HELD_OUT_CONFIGS}
    directories |= {t: t for t in exercises}
    if rl is not None:
        directories["rl"] = "rl"
    rows_in = {FORMAT_CONFIGS[fmt]: counts for fmt in FORMATS} | held_out | exercises
    if rl is not None:
        rows_in["rl"] = rl
    configs = "".join(
        f"- config_name: {name}\n  data_files:\n"
        + "".join(
            f"  - split: {s}\n    path: {folder}/{s}.parquet\n" for s in _listed_splits(rows_in.get(name))
        )
        for name, folder in directories.items()
    )
    lines = [
        "---",
        f"license: {card_license}",
        "language:\n- en",
        "task_categories:\n- text-generation",
        "tags:\n- code\n- python\n- instruction-tuning\n- codemint",
        f"configs:\n{configs.rstrip()}",
        "---",
        "",
        "# codemint instruction-tuning dataset",
        "",
        f"{stats.rows} Python functions from real code, each with an instruction and test cases "
        "from executing the original in a sandbox; every response passed verification against them. "
        f"Config `generation` has {sum(counts.values())} of them; `weak` has "
        f"{sum(held_out['weak'].values())} (tests below the adequacy floor) and `examples` "
        f"{sum(held_out['examples'].values())} (instructions that are only examples of calls): "
        "see Formats and Test adequacy.",
        "",
        f"- rows: {stats.rows}; `generation` {sum(counts.values())} (train {counts.get('train', 0)}, "
        f"validation {counts.get('validation', 0)})"
        + "".join(
            f"; `{c}` {sum(n.values())} (train {n.get('train', 0)}, validation {n.get('validation', 0)})"
            for c, n in held_out.items()
        ),
        f"- code version: `{code_version}`",
        "",
        "## Formats",
        "",
        "- `messages/` (config `generation`): chat format, `messages` = [user: instruction, then "
        "the context code it works in as a ```` ```python ```` block (`context_code`: the helpers, "
        "constants and exception classes it uses; a method's class context), assistant: the code "
        "in a ```` ```python ```` block].",
        "- `alpaca/` (config `generation_alpaca`): `instruction`, `input` (the context block, "
        "empty when there is none), `output` (the code).",
        "- `weak/` (config `weak`) and `examples/` (config `examples`): generation rows in the "
        "`messages` layout, kept out of `generation`, `generation_alpaca` and `rl`. `weak`: the "
        "row's tests are below the adequacy floor (`adequate` false; see Test adequacy): a "
        "wrong solution could pass them. `examples`: the instruction is only the signature and "
        "example calls with their results (`instruction_source` `examples`), which show some "
        "tests' answers; a row an LLM wrote an instruction for is `llm` and in `generation`. "
        "A row that is both is in `weak`.",
        "- Both also carry `id`, `entry_point`, `signature`, `instruction_source` (see Instructions), "
        "`test_cases` (input and expected value "
        "or exception, JSON, and `covered_lines`: the lines of the original the test executes), "
        "`provenance` (source, path, lines, revision, license), `pass_fraction` and the tests' "
        "adequacy: `mutation_score` (killed over all mutants), `mutation_score_excused`, "
        "`mutants`, `mutants_killed`, `mutants_equivalent`, `mutants_unreached`, "
        "`line_coverage`, `branch_coverage`, `adequacy_basis` and `adequate`.",
        "- Parquet and JSON lines of the same rows; `manifest.json` has counts and sha256 digests.",
        "- Test values (inputs, expected values, arguments after the call) are codemint's value "
        "format: plain JSON where it suffices, else one-key tag objects such as `__tuple__`, "
        "`__dict__`, `__bytes__` (base64), `__new__` (an instance of the code's own class) and "
        "`__stream__` (an in-memory file: kind, contents, position); "
        "`codemint.codec.decode_input` reads them.",
        "",
        *TEST_RULES,
        *instruction_section(stats.instruction_sources),
        *exercise_sections(stats.rows, counts, exercises, rl, held_out),
        "## Sources",
        "",
        "| source | revision | license | rows |",
        "|---|---|---|---|",
        *(
            f"| {_cell(s)} | {_cell(r) or '-'} | {_cell(lic)} | {n} |"
            for (s, r, lic), n in sorted(sources.items())
        ),
        "",
        "## Licenses",
        "",
        "As found in the provenance of the rows (`unknown`: the source did not state one). "
        "Check each license's terms before redistributing.",
        "",
        "| license | rows |",
        "|---|---|",
        *(f"| {_cell(lic)} | {n} |" for lic, n in licenses.most_common()),
        "",
        "## Funnel",
        "",
        "Rows in, kept and dropped (by reason) per pipeline stage.",
        "",
        "| stage | rows in | rows kept | dropped |",
        "|---|---|---|---|",
    ]
    for stage in map(_as_dict, funnel):
        dropped = "; ".join(f"{k}: {v}" for k, v in stage.get("dropped", {}).items()) or "-"
        lines.append(
            f"| {_cell(stage['stage'])} | {stage['rows_in']} | {stage['rows_kept']} | {_cell(dropped)} |"
        )
    adequacy = settings.get("adequacy")
    lines += ["", *adequacy_section(stats, adequacy if isinstance(adequacy, Mapping) else None)]
    lines += [
        "",
        "## Split",
        "",
        f"Validation rows are those whose sha256(seed:id) falls below the validation fraction "
        f"(seed {split['seed']}, fraction {split['validation_fraction']}), "
        "so a row keeps its split across runs.",
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(redact(dict(settings)), indent=2, sort_keys=True, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


INSTRUCTION_SOURCES = {
    "docstring": "the function's docstring under its signature",
    "protocol": "the data model's description of a special method, with its class's docstring",
    "inherited": "the docstring of the method it overrides",
    "comment": "a comment block documenting the function",
    "examples": "no words of its own: the signature and a few of the original's executed calls "
    "with their results (filter these out for instructions written in prose)",
    "llm": "written by the LLM from the code and kept on its self-evaluation score",
}


def instruction_section(counts: Counter[str]) -> list[str]:
    """Rows per `instruction_source`, so users can filter by where the instruction came from."""
    return [
        "## Instructions",
        "",
        "`instruction_source` says where each row's instruction came from.",
        "",
        "| instruction_source | meaning | rows |",
        "|---|---|---|",
        *(
            f"| {_cell(k)} | {_cell(INSTRUCTION_SOURCES.get(k, '-'))} | {n} |"
            for k, n in counts.most_common()
        ),
        "",
    ]


EXERCISE_DOCS = {
    "generation": "instruction -> the verified code (configs `generation`, `generation_alpaca`); "
    "only functions whose tests clear the adequacy floor and whose instruction is more than "
    "example calls.",
    "weak": "generation rows whose tests are below the adequacy floor (or could not be measured "
    "under it). Their summarization and repair rows are in those configs (a summary does not "
    "rest on the tests; a repair row has a test that catches its bug) and their repair rows "
    "are in `rl`; their translations are withheld (weak tests are all that checked them).",
    "examples": "generation rows whose instruction is only the signature and example calls "
    "(no summarization rows; their repair rows are in `repair` and `rl`).",
    "summarization": "the code with its docstrings stripped -> its docstring (`target` "
    "`docstring`) or its instruction (`instruction`); `instruction_source` and "
    "`instruction_score` (the LLM's self-evaluation) say where the summary came from.",
    "repair": "a buggy variant of the original and one failing test (input, expected, "
    "`actual`) -> the original. Kept only if the sandbox showed the variant failing at least "
    "one of the row's tests (`tests_failed` of `tests_total`) while the original passes all "
    "of them; bugs few tests catch are preferred. `bug_source` is `mutation` (`bug_kind` = "
    "the operator) or `llm` (a realistic-bug prompt).",
    "translation": "the Python function -> the same function in JavaScript (`translated_code`, "
    "`language`), written by the LLM and kept only if Node, in a variant of the sandbox image "
    "(`runtime`), ran it through the row's tests and it passed all of them (`tests_run`). "
    "Values cross as JSON: tests with no JSON form, expecting an exception or comparing "
    "printed output are not run (`tests_skipped`); numbers compare as numbers.",
}


def exercise_sections(
    generation: int,
    counts: Mapping[str, int],
    exercises: Mapping[str, Mapping[str, int]],
    rl: Mapping[str, int] | None,
    held_out: Mapping[str, Mapping[str, int]] | None = None,
) -> list[str]:
    """The card's sections on the exercises (rows per kind and split) and the RL data."""
    table = {"generation": dict(counts), **(held_out or {}), **exercises}
    lines = [
        "## Exercises",
        "",
        "Each function gives rows of several exercises; all of a function's rows share its split.",
        'Load an exercise kind by config name: `datasets.load_dataset("<this directory>", "repair")`. '
        "`datasets` caches a local directory's configs by path: after exporting again into the "
        'same directory, load with `download_mode="force_redownload"` (or another `cache_dir`).',
        "The exercise configs (`summarization/`, `repair/`, ...) are chat `messages` plus `id` (the "
        "exercise row), `function_id`, `exercise`, `entry_point`, `signature`, `sample_kind`, `class_name`, "
        "`state_attributes` (the instance attributes a method's tests compare; null: all), "
        "`test_cases`, `provenance` and the kind's own columns.",
        "",
        "| exercise | train | validation | rows |",
        "|---|---|---|---|",
        *(
            f"| {kind} | {c.get('train', 0)} | {c.get('validation', 0)} | {sum(c.values())} |"
            for kind, c in table.items()
        ),
        "",
        *(f"- **{kind}**: {EXERCISE_DOCS[kind]}" for kind in table if kind in EXERCISE_DOCS),
        "",
    ]
    if rl is None:
        return lines
    return [
        *lines,
        "## RL data",
        "",
        f"`rl/` (config `rl`; train {rl.get('train', 0)}, validation {rl.get('validation', 0)}) "
        "is in verl's layout, the `generation` config's rows and every repair row: "
        "`data_source` (`codemint/generation` or `codemint/repair`), "
        "`prompt` (chat messages), `ability` (`code`), `reward_model` {`style`: `rule`, "
        "`ground_truth`: JSON of the entry point and the test cases}, `extra_info` {`split`, "
        "`index`, `id`, `function_id`, `exercise`, `entry_point`, `provenance`, `covered_lines` "
        "(per test, the line numbers of `reference_code` it runs, when measured), "
        "`reference_code` (the original the tests were made from)}.",
        "",
        "Reward: `codemint.reward.compute_score(data_source, solution_str, ground_truth, "
        "extra_info)` takes the function from the completion's code block, runs the tests in "
        "codemint's sandbox and returns the share of tests passed above what a trivially "
        "wrong solution (a constant, an argument returned, one exception raised) passes "
        '(`mode="pass_fraction"`: the plain share; `mode="all_or_nothing"`: 1.0 only if '
        "every test passes). In verl: `custom_reward_function.path` = the installed "
        "`codemint/reward.py`, `name` = `compute_score`.",
        "",
    ]


def _split_files(
    out_dir: Path, split: str, tabled: Sequence[ExerciseKind]
) -> tuple[dict[str, SplitFiles], dict[str, SplitFiles], SplitFiles]:
    """A split's files: the generation formats and held-out configs, each kind's, and RL's."""
    layouts = {fmt: SplitFiles(out_dir, fmt, split, SCHEMAS[fmt], jsonl=True) for fmt in FORMATS}
    # The held-out configs are in the messages layout, in folders named after them.
    for config in HELD_OUT_CONFIGS:
        layouts[config] = SplitFiles(out_dir, config, split, SCHEMAS["messages"], jsonl=True)
    kind_files = {
        kind.name: SplitFiles(out_dir, kind.name, split, kind.schema, jsonl=True)
        for kind in tabled
        if kind.schema is not None
    }
    return layouts, kind_files, SplitFiles(out_dir, "rl", split, RL_SCHEMA, jsonl=False)


def export(
    rows_by_split: Mapping[str, Iterable[ExerciseRow]],
    out_dir: Path,
    *,
    validation_fraction: float,
    seed: int,
    funnel: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    code_version: str,
    extra: Mapping[str, Any] | None = None,
    kinds: Sequence[ExerciseKind],
) -> dict[str, Any]:
    """Write the dataset; returns the manifest (also written, last, as manifest.json).

    `rows_by_split` streams each split's exercise rows (`split_of` their function id) in
    `split_runs.sort_key` order; each row is written as it comes, so memory does not grow with
    the dataset. `kinds` are the exercise kinds configured: each with a schema gets its config
    (written even when it has no rows, so its files exist; the card lists only splits with
    rows), and each says which of its rows are RL rows. Generation rows go to the messages and
    Alpaca configs (`generation`), or to `weak` or `examples` (`generation_config`).
    """
    by_name = {kind.name: kind for kind in kinds}
    tabled = [kind for kind in kinds if kind.schema is not None]
    stats = CardStats()
    generation_configs = ("generation", *HELD_OUT_CONFIGS)
    configs: dict[str, dict[str, int]] = {c: {} for c in generation_configs}
    exercise_counts: dict[str, dict[str, int]] = {kind.name: {} for kind in tabled}
    rl_counts: dict[str, int] = {}
    withheld = 0
    files: FileInfo = {}
    for split in SPLITS:
        layouts, kind_files, rl_file = _split_files(out_dir, split, tabled)
        open_files = [*layouts.values(), *kind_files.values(), rl_file]
        counted = Counter[str]()
        try:
            for row in rows_by_split.get(split, ()):
                kind = by_name.get(row.exercise)
                if row.exercise == "generation":  # each function's one row, in one config
                    stats.add(row)
                    config = generation_config(row)
                    counted[config] += 1
                    if config == "generation":
                        for fmt in FORMATS:
                            layouts[fmt].add(format_row(row, fmt))
                    else:
                        layouts[config].add(format_row(row, "messages"))
                if kind is None:
                    continue
                exported = kind.exported(row)
                if exported and row.exercise in kind_files:
                    kind_files[row.exercise].add(kind.record(row))
                withheld += not exported
                if kind.rl_row(row):
                    rl_file.add(rl_record(row, split, rl_file.rows, kind))
            for split_files in open_files:
                files |= split_files.close()
        except BaseException:
            for split_files in open_files:
                split_files.discard()
            raise
        for c in generation_configs:
            configs[c][split] = counted[c]
        for name, split_files in kind_files.items():
            exercise_counts[name][split] = split_files.rows
        rl_counts[split] = rl_file.rows
    counts = configs["generation"]
    held_out = {c: configs[c] for c in HELD_OUT_CONFIGS}
    split_info = {"seed": seed, "validation_fraction": validation_fraction}
    card = dataset_card(
        stats, counts, funnel, settings, code_version, split_info, exercise_counts, rl_counts, held_out
    )
    store.write_text(out_dir / "README.md", card)
    files["README.md"] = {"bytes": len(card.encode()), "sha256": store.file_digest(out_dir / "README.md")}
    manifest = {
        "rows": stats.rows,  # functions, in every config
        "splits": {s: sum(configs[c][s] for c in configs) for s in SPLITS},
        "split": split_info,
        "formats": list(FORMATS),
        "exercises": {"generation": counts, **exercise_counts},
        "held_out": held_out,  # generation rows in the `weak` and `examples` configs
        "translations_withheld": withheld,  # translations of weak rows
        "rl": rl_counts,
        "files": files,
        "licenses": dict(stats.licenses.most_common()),
        "sources": sorted({source for source, _, _ in stats.sources}),
        "code_version": code_version,
        **(extra or {}),
    }
    store.write_json(out_dir / "manifest.json", manifest)
    return manifest
