"""The exported dataset: chat `messages` and Alpaca rows, train/validation, a card and a manifest.

Layout under the output directory:
    messages/{train,validation}.{parquet,jsonl}   [{role: user, content: instruction},
                                                   {role: assistant, content: ```python code```}]
    alpaca/{train,validation}.{parquet,jsonl}     instruction, input "", output (the code)
    README.md                                     dataset card (sources, licenses, funnel, settings)
    manifest.json                                 counts and sha256 of every file (written last)
Every row also carries id, entry_point, signature, test_cases, provenance and pass_fraction.
The code is the verified candidate (`candidate_code`). Each file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from codemint import store
from codemint.records import Verified, arrow_schema

FORMATS = ("messages", "alpaca")
# Per-row test adequacy (adequacy stage); per test, `test_cases[].covered_lines`.
ADEQUACY_FIELDS = (
    "mutation_score",
    "mutants",
    "mutants_killed",
    "mutants_equivalent",
    "line_coverage",
    "branch_coverage",
)
SPLITS = ("train", "validation")
_VERIFIED = arrow_schema(Verified)
_COMMON = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("entry_point", pa.string(), nullable=False),
    pa.field("signature", pa.string(), nullable=False),
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


def fenced(code: str) -> str:
    return f"```python\n{code.strip(chr(10))}\n```"


def _common(rec: Verified) -> dict[str, Any]:
    return {
        "id": rec.id,
        "entry_point": rec.entry_point,
        "signature": rec.signature,
        "test_cases": [c.model_dump() for c in rec.test_cases],
        "provenance": rec.provenance.model_dump(),
        "pass_fraction": rec.pass_fraction,
        **{name: getattr(rec, name) for name in ADEQUACY_FIELDS},
    }


def format_row(rec: Verified, fmt: str) -> dict[str, Any]:
    common = _common(rec)
    if fmt == "messages":
        messages = [
            {"role": "user", "content": rec.instruction},
            {"role": "assistant", "content": fenced(rec.candidate_code)},
        ]
        return {"id": rec.id, "messages": messages, **common}
    return {"id": rec.id, "instruction": rec.instruction, "input": "", "output": rec.candidate_code, **common}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """JSON lines, streamed to a temporary file in the same directory and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


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


def adequacy_section(rows: Sequence[Verified]) -> list[str]:
    """Distribution of the tests' adequacy figures over the rows (measured rows only)."""
    measures = {
        "mutation_score": [r.mutation_score for r in rows if r.mutation_score is not None],
        "line_coverage": [r.line_coverage for r in rows if r.line_coverage is not None],
        "branch_coverage": [r.branch_coverage for r in rows if r.branch_coverage is not None],
    }
    mutants = sum(r.mutants for r in rows)
    killed = sum(r.mutants_killed for r in rows)
    equivalent = sum(r.mutants_equivalent for r in rows)
    return [
        "## Test adequacy",
        "",
        "How well each row's tests tell the original code from its mutants (small changes: "
        "operators, comparisons, constants, deleted statements), and how much of the function "
        "they execute. Mutants that matched the original on the tests and on extra random "
        "inputs are counted as equivalent and left out of the score.",
        "",
        f"- mutants: {mutants}, killed {killed}, equivalent {equivalent}",
        "",
        "| figure | rows | mean | min | p25 | median | p75 |",
        "|---|---|---|---|---|---|---|",
        *(f"| {name} | {_distribution(values)[2:]}" for name, values in measures.items()),
    ]


def dataset_card(
    rows: Sequence[Verified],
    counts: Mapping[str, int],
    funnel: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    code_version: str,
    split: Mapping[str, Any],
) -> str:
    licenses = Counter(r.provenance.license or "unknown" for r in rows)
    sources = Counter(
        (r.provenance.source_uri, r.provenance.revision or "", r.provenance.license or "unknown")
        for r in rows
    )
    single = next(iter(licenses)) if len(licenses) == 1 else None
    card_license = single.lower() if single and single != "unknown" else "other"
    configs = "".join(
        f"- config_name: {fmt}\n  data_files:\n"
        + "".join(f"  - split: {s}\n    path: {fmt}/{s}.parquet\n" for s in SPLITS)
        for fmt in FORMATS
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
        f"{len(rows)} Python functions from real code, each with an instruction and test cases "
        "from executing the original in a sandbox; every response passed verification against them.",
        "",
        f"- rows: {len(rows)} (train {counts.get('train', 0)}, validation {counts.get('validation', 0)})",
        f"- code version: `{code_version}`",
        "",
        "## Formats",
        "",
        "- `messages/`: chat format, `messages` = [user: instruction, assistant: the code in a "
        "```` ```python ```` block].",
        "- `alpaca/`: `instruction`, `input` (empty), `output` (the code).",
        "- Both also carry `id`, `entry_point`, `signature`, `test_cases` (input and expected value "
        "or exception, JSON, and `covered_lines`: the lines of the original the test executes), "
        "`provenance` (source, path, lines, revision, license), `pass_fraction` and the tests' "
        "adequacy: `mutation_score`, `mutants`, `mutants_killed`, `mutants_equivalent`, "
        "`line_coverage`, `branch_coverage`.",
        "- Parquet and JSON lines of the same rows; `manifest.json` has counts and sha256 digests.",
        "",
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
    lines += ["", *adequacy_section(rows)]
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


def export(
    rows: Sequence[Verified],
    out_dir: Path,
    *,
    validation_fraction: float,
    seed: int,
    funnel: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    code_version: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the dataset; returns the manifest (also written, last, as manifest.json)."""
    by_split: dict[str, list[Verified]] = {s: [] for s in SPLITS}
    for rec in sorted(rows, key=lambda r: r.id):
        by_split[split_of(rec.id, seed, validation_fraction)].append(rec)
    files: dict[str, dict[str, Any]] = {}
    for fmt in FORMATS:
        for split, recs in by_split.items():
            table_rows = [format_row(r, fmt) for r in recs]
            parquet = out_dir / fmt / f"{split}.parquet"
            jsonl = out_dir / fmt / f"{split}.jsonl"
            store.write_table(parquet, pa.Table.from_pylist(table_rows, schema=SCHEMAS[fmt]))
            write_jsonl(jsonl, table_rows)
            for path in (parquet, jsonl):
                files[path.relative_to(out_dir).as_posix()] = {
                    "rows": len(recs),
                    "bytes": path.stat().st_size,
                    "sha256": store.file_digest(path),
                }
    counts = {s: len(r) for s, r in by_split.items()}
    split_info = {"seed": seed, "validation_fraction": validation_fraction}
    card = dataset_card(rows, counts, funnel, settings, code_version, split_info)
    store.write_text(out_dir / "README.md", card)
    files["README.md"] = {"bytes": len(card.encode()), "sha256": store.file_digest(out_dir / "README.md")}
    manifest = {
        "rows": len(rows),
        "splits": counts,
        "split": split_info,
        "formats": list(FORMATS),
        "files": files,
        "licenses": dict(Counter(r.provenance.license or "unknown" for r in rows).most_common()),
        "sources": sorted({r.provenance.source_uri for r in rows}),
        "code_version": code_version,
        **(extra or {}),
    }
    store.write_json(out_dir / "manifest.json", manifest)
    return manifest
