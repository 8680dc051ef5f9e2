"""Yield per source and the top drop reasons, read back from a run directory."""

from __future__ import annotations

from pathlib import Path

from factories import verified, write_shard

from codemint import store
from codemint.flows.registry import PIPELINE
from codemint.flows.reporting import render_report
from codemint.flows.yields import top_drop_reasons, yield_by_source
from codemint.records import Provenance, Rejected, to_table


def _rejected(stage: str, reason: str, source: str, line: int, detail: str = "") -> Rejected:
    prov = Provenance(source_uri=source, path="m.py", line_start=line)
    return Rejected(
        id=f"{reason}{line}",
        stage=stage,
        status="dropped",
        drop_reason=reason,
        detail=detail,
        provenance=prov,
    )


def test_yield_per_source_and_top_reasons(tmp_path: Path) -> None:
    a = verified("def f(x):\n    return x * 2 + 1\n", source_uri="pypi:a")
    b = verified("def g(x):\n    return x - 7\n", source_uri="pypi:b")
    method = a.model_copy(update={"id": "m1", "sample_kind": "method", "class_name": "C"})
    write_shard(store.kept_path(tmp_path / "reformat", 0), [a, b, method])
    reformat_drops = [
        _rejected("reformat", "trivial_body", "pypi:a", 3, "add: one statement of 5 AST nodes < 8"),
        _rejected("reformat", "trivial_body", "pypi:b", 9),
        _rejected("reformat", "no_functions", "pypi:b", 1),  # a whole file, not a definition
    ]
    store.write_table(store.rejected_path(tmp_path / "reformat", 0), to_table(reformat_drops, Rejected))
    execute_drops = [_rejected("execute", "missing_import", "pypi:b", 4, "numpy")]
    store.write_table(store.rejected_path(tmp_path / "execute", 0), to_table(execute_drops, Rejected))
    write_shard(store.kept_path(tmp_path / PIPELINE[-1], 0), [a, method])

    yields = {y.source: y for y in yield_by_source(tmp_path)}
    assert (yields["pypi:a"].definitions, yields["pypi:a"].final_rows) == (3, 2)
    assert yields["pypi:a"].by_kind == {"function": 1, "method": 1}
    assert (yields["pypi:b"].definitions, yields["pypi:b"].final_rows, yields["pypi:b"].yield_pct) == (
        2,
        0,
        0.0,
    )
    assert list(yields) == ["pypi:a", "pypi:b"]  # most final rows first

    top = top_drop_reasons(tmp_path, limit=3)
    assert (top[0].stage, top[0].reason, top[0].count) == ("reformat", "trivial_body", 2)
    assert {(d.stage, d.reason, d.count) for d in top[1:]} == {
        ("reformat", "no_functions", 1),
        ("execute", "missing_import", 1),
    }
    assert top[0].example == "m.py:3: add: one statement of 5 AST nodes < 8"

    report = render_report("r", [], [], [], 1.0, list(yields.values()))
    assert "| pypi:a | 3 | 2 | 2 | 66.7% | function 1, method 1 |" in report
