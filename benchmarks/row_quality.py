"""Row quality: would you train on these rows? Before (the old rules) and after, in one run.

Runs the real pipeline (`codemint run`) per corpus twice in the same invocation:
  baseline - the rules before issue 20: the original reachable from its module, every test
             the original gave kept (constant, identity and one-sided outcomes, addresses,
             argument state), the whole object state compared on method rows, no context in
             the prompt, no adequacy floor;
  new      - the defaults.
Then reads each run's export as a trainer would and prints, per corpus and mode:
  final     generation rows (the `generation` config), and rows set aside in `weak`/`examples`
  drops     rows per drop reason that issue 20 added (execute: constant_outcome, ...)
  constant  generation rows whose normal-return tests all expect one outcome
  identity  generation rows whose every normal result equals one of the call's arguments
  unnamed   method rows comparing an attribute that their prompt never names (of which private)
  leaky     rows with an expected value holding a memory address or the sandbox's module name
  trick     rl generation rows where importing the original from its module earns full reward
  ref       rl generation rows where the reference solution earns full reward (the rest fail it)
  trivial   rows fully passed by a trivially wrong solution (a constant, the identity, `pass`,
            raising the tests' most common builtin exception)
  trivial_reward  mean over rl generation rows of the best trivial solution's partial reward,
            as a plain share of tests (`pass_fraction`) and as `compute_score`'s default
            (`continuous`), and the rows where it is 0.5 or more
  mutation  median mutation score with nothing excused (killed / all mutants), functions and
            methods, and rows with no score
  prompt    median and 90th percentile of the generation prompt's length in characters
and the ratio new/baseline of the final rows. Yield may fall: the drops say why.

Corpora: `default` = the bundled default (codemint/settings.py DEFAULT_STDLIB_MODULES);
`stdlib` = the 148 public single-file stdlib modules of benchmarks/yield_funnel.py (about
half an hour per mode on 2 cores).

Usage: python benchmarks/row_quality.py [default|stdlib ...] [--runs-dir DIR] [--mode baseline|new]
       python benchmarks/row_quality.py --read RUN_DIR     # only read an existing run's export
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from codemint.original_module import source_module
from codemint.records import Provenance
from codemint.reward import compute_scores

sys.path.insert(0, str(Path(__file__).parent))
from yield_funnel import stdlib_modules

BASELINE_ENV = {
    "CODEMINT_SANDBOX__HIDE_ORIGINAL": "false",
    "CODEMINT_EXECUTE__OUTCOME_CHECKS": "false",
    "CODEMINT_SUMMARIZE__CONTEXT_PROMPTS": "false",
    "CODEMINT_ADEQUACY__MIN_MUTATION_SCORE": "0",
}
# Execute's drops that issue 20 added.
NEW_DROPS = ("constant_outcome", "identity_outcome", "one_sided_predicate", "few_distinct_outcomes")
CORPORA = {"default": lambda: [], "stdlib": stdlib_modules}
LEAKY = re.compile(r"\bat 0x[0-9a-fA-F]+|0x7f[0-9a-f]{8,}|__codemint__")
METHOD_KINDS = {"method", "property", "classmethod"}


def run(corpus: str, mode: str, runs_dir: Path, settings_env: dict[str, str] | None = None) -> Path:
    """Run the pipeline on `corpus`; `settings_env` (default: this benchmark's baseline rules
    in baseline mode) sets the mode's settings."""
    run_id = f"quality-{corpus}-{mode}"
    if settings_env is None:
        settings_env = BASELINE_ENV if mode == "baseline" else {}
    env = {
        **os.environ,
        "CODEMINT_RUNS_DIR": str(runs_dir),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        **settings_env,
    }
    cmd = [str(Path(sys.executable).with_name("codemint")), "run", "--run-id", run_id]
    for m in CORPORA[corpus]():
        cmd += ["-p", m]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    run_dir = runs_dir / run_id
    if not (run_dir / "run.json").exists():
        raise SystemExit(f"{corpus}/{mode}: no run.json (exit {proc.returncode}): {proc.stderr[-2000:]}")
    print(f"{corpus}/{mode}: pipeline {time.perf_counter() - started:.0f} s", flush=True)
    return run_dir


def _rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for split in ("train", "validation"):
        f = path / f"{split}.parquet"
        if f.exists():
            rows.extend(pq.read_table(f).to_pylist())
    return rows


def _export_dir(run_dir: Path) -> Path:
    for candidate in (run_dir / "export", run_dir / "dataset"):
        if (candidate / "manifest.json").exists():
            return candidate
    found = sorted(run_dir.glob("**/manifest.json"))
    if not found:
        raise SystemExit(f"{run_dir}: no exported dataset (manifest.json)")
    return found[0].parent


def module_of(provenance: dict[str, Any]) -> str | None:
    """The dotted module a row came from (None for files and dumps: nothing to import)."""
    return source_module(Provenance.model_validate(provenance))


def trick_code(entry: str, kind: str, class_name: str | None, module: str) -> str:
    """A completion that solves nothing: it imports the original from its module."""
    if kind in METHOD_KINDS and class_name:
        return f"```python\nimport {module}\n\nclass {class_name}({module}.{class_name}):\n    pass\n```"
    return (
        f"```python\ndef {entry}(*args, **kwargs):\n    import {module}\n"
        f"    return {module}.{entry}(*args, **kwargs)\n```"
    )


def _codec_dict(value: Any) -> dict[str, Any] | None:
    """A codec-encoded dict (`{"__dict__": [[key, value], ...]}`) as a Python dict."""
    if isinstance(value, dict) and isinstance(value.get("__dict__"), list):
        return {str(k): v for k, v in value["__dict__"]}
    return None


def state_attributes(expected: str | None) -> set[str]:
    """The attributes a method row's test compares: the keys of its harness result's state."""
    result = _codec_dict(json.loads(expected)) if expected else None
    state = _codec_dict(result.get("state")) if result else None
    return set(state or ())


def _strings(data: Any) -> Any:
    """The strings of an encoded value that are values, not the codec's type names (the class
    of an `__object__`, an iterator's exception type: the code's own, shown in the prompt)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)
    elif isinstance(data, dict):
        for tag, payload in data.items():
            if tag in ("__object__", "__iter_raised__") and isinstance(payload, list) and payload:
                yield from _strings(payload[1:] if tag == "__object__" else [payload[0], payload[2:]])
            elif tag != "__type__":
                yield from _strings(payload)


def leaks(case: dict[str, Any]) -> bool:
    """An expected value, stdout or argument state holding a memory address or the sandbox's
    module name: nothing a prompt can tell a solver to produce."""
    texts = [case.get("stdout") or ""]
    for field in ("expected", "args_after"):
        if case.get(field):
            texts.extend(_strings(json.loads(case[field])))
    return any(LEAKY.search(t) for t in texts)


def _args(test_input: str) -> list[str]:
    """Each argument of a test input as canonical JSON text."""
    data = json.loads(test_input)
    values = list(data.get("args", [])) + list(data.get("kwargs", {}).values())
    return [json.dumps(v, sort_keys=True) for v in values]


def _canon(text: str | None) -> str | None:
    return None if text is None else json.dumps(json.loads(text), sort_keys=True)


def _plain(value: Any) -> bool:
    """JSON with no codec tags: `json.loads` in a completion gives the original's value."""
    if isinstance(value, dict):
        return not any(k.startswith("__") for k in value) and all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return not isinstance(value, float) or value == value


def trivial_completions(gt: dict[str, Any]) -> list[str]:
    """A constant (the most common expected value), the identity, an empty body and raising
    the most common builtin exception the tests expect."""
    entry = gt["entry_point"]
    if gt.get("sample_kind", "function") in METHOD_KINDS:
        return [
            f"```python\nclass {gt['class_name']}:\n    def __init__(self, *a, **k):\n        pass\n"
            f"    def {entry}(self, *a, **k):\n        pass\n```"
        ]
    normal = [c["expected"] for c in gt["test_cases"] if c.get("exception") is None and c.get("expected")]
    out = [
        f"```python\ndef {entry}(*args, **kwargs):\n    pass\n```",
        f"```python\ndef {entry}(*args, **kwargs):\n    return args[0] if args else None\n```",
    ]
    raised = [c["exception"] for c in gt["test_cases"] if c.get("exception")]
    if raised:
        name = Counter(raised).most_common(1)[0][0]
        if name.isidentifier() and isinstance(getattr(builtins, name, None), type):
            out.append(f"```python\ndef {entry}(*args, **kwargs):\n    raise {name}()\n```")
    if normal:
        common = Counter(normal).most_common(1)[0][0]
        if _plain(json.loads(common)):
            out.append(
                f"```python\ndef {entry}(*args, **kwargs):\n    import json\n"
                f"    return json.loads({common!r})\n```"
            )
    return out


def read(run_dir: Path) -> dict[str, Any]:
    out_dir = _export_dir(run_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    report = json.loads((run_dir / "run.json").read_text())
    funnel = {row["stage"]: row for row in report["summary"]["funnel"]}
    dropped = Counter[str]()
    for row in funnel.values():
        for key, n in row["dropped"].items():
            dropped[key.split(":", 1)[-1]] += n
    rl = [r for r in _rows(out_dir / "rl") if r["data_source"] == "codemint/generation"]
    gts = [json.loads(r["reward_model"]["ground_truth"]) for r in rl]
    prompts = [r["prompt"][0]["content"] for r in rl]
    constant = identity = unnamed = private = leaky = methods = 0
    for gt, prompt in zip(gts, prompts, strict=True):
        normal = [c for c in gt["test_cases"] if c.get("exception") is None]
        outcomes = {(c.get("expected"), c.get("args_after"), c.get("stdout")) for c in normal}
        constant += len(outcomes) == 1
        kind = gt.get("sample_kind") or "function"
        if (
            kind not in METHOD_KINDS
            and normal
            and all(_canon(c.get("expected")) in _args(c["input"]) for c in normal)
        ):
            identity += 1
        leaky += any(leaks(c) for c in gt["test_cases"])
        if kind in METHOD_KINDS:
            methods += 1
            attrs = set()
            for c in normal:
                attrs |= state_attributes(c.get("expected"))
            missing = {a for a in attrs if not re.search(rf"\b{re.escape(a)}\b", prompt)}
            unnamed += bool(missing)
            private += any(a.startswith("_") for a in missing)
    # Rewards with compute_score's defaults, as a trainer would run them.
    tricks: list[tuple[int, str]] = []
    for i, (r, gt) in enumerate(zip(rl, gts, strict=True)):
        module = module_of(r["extra_info"]["provenance"])
        if module:
            tricks.append(
                (
                    i,
                    trick_code(
                        gt["entry_point"], gt.get("sample_kind") or "function", gt.get("class_name"), module
                    ),
                )
            )
    trick_scores = compute_scores([t for _, t in tricks], [gts[i] for i, _ in tricks], mode="all_or_nothing")
    refs = [f"```python\n{r['extra_info']['reference_code']}\n```" for r in rl]
    ref_scores = compute_scores(refs, gts, mode="all_or_nothing") if rl else []
    trivial_jobs = [(i, c) for i, gt in enumerate(gts) for c in trivial_completions(gt)]
    # What the best trivial completion of each row earns as a partial reward; a pass fraction
    # of 1.0 is all-or-nothing's full reward, so that needs no batch of its own.
    trivial_reward: dict[str, float | None] = {}
    trivially_passed: set[int] = set()
    for mode in ("pass_fraction", "continuous"):
        got = compute_scores([c for _, c in trivial_jobs], [gts[i] for i, _ in trivial_jobs], mode=mode)
        if mode == "pass_fraction":
            trivially_passed = {i for (i, _), s in zip(trivial_jobs, got, strict=True) if s == 1.0}
        best: dict[int, float] = {}
        for (i, _), s in zip(trivial_jobs, got, strict=True):
            best[i] = max(best.get(i, 0.0), s)
        trivial_reward[mode] = round(statistics.mean(best.values()), 3) if best else None
        trivial_reward[f"{mode}_rows_0.5"] = sum(s >= 0.5 for s in best.values())
    # Mutation scores from the last stage holding the measured rows.
    scores: dict[str, list[float]] = {"function": [], "method": []}
    unscored = 0
    measured = {r["extra_info"]["function_id"] for r in rl}
    for part in sorted((run_dir / "decontaminate").glob("part-*.parquet")):
        if part.name.endswith(".rejected.parquet"):
            continue
        for row in pq.read_table(
            part, columns=["id", "sample_kind", "mutants", "mutants_killed"]
        ).to_pylist():
            if row["id"] not in measured:
                continue
            if not row["mutants"]:
                unscored += 1
                continue
            kind = "method" if row["sample_kind"] in METHOD_KINDS else "function"
            scores[kind].append(row["mutants_killed"] / row["mutants"])
    lengths = sorted(len(p) for p in prompts)
    every = scores["function"] + scores["method"]
    held_out = manifest.get("held_out", {})
    return {
        "final": manifest["rows"],
        "weak": sum(held_out.get("weak", {}).values()),
        "examples": sum(held_out.get("examples", {}).values()),
        "rl_generation": len(rl),
        "drops": {k: dropped.get(k, 0) for k in NEW_DROPS},
        "constant": constant,
        "identity": identity,
        "methods": methods,
        "unnamed": unnamed,
        "unnamed_private": private,
        "leaky": leaky,
        "trick": f"{sum(s == 1.0 for s in trick_scores)}/{len(tricks)}",
        "ref": f"{sum(s == 1.0 for s in ref_scores)}/{len(rl)}",
        "trivial": len(trivially_passed),
        "trivial_reward": trivial_reward,
        "mutation_median": round(statistics.median(every), 3) if every else None,
        "mutation_median_function": round(statistics.median(scores["function"]), 3)
        if scores["function"]
        else None,
        "mutation_median_method": round(statistics.median(scores["method"]), 3) if scores["method"] else None,
        "below_0.5": sum(s < 0.5 for s in every),
        "unscored": unscored,
        "prompt_median": lengths[len(lengths) // 2] if lengths else 0,
        "prompt_p90": lengths[int(len(lengths) * 0.9)] if lengths else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpora", nargs="*", default=["default"])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/bench-quality"))
    parser.add_argument("--mode", choices=["baseline", "new"], action="append")
    parser.add_argument("--read", type=Path, help="only read this run directory's export")
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read(args.read), indent=1))
        return
    modes = args.mode or ["baseline", "new"]
    for corpus in args.corpora:
        results = {mode: read(run(corpus, mode, args.runs_dir.resolve())) for mode in modes}
        for mode, res in results.items():
            print(f"{corpus:8} {mode:9} {json.dumps(res)}", flush=True)
        if len(results) == 2 and results["baseline"]["final"]:
            ratio = results["new"]["final"] / results["baseline"]["final"]
            print(f"{corpus:8} new/baseline: final rows {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()
