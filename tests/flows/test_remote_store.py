"""`codemint run --runs-dir s3://...` (moto's S3 server on loopback) and `--runs-dir file://...`:
the real CLI and flow through the test Prefect server, each exporting the same dataset as a run
in a local directory, row for row, with every shard file, index, report and persisted task
result in the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3_server

pytestmark = pytest.mark.usefixtures("prefect_server")

MODULE = '''import math


def hypot2(a: float, b: float) -> float:
    """Return the length of the hypotenuse of a right triangle with legs a and b."""
    return math.sqrt(a * a + b * b)


def clamp(value: int, low: int = 0, high: int = 10) -> int:
    """Clamp value into the closed range [low, high]."""
    if value < low:
        return low
    return min(value, high)
'''
RUN_ID = "tiny"
SHARD_STAGES = ("ingest", "reformat", "dedup", "execute", "verify", "select", "derive")
INDEXED = ("dedup", "near_dedup", "select")


def codemint(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own; the workers' local copies of the run go under `cache`."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, **s3_server.environment(), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-m", "codemint", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_args(project: Path, runs_dir: str) -> list[str]:
    return [
        "run",
        str(project),
        "--run-id",
        RUN_ID,
        "--runs-dir",
        runs_dir,
        "--shards",
        "1",
        "--sandbox",
        "local",
    ]


def run_in_process(project: Path, runs_dir: str) -> None:
    """The flow as `codemint run` runs it, in this process (no interpreter start: the local
    runs are the cheap ones; CliRunner cannot run two flows, its streams close under Prefect's
    log handlers)."""
    from codemint.cli import flow_settings
    from codemint.flows.pipeline import pipeline
    from codemint.settings import PipelineSettings

    settings = PipelineSettings(runs_dir=runs_dir, shards=1)
    settings.sandbox.backend = "local"
    with flow_settings(heartbeats=False):
        pipeline(inputs=[str(project)], run_id=RUN_ID, settings=settings)


def dataset(files: dict[str, bytes]) -> dict[str, Any]:
    """A dataset's files by relative path: Parquet as rows, the rest as bytes. The card and
    the manifest's digest of it are left out: the card shows the settings, runs_dir included."""
    out: dict[str, Any] = {}
    for name, data in files.items():
        if name == "README.md":
            continue
        if name.endswith(".parquet"):
            out[name] = pq.read_table(pa.BufferReader(data)).to_pylist()
        elif name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"].pop("README.md")
            out[name] = manifest
        else:
            out[name] = data
    return out


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs") / "project"
    root.mkdir()
    (root / "geometry.py").write_text(MODULE)
    return root


def run_files(paths: Any) -> set[str]:
    """What a run wrote, by path in its run directory; the result records are named by cache
    keys, which cover the run directory, so they are left out, and so is the record of a local
    run's source plan (`sources/.plan.json`: a re-run trusts it while the files' sizes and
    times are unchanged, which a remote run directory does not record)."""
    return {p for p in paths if not p.startswith(".prefect-results/") and p != "sources/.plan.json"}


@pytest.fixture(scope="module")
def local_run(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same run in a local directory."""
    runs = tmp_path_factory.mktemp("local-runs")
    run_in_process(project, str(runs))
    found = dataset(local_files(runs / RUN_ID / "dataset"))
    assert found["messages/train.parquet"] or found["messages/validation.parquet"]
    return runs / RUN_ID


def test_a_run_on_s3_writes_everything_to_the_bucket_and_exports_the_local_dataset(
    project: Path, local_run: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    # Its own process, as a worker runs.
    done = codemint(*run_args(project, f"s3://{bucket}/runs"), cache=tmp_path / "cache")
    assert f"run directory: s3://{bucket}/runs/{RUN_ID}" in done.stdout
    fs = s3_server.filesystem()
    run = f"{bucket}/runs/{RUN_ID}"
    stored = {p.removeprefix(run + "/") for p in fs.find(run)}

    for stage in SHARD_STAGES:
        for suffix in (".parquet", ".rejected.parquet", ".stats.json"):
            assert f"{stage}/part-00000{suffix}" in stored, stage
        stats = json.loads(fs.cat(f"{run}/{stage}/part-00000.stats.json"))
        assert stats["kept_path"] == f"s3://{run}/{stage}/part-00000.parquet"  # not the worker's copy
    assert {f"{stage}/index.parquet" for stage in INDEXED} <= stored
    assert {"sources/part-00000.parquet", "run.json", "dataset/manifest.json"} <= stored
    results = {p.split("/")[1].rsplit("-", 1)[0] for p in stored if p.startswith(".prefect-results/")}
    assert {"ingest-00000", "dedup-index", "select-00000", "export"} <= results
    # Every file the local run wrote, and nothing else (no temporary, no worker's copy).
    assert run_files(stored) == run_files(local_files(local_run))

    files = {p.removeprefix(f"{run}/dataset/"): fs.cat(p) for p in fs.find(f"{run}/dataset")}
    assert dataset(files) == dataset(local_files(local_run / "dataset"))
    report = json.loads(fs.cat(f"{run}/run.json"))
    assert report["summary"]["dataset_dir"] == f"s3://{run}/dataset" and not report["summary"]["failures"]

    # A re-run (in this process: cheaper) finds every task's result in the bucket and rewrites
    # nothing but the report.
    from codemint.cli import flow_settings
    from codemint.flows.rerun import rerun

    written = {p: fs.info(p)["LastModified"] for p in fs.find(run)}
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with flow_settings(heartbeats=False):
        summary = rerun(run_id=RUN_ID, runs_dir=f"s3://{bucket}/runs")
    assert summary.dataset_dir == f"s3://{run}/dataset"
    fs = s3_server.filesystem()
    changed = {p for p in fs.find(run) if written.get(p) != fs.info(p)["LastModified"]}
    assert changed == {f"{run}/run.json"}
    # The workers' local copy holds no shard file once the task has uploaded it (the cache of
    # what codemint's modules import, codemint/modgraph.py, is no run's).
    left = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.startswith("imports-py")]
    assert not left


def test_a_run_under_a_file_url_is_a_run_in_that_local_directory(
    project: Path, local_run: Path, tmp_path: Path
) -> None:
    run_in_process(project, f"file://{tmp_path}/runs")
    run = tmp_path / "runs" / RUN_ID
    for stage in SHARD_STAGES:
        assert (run / stage / "part-00000.stats.json").exists()
    assert (run / ".prefect-results").is_dir() and (run / "run.json").exists()
    assert run_files(local_files(run)) == run_files(local_files(local_run))
    assert dataset(local_files(run / "dataset")) == dataset(local_files(local_run / "dataset"))
