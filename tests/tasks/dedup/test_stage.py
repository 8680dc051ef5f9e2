"""ExactDedup's decisions: across shards the first shard holding an id keeps it, within a shard
the first row; every other copy is dropped as `duplicate` naming the keeper's shard."""

from __future__ import annotations

from pathlib import Path

from factories import CLAMP, HEX, MEDIAN

from codemint import store
from codemint.records import Function, Rejected, content_id, to_table
from codemint.settings import PipelineSettings
from codemint.tasks.dedup.stage import ExactDedup


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


def test_index_on_disk_keeps_the_same_rows_as_the_first_occurrence_rule(tmp_path: Path) -> None:
    """Many ids over several partitions and shards, copies within and across shards: the
    partitioned index keeps exactly the rows the in-memory rule (first shard, then first row)
    kept before it."""
    import random

    from factories import verified

    rng = random.Random(7)
    base = verified(CLAMP, path="x.py")
    pool = [f"{rng.getrandbits(64):016x}" for _ in range(300)]
    shards = [[rng.choice(pool) for _ in range(rng.randint(0, 120))] for _ in range(6)]
    shards[3] = []  # an empty shard
    rows = [
        [
            Function.model_validate(base.model_dump(include=set(Function.model_fields)) | {"id": i})
            for i in ids
        ]
        for ids in shards
    ]
    paths: list[Path | None] = [write(tmp_path, n, r) for n, r in enumerate(rows)]
    paths[4] = None  # failed upstream: its rows are in no index and it is not run
    index = tmp_path / "dedup" / "index.parquet"
    figures = ExactDedup.build_index(PipelineSettings(), paths, index)

    first: dict[str, int] = {}  # the rule the in-memory index applied
    for n, ids in enumerate(shards):
        if paths[n] is not None:
            for i in ids:
                first.setdefault(i, n)
    total = sum(len(ids) for n, ids in enumerate(shards) if paths[n] is not None)
    assert figures == {"rows": total, "unique": len(first), "duplicates": total - len(first)}
    for n, ids in enumerate(shards):
        if paths[n] is None:
            continue
        stage = ExactDedup(PipelineSettings(), index)
        stage.shard = n
        out = list(stage.run(rows[n]))
        expected, seen = [], set()
        for i in ids:
            if first[i] == n and i not in seen:
                seen.add(i)
                expected.append(i)
        assert [r.id for r in out if isinstance(r, Function)] == expected
        assert all(
            r.detail == f"same normalized code kept in shard {first[r.id]}"
            for r in out
            if isinstance(r, Rejected)
        )
