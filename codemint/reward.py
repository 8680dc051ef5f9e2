"""Reward for RL on codemint's `rl/` data: run a completion's function against the row's tests.

verl custom reward (`custom_reward_function.path` = this file, `name` = `compute_score`):

    compute_score(data_source, solution_str, ground_truth, extra_info=None, mode="continuous")

`ground_truth` is the row's `reward_model.ground_truth`: JSON of the entry point and the test
cases. The function is taken from the completion (the last ```python block that defines the
entry point, after any <think> section; or the whole text if it is bare code), run on every
test in codemint's sandbox (settings from CODEMINT_* environment variables, e.g.
CODEMINT_SANDBOX__BACKEND), and judged with the verify stage's own comparison. The score is
the share of tests passed above what a trivially wrong solution passes (`mode="continuous"`,
`trivial_passes`: returning one constant, raising one exception type or returning an argument
unchanged earns 0.0, not the share of tests such a solution happens to pass), the plain share
of tests passed (`mode="pass_fraction"`), or 1.0 only when all pass (`mode="all_or_nothing"`);
a completion without the function scores 0.0. `compute_scores` scores many completions in one
sandbox batch.

The ground truth's `environment` (codemint/row_environment.py) says where the tests were
recorded: a package row runs in the derived image of its requirement set (built once if
missing, as the pipeline builds it), and the row's own function or class is hidden in the
module it came from (`sandbox.hide_original`, on by default), so importing the original
instead of writing it scores 0.0.

This module sits above the stages (like the flows): it is an entry point for trainers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codemint.llm.codetext import code_blocks, defines_function
from codemint.records import TestCase
from codemint.row_environment import RowEnvironment
from codemint.samples import CLASS_KINDS, call_arguments, find_class, runnable
from codemint.sandbox import resolved_backend, shared_sandbox
from codemint.sandbox.api import ExecJob, ExecResult
from codemint.sandbox.images import ensure_env_image
from codemint.settings import PipelineSettings, SandboxSettings
from codemint.verdict import passes, same_value  # the verdict verify uses, not a copy of it

Mode = Literal["continuous", "pass_fraction", "all_or_nothing"]
MODES: tuple[Mode, ...] = ("continuous", "pass_fraction", "all_or_nothing")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """What a completion must define and how its tests call it: a function, or (for method,
    property and classmethod samples) a method of class `class_name`."""

    entry_point: str
    sample_kind: str = "function"
    class_name: str | None = None
    # The instance attributes a method's tests compare (the ground truth's; None: all of them).
    state_attributes: tuple[str, ...] | None = None

    def defined_in(self, code: str) -> bool:
        if self.sample_kind in CLASS_KINDS and self.class_name:
            return find_class(code, self.class_name) is not None
        return defines_function(code, self.entry_point)

    def job(self, code: str) -> tuple[str, str]:
        """(code to run, entry point to call): methods through the same harness as verify."""
        return runnable(code, self.sample_kind, self.entry_point, self.class_name, self.state_attributes)


def extract_code(solution_str: str, target: Target | str) -> str | None:
    """The code of the completion that defines the target: the last such code block (a
    model's final answer comes last), else the whole completion if it parses and defines it."""
    if isinstance(target, str):
        target = Target(target)
    text = _THINK.sub("", solution_str)
    if "</think>" in text:  # an unclosed or stray opening: keep what follows the last close
        text = text.rsplit("</think>", 1)[1]
    for block in reversed(code_blocks(text)):
        if _defines(target, block):
            return block.strip("\n") + "\n"
    if _defines(target, text):
        return text.strip("\n") + "\n"
    return None


def _defines(target: Target, code: str) -> bool:
    try:
        return target.defined_in(code)
    except (SyntaxError, ValueError, RecursionError):
        return False


def parse_ground_truth(ground_truth: str | dict[str, Any]) -> tuple[Target, list[TestCase]]:
    data = json.loads(ground_truth) if isinstance(ground_truth, str) else ground_truth
    try:
        shown = data.get("state_attributes")
        target = Target(
            str(data["entry_point"]),
            str(data.get("sample_kind") or "function"),
            data.get("class_name"),
            None if shown is None else tuple(str(name) for name in shown),
        )
        cases = [TestCase.model_validate(c) for c in data["test_cases"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"ground_truth is not codemint's test JSON: {exc}") from exc
    if not cases:
        raise ValueError("ground_truth has no test cases")
    return target, cases


def parse_environment(ground_truth: str | dict[str, Any]) -> RowEnvironment:
    """The ground truth's `environment` (image, requirement set, what to hide); a ground truth
    exported before it was recorded gets the plain sandbox and hides nothing."""
    data = json.loads(ground_truth) if isinstance(ground_truth, str) else ground_truth
    env = data.get("environment") if isinstance(data, dict) else None
    if env is None:
        return RowEnvironment()
    try:
        return RowEnvironment.model_validate(env)
    except ValueError as exc:
        raise ValueError(f"ground_truth has a malformed environment: {exc}") from exc


def trivial_passes(cases: Sequence[TestCase], target: Target) -> int:
    """How many of `cases` the best trivially wrong solution passes: one that returns the same
    value every time, raises one exception type every time, or returns one of its arguments
    unchanged. Counted from the tests alone with the verdict's own comparison (2 passes for
    2.0); a method's returned value and state count as one outcome."""
    raised = Counter(c.exception for c in cases if c.exception is not None)
    # Printing or changing an argument is more than such a solution does.
    normal = [
        c
        for c in cases
        if c.exception is None and not c.stdout and c.args_after in (None, c.input) and c.expected is not None
    ]
    constant = [sum(same_value(value, c.expected) for c in normal) for value in {c.expected for c in normal}]
    returned: Counter[int | str] = Counter()
    if target.sample_kind not in CLASS_KINDS:  # a method's outcome holds its state too
        for case in normal:
            returned.update(
                key
                for key, text in call_arguments(case.input, target.sample_kind).items()
                if same_value(text, case.expected)
            )
    return max([0, *constant, *raised.values(), *returned.values()])


def score(target: Target, cases: Sequence[TestCase], result: ExecResult | None, mode: Mode) -> float:
    """One run's score in `mode` (see the module docstring); an unrun or failed job scores 0.0."""
    if result is None or result.infra_error or len(result.outcomes) != len(cases):
        return 0.0
    passed = sum(passes(c, o) for c, o in zip(cases, result.outcomes, strict=True))
    if mode == "all_or_nothing":
        return 1.0 if passed == len(cases) else 0.0
    if mode == "pass_fraction":
        return passed / len(cases)
    floor = min(trivial_passes(cases, target), len(cases) - 1)  # a row it all passes is dropped
    return max(0, passed - floor) / (len(cases) - floor)


_images: dict[tuple[str, tuple[str, ...]], str] = {}
_images_lock = threading.Lock()


def sandbox_for(env: RowEnvironment, base: SandboxSettings) -> SandboxSettings:
    """`base` with the image `env` needs: the derived image for its requirement set (built
    once if missing) on the docker backend with `package_env` on; else `base` unchanged."""
    if not env.requirements or not base.package_env or base.backend == "local":
        return base
    key = (base.image, tuple(env.requirements))
    with _images_lock:  # verl scores one completion per call: find the image once
        if key not in _images:
            _images[key] = _derived_image(base, env.requirements)
        image = _images[key]
    return base.model_copy(update={"image": image})


def _derived_image(base: SandboxSettings, requirements: list[str]) -> str:
    if resolved_backend(base) != "docker":
        log.warning("reward: no Docker; %s runs without its package environment", requirements)
        return base.image
    return ensure_env_image(base.image, list(requirements))


def _sandbox_settings(sandbox: SandboxSettings | None) -> SandboxSettings:
    return sandbox if sandbox is not None else PipelineSettings().sandbox


def compute_scores(
    solution_strs: Sequence[str],
    ground_truths: Sequence[str | dict[str, Any]],
    *,
    mode: Mode = "continuous",
    sandbox: SandboxSettings | None = None,
) -> list[float]:
    """Scores of many completions, run as one batch in the sandbox."""
    if mode not in MODES:
        raise ValueError(f"unknown reward mode {mode!r}; use one of {', '.join(MODES)}")
    if len(solution_strs) != len(ground_truths):
        raise ValueError(f"{len(solution_strs)} completions but {len(ground_truths)} ground truths")
    settings = _sandbox_settings(sandbox)
    data = [json.loads(g) if isinstance(g, str) else g for g in ground_truths]
    parsed = [parse_ground_truth(d) for d in data]
    # Jobs per sandbox: each row runs where its tests were recorded (its package's image).
    batches: dict[str, tuple[SandboxSettings, list[ExecJob], list[int]]] = {}
    for i, (text, (target, cases), truth) in enumerate(zip(solution_strs, parsed, data, strict=True)):
        code = extract_code(text, target)
        if code is None:
            continue
        env = parse_environment(truth)
        box = sandbox_for(env, settings)
        run_code, entry_point = target.job(code)
        job = ExecJob(
            job_id=f"reward-{i}",
            code=run_code,
            entry_point=entry_point,
            inputs=[c.input for c in cases],
            limits=box.limits,
            hide=env.hide if box.hide_original else None,
        )
        _, jobs, owners = batches.setdefault(box.model_dump_json(), (box, [], []))
        jobs.append(job)
        owners.append(i)
    results: list[ExecResult | None] = [None] * len(parsed)
    for box, jobs, owners in batches.values():
        for i, result in zip(owners, shared_sandbox(box).run_batch(jobs), strict=True):
            results[i] = result
    return [score(target, cases, results[i], mode) for i, (target, cases) in enumerate(parsed)]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str | dict[str, Any],
    extra_info: dict[str, Any] | None = None,
    mode: Mode = "continuous",
    sandbox: SandboxSettings | None = None,
    **_: Any,
) -> float:
    """verl's custom-reward signature; `mode` (and `sandbox`) can come from its reward kwargs."""
    return compute_scores([solution_str], [ground_truth], mode=mode, sandbox=sandbox)[0]
