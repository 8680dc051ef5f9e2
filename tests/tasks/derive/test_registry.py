"""A new exercise kind is its own module and one line in the registry: derive makes its rows and
export writes its config, with nothing else edited (docs/exercise-kinds.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import CLAMP, MEDIAN, verified

from codemint import store
from codemint.curation.exercise_export import COMMON_FIELDS, common_record
from codemint.exercise import DeriveContext, ExerciseKind, exercise_row
from codemint.records import ExerciseRow, Verified, to_table
from codemint.settings import ExercisesSettings, PipelineSettings
from codemint.tasks.derive import registry
from codemint.tasks.derive.stage import Derive
from codemint.tasks.export.stage import export_dataset


class Signature(ExerciseKind):
    """A toy kind: the function's signature -> its name (what a new kind's module holds)."""

    name = "signature"
    schema = pa.schema([*COMMON_FIELDS, pa.field("asked", pa.string())])

    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        ctx.metrics["signature_rows"] += len(records)
        return {
            r.id: [exercise_row(r, self.name, f"Name the function `{r.signature}`.", r.entry_point)]
            for r in records
        }

    def record(self, row: ExerciseRow) -> dict[str, Any]:
        return common_record(row) | {"asked": row.signature}


@pytest.fixture
def with_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    # The one line a new kind adds to tasks/derive/registry.py.
    monkeypatch.setitem(registry.KINDS, Signature.name, Signature())


def test_a_registered_kind_is_derived_and_exported(with_signature: None, tmp_path: Path) -> None:
    settings = PipelineSettings(exercises=ExercisesSettings(kinds=["generation", "signature"]))
    rows = [verified(CLAMP), verified(MEDIAN)]
    shard = store.kept_path(tmp_path / "select", 0)
    store.write_table(shard, to_table(rows, Verified))
    result = Derive(settings).process_shard(shard, tmp_path / "derive", 0)
    assert result.metrics["signature_rows"] == 2
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    assert sorted(r.exercise for r in out) == ["generation", "generation", "signature", "signature"]

    manifest = export_dataset(settings, [result.kept_path], tmp_path / "dataset", {"funnel": []})
    assert sum(manifest["exercises"]["signature"].values()) == 2
    table = pa.concat_tables(
        pq.read_table(tmp_path / "dataset" / "signature" / f"{split}.parquet")
        for split in ("train", "validation")
    )
    assert table.schema.equals(Signature.schema)
    assert sorted(table.column("asked").to_pylist()) == sorted(r.signature for r in rows)
    # Not an RL kind: the rl config holds generation rows only.
    rl = pa.concat_tables(
        pq.read_table(tmp_path / "dataset" / "rl" / f"{split}.parquet") for split in ("train", "validation")
    )
    assert {info["exercise"] for info in rl.column("extra_info").to_pylist()} == {"generation"}


def test_a_kind_changes_the_derive_cache_key_only_when_configured(with_signature: None) -> None:
    plain = Derive(PipelineSettings(exercises=ExercisesSettings(kinds=["generation"]))).fingerprint()
    more = Derive(
        PipelineSettings(exercises=ExercisesSettings(kinds=["generation", "signature"]))
    ).fingerprint()
    assert plain != more


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="unknown exercise kind 'nonsense'; known: generation, summarization"
    ):
        registry.configured(["generation", "nonsense"])
