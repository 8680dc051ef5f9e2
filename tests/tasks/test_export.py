"""Export: messages/Alpaca in Parquet and JSONL, a stable split, the card and the manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from factories import CLAMP, HEX, MEDIAN, PARSE, WRAP, verified, write_shards

from codemint import store
from codemint.curation.export import split_of
from codemint.settings import CurationSettings, LLMSettings, PipelineSettings
from codemint.tasks.export import export_dataset

FUNNEL = [
    {"stage": "verify", "rows_in": 40, "rows_kept": 31, "dropped": {"dropped:failed_verification": 9}},
    {"stage": "decontaminate", "rows_in": 31, "rows_kept": 30, "dropped": {"dropped:contaminated": 1}},
    {"stage": "near_dedup", "rows_in": 30, "rows_kept": 24, "dropped": {"dropped:near_duplicate": 6}},
    {"stage": "select", "rows_in": 24, "rows_kept": 24, "dropped": {}},
]


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
        curation=CurationSettings(validation_fraction=0.25, split_seed=3),
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
    cfg = PipelineSettings(curation=CurationSettings(validation_fraction=0.25, split_seed=3))
    export_dataset(cfg, list(paths), tmp_path / "again", {"funnel": [], "code_version": "x"})
    again = set(store.read_column(tmp_path / "again" / "messages" / "validation.parquet", "id"))
    assert again == validation & {r.id for r in data[:12]}
    other_seed = {r.id for r in data if split_of(r.id, 4, 0.25) == "validation"}
    assert other_seed != validation


def test_card_states_funnel_sources_licenses_settings(exported: tuple[Path, dict, list]) -> None:
    out, manifest, data = exported
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n")
    assert "config_name: messages" in card and "path: alpaca/validation.parquet" in card
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
    splits = manifest["splits"]
    assert f"rows: {len(data)} (train {splits['train']}, validation {splits['validation']})" in card
    settings = json.loads(re.search(r"```json\n(.*?)\n```", card, re.S).group(1))  # type: ignore[union-attr]
    assert settings["curation"]["validation_fraction"] == 0.25
    assert settings["llm"]["api_key"] == "<redacted>" and "sk-secret-value" not in card


def test_empty_shard_list_exports_empty_dataset(tmp_path: Path) -> None:
    manifest = export_dataset(PipelineSettings(), [None], tmp_path / "empty", {"funnel": FUNNEL})
    assert manifest["rows"] == 0 and manifest["code_version"] == "unknown"
    assert store.read_column(tmp_path / "empty" / "alpaca" / "train.parquet", "id") == []
