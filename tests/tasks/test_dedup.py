"""ExactDedup's decisions: across shards the first shard holding an id keeps it, within a shard
the first row; every other copy is dropped as `duplicate` naming the keeper's shard."""

from __future__ import annotations

from pathlib import Path

from factories import CLAMP, HEX, MEDIAN

from codemint import store
from codemint.records import Function, Rejected, content_id, to_table
from codemint.settings import PipelineSettings
from codemint.tasks.dedup import ExactDedup


def function(code: str, path: str) -> Function:
    from factories import verified

    rec = verified(code, path=path)
    return Function.model_validate(rec.model_dump(include=set(Function.model_fields)))


def write(tmp: Path, shard: int, rows: list[Function]) -> Path:
    path = store.kept_path(tmp / "in", shard)
    store.write_table(path, to_table(list(rows), Function))
    return path


def test_first_shard_keeps_and_later_copies_are_dropped(tmp_path: Path) -> None:
    a, b, c = function(CLAMP, "a.py"), function(HEX, "b.py"), function(MEDIAN, "c.py")
    copy_of_a = function(CLAMP, "other/a.py")  # same normalized code, another file
    shards = [[a, b], [copy_of_a, c, c]]
    paths = [write(tmp_path, i, rows) for i, rows in enumerate(shards)]
    index = tmp_path / "dedup" / "index.parquet"
    figures = ExactDedup.build_index(PipelineSettings(), [*paths, None], index)  # a failed shard: None
    assert figures == {"rows": 5, "unique": 3, "duplicates": 2}

    outcomes = []
    for shard, rows in enumerate(shards):
        stage = ExactDedup(PipelineSettings(), index)
        stage.shard = shard
        outcomes.append(list(stage.run(rows)))
    kept = [[r.provenance.path for r in out if isinstance(r, Function)] for out in outcomes]
    assert kept == [["a.py", "b.py"], ["c.py"]]
    dropped = [r for out in outcomes for r in out if isinstance(r, Rejected)]
    assert [(r.drop_reason, r.detail, r.provenance.path if r.provenance else None) for r in dropped] == [
        ("duplicate", "same normalized code kept in shard 0", "other/a.py"),
        ("duplicate", "same normalized code kept in shard 1", "c.py"),
    ]
    assert all(r.record_json for r in dropped)  # nothing is lost: the dropped row rides along
    assert a.id == content_id(a.code)
