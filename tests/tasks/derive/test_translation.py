"""Translation rows: JavaScript translations checked by Node in a variant of the sandbox image,
kept only when they pass the row's tests (real Docker; the model's part from a real vLLM)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from factories import CLAMP, MEDIAN, PARSE
from real_rows import docker_settings, real_row
from vllm_server import MODEL_NAME, VLLMServer

from codemint import store
from codemint.llm import translate
from codemint.llm.strategies import LLMResult
from codemint.records import ExerciseRow, Verified, to_table
from codemint.sandbox import shared_sandbox
from codemint.sandbox.node_image import node_sandbox_settings
from codemint.settings import ExercisesSettings, LLMSettings, PipelineSettings, SandboxSettings
from codemint.tasks.derive import javascript as derive_translation
from codemint.tasks.derive.stage import Derive

CLAMP_CALLS = [
    ([[1, 5, 9], 2, 8], {}),
    ([[0, 10], 0, 10], {}),
    ([[3], 4, 4], {}),
    ([[1], 5, 2], {}),
    ([[-1.5, 2.5], 0, 2], {}),
]
MEDIAN_CALLS = [([[3, 1, 2]], {}), ([[4, 1, 3, 2]], {}), ([[7]], {}), ([[]], {}), ([[2, 2, 5, 9]], {})]
PARSE_CALLS = [(["a=1;b=2"], {}), (["x = y ; ;z"], {}), ([""], {}), (["k:v,m:n"], {"sep": ",", "kv": ":"})]
SORT_IN_PLACE = '''
def sort_in_place(items):
    """Sort the list in place and return how many items it has."""
    items.sort()
    return len(items)
'''
SORT_CALLS = [([[3, 1, 2]], {}), ([[]], {}), ([[5, -1]], {}), ([[2, 2, 1]], {})]

CLAMP_JS = """
function clamp_all(items, low, high) {
  if (low > high) throw new Error("empty range");
  return items.map((x) => Math.min(Math.max(x, low), high));
}
"""
MEDIAN_JS = """
function median(values) {
  const ordered = values.slice().sort((a, b) => a - b);
  const n = ordered.length;
  if (n === 0) throw new Error("median of empty list");
  const middle = Math.floor(n / 2);
  if (n % 2) return ordered[middle];
  return (ordered[middle - 1] + ordered[middle]) / 2;
}
"""
# Python's / is true division: flooring it loses the .5 of an even-length median.
EVEN = "(ordered[middle - 1] + ordered[middle]) / 2"
MEDIAN_JS_WRONG = MEDIAN_JS.replace(f"return {EVEN}", f"return Math.floor({EVEN})")
SORT_JS = "function sort_in_place(items) { items.sort((a, b) => a - b); return items.length; }"
SORT_JS_COPY = "function sort_in_place(items) { return items.slice().sort().length; }"  # leaves items


@pytest.fixture(scope="module")
def node_box() -> SandboxSettings:
    settings = node_sandbox_settings(docker_settings())
    assert settings is not None
    return settings


@pytest.fixture(scope="module")
def rows() -> dict[str, Verified]:
    box = docker_settings()
    made = {
        "clamp_all": real_row(CLAMP, CLAMP_CALLS, box),
        "median": real_row(MEDIAN, MEDIAN_CALLS, box),
        "parse_pairs": real_row(PARSE, PARSE_CALLS, box),
        "sort_in_place": real_row(SORT_IN_PLACE, SORT_CALLS, box),
    }
    made["sort_in_place"] = with_args_after(made["sort_in_place"], box)
    return made


def with_args_after(row: Verified, box: SandboxSettings) -> Verified:
    """The row's tests compare the list's state after the call, as execute records it."""
    from codemint.sandbox.api import ExecJob

    job = ExecJob(job_id="after", code=row.original_code, entry_point=row.entry_point, inputs=row.test_inputs)
    (result,) = shared_sandbox(box).run_batch([job])
    cases = [
        c.model_copy(update={"args_after": o.args_after})
        for c, o in zip(row.test_cases, result.outcomes, strict=True)
    ]
    assert sum(c.args_after is not None for c in cases) >= 2
    return row.model_copy(update={"test_cases": cases})


def check(box: SandboxSettings, row: Verified, codes: Sequence[str]) -> list[derive_translation.Verdict]:
    tests, _ = derive_translation.runnable_tests(row)
    jobs = [(f"{row.entry_point}-{i}", code, row.entry_point, tests) for i, code in enumerate(codes)]
    return derive_translation.check_translations(shared_sandbox(box), box.limits, jobs)


def test_a_translation_passes_only_when_node_gives_every_expected_result(
    node_box: SandboxSettings, rows: dict[str, Verified]
) -> None:
    median = rows["median"]
    tests, skipped = derive_translation.runnable_tests(median)
    assert len(tests) == 4 and skipped == {"exception": 1}  # median([]) raises: not run in JS
    looping = "function median(values) { for (;;) {} }"
    syntax = "function median(values) { return values[0] +; }"
    throws = "function median(values) { throw new TypeError('no'); }"
    unnamed = "function middle(values) { return 1; }"
    sloppy = "function median(values) { return new Map(); }"
    verdicts = check(node_box, median, [MEDIAN_JS, MEDIAN_JS_WRONG, looping, syntax, throws, unnamed, sloppy])
    assert [v.passed for v in verdicts] == [True] + [False] * 6
    assert verdicts[0].tests_passed == 4
    reasons = [v.reason for v in verdicts[1:]]
    assert reasons[0] == "js_failed_test" and verdicts[1].tests_passed >= 1
    assert reasons[1] == "timeout"
    assert reasons[2] == "js_crashed" and "SyntaxError" in verdicts[3].detail
    assert reasons[3:] == ["js_failed_test", "js_load_error", "js_failed_test"]


TOTAL = '''
def total(prices, tax):
    """Sum of the prices plus tax on each."""
    return sum(prices.values()) * (1 + tax)
'''
TOTAL_JS = (
    "function total(prices, tax) { return Object.values(prices).reduce((a, b) => a + b, 0) * (1 + tax); }"
)


def test_object_arguments_reach_the_translation_as_objects(node_box: SandboxSettings) -> None:
    calls = [([{"a": 1, "b": 2}, 0], {}), ([{}, 0.5], {}), ([{"x": 4}, 1], {})]
    row = real_row(TOTAL, calls, docker_settings())
    (verdict,) = check(node_box, row, [TOTAL_JS])
    assert verdict.passed, verdict


def test_the_arguments_state_after_the_call_counts(
    node_box: SandboxSettings, rows: dict[str, Verified]
) -> None:
    good, copy = check(node_box, rows["sort_in_place"], [SORT_JS, SORT_JS_COPY])
    assert good.passed
    assert not copy.passed and copy.reason == "js_failed_test"  # right count, list left unsorted


def fake_translations(codes: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def translations(client, cfg, records):  # type: ignore[no-untyped-def]
        return [LLMResult(codes[r.entry_point], "stub-model", "translate_js@v1-test", False) for r in records]

    return translations


def test_derive_keeps_a_passing_translation_and_exports_it(
    rows: dict[str, Verified], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The model is replaced here so the kept path is certain; the real-server test is below.
    from codemint.tasks.derive.translation import Translation, node_settings

    codes = {
        "clamp_all": [CLAMP_JS],
        "median": [MEDIAN_JS_WRONG, MEDIAN_JS],  # the second candidate passes
        "parse_pairs": ["function parse_pairs(text) { return {}; }"],  # wrong, and kwargs tests skipped
        "sort_in_place": [SORT_JS_COPY],
    }
    monkeypatch.setattr(translate, "javascript_translations", fake_translations(codes))
    data = list(rows.values())
    shard = store.kept_path(tmp_path / "select", 0)
    store.write_table(shard, to_table(data, Verified))
    settings = PipelineSettings(
        sandbox=docker_settings(), exercises=ExercisesSettings(kinds=["generation", "translation"])
    )
    assert Derive(settings).uses_llm()
    result = Derive(settings).process_shard(shard, tmp_path / "derive", 0)
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    kept = {r.entry_point: r for r in out if r.exercise == "translation"}
    assert set(kept) == {"clamp_all", "median"}
    assert sum(r.exercise == "generation" for r in out) == len(data)  # no row lost for lack of a translation
    m = result.metrics
    assert m["translation_kept"] == 2
    assert m["translation_candidates:passed"] == 2 and m["translation_candidates:js_failed_test"] == 3
    median = kept["median"]
    assert median.translation is not None and median.translation.code.strip() == MEDIAN_JS.strip()
    assert median.translation.tests_run == 4 and median.translation.tests_skipped == 1
    node = node_settings(settings.sandbox)
    assert node is not None and median.translation.runtime.startswith(f"{node.image}@sha256:")
    assert median.translation.model == "stub-model"
    assert (
        "```javascript\n" in median.response and "`median`" in median.prompt and "def median" in median.prompt
    )
    record = Translation().record(median)
    assert (
        record["translated_code"] == median.translation.code and record["source_code"] == median.original_code
    )
    assert json.loads(json.dumps(record["tests_run"])) == 4


def test_translation_rows_from_a_real_model_are_all_accounted_for(
    vllm_server: VLLMServer, rows: dict[str, Verified], tmp_path: Path
) -> None:
    data = [rows["clamp_all"], rows["median"]]
    shard = store.kept_path(tmp_path / "select", 0)
    store.write_table(shard, to_table(data, Verified))
    settings = PipelineSettings(sandbox=docker_settings(), exercises=ExercisesSettings(kinds=["translation"]))
    settings.llm = LLMSettings(
        base_url=vllm_server.base_url, model=MODEL_NAME, max_tokens=200, timeout_s=120, max_retries=1
    )
    before = vllm_server.requests_total()
    result = Derive(settings).process_shard(shard, tmp_path / "derive", 0)
    assert vllm_server.requests_total() > before  # the model was really asked
    m = result.metrics
    asked = m["llm_translate_js_calls"]
    assert asked == len(data)
    failed = sum(v for k, v in m.items() if k.startswith("translation_llm_failed:"))
    judged = sum(v for k, v in m.items() if k.startswith("translation_candidates:"))
    # Each row's reply was either unusable (a counted LLM failure) or judged in Node.
    assert failed <= len(data) and judged >= len(data) - failed
    out = [ExerciseRow.model_validate(r) for r in store.read_rows(Path(result.kept_path))]
    assert len(out) == m.get("translation_kept", 0) <= m.get("translation_candidates:passed", 0)
    for row in out:  # whatever the tiny model wrote, a kept row passed its tests in Node
        assert row.translation is not None and row.translation.model == MODEL_NAME
