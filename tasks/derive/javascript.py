"""Translation rows: a verified row's function in JavaScript, kept only when the translation
passes the row's tests in the sandbox.

The tests are the row's own, with the codec's values mapped to JSON (`codemint.jsmap`): a
test whose input or expected value has no JSON form, one that expects an exception (Python's
exception types have no JavaScript counterpart) or one that compares printed output is not
run; a row with fewer than `exercises.translation_min_tests` runnable tests gets no translation.

A check is one sandbox job in the Node variant of the sandbox image (`sandbox/node_image.py`):
its code is a fixed Python harness that writes the translation and a JavaScript driver to
the job's working directory and runs `node` once on all the tests, so the process inherits
the job's limits, user and container. The driver calls the function on each test's arguments
and reports its return value and the arguments after the call, or the error it threw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from codemint import jsmap
from codemint.codec import encode_input
from codemint.records import Verified
from codemint.sandbox.api import ExecJob, ExecLimits, ExecResult, Sandbox

HARNESS_ENTRY = "run_node"
NODE_MIN_MEMORY_MB = 512
LANGUAGE = "javascript"
# The driver: the translation runs inside a function scope, so its top-level names cannot
# clash with the driver's; a value JSON cannot hold comes back as {"__js__": its kind}.
_DRIVER = r"""
const __cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
function __enc(v, depth) {
  if (v === undefined || v === null) return null;
  const t = typeof v;
  if (t === "number") return Number.isFinite(v) ? v : { __js__: String(v) };
  if (t === "string" || t === "boolean") return v;
  if (t === "bigint") return { __js__: "bigint " + v };
  if (depth > 200) return { __js__: "too deep" };
  if (Array.isArray(v)) return Array.from(v, (x) => __enc(x, depth + 1));
  if (t === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const out = {};
      for (const k of Object.keys(v)) out[k] = __enc(v[k], depth + 1);
      return out;
    }
  }
  return { __js__: Object.prototype.toString.call(v) };
}
let __fn;
let __load = null;
try {
  __fn = (function () {
__CODE__
;return typeof __NAME__ === "function" ? __NAME__ : undefined;
  })();
  if (typeof __fn !== "function") __load = "__NAME__ is not a function";
} catch (e) {
  __load = String(e && e.stack ? e.stack : e);
}
const __out = [];
if (__load === null) {
  for (const args of __cases) {
    try {
      const value = __fn(...args);
      __out.push({ ok: __enc(value, 0), args: __enc(args, 0) });
    } catch (e) {
      __out.push({ error: String(e && e.name) + ": " + String(e && e.message).slice(0, 300) });
    }
  }
}
const __report = __load === null ? { results: __out } : { load_error: __load.slice(0, 1000) };
process.stdout.write(JSON.stringify(__report));
"""
# The job's code: trusted, fixed text with the driver as a constant. The tests arrive as the
# job's one input, so they are data, never code.
_HARNESS = """
import json
import subprocess

DRIVER = {driver!r}


def {entry}(cases):
    with open("translation.js", "w", encoding="utf-8") as f:
        f.write(DRIVER)
    done = subprocess.run(
        ["node", "--v8-pool-size=1", "--stack-size=4000", "translation.js"],
        input=json.dumps(cases), capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError("node exited with %d: %s" % (done.returncode, done.stderr.strip()[:700]))
    return done.stdout
"""


def driver(code: str, entry_point: str) -> str:
    return _DRIVER.replace("__NAME__", entry_point).replace("__CODE__", code.strip("\n"))


def harness(code: str, entry_point: str) -> str:
    return _HARNESS.format(driver=driver(code, entry_point), entry=HARNESS_ENTRY)


def runnable_tests(rec: Verified) -> tuple[list[jsmap.JsTest], dict[str, int]]:
    """The row's tests that can run against a translation, and why the others cannot."""
    tests: list[jsmap.JsTest] = []
    skipped: dict[str, int] = {}
    for i, case in enumerate(rec.test_cases):
        got = jsmap.js_test(i, case)
        if isinstance(got, str):
            skipped[got] = skipped.get(got, 0) + 1
        else:
            tests.append(got)
    return tests, skipped


def check_job(
    job_id: str, code: str, entry_point: str, tests: Sequence[jsmap.JsTest], limits: ExecLimits
) -> ExecJob:
    # One node process runs every test: a per-input budget for the whole batch plus start-up.
    # V8 reserves about 300 MB of address space up front: below NODE_MIN_MEMORY_MB it cannot start.
    scale = 2 + len(tests) // 10
    update = {
        "timeout_s": limits.timeout_s * scale,
        "cpu_s": limits.cpu_s * scale,
        "memory_mb": max(limits.memory_mb, NODE_MIN_MEMORY_MB),
    }
    job_limits = limits.model_copy(update=update)
    # Through the codec: a JSON object argument is a dict to it, never a tag.
    payload = encode_input([[t.args for t in tests]])
    return ExecJob(
        job_id=job_id, code=harness(code, entry_point), entry_point=HARNESS_ENTRY,
        inputs=[payload], limits=job_limits,
    )  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # "passed", or why not: "js_load_error", "js_failed_test", "timeout", ...
    detail: str = ""
    tests_passed: int = 0


def judge(tests: Sequence[jsmap.JsTest], result: ExecResult) -> Verdict:
    if result.infra_error or len(result.outcomes) != 1:
        return Verdict(False, "sandbox_error", result.infra_error or "no outcome")
    outcome = result.outcomes[0]
    if outcome.status != "ok" or outcome.result is None:
        detail = f"{outcome.exc_type}: {outcome.exc_message}" if outcome.status == "error" else outcome.status
        return Verdict(False, "js_crashed" if outcome.status == "error" else outcome.status, detail[:600])
    try:
        report = json.loads(json.loads(outcome.result))
    except (ValueError, TypeError):
        return Verdict(False, "js_bad_report", outcome.result[:200])
    if not isinstance(report, dict):
        return Verdict(False, "js_bad_report", outcome.result[:200])
    if "load_error" in report:
        return Verdict(False, "js_load_error", str(report["load_error"])[:600])
    results = report.get("results")
    if not isinstance(results, list) or len(results) != len(tests):
        return Verdict(False, "js_bad_report", "wrong number of results")
    verdicts = [jsmap.passes(t, r) for t, r in zip(tests, results, strict=True)]
    passed = sum(verdicts)
    if passed < len(tests):
        first = verdicts.index(False)
        shown = json.dumps(results[first])[:300]
        return Verdict(False, "js_failed_test", f"test {tests[first].index}: {shown}", passed)
    return Verdict(True, "passed", "", passed)


def check_translations(
    sandbox: Sandbox,
    limits: ExecLimits,
    candidates: Sequence[tuple[str, str, str, Sequence[jsmap.JsTest]]],
) -> list[Verdict]:
    """Per candidate (job id, JavaScript code, entry point, tests), its verdict; one batch."""
    jobs = [check_job(job_id, code, entry, tests, limits) for job_id, code, entry, tests in candidates]
    results = sandbox.run_batch(jobs) if jobs else []
    return [judge(c[3], r) for c, r in zip(candidates, results, strict=True)]


# Python names a JavaScript function cannot have.
_RESERVED_WORDS = """
arguments await break case catch class const continue debugger default delete do else enum eval
export extends false finally for function if implements import in instanceof interface let new
null package private protected public return static super switch this throw true try typeof var
void while with yield
"""
JS_RESERVED = frozenset(_RESERVED_WORDS.split())
