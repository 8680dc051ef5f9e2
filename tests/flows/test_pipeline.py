"""The whole flow on real code, through Prefect and the sandbox: output, funnel, bad inputs,
re-runs that are all cache hits, and a run killed midway that loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from codemint.cli import flow_settings
from codemint.flows.inspection import final_rows, rejected_rows
from codemint.flows.pipeline import RunSummary, pipeline
from codemint.settings import PipelineSettings

pytestmark = pytest.mark.usefixtures("prefect_server")

PACKAGES = [
    "textwrap",
    "colorsys",
    "bisect",
    "fnmatch",
    "html",
    "base64",
    "shlex",
    "heapq",
    "string",
    "ntpath",
]


def make_project(root: Path) -> Path:
    """A small checkout with one good module and each kind of bad input."""
    root.mkdir(parents=True)
    (root / "geometry.py").write_text(
        "import math\n\n"
        "def hypot2(a: float, b: float) -> float:\n"
        '    """Return the length of the hypotenuse of a right triangle with legs a and b."""\n'
        "    return math.sqrt(a * a + b * b)\n\n"
        "def clamp(value: int, low: int = 0, high: int = 10) -> int:\n"
        '    """Clamp value into the closed range [low, high]."""\n'
        "    if value < low: return low\n"
        "    return min(value, high)\n"
    )
    (root / "broken.py").write_text("def f(x):\n    return (x\n")
    (root / "empty.py").write_text("")
    (root / "latin1.py").write_bytes("def g(s):\n    return 'caf\xe9'\n".encode("latin-1"))
    return root


def make_corrupt_parquet(path: Path) -> Path:
    path.write_bytes(b"PAR1\x00garbage, not a parquet file\x00PAR1")
    return path


def run_flow(settings: PipelineSettings, inputs: list[str], run_id: str) -> tuple[RunSummary, float, Any]:
    """The flow as `codemint run` runs it (in-process, same Prefect settings)."""
    started = time.perf_counter()
    with flow_settings(heartbeats=False):
        state = pipeline(
            inputs=inputs, packages=PACKAGES, run_id=run_id, settings=settings, return_state=True
        )
    seconds = time.perf_counter() - started
    return state.result(), seconds, state.state_details.flow_run_id


async def _task_states(flow_run_id: Any, count: int = 0) -> list[tuple[str, str]]:
    """Final task-run states; the server records them from events, so wait until it has (all
    `count` of them, when the caller knows how many)."""
    async with get_client() as client:
        for _ in range(100):
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if runs and len(runs) >= count and all(r.state and r.state.is_final() for r in runs):
                break
            await asyncio.sleep(0.2)
    return [(r.name, r.state.name if r.state else "?") for r in runs]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("inputs")
    return [str(make_project(root / "project")), str(make_corrupt_parquet(root / "corrupt.parquet"))]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> PipelineSettings:
    return PipelineSettings(runs_dir=tmp_path_factory.mktemp("runs"), shards=3)


@pytest.fixture(scope="module")
def first_run(settings: PipelineSettings, inputs: list[str]) -> tuple[RunSummary, float, Any]:
    return run_flow(settings, inputs, "e2e")


def test_verified_samples_have_instruction_code_entry_point_and_tests(first_run: tuple) -> None:
    summary, _, _ = first_run
    rows = final_rows(Path(summary.run_dir))
    assert len(rows) >= 25
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["instruction"].strip() and row["entry_point"] in row["candidate_code"]
        assert len(row["test_cases"]) >= 3 and row["pass_fraction"] == 1.0
        assert row["provenance"]["source_uri"] and row["provenance"]["line_start"]
    names = {r["entry_point"] for r in rows}
    assert {"dedent", "fnmatch", "hypot2", "clamp"} <= names
    assert names & {"wrap", "fill"} and names & {"bisect_left", "bisect_right"}  # near-dups: one each
    clamp = next(r for r in rows if r["entry_point"] == "clamp")
    assert "if value < low:\n        return low" in clamp["candidate_code"]  # unnested one-liner
    for case in clamp["test_cases"]:  # expected outputs are what the original really returns
        call = json.loads(case["input"])
        value, low, high = [*call["args"], 0, 10][:3] if len(call["args"]) < 3 else call["args"]
        want = low if value < low else min(value, high)
        assert json.loads(case["expected"]) == want, case


def test_funnel_accounts_for_every_row(first_run: tuple) -> None:
    summary, _, _ = first_run
    funnel = {f.stage: f for f in summary.funnel}
    one_row_per_row = ("ingest", "dedup", "summarize", "testgen", "execute", "verify")
    for stage in (*one_row_per_row, "decontaminate", "near_dedup", "judge", "select"):
        f = funnel[stage]
        assert f.rows_in == f.rows_kept + sum(f.dropped.values()), stage
    order = [f.stage for f in summary.funnel]
    for before, after in itertools.pairwise(order):
        assert funnel[after].rows_in == funnel[before].rows_kept
    # Undocumented methods at summarize; functions whose examples say nothing, after execute.
    reason = "dropped:no_instruction_source"
    unspecified = [funnel[s].dropped.get(reason, 0) for s in ("summarize", "execute")]
    assert sum(unspecified) > 0
    # __init__s are carried with their class, not samples of their own
    assert funnel["reformat"].dropped.get("dropped:lifecycle_method", 0) > 0
    report = json.loads((Path(summary.run_dir) / "run.json").read_text())
    assert report["summary"]["funnel"][-1]["rows_kept"] == funnel["select"].rows_kept
    assert funnel["near_dedup"].dropped.get("dropped:near_duplicate", 0) > 0  # bisect_left ~ bisect_right


def test_bad_inputs_are_quarantined_and_the_run_goes_on(first_run: tuple) -> None:
    summary, _, _ = first_run
    bad = {
        (r["provenance"]["path"], r["drop_reason"])
        for r in rejected_rows(Path(summary.run_dir))
        if r["status"] == "quarantined"
    }
    assert {
        ("broken.py", "syntax_error"),
        ("empty.py", "empty"),
        ("latin1.py", "not_utf8"),
        ("corrupt.parquet", "corrupt_parquet"),
    } <= bad


def test_rerun_is_all_cache_hits_and_fast(
    first_run: tuple, settings: PipelineSettings, inputs: list[str]
) -> None:
    summary, first_seconds, first_flow_run = first_run
    run_dir = Path(summary.run_dir)

    def stage_files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in run_dir.glob("*/part-*")}  # sources included

    written = stage_files()
    first_names = sorted(name for name, _ in asyncio.run(_task_states(first_flow_run)))
    again, seconds, flow_run_id = run_flow(settings, inputs, "e2e")
    states = asyncio.run(_task_states(flow_run_id, len(first_names)))
    assert states and [s for s in states if s[1] != "Cached"] == []
    # The UI shows the same task runs as the first run's, each Cached (flows/cache_walk.py
    # records them without running them), and no stage wrote anything.
    assert sorted(name for name, _ in states) == first_names
    assert len(written) > 40 and stage_files() == written
    assert seconds < 0.1 * first_seconds, (seconds, first_seconds)
    assert [f.rows_kept for f in again.funnel] == [f.rows_kept for f in summary.funnel]


def test_until_runs_the_first_stages_only_and_reports_their_funnel(
    settings: PipelineSettings, inputs: list[str]
) -> None:
    from typer.testing import CliRunner

    from codemint.cli import app

    with flow_settings(heartbeats=False):
        summary = pipeline(inputs=inputs, run_id="until", settings=settings, until="dedup")
    assert summary.until == "dedup" and summary.dataset_dir is None
    assert [f.stage for f in summary.funnel] == ["ingest", "reformat", "dedup"]
    run_dir = Path(summary.run_dir)
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) == [
        "dedup", "ingest", "reformat", "sources"
    ]  # fmt: skip
    report = json.loads((run_dir / "run.json").read_text())
    assert report["request"]["until"] == "dedup"  # `codemint rerun` stops there too
    assert summary.funnel[-1].rows_kept == 2  # the project's two functions
    bad = CliRunner().invoke(app, ["run", str(inputs[0]), "--until", "nope"])
    assert bad.exit_code == 2 and "no such stage" in bad.output


def test_changed_setting_reruns_only_affected_stages(
    first_run: tuple, settings: PipelineSettings, inputs: list[str]
) -> None:
    changed = settings.model_copy(deep=True)
    changed.verify.keep_threshold = 0.5
    _, _, flow_run_id = run_flow(changed, inputs, "e2e")
    states = dict(asyncio.run(_task_states(flow_run_id)))
    # The dataset card shows the settings, so the export is redone too.
    redone = {name for name, state in states.items() if state != "Cached"}
    assert redone and all(name.startswith(("verify", "export")) for name in redone), states
    assert any(state == "Completed" for name, state in states.items() if name.startswith("verify")), states
    # A select setting re-runs select alone (and the export, whose card shows it): near-dedup and
    # decontamination keep their cache keys, since each stage's key covers its own settings only.
    # The budget is above the row count, so select keeps the same rows and derive stays cached.
    budget = changed.model_copy(deep=True)
    budget.select.budget = 10_000
    _, _, flow_run_id = run_flow(budget, inputs, "e2e")
    # Every task run of the first run, so the server has recorded the ones that ran too.
    task_runs = len(asyncio.run(_task_states(first_run[2])))
    states = dict(asyncio.run(_task_states(flow_run_id, task_runs)))
    redone = {name for name, state in states.items() if state != "Cached"}
    assert redone and all(name.startswith(("select", "export")) for name in redone), states
    assert any(name.startswith("select") for name in redone), states
    assert any(name.startswith("near_dedup") for name in states), states


def test_killed_run_resumes_without_losing_or_duplicating_rows(small_run: Path, tmp_path: Path) -> None:
    """`codemint run` SIGKILLed once an execute shard is written, then run again: the rows of
    an uninterrupted run of the same request and settings (the session's, tests/conftest.py;
    a smaller corpus than this module's, as the kill and resume need no more)."""
    from prefect.settings import PREFECT_API_URL

    report = json.loads((small_run / "run.json").read_text())
    shards = report["settings"]["shards"]
    runs_dir = tmp_path / "runs"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "CODEMINT_SHARDS": str(shards)}
    cmd = [sys.executable, "-m", "codemint", "run", "--run-id", "killed", "--runs-dir", str(runs_dir)]
    for package in report["request"]["packages"]:
        cmd += ["--from-package", package]
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    marker = runs_dir / "killed" / "execute"
    deadline = time.monotonic() + 300
    while not list(marker.glob("part-*.stats.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (
        not (runs_dir / "killed" / "verify").exists()
        or len(list((runs_dir / "killed" / "verify").glob("*.stats.json"))) < shards
    )

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = final_rows(runs_dir / "killed")
    reference = final_rows(small_run)
    assert len({r["id"] for r in resumed}) == len(resumed)
    assert sorted(r["id"] for r in resumed) == sorted(r["id"] for r in reference)
    assert not list((runs_dir / "killed").rglob("*.tmp"))


def test_cli_help_and_inspect(first_run: tuple) -> None:
    from typer.testing import CliRunner

    from codemint.cli import app

    summary, _, _ = first_run
    runner = CliRunner()
    assert "run" in runner.invoke(app, ["--help"]).output
    result = runner.invoke(app, ["inspect", summary.run_dir])
    assert result.exit_code == 0, result.output
    assert "syntax_error" in result.output and "broken.py" in result.output
    assert f"verified samples: {len(final_rows(Path(summary.run_dir)))}" in result.output


def test_dataset_is_exported_and_loads_with_datasets(first_run: tuple) -> None:
    import datasets

    summary, _, _ = first_run
    out = Path(summary.run_dir) / "dataset"
    manifest = json.loads((out / "manifest.json").read_text())
    rows = final_rows(Path(summary.run_dir))
    train = datasets.load_dataset("parquet", data_files=str(out / "messages" / "train.parquet"))["train"]
    valid = datasets.load_dataset("json", data_files=str(out / "messages" / "validation.jsonl"))["train"]
    # Every final row is exported once: in `generation` (messages/), or held out in `weak`
    # (tests below the adequacy floor) or `examples` (an instruction of example calls only).
    assert len(train) + len(valid) == sum(manifest["exercises"]["generation"].values())
    held = sum(sum(n.values()) for n in manifest["held_out"].values())
    assert len(train) + len(valid) + held == len(rows) == manifest["rows"]
    assert train[0]["messages"][0]["role"] == "user"


def test_open_run_gives_funnel_and_rows_as_dataframes(first_run: tuple) -> None:
    import codemint

    summary, _, _ = first_run
    run = codemint.open_run(summary.run_dir)
    funnel = run.funnel()
    # Every stage that wrote shards, in pipeline order: the summary's funnel, then the stages
    # after it (derive writes exercise rows after select and is not part of the funnel).
    stages = list(funnel["stage"])
    assert stages[: len(summary.funnel)] == [f.stage for f in summary.funnel]
    assert "derive" in stages[len(summary.funnel) :]
    by_stage = funnel.set_index("stage")
    for f in summary.funnel:
        assert by_stage.loc[f.stage, "rows_kept"] == f.rows_kept
        assert by_stage.loc[f.stage, "rows_in"] == f.rows_in
        assert by_stage.loc[f.stage, "rows_dropped"] == sum(f.dropped.values())
    verified = run.kept("verify")
    assert len(verified) == by_stage.loc["verify", "rows_kept"] and "pass_fraction" in verified.columns
    rejected = run.rejected()
    quarantined = rejected[rejected["status"] == "quarantined"]
    assert {"syntax_error", "corrupt_parquet"} <= set(quarantined["drop_reason"])
    drops = run.drops()
    assert drops["rows"].sum() == funnel["rows_dropped"].sum()
    exported = sum(
        len(run.dataset(s, c)) for s in ("train", "validation") for c in ("messages", "weak", "examples")
    )
    assert exported == by_stage.loc["select", "rows_kept"]
    with pytest.raises(KeyError, match="no stage 'nope'"):
        run.kept("nope")


def _dataset_rows(out: Path, config: str) -> list[dict[str, Any]]:
    from codemint import store

    return [
        row for split in ("train", "validation") for row in store.read_rows(out / config / f"{split}.parquet")
    ]


def test_task_configs_and_rl_load_by_name_and_the_card_counts_them(first_run: tuple, tmp_path: Path) -> None:
    import datasets

    summary, _, _ = first_run
    out = Path(summary.run_dir) / "dataset"
    manifest = json.loads((out / "manifest.json").read_text())
    card = (out / "README.md").read_text()
    rows = final_rows(Path(summary.run_dir))
    n = len(rows)
    tasks = manifest["exercises"]
    assert set(tasks) == {"generation", "summarization", "repair"}
    # An instruction made of executed calls summarizes nothing: no summarization row for it.
    by_examples = sum(1 for r in rows if r["instruction_source"] == "examples")
    held = {c: sum(v.values()) for c, v in manifest["held_out"].items()}
    weak = [r for r in rows if r["adequate"] is False]
    examples = [r for r in rows if r["adequate"] is not False and r["instruction_source"] == "examples"]
    assert held == {"weak": len(weak), "examples": len(examples)}
    assert sum(tasks["generation"].values()) == n - held["weak"] - held["examples"]
    assert sum(tasks["summarization"].values()) == n - by_examples
    assert sum(tasks["repair"].values()) >= n // 2  # most functions have a bug their tests catch
    for task, counts in tasks.items():
        # A cache of its own: datasets reuses a local folder's cached configs by path, however
        # the files changed (the card says so), and every run of this test has the same layout.
        loaded = datasets.load_dataset(str(out), task, cache_dir=str(tmp_path))
        assert {s: loaded[s].num_rows for s in loaded} == counts
        total = counts["train"] + counts["validation"]
        assert f"| {task} | {counts['train']} | {counts['validation']} | {total} |" in card
    rl = datasets.load_dataset(str(out), "rl", cache_dir=str(tmp_path))
    rl_rows = sum(tasks["generation"].values()) + sum(tasks["repair"].values())
    assert sum(rl[s].num_rows for s in rl) == rl_rows
    # Fine-grained credit: per test, the lines of the original it runs (from the adequacy stage,
    # null for a row it could not measure).
    measured = [row for row in rl["train"] if row["extra_info"]["covered_lines"] is not None]
    assert len(measured) >= rl["train"].num_rows // 2
    for row in measured:
        truth = json.loads(row["reward_model"]["ground_truth"])
        lines = row["extra_info"]["covered_lines"]
        assert len(lines) == len(truth["test_cases"]) and any(lines)
        n_lines = len(row["extra_info"]["reference_code"].splitlines())
        assert all(1 <= n <= n_lines for per_test in lines for n in per_test)


def test_repair_rows_re_executed_fail_a_test_and_their_fix_passes_all(first_run: tuple) -> None:
    from codemint.records import TestCase
    from codemint.sandbox import shared_sandbox
    from codemint.sandbox.api import ExecJob
    from codemint.tasks.verify.stage import passes

    summary, _, _ = first_run
    kinds = {r["id"]: r["sample_kind"] for r in final_rows(Path(summary.run_dir))}
    # Functions: a method's repair row runs through the harness (the reward's ground truth has it).
    functions = [
        r
        for r in _dataset_rows(Path(summary.run_dir) / "dataset", "repair")
        if kinds[r["function_id"]] != "method"
    ]
    repairs = functions[::3][:12]  # a spread sample
    assert len(repairs) >= 6
    jobs = []
    for r in repairs:
        inputs = [c["input"] for c in r["test_cases"]]
        for kind, code in (("bug", r["buggy_code"]), ("fix", r["fixed_code"])):
            jobs.append(
                ExecJob(job_id=f"{r['id']}-{kind}", code=code, entry_point=r["entry_point"], inputs=inputs)
            )
    results = shared_sandbox(PipelineSettings().sandbox).run_batch(jobs)
    for r, bug, fix in zip(repairs, results[::2], results[1::2], strict=True):
        cases = [TestCase.model_validate(c) for c in r["test_cases"]]
        bug_passed = [passes(c, o) for c, o in zip(cases, bug.outcomes, strict=True)]
        assert not all(bug_passed), r["bug_description"]
        assert bug_passed.count(False) == r["tests_failed"]
        assert all(passes(c, o) for c, o in zip(cases, fix.outcomes, strict=True)), r["id"]
        assert r["buggy_code"] != r["fixed_code"] and r["buggy_code"] in r["messages"][0]["content"]


def test_repair_rows_differ_only_in_the_bug_and_no_prompt_shows_the_codec(first_run: tuple) -> None:
    import re

    from codemint import mutants
    from codemint.settings import ExercisesSettings

    summary, _, _ = first_run
    out = Path(summary.run_dir) / "dataset"
    by_id = {r["id"]: r for r in final_rows(Path(summary.run_dir))}
    cfg = ExercisesSettings()
    repairs = _dataset_rows(out, "repair")
    assert len({r["bug_kind"] for r in repairs}) >= 4
    for r in repairs:  # every repair row: the original with only the bug's span replaced
        row = by_id[r["function_id"]]
        target = row["class_name"] if row["sample_kind"] in ("method", "property", "classmethod") else None
        found = mutants.generate(
            r["fixed_code"],
            r["entry_point"],
            max_mutants=cfg.repair_mutants,
            seed=cfg.repair_seed,
            class_name=target,
        )
        (bug,) = [m for m in found if m.code == r["buggy_code"]]
        fixed, buggy, tail = r["fixed_code"], r["buggy_code"], len(r["fixed_code"]) - bug.end
        assert buggy[: bug.start] == fixed[: bug.start] and buggy[len(buggy) - tail :] == fixed[bug.end :]
        assert not re.search(r"\bpass\b", buggy[bug.start : len(buggy) - tail]), r["bug_kind"]
        if r["bug_kind"] not in ("delete", "missing_branch"):
            assert "\n" not in fixed[bug.start : bug.end], r["bug_kind"]
    tag = re.compile(r'"__[a-z_]+__"\s*:')
    configs = [p.name for p in out.iterdir() if (p / "train.parquet").exists()]
    assert "repair" in configs
    for config in configs:
        for row in _dataset_rows(out, config):
            turns = row.get("messages") or row.get("prompt") or []
            texts = [t["content"] for t in turns if t["role"] != "assistant"]
            texts += [row.get(k) or "" for k in ("instruction", "input")]
            assert not any(tag.search(t) for t in texts), (config, row.get("id"))


def test_summaries_are_own_words_and_no_two_rows_share_an_instruction(first_run: tuple) -> None:
    import doctest
    import re

    from codemint.prompt_context import CONTEXT_LEAD

    summary, _, _ = first_run
    out = Path(summary.run_dir) / "dataset"
    summaries = _dataset_rows(out, "summarization")
    assert summaries
    for r in summaries:  # the function's own words, with only the doctest outputs its code shows
        assert r["instruction_source"] in ("docstring", "comment", "llm"), r["id"]
        for ex in doctest.DocTestParser().get_examples(r["summary"]):
            assert all(line.strip() in r["code"] for line in ex.want.splitlines()), (r["id"], ex.want)
    # One instruction, one code: no two generation-family rows ask the same for different code.
    answers: dict[str, set[str]] = {}
    for config in ("messages", "weak", "examples"):
        if (out / config / "train.parquet").exists():
            for r in _dataset_rows(out, config):
                ask = r["messages"][0]["content"].split(f"\n\n{CONTEXT_LEAD}", 1)[0]
                answers.setdefault(re.sub(r"\s+", " ", ask).strip(), set()).add(r["messages"][1]["content"])
    assert answers and all(len(codes) == 1 for codes in answers.values())


def test_reward_scores_the_reference_one_and_a_mutant_below_one(first_run: tuple) -> None:
    from codemint.reward import compute_scores

    summary, _, _ = first_run
    out = Path(summary.run_dir) / "dataset"
    rl = {row["extra_info"]["id"]: row for row in _dataset_rows(out, "rl")}
    generation = {row["id"]: row for row in _dataset_rows(out, "messages")}
    sample = [r for r in _dataset_rows(out, "repair")[::2] if r["function_id"] in generation][:10]
    assert len(sample) >= 5
    texts, truths = [], []
    for r in sample:
        reference = generation[r["function_id"]]
        truth = next(
            row["reward_model"]["ground_truth"]
            for row in rl.values()
            if row["extra_info"]["function_id"] == r["function_id"]
            and row["extra_info"]["exercise"] == "generation"
        )
        texts += [reference["messages"][1]["content"], f"Fixed? No:\n```python\n{r['buggy_code']}```"]
        truths += [truth, truth]
    scores = compute_scores(texts, truths)
    assert scores[::2] == [1.0] * len(sample)
    assert all(s < 1.0 for s in scores[1::2]), scores
    assert compute_scores(texts[1::2], truths[1::2], mode="all_or_nothing") == [0.0] * len(sample)
