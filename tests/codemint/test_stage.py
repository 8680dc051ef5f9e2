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
