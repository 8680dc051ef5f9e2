"""The `codemint` command line: run the pipeline, inspect a run directory."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from codemint.store import RunPath

RUNS_DIR_HELP = (
    "Where run directories live: a local path, or an fsspec URL (s3://bucket/runs, gs://..., file://...)."
)

# Stage loggers (quarantine messages) should reach the Prefect UI next to the task runs.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "codemint")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The ephemeral server's event recorder is cut off at exit; its tracebacks are noise there.
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")
# Sandbox pool shutdown logs at exit, outside any flow run: keep them local.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


class Program(typer.Typer):
    """The command line, ending its process without the interpreter's teardown when it runs
    as the program (`codemint ...`, `python -m codemint ...`): freeing Prefect's, pydantic's
    and pyarrow's objects one by one at exit costs a cached re-run ~0.5 s of CPU for nothing.
    Called with arguments (from code), it behaves as any Typer app."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        try:
            super().__call__()
        except SystemExit as exc:
            exit_now(exc.code)
        exit_now(0)


def exit_now(code: object) -> NoReturn:
    """Exit with `code` as SystemExit would, after what an exit must still do: join the
    threads that are not daemons and run the exit hooks (Prefect drains its log and event
    workers there), flush stdout and stderr; then skip the interpreter's teardown."""
    import atexit
    import threading

    status = code if isinstance(code, int) else 0 if code is None else 1
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter runs first at exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`)
            stream.flush()
    os._exit(status)


app = Program(
    help="Turn real code into verified instruction-tuning data (reformat, summarize, test, execute, verify).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=False)
err = Console(stderr=True)


@contextmanager
def flow_settings(heartbeats: bool) -> Iterator[None]:
    """Prefect settings for flows the CLI runs in-process.

    Flow-run heartbeats let a server mark a vanished run as crashed; that matters for runs
    a worker launches (deployments keep them), not for a run whose process the user
    watches. Each heartbeat thread also costs ~1 s per flow run at exit (it sleeps in 1 s
    steps), which would dominate a re-run that is all cache hits.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if heartbeats:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def use_local_server() -> str | None:
    """With no API URL set, a Prefect server already up on this machine (`make prefect-server`)
    takes the run: no temporary server to start (seconds, most of a cached re-run), and the
    run shows in that server's UI. Returns its URL, or None (Prefect starts a temporary one)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_API_PORT

    if PREFECT_API_URL.value():
        return None
    url = f"http://127.0.0.1:{PREFECT_SERVER_API_PORT.value()}/api"
    try:
        import httpx

        healthy = httpx.get(f"{url}/health", timeout=0.5).json() is True
    except Exception:  # nothing listening, or something that is not Prefect
        return None
    if not healthy:
        return None
    os.environ["PREFECT_API_URL"] = url
    return url


@contextmanager
def terminal_progress() -> Iterator[None]:
    """Rich progress bars per stage on a terminal; nothing when output is not a terminal."""
    from codemint.flows.reporting import progress_sink

    if not console.is_terminal:
        yield
        return
    bars = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shards"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    ids: dict[str, TaskID] = {}

    class Sink:
        def start(self, stage: str, total: int) -> None:
            ids[stage] = bars.add_task(stage, total=total)

        def advance(self, stage: str) -> None:
            bars.advance(ids[stage])

    with bars, progress_sink(Sink()):
        yield


def funnel_table(funnel: list[dict[str, Any]], title: str = "funnel") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("stage")
    table.add_column("in", justify="right")
    table.add_column("kept", justify="right")
    table.add_column("dropped / quarantined, by reason")
    table.add_column("seconds", justify="right")
    table.add_column("ms/row", justify="right")
    for row in funnel:
        reasons = ", ".join(f"{reason} {n}" for reason, n in row["dropped"].items()) or "-"
        per_row = row.get("seconds_per_row")
        table.add_row(
            row["stage"],
            str(row["rows_in"]),
            str(row["rows_kept"]),
            reasons,
            f"{row['seconds']:.1f}",
            "-" if per_row is None else f"{1000 * per_row:.0f}",
        )
    return table


def yield_table(yields: list[dict[str, Any]], limit: int = 20) -> Table:
    """Yield per source (from run.json's `yield_by_source`), best sources first."""
    table = Table(title="yield per source")
    for col in ("source", "definitions", "samples", "final rows", "yield", "by kind"):
        table.add_column(col, justify="left" if col in ("source", "by kind") else "right")
    for y in yields[:limit]:
        kinds = ", ".join(f"{k} {n}" for k, n in y["by_kind"].items()) or "-"
        table.add_row(
            y["source"],
            str(y["definitions"]),
            str(y["samples"]),
            str(y["final_rows"]),
            f"{y['yield_pct']:.1f}%",
            kinds,
        )
    if len(yields) > limit:
        rest = yields[limit:]
        table.add_row(
            f"... {len(rest)} more",
            str(sum(y["definitions"] for y in rest)),
            str(sum(y["samples"] for y in rest)),
            str(sum(y["final_rows"] for y in rest)),
            "",
            "",
        )
    return table


def resolve_run_dir(run: str, runs_dir: str | Path) -> RunPath:
    from codemint.store import location

    path = location(run)
    if (path / "run.json").exists():
        return path
    if (location(runs_dir) / run / "run.json").exists():
        return location(runs_dir) / run
    raise typer.BadParameter(f"{run}: no run.json here or under {runs_dir}/ (is this a run directory?)")


@app.command()
def run(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="JSONL/Parquet files, .py files, directories or git checkouts.")
    ] = None,
    from_package: Annotated[
        list[str] | None,
        typer.Option(
            "--from-package", "-p", help="An installed package or stdlib module by name (repeatable)."
        ),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Run directory name (default: derived from the inputs).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file (see README).")] = None,
    runs_dir: Annotated[str | None, typer.Option(help=RUNS_DIR_HELP)] = None,
    shards: Annotated[int | None, typer.Option(help="Number of shards (task runs per stage).")] = None,
    sandbox: Annotated[str | None, typer.Option(help="Sandbox backend: docker, local or auto.")] = None,
    code_column: Annotated[
        str | None, typer.Option(help="Column holding code in JSONL/Parquet inputs.")
    ] = None,
    dask_address: Annotated[
        str | None, typer.Option(help="Run shard tasks on this Dask scheduler (tcp://host:8786).")
    ] = None,
    heartbeats: Annotated[
        bool, typer.Option(help="Send flow-run heartbeats (crash detection by the server).")
    ] = False,
    llm: Annotated[
        bool,
        typer.Option("--llm", help="All LLM strategies on (summaries, inputs, regenerated code, judge)."),
    ] = False,
    llm_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://gpu:8000/v1.")
    ] = None,
    llm_model: Annotated[str | None, typer.Option(help="Model name the server serves.")] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Run the first stages only, up to and including this one (e.g. dedup)."),
    ] = None,
    retry_llm_failures: Annotated[
        bool,
        typer.Option(
            "--retry-llm-failures",
            help="Re-send LLM requests whose cached answer failed (unusable reply, HTTP 400); "
            "by default a re-run replays them without a request.",
        ),
    ] = False,
) -> None:
    """Run the pipeline. With no inputs it runs on a bundled default: a set of stdlib modules."""
    from codemint.flows.pipeline import default_run_id, pipeline, stages_until
    from codemint.settings import DEFAULT_STDLIB_MODULES, PipelineSettings

    try:
        stages_until(until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    packages = list(from_package or [])
    paths = list(inputs or [])
    if not packages and not paths:
        packages = list(DEFAULT_STDLIB_MODULES)
        console.print(
            f"no inputs given: running on the bundled default, stdlib modules {', '.join(packages)}"
        )
    overrides: dict[str, Any] = {"runs_dir": runs_dir, "shards": shards}
    try:
        settings = PipelineSettings.load(config, **overrides)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")  # the message names [sections]
        raise typer.Exit(2) from exc
    if sandbox:
        settings.sandbox.backend = sandbox  # type: ignore[assignment]
    if code_column:
        settings.ingest.code_column = code_column
    if llm:
        settings.enable_llm()
    if llm_url:
        settings.llm.base_url = llm_url
    if llm_model:
        settings.llm.model = llm_model
    if retry_llm_failures:
        settings.llm.retry_failures = True
    run_id = run_id or default_run_id(paths, packages)
    if url := use_local_server():
        console.print(f"reporting to the Prefect server at {url}")
    flow_fn = pipeline if not dask_address else pipeline.with_options(task_runner=dask_runner(dask_address))
    with flow_settings(heartbeats), terminal_progress():
        state = flow_fn(
            inputs=paths, packages=packages, run_id=run_id, settings=settings, until=until, return_state=True
        )
    from codemint.store import location

    finish(state, location(settings.runs_dir) / run_id, run_id)


def dask_runner(address: str) -> Any:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise typer.BadParameter("--dask-address needs prefect-dask: pip install prefect-dask") from exc
    return DaskTaskRunner(address=address)


def finish(state: Any, run_dir: RunPath, run_id: str) -> None:
    """Print the funnel of a finished flow run; exit non-zero when shards failed."""
    from codemint.flows.pipeline import ShardsFailed
    from codemint.llm.health import ServerCheckError
    from codemint.tasks.ingest.stage import InputError

    if state.is_failed():
        try:
            state.result()
        except ShardsFailed:
            pass  # the run report names the failed shards; printed below
        except (InputError, ServerCheckError) as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        except Exception as exc:
            err.print(f"[red]run failed:[/] {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from exc
    report_file = run_dir / "run.json"
    if not report_file.exists():
        raise typer.Exit(1)
    report = json.loads(report_file.read_text())
    summary = report["summary"]
    console.print(funnel_table(summary["funnel"], title=f"run {run_id} ({summary['seconds']:.1f} s)"))
    if report.get("yield_by_source") and not summary.get("until"):  # final rows need every stage
        console.print(yield_table(report["yield_by_source"], limit=10))
    if summary.get("until"):
        console.print(f"stopped after stage {summary['until']} (--until): no dataset exported")
    console.print(f"run directory: {run_dir}")
    manifest_file = run_dir / "dataset" / "manifest.json"
    if not summary["failures"] and manifest_file.exists():
        manifest = json.loads(manifest_file.read_text())
        per_task = ", ".join(f"{t} {sum(c.values())}" for t, c in manifest.get("exercises", {}).items())
        rl = sum(manifest.get("rl", {}).values())
        console.print(f"dataset: {run_dir / 'dataset'} (rows per task: {per_task}; rl {rl})")
    if summary["failures"]:
        for f in summary["failures"]:
            err.print(f"[red]failed:[/] {f['stage']} shard {f['shard']}: {f['error']}")
        err.print(f"`codemint rerun {run_id}` (or the same command again) redoes only the failed shards")
        raise typer.Exit(1)


@app.command()
def rerun(
    run: Annotated[str, typer.Argument(help="The run id to re-run (under --runs-dir).")],
    runs_dir: Annotated[str, typer.Option(help=RUNS_DIR_HELP)] = "runs",
    dask_address: Annotated[str | None, typer.Option(help="Run shard tasks on this Dask scheduler.")] = None,
    heartbeats: Annotated[bool, typer.Option(help="Send flow-run heartbeats.")] = False,
) -> None:
    """Re-run only the shards of RUN that failed; everything that finished is a cache hit."""
    from codemint.flows.rerun import rerun as rerun_flow

    run_dir = resolve_run_dir(run, runs_dir)
    if url := use_local_server():
        console.print(f"reporting to the Prefect server at {url}")
    flow_fn = (
        rerun_flow if not dask_address else rerun_flow.with_options(task_runner=dask_runner(dask_address))
    )
    with flow_settings(heartbeats), terminal_progress():
        state = flow_fn(run_id=run_dir.name, runs_dir=str(run_dir.parent), return_state=True)
    finish(state, run_dir, run_dir.name)


@app.command()
def inspect(
    run: Annotated[str, typer.Argument(help="A run id (under --runs-dir) or a run directory.")],
    runs_dir: Annotated[str, typer.Option(help=RUNS_DIR_HELP)] = "runs",
    samples: Annotated[int, typer.Option(help="How many kept rows to show.")] = 2,
    quarantined: Annotated[int, typer.Option(help="How many quarantined rows to list.")] = 20,
    reasons: Annotated[int, typer.Option(help="How many top drop reasons to list.")] = 10,
) -> None:
    """Show a run's funnel, yield per source, top drop reasons (an example each), its
    quarantined inputs and sample output rows."""
    from codemint.flows.inspection import final_row_count, first_final_rows, quarantined_rows
    from codemint.flows.yields import top_drop_reasons

    run_dir = resolve_run_dir(run, runs_dir)
    report = json.loads((run_dir / "run.json").read_text())
    summary = report["summary"]
    console.print(funnel_table(summary["funnel"], title=f"run {summary['run_id']}"))
    if report.get("yield_by_source"):
        console.print(yield_table(report["yield_by_source"]))
    drops = top_drop_reasons(run_dir, limit=reasons)
    if drops:
        console.print("\ntop drop reasons (an example each):")
        for d in drops:
            console.print(f"  {d.count:6d}  {d.stage}:{d.reason}  e.g. {d.example}", markup=False)
    # Read as shown, not the whole run: a run of 100k definitions has GBs of rows.
    n_bad, bad = quarantined_rows(run_dir, quarantined)
    if n_bad:
        console.print(f"\nquarantined rows: {n_bad}")
        for r in bad:
            prov = r.get("provenance") or {}
            where = prov.get("path", "?") + (f", row {prov['row']}" if prov.get("row") else "")
            console.print(f"  {r['stage']}: {where}: {r['drop_reason']}: {r['detail']}", markup=False)
    console.print(f"\nverified samples: {final_row_count(run_dir)}")
    for row in first_final_rows(run_dir, samples):
        console.print_json(
            data={k: row[k] for k in ("id", "entry_point", "instruction", "candidate_code", "pass_fraction")}
            | {"tests": len(row["test_cases"]), "provenance": row["provenance"]}
        )
    if summary["failures"]:
        console.print(f"[red]failed shards:[/] {summary['failures']}")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
