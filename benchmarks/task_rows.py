"""Exercise rows: do the repair, summarization and generation rows teach the task, or its artifacts?

Runs the real pipeline (`codemint run`) on a corpus twice in one invocation:
  baseline - this session's rules off: every instruction is a summary target (the data
             model's words for a special method, a base method's docstring, doctests whole)
             and near-dedup keeps near twins (`exercises.summary_own_words`,
             `near_dedup.twins` false);
  new      - the defaults.
Then reads each run's export as a trainer would and prints, per mode:
  functions    functions with a row in any config; generation: rows of the `generation` config
  repair       repair rows, per function, and their bug kinds
  giveaways    repair rows whose buggy and fixed code differ outside the bug's span, or
               where the bug put a `pass` in (the token-level edits of codemint.mutants
               have no setting to turn off: both modes count them with today's mutator)
  codec        rows, in any config, whose prompt shows the codec's tags ({"__tuple__": ...})
  boilerplate  summarization targets not of the function's own words: the data model's
               (protocol) or a base method's (inherited) words
  shared       summarization rows whose target text another row's also is
  doctests     summarization targets holding a doctest output line the shown code does not
  same_instr   pairs of exported rows (generation, weak, examples) with one instruction and
               different code
  wrappers     exported rows that only call another exported row's function of their module
  twin_drops   near_dedup's drops: near_twin:wrapper and near_twin:same_instruction

Usage: python benchmarks/task_rows.py [default|stdlib] [--runs-dir DIR] [--mode baseline|new]
       python benchmarks/task_rows.py --read RUN_DIR     # only read an existing run's export
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from codemint import mutants
from codemint.llm.codetext import strip_docstrings
from codemint.prompt_context import CONTEXT_LEAD
from codemint.samples import PROTOCOL
from codemint.settings import ExercisesSettings
from codemint.tasks.near_dedup.twins import instruction_key, wrapped_callee

sys.path.insert(0, str(Path(__file__).parent))
from row_quality import METHOD_KINDS, _export_dir, _rows, run

BASELINE_ENV = {
    "CODEMINT_EXERCISES__SUMMARY_OWN_WORDS": "false",
    "CODEMINT_NEAR_DEDUP__TWINS": "false",
}
CODEC_TAG = re.compile(r'"__[a-z_]+__"\s*:')
# The generation rows' directories: `messages` is the `generation` config.
GENERATION_CONFIGS = ("messages", "weak", "examples")


def giveaway(row: dict[str, Any], class_name: str | None, cfg: ExercisesSettings) -> bool:
    """Whether the buggy code differs from the fixed one outside the span of the mutant that
    made it (or the bug is no mutant of the fixed code, or it wrote a `pass`)."""
    fixed, buggy = row["fixed_code"], row["buggy_code"]
    if row["bug_source"] != "mutation":
        return False
    found = mutants.generate(
        fixed, row["entry_point"], max_mutants=cfg.repair_mutants, seed=cfg.repair_seed, class_name=class_name
    )
    bugs = [m for m in found if m.code == buggy]
    if not bugs:
        return True
    bug = bugs[0]
    tail = len(fixed) - bug.end
    if buggy[: bug.start] != fixed[: bug.start] or buggy[len(buggy) - tail :] != fixed[bug.end :]:
        return True
    return bool(re.search(r"\bpass\b", buggy[bug.start : len(buggy) - tail]))


def unshown_output(target: str, code: str) -> bool:
    """Whether a target shows a doctest output line (a line after a `>>>` or `...` line, up to
    a blank one) that the code does not contain."""
    lines = target.splitlines()
    in_example = False
    for line in lines:
        text = line.strip()
        if text.startswith((">>>", "...")):
            in_example = True
        elif not text:
            in_example = False
        elif in_example and text not in code:
            return True
    return False


def _prompt_texts(row: dict[str, Any]) -> list[str]:
    turns = row.get("messages") or row.get("prompt") or []
    texts = [t["content"] for t in turns if t["role"] != "assistant"]
    return texts + [row.get(k) or "" for k in ("instruction", "input")]


def _instruction(row: dict[str, Any]) -> str:
    """The instruction of a generation-family row: the user turn up to its context block."""
    return row["messages"][0]["content"].split(f"\n\n{CONTEXT_LEAD}", 1)[0]


def read(run_dir: Path) -> dict[str, Any]:
    out = _export_dir(run_dir)
    report = json.loads((run_dir / "run.json").read_text())
    dropped = Counter[str]()
    for stage in report["summary"]["funnel"]:
        for key, n in stage["dropped"].items():
            dropped[key.split(":", 1)[-1] if key.count(":") > 1 else key] += n
    configs = {p.name: _rows(p) for p in out.iterdir() if (p / "train.parquet").exists()}
    family = [r for name in GENERATION_CONFIGS for r in configs.get(name, [])]
    functions = {
        r.get("function_id") or r["id"] for rows in configs.values() for r in rows if "messages" in r
    }
    # Repair rows, and whether they give the bug away.
    cfg = ExercisesSettings()
    repairs = configs.get("repair", [])
    gives = 0
    for r in repairs:
        target = r.get("class_name") if r.get("sample_kind") in METHOD_KINDS else None
        gives += giveaway(r, target, cfg)
    codec = sum(any(CODEC_TAG.search(t) for t in _prompt_texts(r)) for rows in configs.values() for r in rows)
    # Summarization targets.
    summaries = configs.get("summarization", [])
    protocol_words = set(PROTOCOL.values())
    by_target = Counter(r["summary"].strip() for r in summaries)
    boilerplate = sum(
        r["instruction_source"] in ("protocol", "inherited") or any(w in r["summary"] for w in protocol_words)
        for r in summaries
    )
    # One text summarizing two functions: posix and nt twins, or a docstring copied between
    # functions (difflib's two range formatters). Told, not counted as boilerplate.
    shared = sum(n for n in by_target.values() if n > 1)
    doctests = sum(unshown_output(r["summary"], r["code"]) for r in summaries if r["target"] == "docstring")
    # Near twins among the exported generation-family rows.
    by_instruction: dict[str, set[str]] = defaultdict(set)
    for r in family:
        by_instruction[instruction_key(_instruction(r))].add(r["messages"][1]["content"])
    same = sum(len(codes) * (len(codes) - 1) // 2 for codes in by_instruction.values())
    names = {(r["provenance"]["source_uri"], r["provenance"]["path"], r["entry_point"]) for r in family}
    wrappers = 0
    for r in family:
        code = _code(r["messages"][1]["content"])
        cls = r.get("class_name") if r.get("sample_kind") in METHOD_KINDS else None
        try:
            callee = wrapped_callee(strip_docstrings(code) if code else "", r["entry_point"], cls)
        except (SyntaxError, ValueError):
            callee = None
        prov = r["provenance"]
        wrappers += callee is not None and (prov["source_uri"], prov["path"], callee) in names
    return {
        "functions": len(functions),
        "generation": len(configs.get("messages", [])),
        "repair": len(repairs),
        "repair_per_function": round(len(repairs) / len(functions), 2) if functions else 0.0,
        "bug_kinds": len({r["bug_kind"] for r in repairs}),
        "giveaways": gives,
        "codec": codec,
        "summarization": len(summaries),
        "boilerplate": boilerplate,
        "doctests": doctests,
        "shared_targets": shared,
        "same_instr": same,
        "wrappers": wrappers,
        "twin_drops": {k: dropped.get(f"near_twin:{k}", 0) for k in ("wrapper", "same_instruction")},
    }


def _code(response: str) -> str:
    """The code of a ```python fenced answer."""
    found = re.search(r"```python\n(.*?)```", response, re.DOTALL)
    return found.group(1) if found else response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default="default")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/bench-task-rows"))
    parser.add_argument("--mode", choices=["baseline", "new"], action="append")
    parser.add_argument("--read", type=Path, help="only read this run directory's export")
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read(args.read), indent=1))
        return
    results = {
        mode: read(
            run(args.corpus, mode, args.runs_dir.resolve(), BASELINE_ENV if mode == "baseline" else {})
        )
        for mode in args.mode or ["baseline", "new"]
    }
    for mode, res in results.items():
        print(f"{args.corpus:8} {mode:9} {json.dumps(res)}", flush=True)
    if len(results) == 2 and results["baseline"]["functions"]:
        ratio = results["new"]["functions"] / results["baseline"]["functions"]
        print(f"{args.corpus:8} new/baseline: functions {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()
