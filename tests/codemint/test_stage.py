"""The stage base: what every stage's shard does with rows it cannot write."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from factories import CLAMP, MEDIAN, verified, write_shards

from codemint import store
from codemint.records import Rejected, Verified
from codemint.settings import PipelineSettings
from codemint.stage import Stage, unencodable_field


class Relabel(Stage[Verified, Verified]):
    """Passes rows through, giving the first one an instruction with a lone surrogate."""

    name = "relabel"
    input_model = Verified
    output_model = Verified

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        for i, rec in enumerate(records):
            yield rec.model_copy(update={"instruction": "caf\udce9"}) if i == 0 else rec


def test_a_row_utf8_cannot_hold_is_quarantined_and_the_shard_keeps_the_rest(tmp_path: Path) -> None:
    rows = [verified(CLAMP), verified(MEDIAN)]
    (path,) = write_shards(tmp_path / "in", [rows])
    result = Relabel(PipelineSettings()).process_shard(path, tmp_path / "relabel", 0)
    assert store.read_column(Path(result.kept_path), "id") == [rows[1].id]
    (bad,) = [Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))]
    assert (bad.id, bad.status, bad.drop_reason) == (rows[0].id, "quarantined", "unencodable_text")
    assert bad.detail.startswith("instruction:") and bad.provenance == rows[0].provenance
    assert result.dropped == {"quarantined:unencodable_text": 1}


def test_unencodable_field_names_the_path_of_the_first_bad_text() -> None:
    rec = verified(CLAMP)
    assert unencodable_field(rec) is None
    case = rec.test_cases[1].model_copy(update={"stdout": "\udcff"})
    bad = rec.model_copy(update={"test_cases": [rec.test_cases[0], case]})
    assert unencodable_field(bad) == "test_cases.1.stdout"


class Chunky(Stage[Verified, Verified]):
    """Records the size of each `run` call; drops every third row; can fail on a given call."""

    name = "chunky"
    input_model = Verified
    output_model = Verified
    chunked = True

    def __init__(self, settings: PipelineSettings, fail_on_call: int | None = None) -> None:
        super().__init__(settings)
        self.calls: list[int] = []
        self.fail_on_call = fail_on_call

    def run(self, records: Iterable[Verified]) -> Iterator[Verified | Rejected]:
        records = list(records)
        self.calls.append(len(records))
        if len(self.calls) == self.fail_on_call:
            raise RuntimeError("the sandbox went away")
        for rec in records:
            if int(rec.instruction.split()[-1]) % 3 == 0:
                yield self.reject(rec.id, "every_third", "dropped by rule", record=rec)
            else:
                self.metrics["kept"] += 1
                yield rec


def numbered_rows(n: int) -> list[Verified]:
    base = verified(CLAMP)
    return [base.model_copy(update={"id": f"row-{i:03d}", "instruction": f"Clamp {i}"}) for i in range(n)]


def test_a_chunked_stage_runs_a_chunk_at_a_time_and_writes_what_one_call_does(tmp_path: Path) -> None:
    rows = numbered_rows(10)
    (path,) = write_shards(tmp_path / "in", [rows])
    whole = Chunky(PipelineSettings(stage_chunk_rows=None))
    one = whole.process_shard(path, tmp_path / "whole", 0)
    chunky = Chunky(PipelineSettings(stage_chunk_rows=4))
    result = chunky.process_shard(path, tmp_path / "chunked", 0)
    assert whole.calls == [10] and chunky.calls == [4, 4, 2]
    kept = [r["id"] for r in store.read_rows(Path(result.kept_path))]
    assert (
        kept
        == [r.id for i, r in enumerate(rows) if i % 3]
        == [r["id"] for r in store.read_rows(Path(one.kept_path))]
    )
    rejected = [r["id"] for r in store.read_rows(Path(result.rejected_path))]
    assert rejected == ["row-000", "row-003", "row-006", "row-009"]
    assert (result.rows_in, result.rows_kept, result.dropped) == (10, 6, {"dropped:every_third": 4})
    assert result.metrics == one.metrics == {"kept": 6.0}


def test_a_stage_not_chunked_gets_the_whole_shard_and_empty_outputs_keep_their_schema(tmp_path: Path) -> None:
    (path,) = write_shards(tmp_path / "in", [numbered_rows(5)])
    stage = Chunky(PipelineSettings(stage_chunk_rows=2))
    stage.chunked = False
    stage.process_shard(path, tmp_path / "out", 0)
    assert stage.calls == [5]
    (empty,) = write_shards(tmp_path / "empty", [[]])
    result = Chunky(PipelineSettings(stage_chunk_rows=2)).process_shard(empty, tmp_path / "none", 0)
    for file in (result.kept_path, result.rejected_path):
        assert store.read_table(Path(file)).num_rows == 0
    assert "instruction" in store.read_table(Path(result.kept_path)).column_names


def test_a_shard_that_fails_in_a_later_chunk_leaves_its_earlier_output_untouched(tmp_path: Path) -> None:
    rows = numbered_rows(9)
    (path,) = write_shards(tmp_path / "in", [rows])
    first = Chunky(PipelineSettings(stage_chunk_rows=4)).process_shard(path, tmp_path / "out", 0)
    before = store.file_digest(Path(first.kept_path))
    failing = Chunky(PipelineSettings(stage_chunk_rows=4), fail_on_call=2)
    try:
        failing.process_shard(path, tmp_path / "out", 0)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure did not reach the caller")
    assert store.file_digest(Path(first.kept_path)) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["part-00000.parquet", "part-00000.rejected.parquet", "part-00000.stats.json"]
    )
