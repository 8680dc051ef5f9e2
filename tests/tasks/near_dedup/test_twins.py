"""Near twins: wrappers of a kept helper and one instruction over different code keep one row."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from factories import verified, write_shards

from codemint import store
from codemint.records import Rejected
from codemint.settings import NearDedupSettings, PipelineSettings
from codemint.tasks.near_dedup.stage import NearDedup
from codemint.tasks.near_dedup.twins import SAME_INSTRUCTION, WRAPPER, TwinRow, find_twins, wrapped_callee

HELPER = '''
def _split_pairs(text, sep=";", kv="="):
    """Split text into key/value pairs."""
    out = {}
    for part in text.split(sep):
        if kv in part:
            key, _, value = part.partition(kv)
            out[key.strip()] = value.strip()
    return out
'''
WRAPPER_CODE = '''
def parse_pairs(text):
    """Parse `a=1;b=2` into a dict."""
    return _split_pairs(text, ";", kv="=")
'''
WORKER = '''
def parse_loose(text):
    """Parse `a=1;b=2` into a dict."""
    return _split_pairs(text.lower(), ";")
'''


def test_a_body_that_only_passes_its_arguments_on_is_a_wrapper() -> None:
    assert wrapped_callee(WRAPPER_CODE + HELPER, "parse_pairs", None) == "_split_pairs"
    # Work on the arguments (`text.lower()`) is code of its own, and so is a second statement.
    assert wrapped_callee(WORKER + HELPER, "parse_loose", None) is None
    assert wrapped_callee(HELPER, "_split_pairs", None) is None
    method = "class Box:\n    def size(self):\n        return self._count(True)\n"
    method += "    def _count(self, deep):\n        return 1\n"
    assert wrapped_callee(method, "size", "Box") == "_count"
    assert wrapped_callee("def f(x):\n    return f(x)\n", "f", None) is None  # recursion is no wrapper


def test_a_chain_of_wrappers_ends_at_the_function_doing_the_work() -> None:
    rows = [
        TwinRow("m", "a", None, "b", "A."),
        TwinRow("m", "b", None, "c", "B."),
        TwinRow("m", "c", None, None, "C."),
        TwinRow("other", "d", None, "c", "D."),  # another module's `c` is not its helper
    ]
    assert find_twins(rows, [True] * 4, [0, 1, 2, 3]) == [(2, WRAPPER), (2, WRAPPER), None, None]
    # With the helper's row gone (not kept), its wrappers are what is left of it.
    assert find_twins(rows, [True, True, False, True], [0, 1, 2, 3]) == [(1, WRAPPER), None, None, None]


def test_the_same_instruction_keeps_the_best_ranked_row() -> None:
    rows = [TwinRow("m", "f", None, None, "Do it."), TwinRow("n", "g", None, None, "Do  it.\n")]
    assert find_twins(rows, [True, True], [1, 0]) == [(1, SAME_INSTRUCTION), None]


def test_functions_of_different_names_with_one_description_are_twins() -> None:
    """difflib's `_format_range_context` and `_format_range_unified` share one docstring over
    different behaviour: the header naming each does not make them two tasks."""
    words = 'Convert range to the "ed" format'
    context = TwinRow(
        "m",
        "_format_range_context",
        None,
        None,
        f"Implement the Python function `_format_range_context(start, stop)`.\n\n{words}",
    )
    unified = TwinRow(
        "m",
        "_format_range_unified",
        None,
        None,
        f"Implement the Python function `_format_range_unified(start, stop)`.\n\n{words}",
    )
    other = TwinRow(
        "m",
        "h",
        None,
        None,
        "Implement the Python function `h(start, stop)`.\n\nConvert range to the unified format",
    )
    assert find_twins([context, unified, other], [True] * 3, [0, 1, 2]) == [None, (0, SAME_INSTRUCTION), None]


def test_near_dedup_drops_twins_with_their_reasons(tmp_path: Path) -> None:
    helper = verified(HELPER, instruction="Split text into key/value pairs.")
    wrapper = verified(WRAPPER_CODE, instruction="Parse `a=1;b=2` into a dict.")
    wrapper = wrapper.model_copy(update={"original_code": WRAPPER_CODE.strip() + "\n" + HELPER})
    loose = verified(WORKER, instruction="Parse `a=1;b=2` into a dict.", n_tests=2, path="other.py")
    paths = write_shards(tmp_path / "verify", [[helper, wrapper], [loose]])
    cfg = PipelineSettings(index_workers=1)
    index = tmp_path / "near_dedup" / "index.parquet"
    figures = NearDedup.build_index(cfg, list(paths), index)
    assert figures["near_twins:wrapper"] == 1 and figures["near_twins:same_instruction"] == 0
    kept, rejected = [], []
    for shard, path in enumerate(paths):
        result = NearDedup(cfg, index).process_shard(path, tmp_path / "near_dedup", shard)
        kept += store.read_column(Path(result.kept_path), "id")
        rejected += [Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))]
    # The wrapper goes; `loose` shares its instruction but not once the wrapper is gone.
    assert sorted(kept) == sorted([helper.id, loose.id])
    (gone,) = rejected
    assert gone.id == wrapper.id and gone.drop_reason == "near_twin:wrapper" and helper.id in gone.detail
    table = pq.read_table(index).to_pylist()
    assert {r["id"]: r["twin_of"] for r in table}[wrapper.id] == helper.id
    # Off, the index keeps both (MinHash alone does not see the wrapper).
    off = PipelineSettings(index_workers=1, near_dedup=NearDedupSettings(twins=False))
    assert NearDedup.build_index(off, list(paths), tmp_path / "off" / "index.parquet")["kept"] == 3


def test_two_rows_with_one_instruction_keep_one(tmp_path: Path) -> None:
    a = verified(WORKER, instruction="Parse `a=1;b=2` into a dict.", n_tests=4)
    b = verified(HELPER, instruction="Parse `a=1;b=2` into a dict.", n_tests=2)
    paths = write_shards(tmp_path / "verify", [[a], [b]])
    cfg = PipelineSettings(index_workers=1)
    figures = NearDedup.build_index(cfg, list(paths), tmp_path / "nd" / "index.parquet")
    assert figures["near_twins:same_instruction"] == 1 and figures["kept"] == 1
    result = NearDedup(cfg, tmp_path / "nd" / "index.parquet").process_shard(paths[1], tmp_path / "nd", 1)
    (gone,) = [Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))]
    assert gone.id == b.id and gone.drop_reason == "near_twin:same_instruction"
