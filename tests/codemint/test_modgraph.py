"""The import graph's cache across processes: what a file imports is parsed once per version
of the file (its mtime and size), and a changed file is parsed again."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemint import modgraph


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache directory of its own, as a new process would find it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    modgraph._disk_cache.cache_clear()
    modgraph._direct_imports.cache_clear()
    yield modgraph._disk_cache_file()
    modgraph._disk_cache.cache_clear()
    modgraph._direct_imports.cache_clear()


def imports_of(path: Path) -> frozenset[str]:
    stat = path.stat()
    return modgraph._direct_imports(path, stat.st_mtime_ns, stat.st_size, "codemint.planted")


def new_process() -> None:
    modgraph._disk_cache.cache_clear()
    modgraph._direct_imports.cache_clear()


def test_a_files_imports_are_kept_across_processes_until_the_file_changes(
    fresh_cache: Path, tmp_path: Path
) -> None:
    module = tmp_path / "planted.py"
    module.write_text("import json\n\ndef f():\n    from codemint import store\n")
    assert imports_of(module) == {"codemint", "codemint.store"}
    modgraph._save_disk_cache()
    saved = json.loads(fresh_cache.read_text())
    assert saved[f"codemint.planted:{module}"][2] == ["codemint", "codemint.store"]

    # The next process reads the answer instead of parsing: a planted answer shows it.
    saved[f"codemint.planted:{module}"][2] = ["codemint.records"]
    fresh_cache.write_text(json.dumps(saved))
    new_process()
    assert imports_of(module) == {"codemint.records"}

    # The file changed (new mtime): parsed again, and the new answer saved.
    module.write_text("from codemint import settings\n")
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1_000_000))
    new_process()
    assert imports_of(module) == {"codemint", "codemint.settings"}
    modgraph._save_disk_cache()
    new_process()
    assert imports_of(module) == {"codemint", "codemint.settings"}


def test_an_unwritable_cache_costs_a_parse_not_a_failure(fresh_cache: Path, tmp_path: Path) -> None:
    fresh_cache.parent.parent.parent.mkdir(parents=True, exist_ok=True)
    fresh_cache.parent.parent.write_text("not a directory")  # $XDG_CACHE_HOME/codemint cannot exist
    module = tmp_path / "planted.py"
    module.write_text("from codemint import store\n")
    assert imports_of(module) == {"codemint", "codemint.store"}
    modgraph._save_disk_cache()
    new_process()
    assert imports_of(module) == {"codemint", "codemint.store"}
