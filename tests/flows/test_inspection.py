"""Reading a run back for `codemint inspect`: counts and the rows shown, not the whole run."""

from __future__ import annotations

from pathlib import Path

from factories import verified, write_shard

from codemint import store
from codemint.flows.inspection import (
    QUARANTINE_COLUMNS,
    final_row_count,
    final_rows,
    first_final_rows,
    quarantined_rows,
    rejected_rows,
)
from codemint.flows.registry import PIPELINE
from codemint.records import Provenance, Rejected, to_table


def _rejected(stage: str, n: int, status: str) -> Rejected:
    return Rejected(
        id=f"{stage}-{n}",
        stage=stage,
        status=status,  # type: ignore[arg-type]
        drop_reason="syntax_error" if status == "quarantined" else "trivial_body",
        detail=f"row {n}",
        provenance=Provenance(source_uri="file:///src", path=f"m{n}.py", line_start=n),
        record_json="{}" * 1000,
    )


def _run(tmp_path: Path) -> Path:
    final = tmp_path / PIPELINE[-1]
    rows = [verified(f"def f{i}(x):\n    return x * {i} + 1\n") for i in range(7)]
    write_shard(store.kept_path(final, 0), rows[:4])
    write_shard(store.kept_path(final, 1), rows[4:])
    for stage, shard, statuses in (
        ("execute", 1, ["dropped", "quarantined", "quarantined"]),
        ("ingest", 0, ["quarantined", "dropped"]),
        ("ingest", 1, ["quarantined"]),
    ):
        drops = [_rejected(stage, shard * 10 + n, s) for n, s in enumerate(statuses)]
        store.write_table(store.rejected_path(tmp_path / stage, shard), to_table(drops, Rejected))
    return tmp_path


def test_counts_and_shown_rows_are_those_of_reading_the_whole_run(tmp_path: Path) -> None:
    run = _run(tmp_path)
    everything = [r for r in rejected_rows(run) if r["status"] == "quarantined"]
    # Stage by stage in pipeline order, then shard by shard.
    assert [r["id"] for r in everything] == ["ingest-0", "ingest-10", "execute-11", "execute-12"]
    for limit in (0, 1, 3, 10):
        total, shown = quarantined_rows(run, limit)
        assert total == 4
        assert shown == [{k: r[k] for k in QUARANTINE_COLUMNS} for r in everything[:limit]]
    assert final_row_count(run) == len(final_rows(run)) == 7
    assert first_final_rows(run, 5) == final_rows(run)[:5]
    assert "record_json" not in quarantined_rows(run, 1)[1][0]  # the whole row is not read


def test_an_empty_run_has_nothing_to_show(tmp_path: Path) -> None:
    assert quarantined_rows(tmp_path, 20) == (0, [])
    assert final_row_count(tmp_path) == 0 and first_final_rows(tmp_path, 2) == []
