"""Ingest on real inputs: stdlib modules, a git checkout, JSONL and Parquet, and bad files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codemint.records import Rejected, Snippet
from codemint.settings import PipelineSettings
from codemint.tasks.ingest.stage import Ingest, InputError, assign_shards, plan_sources


def ingest(refs: list, settings: PipelineSettings | None = None) -> tuple[list[Snippet], list[Rejected]]:
    out = list(Ingest(settings or PipelineSettings()).run(refs))
    return [o for o in out if isinstance(o, Snippet)], [o for o in out if isinstance(o, Rejected)]


def test_stdlib_modules_by_name_with_provenance() -> None:
    refs = plan_sources([], ["textwrap", "posixpath", "json"])
    paths = {r.provenance.path for r in refs}
    assert {"textwrap.py", "posixpath.py", "json/__init__.py", "json/decoder.py"} <= paths
    kept, rejected = ingest(refs)
    assert not rejected and len(kept) == len(refs)
    textwrap = next(s for s in kept if s.provenance.path == "textwrap.py")
    assert "def dedent(" in textwrap.code
    assert textwrap.provenance.source_uri == "stdlib:textwrap"
    assert textwrap.provenance.license == "PSF-2.0"
    assert textwrap.provenance.revision and textwrap.provenance.revision.startswith("python-3.")


def test_unknown_package_and_missing_path_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no_such_pkg_xyz"):
        plan_sources([], ["no_such_pkg_xyz"])
    with pytest.raises(InputError, match="no such file"):
        plan_sources([str(tmp_path / "missing.jsonl")], [])


def test_git_checkout_records_commit_and_license(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "util.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge...\n")
    (repo / ".venv" / "lib").mkdir(parents=True)
    (repo / ".venv" / "lib" / "skip.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    refs = plan_sources([str(repo)], [])
    assert [r.provenance.path for r in refs] == ["pkg/util.py"]
    assert refs[0].provenance.revision == head
    assert refs[0].provenance.license == "MIT"


def test_bad_files_are_quarantined_with_reasons_and_the_rest_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "empty.py").write_text("   \n")
    (tmp_path / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02ELF")
    (tmp_path / "big.py").write_text("x = 1\n" * 100)
    settings = PipelineSettings()
    settings.ingest.max_file_bytes = 300
    kept, rejected = ingest(plan_sources([str(tmp_path)], []), settings)
    assert [s.provenance.path for s in kept] == ["good.py"]
    reasons = {r.provenance.path: r.drop_reason for r in rejected if r.provenance}
    assert reasons == {
        "empty.py": "empty",
        "latin1.py": "not_utf8",
        "binary.py": "binary",
        "big.py": "oversized",
    }
    assert all(r.status == "quarantined" and r.record_json for r in rejected)


def test_jsonl_rows_with_configurable_columns_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    lines = [
        json.dumps(
            {"src": "def f(x):\n    return x * 2\n", "repo_name": "a/b", "path": "m.py", "license": "MIT"}
        ),
        "{not json",
        json.dumps({"other": 1}),
        json.dumps({"src": 42}),
        "",
        json.dumps({"src": "def g(y):\n    return y\n"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    settings = PipelineSettings()
    settings.ingest.code_column = "src"
    kept, rejected = ingest(plan_sources([str(path)], []), settings)
    assert [s.provenance.row for s in kept] == [1, 6]
    assert kept[0].provenance.path == "m.py" and kept[0].provenance.license == "MIT"
    assert kept[0].provenance.source_uri.endswith("#a/b")
    assert [(r.provenance.row, r.drop_reason) for r in rejected if r.provenance] == [
        (2, "bad_json"),
        (3, "missing_column"),
        (4, "bad_type"),
    ]


def test_parquet_input_and_corrupt_parquet(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"content": ["def f(a):\n    return a\n", ""], "path": ["x.py", "y.py"]}), good)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not really parquet PAR1")
    kept, rejected = ingest(plan_sources([str(good), str(corrupt)], []))
    assert [s.provenance.path for s in kept] == ["x.py"]
    assert sorted(r.drop_reason for r in rejected) == ["corrupt_parquet", "empty"]


def test_ids_ignore_formatting_and_shards_are_balanced() -> None:
    refs = plan_sources([], ["textwrap", "heapq", "bisect", "colorsys", "fnmatch"])
    shards = assign_shards(refs, 2)
    assert sorted(r.id for s in shards for r in s) == sorted(r.id for r in refs)
    sizes = [sum(r.size for r in s) for s in shards]
    assert max(sizes) < 2.5 * min(sizes)
    from codemint.tasks.ingest.stage import normalize_code

    assert normalize_code("def f( x ):\n  return x # c\n") == normalize_code("def f(x):\n    return x\n")


def test_a_big_corpus_gets_more_shards_not_bigger_ones() -> None:
    from codemint.tasks.ingest.stage import shard_count

    refs = plan_sources([], ["textwrap", "colorsys", "bisect", "heapq"])
    total = sum(r.size for r in refs)
    assert shard_count(refs, 4, None) == 4
    assert shard_count(refs, 4, total) == 4  # a small corpus keeps the shards asked for
    assert shard_count(refs, 1, total // 3) == 4  # ceil(total / (total // 3))
    shards = assign_shards(refs, shard_count(refs, 1, total // 3))
    assert sorted(r.id for s in shards for r in s) == sorted(r.id for r in refs)
