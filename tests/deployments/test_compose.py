"""The Prefect server on PostgreSQL that deployments/compose.yaml describes, started for real:
Debian's PostgreSQL as a throwaway loopback cluster with the compose file's database, user and
password, a Prefect server on it, deployments/prefect.yaml deployed, a process worker running
a deployment with a planted shard failure, and `codemint rerun` through the same server redoing
only that shard."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import prefect
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings
from vllm_server import free_port

from codemint.flows.inspection import final_rows

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPOSE = REPO / "deployments" / "compose.yaml"
PREFECT_YAML = REPO / "deployments" / "prefect.yaml"
RUN_ID = "on-postgres"


@dataclass(frozen=True)
class ComposePostgres:
    """What compose.yaml says about the database: image, database, user, and the server's URL."""

    image: str
    database: str
    user: str
    password: str
    connection_url: str
    prefect_image: str


def compose_postgres() -> ComposePostgres:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    env = services["postgres"]["environment"]
    return ComposePostgres(
        image=services["postgres"]["image"],
        database=env["POSTGRES_DB"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connection_url=services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"],
        prefect_image=services["prefect-server"]["image"],
    )


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's bin directory (deployments/postgresql.sh installs one)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parents[1].name))
    assert found, "no /usr/lib/postgresql/*/bin/initdb: run `make postgresql` (deployments/postgresql.sh)"
    return found[-1].parent


def run(cmd: list[Any], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Cluster:
    url: str  # the form compose.yaml uses, on this cluster's loopback port
    socket_dir: Path
    port: int
    database: str

    def query(self, sql: str) -> list[str]:
        """Rows of `sql` run as the superuser over the cluster's socket, one line each."""
        out = run(
            [
                postgres_bin() / "psql",
                "-h",
                self.socket_dir,
                "-p",
                self.port,
                "-U",
                "postgres",
                "-d",
                self.database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ]
        )
        return out.splitlines()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster in a temp dir, on loopback only, not the system service."""
    compose = compose_postgres()
    bin_dir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="codemint-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: the cluster belongs to `postgres`
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    try:
        run(
            [
                *as_owner,
                bin_dir / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        # -F: no fsync, the cluster is thrown away; the socket stays in the temp dir.
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -F"
        run(
            [
                *as_owner,
                bin_dir / "pg_ctl",
                "-D",
                data,
                "-l",
                root / "server.log",
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "start",
            ]
        )
        run(
            [
                bin_dir / "psql",
                "-h",
                root,
                "-p",
                port,
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f"CREATE ROLE {compose.user} LOGIN PASSWORD '{compose.password}'",
                "-c",
                f"CREATE DATABASE {compose.database} OWNER {compose.user}",
            ]
        )
        url = compose.connection_url.replace("@postgres:5432/", f"@127.0.0.1:{port}/")
        yield Cluster(url=url, socket_dir=root, port=port, database=compose.database)
    finally:
        if (data / "postmaster.pid").exists():  # also after a start that timed out
            stop = [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
            subprocess.run(stop, capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Server:
    api_url: str
    client_env: dict[str, str]  # for CLI clients: the API URL and a home of their own

    def cli(self, *args: str, timeout: float = 300) -> str:
        return run([BIN / "prefect", *args], env=self.client_env, timeout=timeout)


@pytest.fixture(scope="module")
def server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` with its database on the cluster, as compose.yaml runs it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env = {
        **base,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": cluster.url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"prefect server exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"prefect server not up in 120 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield Server(api_url, {**base, "PREFECT_HOME": str(home), "PREFECT_API_URL": api_url})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Deployed:
    runs_dir: Path
    flow_run_id: UUID  # the run `prefect deployment run` created (the schedule adds others)


@pytest.fixture(scope="module")
def failed_run(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """A `nightly` run through a process worker, execute shard 1 made to fail (via `config`)."""
    root = tmp_path_factory.mktemp("deployed")
    config = root / "fail.toml"
    config.write_text('fail_shards = ["execute:1"]\n')
    nightly = next(
        d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"] if d["name"] == "nightly"
    )
    pool = nightly["work_pool"]["name"]
    server.cli("work-pool", "create", pool, "--type", "process", "--overwrite")
    server.cli(
        "--no-prompt", "deploy", "--prefect-file", str(PREFECT_YAML.relative_to(REPO)), "--name", "nightly"
    )
    params = {
        "packages": ["colorsys", "bisect"],
        "output": str(root / "runs"),
        "shards": 2,
        "run_id": RUN_ID,
        "config": str(config),
    }
    out = server.cli("deployment", "run", "codemint-scheduled/nightly", "--params", json.dumps(params))
    found = re.search(r"/runs/flow-run/([0-9a-f-]{36})", out)
    assert found, out
    server.cli("worker", "start", "--pool", pool, "--run-once", timeout=600)
    return Deployed(root / "runs", UUID(found.group(1)))


async def _flow_run(api_url: str, flow_run_id: UUID) -> Any:
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            return await client.read_flow_run(flow_run_id)


async def _flow_runs(api_url: str, flow_name: str) -> list[Any]:
    """The flow's runs on the server, newest first."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                sort=FlowRunSort.START_TIME_DESC,
            )


async def _task_states(api_url: str, flow_run_id: Any) -> dict[str, str]:
    """Final task-run states; the server records them from events, so wait until it has."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            for _ in range(150):
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                )
                if runs and all(r.state and r.state.is_final() for r in runs):
                    break
                await asyncio.sleep(0.2)
    return {r.name: r.state.name if r.state else "?" for r in runs}


def test_compose_postgres_settings_are_the_tested_ones() -> None:
    compose = compose_postgres()
    assert compose.image == f"postgres:{postgres_bin().parent.name}"  # Debian's major version
    assert compose.connection_url == (
        f"postgresql+asyncpg://{compose.user}:{compose.password}@postgres:5432/{compose.database}"
    )
    minor = ".".join(prefect.__version__.split(".")[:2])
    assert compose.prefect_image.startswith(f"prefecthq/prefect:{minor}."), compose.prefect_image


def test_deployment_runs_through_a_worker_and_names_the_failed_shard(
    cluster: Cluster, server: Server, failed_run: Deployed
) -> None:
    outer = asyncio.run(_flow_run(server.api_url, failed_run.flow_run_id))
    (inner,) = asyncio.run(_flow_runs(server.api_url, "codemint-pipeline"))
    assert outer.deployment_id is not None and outer.state.is_failed()
    assert inner.parent_task_run_id is not None and "execute shard 1" in (inner.state.message or "")
    run_dir = failed_run.runs_dir / RUN_ID
    report = json.loads((run_dir / "run.json").read_text())
    assert [(f["stage"], f["shard"]) for f in report["summary"]["failures"]] == [("execute", 1)]
    assert (run_dir / "verify" / "part-00000.parquet").exists()  # the other shard went on
    assert not (run_dir / "verify" / "part-00001.parquet").exists()
    # The server's state is in PostgreSQL, not in a SQLite file beside it.
    assert cluster.query("SELECT name FROM deployment") == ["nightly"]
    states = cluster.query(
        "SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id"
        " WHERE r.state_type <> 'SCHEDULED' ORDER BY f.name"
    )
    assert states == ["codemint-pipeline|FAILED", "codemint-scheduled|FAILED"]
    # Its migrations created the trigram extension as the database's owner, not a superuser.
    assert "pg_trgm" in cluster.query("SELECT extname FROM pg_extension")
    assert not list(Path(server.client_env["PREFECT_HOME"]).glob("*.db"))


def test_codemint_rerun_through_the_server_redoes_only_the_failed_shard(
    cluster: Cluster, server: Server, failed_run: Deployed
) -> None:
    done = subprocess.run(
        [str(BIN / "codemint"), "rerun", RUN_ID, "--runs-dir", str(failed_run.runs_dir)],
        cwd=REPO,
        env=server.client_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (rerun,) = asyncio.run(_flow_runs(server.api_url, "codemint-rerun"))
    assert rerun.state.is_completed()
    latest = asyncio.run(_flow_runs(server.api_url, "codemint-pipeline"))[0]
    assert latest.state.is_completed() and latest.parent_task_run_id is not None
    states = asyncio.run(_task_states(server.api_url, latest.id))
    # Only shard 1 from the failed stage on, up to the cross-shard near-dedup; it and the steps
    # after it (select, derive, export) see new rows and are redone, as they must be.
    per_shard = (
        *("ingest", "reformat", "dedup", "summarize", "testgen"),
        *("execute", "verify", "adequacy", "decontaminate"),
    )
    redone = sorted(n for n, st in states.items() if st != "Cached" and n.startswith(per_shard))
    assert redone == [f"{s}-shard-00001" for s in ("adequacy", "decontaminate", "execute", "verify")], states
    run_dir = failed_run.runs_dir / RUN_ID
    assert json.loads((run_dir / "run.json").read_text())["summary"]["failures"] == []
    names = {r["entry_point"] for r in final_rows(run_dir)}
    # bisect_left/right are near-duplicates: either may represent them, by its tests
    assert "insort_right" in names and names & {"bisect_left", "bisect_right"}
    assert "table" in cluster.query(f"SELECT type FROM artifact WHERE key = '{RUN_ID}-funnel'")
    assert "codemint-rerun|COMPLETED" in cluster.query(
        "SELECT f.name || '|' || r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id"
    )
