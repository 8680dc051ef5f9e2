"""The configs of exercise kinds beyond generation, and the RL data in verl's layout.

The kinds themselves (their rows, schemas and records) are modules under `tasks/derive/`
(`codemint/exercise.py`); what is here builds their common columns and RL records, which
`codemint/curation/export.py` writes.

Layout under the dataset directory (each a `datasets` config named in the card):
    summarization/{train,validation}.{parquet,jsonl}
    repair/{train,validation}.{parquet,jsonl}
    translation/{train,validation}.{parquet,jsonl}     (with the LLM)
    rl/{train,validation}.parquet                        verl: data_source, prompt, ability,
                                                         reward_model, extra_info
An exercise row's split is its function's (`split_of` on the verified row's id), so no function
is in train through one task and in validation through another.

A function's generation row goes to one of three configs (`generation_config`): `weak` when
its tests are below the adequacy floor, `examples` when its instruction is only examples of
calls, else `generation`. Only `generation` rows are RL rows. Of its other rows,
summarization and repair rows are kept whatever its config (a summary does not rest on the
tests; a repair row carries a test that catches its bug), and a translation of a weak row is
withheld: the tests that passed it cannot tell the function from many of its mutants.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from codemint.exercise import ExerciseKind
from codemint.records import ExerciseRow, Verified, arrow_schema
from codemint.samples import compared_state

# Configs of generation rows kept out of `generation` and `rl` (see `generation_config`).
WEAK, EXAMPLES = "weak", "examples"
HELD_OUT_CONFIGS = (WEAK, EXAMPLES)


def generation_config(row: Verified) -> str:
    """The config of a function's generation row: `weak` (tests below the adequacy floor, or
    not measurable under it), `examples` (an instruction of example calls only, which shows
    its tests' answers), else `generation`."""
    if row.adequate is False:
        return WEAK
    if row.instruction_source == "examples":
        return EXAMPLES
    return "generation"


EXERCISE_ROW_SCHEMA = arrow_schema(ExerciseRow)
_ROW = EXERCISE_ROW_SCHEMA
_MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
# The columns every kind's config starts with.
COMMON_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("function_id", pa.string(), nullable=False),
    pa.field("exercise", pa.string(), nullable=False),
    pa.field("messages", pa.list_(_MESSAGE)),
    pa.field("entry_point", pa.string(), nullable=False),
    pa.field("signature", pa.string(), nullable=False),
    # What the tests call: a method's class and kind, and the instance attributes they compare
    # (those the prompt shows; null: all of them), as the RL ground truth names them.
    pa.field("sample_kind", pa.string(), nullable=False),
    pa.field("class_name", pa.string()),
    pa.field("state_attributes", pa.list_(pa.string())),
    _ROW.field("test_cases"),
    _ROW.field("provenance"),
]
_LINES = pa.list_(pa.list_(pa.int64()))
RL_SCHEMA = pa.schema(
    [
        pa.field("data_source", pa.string(), nullable=False),
        pa.field("prompt", pa.list_(_MESSAGE)),
        pa.field("ability", pa.string(), nullable=False),
        pa.field(
            "reward_model",
            pa.struct([pa.field("style", pa.string()), pa.field("ground_truth", pa.string())]),
        ),
        pa.field(
            "extra_info",
            pa.struct(
                [
                    pa.field("split", pa.string()),
                    pa.field("index", pa.int64()),
                    pa.field("id", pa.string()),
                    pa.field("function_id", pa.string()),
                    pa.field("exercise", pa.string()),
                    pa.field("entry_point", pa.string()),
                    _ROW.field("provenance"),
                    # Per test, the lines of `reference_code` it executes (when the run measured them).
                    pa.field("covered_lines", _LINES),
                    pa.field("reference_code", pa.string()),
                ]
            ),
        ),
    ]
)


def _messages(row: ExerciseRow) -> list[dict[str, str]]:
    return [{"role": "user", "content": row.prompt}, {"role": "assistant", "content": row.response}]


def common_record(row: ExerciseRow) -> dict[str, Any]:
    """The `COMMON_FIELDS` of a row."""
    return {
        "id": row.exercise_id,
        "function_id": row.id,
        "exercise": row.exercise,
        "messages": _messages(row),
        "entry_point": row.entry_point,
        "signature": row.signature,
        "sample_kind": row.sample_kind,
        "class_name": row.class_name,
        "state_attributes": compared_state(row),
        "test_cases": [c.model_dump() for c in row.test_cases],
        "provenance": row.provenance.model_dump(),
    }


def ground_truth(row: ExerciseRow) -> str:
    """The tests as JSON: what `codemint.reward.compute_score` runs a completion against."""
    # Coverage is for fine-grained credit (extra_info), not part of what a test checks.
    tests = [c.model_dump(mode="json", exclude={"covered_lines"}) for c in row.test_cases]
    # Method samples name their class and kind: the reward calls them through verify's harness.
    target = {"entry_point": row.entry_point, "sample_kind": row.sample_kind, "class_name": row.class_name}
    # The instance attributes the tests compare (those the prompt shows; None: all of them).
    shown = {"state_attributes": compared_state(row)}
    from codemint.row_environment import row_environment

    # Where the tests were recorded (image, its requirement set) and what a completion must
    # not import (the row's own function or class): the reward runs under the same conditions.
    environment = {"environment": row_environment(row).model_dump(mode="json")}
    return json.dumps({**target, **shown, **environment, "test_cases": tests}, sort_keys=True)


def covered_lines(row: ExerciseRow) -> list[list[int]] | None:
    """Per test, the lines of the original it executes, if the row carries them (adequacy)."""
    per_test = [list(getattr(c, "covered_lines", None) or []) for c in row.test_cases]
    if not any(per_test):  # not measured (every test runs at least the def line when it is)
        return None
    return [sorted(int(n) for n in lines) for lines in per_test]


def rl_record(row: ExerciseRow, split: str, index: int, kind: ExerciseKind) -> dict[str, Any]:
    prompt = kind.rl_prompt(row)
    return {
        "data_source": f"codemint/{row.exercise}",
        "prompt": [{"role": "user", "content": prompt}],
        "ability": "code",
        "reward_model": {"style": "rule", "ground_truth": ground_truth(row)},
        "extra_info": {
            "split": split,
            "index": index,
            "id": row.exercise_id,
            "function_id": row.id,
            "exercise": row.exercise,
            "entry_point": row.entry_point,
            "provenance": row.provenance.model_dump(),
            "covered_lines": covered_lines(row),
            "reference_code": row.original_code,  # the code the tests were made from
        },
    }
