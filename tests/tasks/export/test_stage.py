"""Export: messages/Alpaca in Parquet and JSONL, a stable split, the card and the manifest."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import CLAMP, HEX, MEDIAN, PARSE, WRAP, verified, write_shards

from codemint import store
from codemint.curation import dataset_files, split_runs
from codemint.curation.export import INSTRUCTION_SOURCES, split_of
from codemint.records import ExerciseRow, RepairDetail, SummaryDetail, TranslationDetail, to_table
from codemint.settings import ExportSettings, LLMSettings, PipelineSettings
from codemint.tasks.derive.generation import Generation, generation_row
from codemint.tasks.export import stage as export_stage
from codemint.tasks.export.stage import export_dataset

FUNNEL = [
    {"stage": "verify", "rows_in": 40, "rows_kept": 31, "dropped": {"dropped:failed_verification": 9}},
    {"stage": "decontaminate", "rows_in": 31, "rows_kept": 30, "dropped": {"dropped:contaminated": 1}},
    {"stage": "near_dedup", "rows_in": 30, "rows_kept": 24, "dropped": {"dropped:near_duplicate": 6}},
    {"stage": "select", "rows_in": 24, "rows_kept": 24, "dropped": {}},
]


def write_task_shards(directory: Path, shards: Sequence[Sequence[ExerciseRow]]) -> list[Path]:
    paths = [store.kept_path(directory, i) for i in range(len(shards))]
    for path, part in zip(paths, shards, strict=True):
        store.write_table(path, to_table(list(part), ExerciseRow))
    return paths


def rows() -> list:
    out = []
    for i in range(24):
        base = (WRAP, MEDIAN, PARSE, CLAMP, HEX)[i % 5]
        code = base.replace('"""', f'"""Variant {i}. ', 1)
        if i % 3 == 0:
            out.append(verified(code, source_uri="package:textwrap", license="PSF-2.0", revision="3.11.9"))
        else:
            out.append(verified(code, source_uri="file:///src/repo", license=None, revision="abc123"))
    return out


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict, list]:
    data = rows()
    paths = write_shards(tmp_path / "select", [data[:10], data[10:]])
    cfg = PipelineSettings(
        export=ExportSettings(validation_fraction=0.25, split_seed=3),
        llm=LLMSettings(api_key="sk-secret-value"),
    )
    out = tmp_path / "dataset"
    manifest = export_dataset(cfg, list(paths), out, {"funnel": FUNNEL, "code_version": "0.1.0+abc"})
    return out, manifest, data


def test_layout_and_manifest(exported: tuple[Path, dict, list]) -> None:
    out, manifest, data = exported
    for fmt in ("messages", "alpaca"):
        for split in ("train", "validation"):
            for ext in ("parquet", "jsonl"):
                assert (out / fmt / f"{split}.{ext}").is_file()
    assert (out / "README.md").is_file()
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["rows"] == len(data) == sum(manifest["splits"].values())
    assert 0 < manifest["splits"]["validation"] < manifest["splits"]["train"]
    for rel, info in manifest["files"].items():
        assert store.file_digest(out / rel) == info["sha256"]
    assert not list(out.rglob(".*.tmp"))  # no temporary files left behind


def test_loads_with_datasets(
    exported: tuple[Path, dict, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    out, manifest, data = exported
    by_id = {r.id: r for r in data}
    cache = str(tmp_path / "hf-cache")
    for fmt in ("messages", "alpaca"):
        files = {s: str(out / fmt / f"{s}.parquet") for s in ("train", "validation")}
        parquet = datasets.load_dataset("parquet", data_files=files, cache_dir=cache)
        jsonl = datasets.load_dataset(
            "json", data_files={s: str(out / fmt / f"{s}.jsonl") for s in files}, cache_dir=cache
        )
        for split in files:
            assert parquet[split].num_rows == jsonl[split].num_rows == manifest["splits"][split]
            assert parquet[split]["id"] == jsonl[split]["id"]
        row = parquet["train"][0]
        rec = by_id[row["id"]]
        assert row["entry_point"] == rec.entry_point
        assert row["instruction_source"] == rec.instruction_source
        assert row["provenance"]["source_uri"] == rec.provenance.source_uri
        assert [c["input"] for c in row["test_cases"]] == [c.input for c in rec.test_cases]
        if fmt == "messages":
            user, assistant = row["messages"]
            assert user == {"role": "user", "content": rec.instruction}
            assert assistant["role"] == "assistant"
            assert assistant["content"] == f"```python\n{rec.candidate_code.strip()}\n```"
        else:
            assert (row["instruction"], row["input"], row["output"]) == (
                rec.instruction,
                "",
                rec.candidate_code,
            )


def test_split_is_stable_and_seeded(exported: tuple[Path, dict, list], tmp_path: Path) -> None:
    out, _, data = exported
    validation = set(store.read_column(out / "messages" / "validation.parquet", "id"))
    assert validation == {r.id for r in data if split_of(r.id, 3, 0.25) == "validation"}
    assert validation == set(store.read_column(out / "alpaca" / "validation.parquet", "id"))
    # Another export of a subset keeps each row in the split it had.
    paths = write_shards(tmp_path / "subset", [data[:12]])
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.25, split_seed=3))
    export_dataset(cfg, list(paths), tmp_path / "again", {"funnel": [], "code_version": "x"})
    again = set(store.read_column(tmp_path / "again" / "messages" / "validation.parquet", "id"))
    assert again == validation & {r.id for r in data[:12]}
    other_seed = {r.id for r in data if split_of(r.id, 4, 0.25) == "validation"}
    assert other_seed != validation


def test_card_states_funnel_sources_licenses_settings(exported: tuple[Path, dict, list]) -> None:
    out, manifest, data = exported
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n")
    assert "config_name: generation\n" in card and "path: messages/train.parquet" in card
    assert "config_name: generation_alpaca" in card and "path: alpaca/validation.parquet" in card
    # The configured tasks have a config even when this export has no rows of theirs.
    assert "config_name: rl" in card and "config_name: repair" in card
    assert "`__stream__`" in card and "codemint.codec.decode_input" in card  # how test values read
    # What a test compares, numbers included: the rule verify and the reward apply.
    rules = card.split("## What a test compares", 1)[1].split("\n## ", 1)[0]
    assert "`2` and `2.0`" in rules and "1e-9" in rules and "exception type" in rules
    assert "config_name: translation" not in card and "**translation**" not in card  # not configured
    assert manifest["exercises"]["repair"] == {"train": 0, "validation": 0}
    funnel = card.split("## Funnel", 1)[1].split("##", 1)[0]
    table = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in funnel.splitlines()
        if line.startswith("| ") and not line.startswith("| stage")
    ]
    assert [(s, int(i), int(k)) for s, i, k, _ in table] == [
        (f["stage"], f["rows_in"], f["rows_kept"]) for f in FUNNEL
    ]
    assert table[2][3] == "dropped:near_duplicate: 6" and table[3][3] == "-"
    psf = sum(1 for r in data if r.provenance.license == "PSF-2.0")
    assert f"| PSF-2.0 | {psf} |" in card and f"| unknown | {len(data) - psf} |" in card
    assert f"| package:textwrap | 3.11.9 | PSF-2.0 | {psf} |" in card
    assert "0.1.0+abc" in card
    sources = Counter(r.instruction_source for r in data)
    for source, n in sources.items():  # rows per instruction source, with what it means
        assert f"| {source} | {INSTRUCTION_SOURCES[source]} | {n} |" in card
    splits = manifest["splits"]
    # Unmeasured rows with docstring instructions: all in `generation`, none held out.
    rows_line = f"- rows: {len(data)}; `generation` {len(data)} (train {splits['train']}, "
    assert rows_line + f"validation {splits['validation']}); `weak` 0 (train 0, validation 0)" in card
    assert manifest["exercises"]["generation"] == splits
    assert manifest["held_out"] == {c: {"train": 0, "validation": 0} for c in ("weak", "examples")}
    # The held-out configs are in the card even when empty.
    assert "config_name: weak\n" in card and "path: weak/validation.parquet" in card
    assert "config_name: examples\n" in card and "path: examples/train.parquet" in card
    settings = json.loads(re.search(r"```json\n(.*?)\n```", card, re.S).group(1))  # type: ignore[union-attr]
    assert settings["export"]["validation_fraction"] == 0.25
    assert settings["llm"]["api_key"] == "<redacted>" and "sk-secret-value" not in card


def test_empty_shard_list_exports_empty_dataset(tmp_path: Path) -> None:
    manifest = export_dataset(PipelineSettings(), [None], tmp_path / "empty", {"funnel": FUNNEL})
    assert manifest["rows"] == 0 and manifest["code_version"] == "unknown"
    assert store.read_column(tmp_path / "empty" / "alpaca" / "train.parquet", "id") == []


def test_a_config_lists_only_splits_with_rows_so_it_loads(tmp_path: Path) -> None:
    import datasets

    data = [r.model_copy(update={"adequate": False}) if i < 3 else r for i, r in enumerate(rows())]
    paths = write_shards(tmp_path / "select", [data])
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.0))  # nothing in validation
    out = tmp_path / "dataset"
    manifest = export_dataset(cfg, list(paths), out, {"funnel": FUNNEL})
    assert manifest["held_out"]["weak"] == {"train": 3, "validation": 0}
    card = (out / "README.md").read_text()
    weak = card.split("- config_name: weak\n", 1)[1].split("- config_name:", 1)[0]
    assert "weak/train.parquet" in weak and "validation" not in weak
    # `datasets` refuses an empty split's file: listing only filled splits lets the config load.
    loaded = datasets.load_dataset(str(out), "weak", cache_dir=str(tmp_path / "hf-cache"))
    assert {s: loaded[s].num_rows for s in loaded} == {"train": 3}


def exercise_rows() -> list[ExerciseRow]:
    """Generation, summarization, repair and translation rows of 12 functions, as derive makes them."""
    out: list[ExerciseRow] = []
    for i, rec in enumerate(rows()[:12]):
        out.append(generation_row(rec))
        code = rec.candidate_code.replace(f'"""{rec.docstring}"""', "")
        out.append(
            ExerciseRow(
                **rec.model_dump(),
                exercise="summarization",
                exercise_id=f"s{i}",
                prompt=f"Write the docstring.\n```python\n{code}```",
                response=rec.docstring or "",
                summary=SummaryDetail(code=code, target="docstring"),
            )
        )
        for n in range(i % 3):  # 0, 1 or 2 repair rows per function
            bug = RepairDetail(
                buggy_code=rec.original_code.replace("return", "return None and", 1),
                bug_source="mutation",
                bug_kind="return_none",
                bug_description=f"bug {n}",
                failing_test=rec.test_cases[0],
                actual="returns null",
                tests_failed=n + 1,
                tests_total=len(rec.test_cases),
            )
            out.append(
                ExerciseRow(
                    **rec.model_dump(),
                    exercise="repair",
                    exercise_id=f"r{i}-{n}",
                    prompt=f"Fix it.\n{bug.buggy_code}",
                    response=rec.original_code,
                    repair=bug,
                )
            )
        if i % 4 == 0:  # with the LLM: a translation the derive stage checked in Node
            js = TranslationDetail(
                language="javascript",
                code=f"function {rec.entry_point}() {{ return {i}; }}\n",
                tests_run=len(rec.test_cases),
                tests_skipped=0,
                runtime="codemint-sandbox-node:x@sha256:0",
                model="m",
                prompt_version="translate_js@v1-0",
            )
            out.append(
                ExerciseRow(
                    **rec.model_dump(),
                    exercise="translation",
                    exercise_id=f"t{i}",
                    translation=js,
                    prompt=f"Translate it.\n{rec.original_code}",
                    response=f"```javascript\n{js.code}```",
                )
            )
    return out


def test_task_configs_and_rl_load_by_config_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    data = exercise_rows()
    paths = write_task_shards(tmp_path / "derive", [data[:15], data[15:]])
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.3, split_seed=1))
    cfg.exercises.kinds.append("translation")
    out = tmp_path / "dataset"
    manifest = export_dataset(cfg, list(paths), out, {"funnel": FUNNEL, "code_version": "x"})
    per_task = Counter(r.exercise for r in data)
    split = {r.id: split_of(r.id, 1, 0.3) for r in data}
    assert {t: sum(c.values()) for t, c in manifest["exercises"].items()} == per_task
    card = (out / "README.md").read_text()
    cache = str(tmp_path / "hf-cache")
    for task in ("generation", "summarization", "repair", "translation"):
        assert f"config_name: {task}\n" in card
        loaded = datasets.load_dataset(str(out), task, cache_dir=cache)
        counts = manifest["exercises"][task]
        assert {s: loaded[s].num_rows for s in loaded} == counts
        c = counts
        assert f"| {task} | {c['train']} | {c['validation']} | {c['train'] + c['validation']} |" in card
        for s in loaded:
            for row in loaded[s]:
                fid = row["id"] if task == "generation" else row["function_id"]
                assert split[fid] == s  # a function's rows of every task share its split
    repair = datasets.load_dataset(str(out), "repair", cache_dir=cache)["train"][0]
    source = next(r for r in data if r.exercise_id == repair["id"])
    assert source.repair is not None
    assert repair["buggy_code"] == source.repair.buggy_code and repair["fixed_code"] == source.original_code
    assert repair["failing_test"]["input"] == source.repair.failing_test.input
    assert repair["messages"][1]["content"] == source.response
    summ = datasets.load_dataset(str(out), "summarization", cache_dir=cache)["train"][0]
    assert summ["target"] == "docstring" and summ["summary"] == summ["messages"][1]["content"]
    trans = datasets.load_dataset(str(out), "translation", cache_dir=cache)["train"][0]
    source = next(r for r in data if r.exercise_id == trans["id"])
    assert source.translation is not None and trans["translated_code"] == source.translation.code
    assert trans["source_code"] == source.original_code and trans["language"] == "javascript"
    assert trans["runtime"] == source.translation.runtime and trans["tests_run"] == len(source.test_cases)

    rl = datasets.load_dataset(str(out), "rl", cache_dir=cache)
    assert sum(rl[s].num_rows for s in rl) == per_task["generation"] + per_task["repair"]
    for s in rl:
        assert rl[s]["extra_info"][0]["index"] == 0
        for n, row in enumerate(rl[s]):
            info = row["extra_info"]
            assert (info["split"], info["index"]) == (s, n) and split[info["function_id"]] == s
            assert row["ability"] == "code" and row["reward_model"]["style"] == "rule"
            assert row["data_source"] == f"codemint/{info['exercise']}"
            truth = json.loads(row["reward_model"]["ground_truth"])
            source = next(r for r in data if r.exercise_id == info["id"])
            assert truth["entry_point"] == source.entry_point == info["entry_point"]
            assert [c["input"] for c in truth["test_cases"]] == [c.input for c in source.test_cases]
            assert row["prompt"][0]["role"] == "user" and source.prompt in row["prompt"][0]["content"]
            assert info["provenance"]["source_uri"] == source.provenance.source_uri
            assert info["covered_lines"] is None  # the rows did not measure coverage
            assert info["reference_code"] == source.original_code
    assert "## RL data" in card and "compute_score" in card


def test_rl_rows_carry_per_test_covered_lines_when_measured() -> None:
    from codemint.curation.exercise_export import ground_truth, rl_record

    rec = generation_row(verified(CLAMP, n_tests=3))
    assert rl_record(rec, "train", 0, Generation())["extra_info"]["covered_lines"] is None  # not measured
    cases = [c.model_copy(update={"covered_lines": [4, 1, 2][: i + 1]}) for i, c in enumerate(rec.test_cases)]
    measured = rec.model_copy(update={"test_cases": cases})
    info = rl_record(measured, "validation", 7, Generation())["extra_info"]
    assert info["covered_lines"] == [[4], [1, 4], [1, 2, 4]] and (info["split"], info["index"]) == (
        "validation",
        7,
    )
    # What a test checks is its input and expected outcome, not the lines it ran.
    assert ground_truth(measured) == ground_truth(rec) and "covered_lines" not in ground_truth(measured)


def test_weak_and_examples_rows_have_configs_of_their_own_out_of_generation_and_rl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    data = exercise_rows()
    functions = list(dict.fromkeys(r.id for r in data))
    translated = [r.id for r in data if r.exercise == "translation"]
    split = {f: split_of(f, 1, 0.3) for f in functions}
    free = [f for f in functions if f not in translated]
    # Both splits of each held-out config get rows: `datasets` cannot read an empty split's file.
    train, validation = (
        [f for f in free if split[f] == "train"],
        [f for f in free if split[f] == "validation"],
    )
    assert len(train) >= 4 and len(validation) >= 2
    # Weak tests: two translated functions, one by coverage, one whose instruction is also
    # examples (weak wins); examples instructions: one per split; one LLM instruction over
    # examples (a real instruction: generation). Derived rows carry their function's fields,
    # as derive makes them.
    changes: dict[str, dict[str, object]] = {
        translated[0]: {"adequate": False, "adequacy_basis": "mutants", "mutation_score": 0.2},
        translated[1]: {"adequate": False, "adequacy_basis": "mutants", "mutation_score": 0.4},
        train[0]: {"adequate": False, "adequacy_basis": "coverage", "line_coverage": 0.5},
        validation[0]: {"instruction_source": "examples", "adequate": False},
        train[1]: {"instruction_source": "examples", "adequate": True},
        validation[1]: {"instruction_source": "examples", "adequate": None},
        train[2]: {"instruction_source": "llm", "adequate": True},
    }
    weak = {translated[0], translated[1], train[0], validation[0]}
    examples = {train[1], validation[1]}
    generation = set(functions) - weak - examples
    data = [r.model_copy(update=changes.get(r.id, {"adequate": True})) for r in data]
    paths = write_task_shards(tmp_path / "derive", [data])
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.3, split_seed=1))
    cfg.exercises.kinds.append("translation")
    out = tmp_path / "dataset"
    manifest = export_dataset(cfg, list(paths), out, {"funnel": FUNNEL, "code_version": "x"})

    def rows_of(config: str) -> list[dict]:
        return [r for s in ("train", "validation") for r in store.read_rows(out / config / f"{s}.parquet")]

    assert {r["id"] for r in rows_of("messages")} == {r["id"] for r in rows_of("alpaca")} == generation
    assert {r["id"] for r in rows_of("weak")} == weak and {r["id"] for r in rows_of("examples")} == examples
    assert all(r["adequate"] is False for r in rows_of("weak"))
    assert all(r["instruction_source"] == "examples" for r in rows_of("examples"))
    assert manifest["rows"] == len(functions) == sum(manifest["splits"].values())
    assert sum(manifest["exercises"]["generation"].values()) == len(generation)
    assert {c: sum(n.values()) for c, n in manifest["held_out"].items()} == {"weak": 4, "examples": 2}
    # RL: generation rows of `generation` functions only; every repair row (it has a test that
    # catches its bug), weak and examples functions' included.
    rl = rows_of("rl")
    assert {
        r["extra_info"]["function_id"] for r in rl if r["extra_info"]["exercise"] == "generation"
    } == generation
    repairs = [r for r in data if r.exercise == "repair"]
    assert any(r.id in weak | examples for r in repairs)
    assert sorted(r["extra_info"]["id"] for r in rl if r["extra_info"]["exercise"] == "repair") == sorted(
        r.exercise_id for r in repairs
    )
    assert len(rows_of("repair")) == len(repairs)
    # Summaries do not rest on the tests: weak functions keep theirs. Translations of weak
    # functions are withheld (the weak tests are all that checked them).
    assert {r["function_id"] for r in rows_of("summarization")} == set(functions)
    assert {r["function_id"] for r in rows_of("translation")} == set(translated) - weak
    assert manifest["translations_withheld"] == len(set(translated) & weak) == 2

    card = (out / "README.md").read_text()
    cache = str(tmp_path / "hf-cache")
    for config, ids in (("weak", weak), ("examples", examples)):
        assert f"config_name: {config}\n" in card and f"path: {config}/train.parquet" in card
        counts = manifest["held_out"][config]
        assert f"| {config} | {counts['train']} | {counts['validation']} | {len(ids)} |" in card
        loaded = datasets.load_dataset(str(out), config, cache_dir=cache)
        assert {s: loaded[s].num_rows for s in loaded} == counts
        assert {row["id"] for s in loaded for row in loaded[s]} == ids
        assert loaded["train"][0]["messages"][0]["role"] == "user"
    assert "**weak**" in card and "translations are withheld" in card and "**examples**" in card
    assert f"Config `generation` has {len(generation)} of them; `weak` has 4 (tests below" in card


def test_the_streamed_export_is_the_same_for_any_batch_size_fan_in_and_shard_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = rows()
    paths = write_shards(tmp_path / "select", [data[:7], data[7:15], data[15:]])
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.25, split_seed=3))
    info = {"funnel": FUNNEL, "code_version": "0.1.0+abc"}
    first = export_dataset(cfg, list(paths), tmp_path / "a", info)
    # Tiny batches, 3 rows spilled at a time and a fan-in of 2: merges in passes, many row
    # groups per file.
    monkeypatch.setattr(split_runs, "MERGE_BATCH_ROWS", 2)
    monkeypatch.setattr(split_runs, "FAN_IN", 2)
    monkeypatch.setattr(dataset_files, "BATCH_ROWS", 3)
    monkeypatch.setattr(export_stage, "SPILL_ROWS", 3)
    spilled: list[int] = []
    add = split_runs.SplitRuns.add

    def counted(self: split_runs.SplitRuns, part: list[ExerciseRow]) -> None:
        spilled.append(len(part))
        add(self, part)

    monkeypatch.setattr(split_runs.SplitRuns, "add", counted)
    second = export_dataset(cfg, list(reversed(paths)), tmp_path / "b", info)
    assert max(spilled) == 3 and len(spilled) > len(paths)  # several spills per shard
    assert sorted(first["files"]) == sorted(second["files"])
    for rel, info_a in first["files"].items():
        a, b = tmp_path / "a" / rel, tmp_path / "b" / rel
        assert info_a.get("rows") == second["files"][rel].get("rows")
        if rel.endswith(".parquet"):
            assert pq.read_table(a).to_pylist() == pq.read_table(b).to_pylist(), rel
        else:
            assert a.read_bytes() == b.read_bytes(), rel
    ids = pq.read_table(tmp_path / "b" / "messages" / "train.parquet").column("id").to_pylist()
    assert ids == sorted(ids) and len(ids) > 3
    assert not list(tmp_path.glob(".export-*"))  # the scratch runs are gone


def test_a_row_in_several_shards_is_exported_once_its_earliest_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies of a row (one exercise row id) go, wherever they are: in later shards, or twice
    in one shard, spilled apart; the first copy stays and `duplicate_ids` counts the others."""
    data = rows()
    first = data[:10]
    again = [r.model_copy(update={"instruction": r.instruction + " (a later copy)"}) for r in data[6:10]]
    cfg = PipelineSettings(export=ExportSettings(validation_fraction=0.25, split_seed=3))
    info = {"funnel": FUNNEL, "code_version": "0.1.0+abc"}
    monkeypatch.setattr(export_stage, "SPILL_ROWS", 3)
    copies = write_shards(tmp_path / "copies", [first, [*again, *data[10:16], data[0]]])
    unique = write_shards(tmp_path / "unique", [first, data[10:16]])
    with_copies = export_dataset(cfg, list(copies), tmp_path / "a", info)
    without = export_dataset(cfg, list(unique), tmp_path / "b", info)
    assert with_copies["duplicate_ids"] == 5 and without["duplicate_ids"] == 0  # data[6:10] and data[0]
    assert with_copies["rows"] == without["rows"] == 16
    for rel in without["files"]:
        if rel.endswith(".parquet"):
            assert (
                pq.read_table(tmp_path / "a" / rel).to_pylist()
                == pq.read_table(tmp_path / "b" / rel).to_pylist()
            )
    exported = [
        m["content"]
        for r in pq.read_table(tmp_path / "a" / "messages" / "train.parquet").to_pylist()
        for m in r["messages"]
    ]
    assert not any("(a later copy)" in text for text in exported)


def test_rows_are_merged_in_order_across_more_runs_than_the_fan_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(split_runs, "FAN_IN", 3)
    monkeypatch.setattr(split_runs, "MERGE_BATCH_ROWS", 2)
    base = generation_row(rows()[0])
    runs = split_runs.SplitRuns(tmp_path, lambda row_id: "train")
    made = []
    for shard in range(7):  # 7 runs: merged 3 at a time, then the 3 results at once
        part = [
            base.model_copy(update={"id": f"f{(shard * 5 + i * 3) % 31:02d}", "exercise_id": f"e{shard}-{i}"})
            for i in range(5)
        ]
        made += part
        runs.add(part)
    merged = [(r.id, r.exercise_id) for r in runs.merged("train")]
    assert merged == sorted((r.id, r.exercise_id) for r in made)
    assert len(list(tmp_path.glob("train-*.parquet"))) == 3  # the merged groups replaced their runs
