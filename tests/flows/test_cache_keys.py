"""Cache keys cover all the code a stage runs: a module edited deep in one stage's imports
re-runs that stage and what its new output feeds, while the stages upstream stay cache hits.

The pipeline runs in child processes on a copy of the installed package, so the test can edit
that copy without touching the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

import codemint
from codemint import modgraph
from codemint.flows.registry import PIPELINE, stage_class

pytestmark = pytest.mark.usefixtures("prefect_server")

DEEP = "codemint.offline.inputs"  # imported by testgen, by no stage before it

PROJECT = textwrap.dedent(
    '''
    def scale(values: list, factor: int = 2) -> list:
        """Multiply every value by factor.

        >>> scale([1, 2, 3])
        [2, 4, 6]
        >>> scale([5], 3)
        [15]
        """
        return [v * factor for v in values]


    def count_vowels(text: str) -> int:
        """Count the vowels in text.

        >>> count_vowels("banana")
        3
        >>> count_vowels("sky")
        0
        """
        return sum(1 for ch in text.lower() if ch in "aeiou")
    '''
)

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from codemint.cli import flow_settings
    from codemint.flows.pipeline import pipeline
    from codemint.settings import PipelineSettings

    settings = PipelineSettings(runs_dir=Path(sys.argv[1]), shards=1)
    with flow_settings(heartbeats=False):
        pipeline(inputs=[sys.argv[2]], run_id="edit", settings=settings)
    """
)

# Planted in the copy: the doctest examples lose their first input, so testgen's rows change.
PLANTED = textwrap.dedent(
    """

    _planted_doctest_inputs = doctest_inputs


    def doctest_inputs(*args, **kwargs):  # planted by tests/flows/test_cache_keys.py
        return list(_planted_doctest_inputs(*args, **kwargs))[1:]
    """
)


def stage_stamps(run_dir: Path) -> dict[str, int]:
    """When each stage last wrote its shard: a cache hit writes nothing."""
    return {s: (run_dir / s / "part-00000.stats.json").stat().st_mtime_ns for s in PIPELINE}


def test_module_closure_is_found_from_the_code() -> None:
    testgen = modgraph.closure([stage_class("testgen").__module__])
    assert DEEP in testgen
    for upstream in ("ingest", "reformat", "dedup", "summarize"):
        assert DEEP not in modgraph.closure([stage_class(upstream).__module__]), upstream


def test_editing_a_deep_module_reruns_its_stage_and_downstream_only(tmp_path: Path) -> None:
    package = tmp_path / "site"
    # The installed layout with real files (the link tree's targets), editable without harm.
    shutil.copytree(Path(codemint.__file__).parent, package / "codemint", symlinks=False)
    deep_file = package / "codemint" / "offline" / "inputs.py"
    source = deep_file.read_text()
    if "def doctest_inputs(" not in source:
        pytest.fail(f"{DEEP} no longer defines doctest_inputs: plant the edit elsewhere")
    project = tmp_path / "project"
    project.mkdir()
    (project / "numbers.py").write_text(PROJECT)
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(package), "PREFECT_API_URL": str(PREFECT_API_URL.value())}

    def run() -> None:
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(runs), str(project)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-3000:]

    run()
    first = stage_stamps(runs / "edit")
    run()
    assert stage_stamps(runs / "edit") == first  # same code: every stage a cache hit
    deep_file.write_text(source + PLANTED)
    run()
    again = stage_stamps(runs / "edit")
    rerun = [s for s in PIPELINE if again[s] != first[s]]
    assert rerun[0] == "testgen"
    assert {"testgen", "execute", "verify"} <= set(rerun)
    assert all(PIPELINE.index(s) >= PIPELINE.index("testgen") for s in rerun)
