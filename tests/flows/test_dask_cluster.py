"""Dask as a real cluster: `dask scheduler` and two `dask worker`s as separate processes, each
worker in a working directory of its own (its own sandbox pool, as every process has), sharing
only the run store with the flow. One worker is SIGKILLed while it runs an execute shard; the
run still finishes, the lost shard re-runs on the other worker, and the dataset is a local
run's, nothing in it twice."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow.parquet as pq
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.exceptions import ObjectNotFound

from codemint.cli import dask_runner
from codemint.flows.inspection import final_rows
from codemint.flows.pipeline import pipeline, stages_until
from codemint.settings import PipelineSettings

pytestmark = pytest.mark.usefixtures("prefect_server")

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120.0  # a process start on a loaded 2-core machine (imports, first connection)


@dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen[bytes]]  # by worker name; each leads its process group
    logs: dict[str, Path]
    killed: list[dict[str, Any]] = field(default_factory=list)  # what the watcher found and killed
    watch_error: BaseException | None = None

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {name}:\n{path.read_text(errors='replace')[-3000:]}" for name, path in self.logs.items()
        )


def _spawn(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    from prefect.settings import PREFECT_API_URL

    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        # A session of its own: the process and its children (a worker's nanny and worker
        # process, their `docker` clients) are one process group, killed as one.
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # lets a worker close its sandbox pool
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    from distributed import Client

    procs: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Path] = {}
    try:
        home = tmp_path / "scheduler"
        scheduler_file = home / "scheduler.json"
        logs["scheduler"] = tmp_path / "scheduler.log"
        procs.append(
            _spawn(
                [
                    str(BIN / "dask"),
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",  # a free port, which the scheduler file tells
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                home,
                logs["scheduler"],
            )
        )
        workers: dict[str, subprocess.Popen[bytes]] = {}
        for name in ("worker-a", "worker-b"):
            home = tmp_path / name
            logs[name] = tmp_path / f"{name}.log"
            workers[name] = _spawn(
                [
                    str(BIN / "dask"),
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--name",
                    name,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(home),
                    "--death-timeout",
                    str(int(START_TIMEOUT_S)),  # gone with the scheduler, were cleanup to miss it
                ],
                home,
                logs[name],
            )
            procs.append(workers[name])
        cluster = Cluster(address="", workers=workers, logs=logs)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not cluster.address:  # the worker processes wait for the file the same way
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):  # not (all) written yet
                cluster.address = json.loads(scheduler_file.read_text())["address"]
                break
            assert procs[0].poll() is None and time.monotonic() < deadline, cluster.log_tails()
            time.sleep(0.2)
        with Client(cluster.address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield cluster
    finally:
        for proc in reversed(procs):
            _stop(proc)
        from codemint.sandbox.docker_backend import engine_problem, remove_stale_containers

        if engine_problem(PipelineSettings().sandbox.image) is None:
            remove_stale_containers()  # the killed worker's sandbox containers: their owner is gone


def kill_a_worker_in_execute(cluster: Cluster, run_dir: Path, done: threading.Event) -> None:
    """Watch what the workers run; once an execute shard is running (Prefect has it Running),
    SIGKILL the process group of the worker running it, and note which worker and task run."""
    from distributed import Client

    try:
        with Client(cluster.address, timeout=START_TIMEOUT_S) as client, get_client(sync_client=True) as api:
            _watch(client, api, cluster, run_dir, done)
    except BaseException as exc:  # the test reports it: a thread's exception would go unseen
        cluster.watch_error = exc


def _watch(client: Any, api: Any, cluster: Cluster, run_dir: Path, done: threading.Event) -> None:
    def executing(dask_worker: Any) -> list[tuple[str, str]]:
        """(key, Prefect task run id) of each task the worker runs now; prefect-dask passes
        the id. (Nested: pickled by value, as the workers cannot import this module.)"""
        found = []
        for ts in dask_worker.state.executing:
            run_id = getattr(ts.run_spec, "kwargs", {}).get("task_run_id")
            found.append((str(ts.key), str(getattr(run_id, "value", run_id))))
        return found

    names = {addr: info["name"] for addr, info in client.scheduler_info(n_workers=-1)["workers"].items()}
    pids = client.run(os.getpid)  # the worker processes (their nannies lead the process groups)
    before = run_dir / stages_until("execute")[-2]  # the stage whose shards execute takes
    while not done.wait(0.25):  # a poll interval, not a synchronisation: the flow runs on regardless
        if not any(before.glob("part-*.stats.json")):
            continue  # no execute shard can run yet: spare the cluster the questions
        for addr, running in client.run(executing).items():
            for run_id in (run_id for key, run_id in running if key.startswith("execute_shard-")):
                with contextlib.suppress(ObjectNotFound):  # not reported to the server yet
                    task_run = api.read_task_run(UUID(run_id))
                    if task_run.state_name != "Running":
                        continue
                    name = names[addr]
                    os.killpg(cluster.workers[name].pid, signal.SIGKILL)
                    cluster.workers[name].wait(timeout=60)
                    shard = int(task_run.name.rsplit("-", 1)[1])
                    stats = run_dir / "execute" / f"part-{shard:05d}.stats.json"
                    cluster.killed.append(
                        {
                            "worker": name,
                            "pid": pids[addr],
                            "task_run": task_run.name,
                            "finished_before": stats.exists(),  # the shard's last write
                        }
                    )
                    return


async def _task_runs_with_states(flow_run_id: Any) -> dict[str, list[str]]:
    """Each task run's name and its states in order, as the Prefect server recorded them."""
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        assert len({r.name for r in runs}) == len(runs), Counter(r.name for r in runs)  # one run per task
        histories = {}
        for run in runs:
            states = await client.read_task_run_states(run.id)
            histories[run.name] = [str(s.name) for s in sorted(states, key=lambda s: s.timestamp)]
        return histories


def _stage_files(run_dir: Path) -> dict[str, list[str]]:
    return {stage: sorted(p.name for p in (run_dir / stage).glob("part-*")) for stage in stages_until(None)}


def _ids_by_shard(run_dir: Path, stage: str) -> dict[str, list[str]]:
    return {
        p.name: sorted(pq.read_table(p, columns=["id"]).column("id").to_pylist())
        for p in sorted((run_dir / stage).glob("part-*[0-9].parquet"))
    }


def _dataset(run_dir: Path) -> dict[str, list[str]]:
    """Every exported Parquet file's row ids, sorted, duplicates kept (the RL config carries
    its row's id in `extra_info`)."""
    found = {}
    for path in sorted((run_dir / "dataset").rglob("*.parquet")):
        table = pq.read_table(path)
        if "id" in table.column_names:
            ids = table.column("id").to_pylist()
        else:
            ids = [info["id"] for info in table.column("extra_info").to_pylist()]
        found[str(path.relative_to(run_dir))] = sorted(ids)
    return found


def test_a_worker_killed_during_execute_loses_nothing_and_duplicates_nothing(
    small_run: Path, tmp_path: Path, cluster: Cluster
) -> None:
    # The local run to compare with: the session's (tests/conftest.py), same request and settings.
    on_local = small_run
    report = json.loads((on_local / "run.json").read_text())
    local = PipelineSettings.model_validate(report["settings"])
    packages = report["request"]["packages"]
    on_dask_dir = tmp_path / "dask" / on_local.name

    done = threading.Event()
    watch = functools.partial(kill_a_worker_in_execute, cluster, on_dask_dir, done)
    # In a copy of this context: the Prefect settings (the test server's API) are context variables.
    watcher = threading.Thread(target=contextvars.copy_context().run, args=(watch,), daemon=True)
    watcher.start()
    try:
        on_dask = pipeline.with_options(task_runner=dask_runner(cluster.address))  # as `--dask-address`
        state = on_dask(
            packages=packages,
            run_id=on_local.name,
            settings=local.model_copy(update={"runs_dir": on_dask_dir.parent}),
            return_state=True,
        )
    finally:
        done.set()
        watcher.join(timeout=60)
    assert cluster.watch_error is None, repr(cluster.watch_error)
    assert cluster.killed, "no worker was seen running an execute shard\n" + cluster.log_tails()
    assert state.is_completed(), f"{state.message}\n{cluster.log_tails()}"

    def rows(run_dir: Path) -> list[tuple[str, str, str]]:
        return sorted(
            (r["id"], r["candidate_code"], json.dumps(r["test_cases"])) for r in final_rows(run_dir)
        )

    assert rows(on_dask_dir) == rows(on_local)

    # One kept, rejected and stats file per shard in every stage, each shard's rows once.
    assert _stage_files(on_dask_dir) == _stage_files(on_local)
    for stage in stages_until(None):
        assert _ids_by_shard(on_dask_dir, stage) == _ids_by_shard(on_local, stage), stage
    export = _dataset(on_dask_dir)
    assert export == _dataset(on_local)
    assert all(len(set(ids)) == len(ids) for ids in export.values()), "an id exported twice"
    assert json.loads((on_dask_dir / "dataset" / "manifest.json").read_text())["duplicate_ids"] == 0

    # The execute shard lost with the worker ran again, on the other worker; no task that
    # had completed ran a second time: Dask recomputes a result lost with the worker, which is
    # a cache hit (Cached), never a second Completed.
    histories = asyncio.run(_task_runs_with_states(state.state_details.flow_run_id))
    for name, states in histories.items():
        assert states[-1] in ("Completed", "Cached") and states.count("Completed") <= 1, (name, states)
    killed = cluster.killed[0]
    lost = killed["task_run"]
    assert lost.startswith("execute-shard-") and not killed["finished_before"], killed
    # Running twice (on the killed worker, then on the other), completed once.
    assert histories[lost].count("Running") == 2 and histories[lost][-1] == "Completed", histories[lost]
    shard = int(lost.rsplit("-", 1)[1])
    stats = json.loads((on_dask_dir / "execute" / f"part-{shard:05d}.stats.json").read_text())
    assert not stats["worker"].endswith(f":{killed['pid']}"), (stats["worker"], killed)
