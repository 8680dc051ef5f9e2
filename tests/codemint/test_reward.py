"""codemint.reward: the code out of a completion, the row's tests in the sandbox, the score."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import json.encoder
import statistics
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from factories import CLAMP, MEDIAN, verified
from real_rows import docker_settings, real_row
from sandbox_support import REPO

from codemint import mutants
from codemint.codec import canonical_json, encode_input
from codemint.curation.exercise_export import ground_truth
from codemint.original_module import hidden_original
from codemint.records import TestCase as Case
from codemint.records import Verified
from codemint.reward import Target, compute_score, compute_scores, extract_code, trivial_passes
from codemint.samples import CLASS_KINDS
from codemint.sandbox.images import environment_requirements, requirement_set
from codemint.settings import AdequacySettings, ExercisesSettings, PipelineSettings
from codemint.tasks.derive.generation import generation_row

CLAMP_CALLS = [([[1, 5, 9], 2, 8], {}), ([[0, 10], 0, 10], {}), ([[3], 4, 4], {}), ([[1], 5, 2], {})]
MEDIAN_CALLS = [([[3, 1, 2]], {}), ([[4, 1, 3, 2]], {}), ([[7]], {}), ([[]], {}), ([[2, 2, 5, 9]], {})]


def completion(code: str) -> str:
    thinking = "<think>\n```python\ndef clamp_all(items, low, high):\n    return []\n```\n</think>"
    return f"{thinking}\nHere it is:\n```python\n{code}```\nDone."


def test_extract_code_takes_the_final_block_that_defines_the_function() -> None:
    final = "def clamp_all(items, low, high):\n    return items\n"
    assert extract_code(completion(final), "clamp_all") == final  # not the one in <think>
    two = f"```python\ndef clamp_all(a, b, c):\n    return 1\n```\nBetter:\n```python\n{final}```"
    assert extract_code(two, "clamp_all") == final
    assert extract_code(final, "clamp_all") == final  # bare code
    assert extract_code("```python\ndef other(x):\n    return x\n```", "clamp_all") is None
    assert extract_code("I cannot do that.", "clamp_all") is None
    assert extract_code("```python\ndef clamp_all(:\n```", "clamp_all") is None


def test_reference_scores_one_and_mutants_less_through_the_sandbox() -> None:
    box = docker_settings()
    rows = [real_row(CLAMP, CLAMP_CALLS, box), real_row(MEDIAN, MEDIAN_CALLS, box)]
    for rec in rows:
        truth = ground_truth(generation_row(rec))
        info = {"entry_point": rec.entry_point}
        assert (
            compute_score("codemint/generation", completion(rec.candidate_code), truth, info, sandbox=box)
            == 1.0
        )
        assert compute_score("codemint/generation", "no code here", truth, info, sandbox=box) == 0.0
        found = mutants.generate(rec.original_code, rec.entry_point, max_mutants=12)
        texts = [completion(m.code) for m in found]
        continuous = compute_scores(texts, [truth] * len(texts), sandbox=box)
        fraction = compute_scores(texts, [truth] * len(texts), mode="pass_fraction", sandbox=box)
        strict = compute_scores(texts, [json.loads(truth)] * len(texts), mode="all_or_nothing", sandbox=box)
        caught = [s for s in fraction if s < 1.0]
        assert caught, f"no mutant of {rec.entry_point} fails a test"
        # All-or-nothing gives 0.0 exactly where the pass fraction is below 1.0.
        assert strict == [1.0 if s == 1.0 else 0.0 for s in fraction]
        # The pass fraction is the share of tests passed: some mutant passes some, not all.
        n = len(rec.test_cases)
        assert any(0.0 < s < 1.0 for s in fraction)
        assert all(s * n == pytest.approx(round(s * n)) for s in fraction)
        # The continuous score counts only what a trivially wrong solution would not pass.
        assert all(c <= f for c, f in zip(continuous, fraction, strict=True))
        assert [c == 1.0 for c in continuous] == [f == 1.0 for f in fraction]


IS_SMALL_PRIME = '''
def is_small_prime(n):
    """Whether n is a prime below 100; raises TypeError for a non-int."""
    if not isinstance(n, int):
        raise TypeError("n must be an int")
    return 1 < n < 100 and all(n % d for d in range(2, int(n ** 0.5) + 1))
'''
PRIME_CALLS = [([n], {}) for n in (0, 1, 4, 6, 9, 15, 21, 2, 7, 97)] + [(["7"], {}), ([2.5], {})]
CHEATS = {  # each passes many of the tests above without deciding anything
    "false": "def is_small_prime(n):\n    return False\n",
    "raise": "def is_small_prime(n):\n    raise TypeError(n)\n",
    "identity": "def is_small_prime(n):\n    return n\n",
}


def test_trivially_wrong_completions_earn_no_continuous_reward() -> None:
    box = docker_settings()
    rec = real_row(IS_SMALL_PRIME, PRIME_CALLS, box)
    truth = ground_truth(generation_row(rec))
    texts = [completion(code) for code in CHEATS.values()]
    fraction = compute_scores(texts, [truth] * len(texts), mode="pass_fraction", sandbox=box)
    # `return False` passes 7 of the 12 tests: more than half the reward as a plain share.
    assert dict(zip(CHEATS, fraction, strict=True))["false"] == pytest.approx(7 / 12)
    assert compute_scores(texts, [truth] * len(texts), sandbox=box) == [0.0, 0.0, 0.0]
    assert compute_score("codemint/generation", completion(rec.candidate_code), truth, sandbox=box) == 1.0
    # One more test right than `return False` is worth its share of what is left to decide.
    off_by_one = "def is_small_prime(n):\n    return n in (2, 3, 5, 7)\n"  # wrong on 97, no TypeError
    got = compute_score("codemint/generation", completion(off_by_one), truth, sandbox=box)
    assert got == pytest.approx((9 - 7) / (12 - 7))


def test_trivial_passes_counts_the_best_constant_exception_or_returned_argument() -> None:
    target = Target("f")
    cases = [
        Case(input=encode_input([1]), expected=canonical_json(0)),
        Case(input=encode_input([2]), expected=canonical_json(0)),
        Case(input=encode_input([5]), expected=canonical_json(5)),
        Case(input=encode_input([6]), expected=canonical_json(6)),
        Case(input=encode_input([7]), expected=canonical_json(7)),
        Case(input=encode_input(["x"]), exception="TypeError"),
    ]
    assert trivial_passes(cases, target) == 3  # `return n` (a constant 0 passes 2)
    # Changing an argument or printing is more than a trivial solution does.
    changed = [c.model_copy(update={"args_after": encode_input([9])}) for c in cases[2:5]]
    assert trivial_passes(cases[:2] + changed + cases[5:], target) == 2
    assert trivial_passes([cases[5]] * 4, target) == 4
    # Compared as the verdict compares: a list of ints returned passes tests expecting floats.
    floats = [Case(input=encode_input([[n, 2]]), expected=canonical_json([float(n), 2.0])) for n in (1, 3)]
    assert trivial_passes(floats, target) == 2


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="reward mode"):
        compute_scores(["x"], ['{"entry_point": "f", "test_cases": [{"input": "{}"}]}'], mode="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test JSON"):
        compute_score("codemint/generation", "x", '{"tests": []}')
    with pytest.raises(ValueError, match="no test cases"):
        compute_score("codemint/generation", "x", '{"entry_point": "f", "test_cases": []}')


COUNTER = '''
class Counter:
    """A running total."""

    def __init__(self, start=0):
        self.total = start

    def add(self, n):
        """Add n to the total and return the new total."""
        self.total += n
        return self.total
'''


def test_a_method_row_is_scored_through_verifys_harness() -> None:
    """Method samples: the completion defines the class; the reward builds the instance, calls
    the method and compares the value and the instance's state, as verify does."""
    from codemint.codec import encode_input
    from codemint.records import TestCase
    from codemint.samples import runnable
    from codemint.sandbox import shared_sandbox
    from codemint.sandbox.api import ExecJob

    box = docker_settings()
    calls = [([[1], {}, [2], {}], {}), ([[0], {}, [5], {}], {}), ([[], {}, [-3], {}], {})]
    inputs = [encode_input(args, kwargs) for args, kwargs in calls]
    code, entry = runnable(COUNTER, "method", "add", "Counter")
    job = ExecJob(job_id="ref", code=code, entry_point=entry, inputs=inputs)
    (result,) = shared_sandbox(box).run_batch([job])
    assert [o.status for o in result.outcomes] == ["ok"] * 3
    cases = [TestCase(input=i, expected=o.result) for i, o in zip(inputs, result.outcomes, strict=True)]
    truth = json.dumps(
        {"entry_point": "add", "sample_kind": "method", "class_name": "Counter",
         "test_cases": [c.model_dump(mode="json") for c in cases]}
    )  # fmt: skip
    right = completion(COUNTER)
    # Right return value, but the object is left unchanged: the state comparison catches it.
    no_state = COUNTER.replace("self.total += n\n        return self.total", "return self.total + n")
    stateless = completion(no_state)
    assert compute_score("codemint/generation", right, truth, sandbox=box) == 1.0
    assert compute_score("codemint/generation", stateless, truth, sandbox=box) == 0.0
    assert extract_code(right, "add") is None  # a method is not a top-level function


# -- the environment the tests were recorded in, and the original out of reach ---------------

PLAIN_IMAGE = "codemint-sandbox:latest@sha256:" + "0" * 64
ENV_IMAGE = "codemint-sandbox-env:0123456789abcdef@sha256:" + "1" * 64


def _from_module(rec: Verified, source_uri: str, path: str, line: int, image: str) -> Verified:
    prov = rec.provenance.model_copy(update={"source_uri": source_uri, "path": path, "line_start": line})
    return rec.model_copy(update={"provenance": prov, "sandbox_image": image})


def _recorded(rec: Verified) -> Verified:
    """The row with its environment recorded, as execute records it (tasks/execute/stage.py)."""
    return rec.model_copy(
        update={
            "environment_requirements": environment_requirements(rec.provenance, rec.sandbox_image or ""),
            "hidden": hidden_original(rec.provenance, rec.sample_kind, rec.entry_point, rec.class_name),
        }
    )


def _environment(rec: Verified) -> dict[str, Any]:
    env: dict[str, Any] = json.loads(ground_truth(generation_row(_recorded(rec))))["environment"]
    return env


def test_ground_truth_names_the_image_its_requirements_and_what_to_hide() -> None:
    from toolz import recipes

    def line_of(obj: Any) -> int:
        return inspect.getsourcelines(obj)[1]

    median = _from_module(
        verified(MEDIAN), "stdlib:statistics", "statistics.py", line_of(statistics.median), PLAIN_IMAGE
    )
    assert _environment(median) == {
        "image": PLAIN_IMAGE,
        "requirements": [],
        "hide": {"module": "statistics", "names": ["median"]},
    }
    # A method sample hides its class (a subclass would inherit the method).
    method = _from_module(
        verified(MEDIAN), "stdlib:textwrap", "textwrap.py", line_of(textwrap.TextWrapper.wrap), PLAIN_IMAGE
    ).model_copy(update={"sample_kind": "method", "entry_point": "wrap", "class_name": "TextWrapper"})
    assert _environment(method)["hide"] == {"module": "textwrap", "names": ["TextWrapper"]}
    # A function made from a static method, or lifted out of a function: the top-level
    # definition holding it goes too. json/encoder.py from `--from-package json`.
    nested = _from_module(
        verified(MEDIAN),
        "stdlib:json",
        "json/encoder.py",
        line_of(json.encoder._make_iterencode) + 30,
        PLAIN_IMAGE,
    ).model_copy(update={"sample_kind": "lifted", "entry_point": "_iterencode_list"})
    assert _environment(nested)["hide"] == {
        "module": "json.encoder",
        "names": ["_iterencode_list", "_make_iterencode"],
    }
    # `--from-package urllib.parse` and `os.path` (planned from posixpath.py).
    quote = _from_module(verified(MEDIAN), "stdlib:urllib.parse", "parse.py", 1, PLAIN_IMAGE)
    assert _environment(quote.model_copy(update={"entry_point": "quote"}))["hide"]["module"] == "urllib.parse"
    join = _from_module(verified(MEDIAN), "stdlib:os.path", "posixpath.py", 1, PLAIN_IMAGE)
    assert _environment(join)["hide"]["module"] == "posixpath"

    # A package row recorded in its derived image: the image's requirement set, pinned.
    countby = _from_module(
        verified(COUNTBY), "pypi:toolz", "toolz/recipes.py", line_of(recipes.countby), ENV_IMAGE
    )
    env = _environment(countby)
    assert env["requirements"] == requirement_set(["toolz"])
    assert f"toolz=={importlib.metadata.version('toolz')}" in env["requirements"]
    assert env["hide"] == {"module": "toolz.recipes", "names": ["countby"]}
    # `--from-package toolz.recipes` gives the path below toolz/.
    assert _environment(countby.model_copy(update={"provenance": countby.provenance.model_copy(
        update={"path": "recipes.py"})}))["hide"]["module"] == "toolz.recipes"  # fmt: skip
    # Recorded in the plain image (package_env off): no environment to rebuild.
    assert _environment(countby.model_copy(update={"sandbox_image": PLAIN_IMAGE}))["requirements"] == []
    # Files, checkouts and dumps have no importable module: nothing to hide.
    loose = _from_module(verified(MEDIAN), "file:///tmp/project", "stats.py", 1, PLAIN_IMAGE)
    assert _environment(loose) == {"image": PLAIN_IMAGE, "requirements": [], "hide": None}


COUNTBY = '''
from toolz.itertoolz import frequencies, getter

def countby(key, seq):
    """Count elements of a collection by a key function."""
    if not callable(key):
        key = getter(key)
    return frequencies(map(key, seq))
'''
COUNTBY_CALLS: list[tuple[Any, Any]] = [
    (0, [[1, 2], [1, 3], [2, 4]]),
    ("a", [{"a": 1}, {"a": 2}, {"a": 1}]),
    (1, ["ab", "cb", "xy"]),
    ([0, 1], [[1, 2, 3], [1, 2, 4], [0, 0, 0]]),
]
IMPORT_COUNTBY = "def countby(*a, **k):\n    import toolz\n    return toolz.countby(*a, **k)\n"
FROM_COUNTBY = "from toolz.recipes import countby as c\ndef countby(key, seq):\n    return c(key, seq)\n"
IMPORT_MEDIAN = "def median(*a, **k):\n    import statistics\n    return statistics.median(*a, **k)\n"


def test_default_reward_hides_the_original_and_runs_in_the_rows_package_environment() -> None:
    """With compute_score's default settings: the import trick scores 0, the reference 1.0,
    on a stdlib row and on a row of an installed package whose reference imports the package
    (it runs only in the derived image the tests were recorded in)."""
    from toolz import recipes

    box = docker_settings()
    # (statistics.median raises StatisticsError on []: left out, so only hiding stops the trick)
    median = real_row(MEDIAN, [c for c in MEDIAN_CALLS if c[0] != [[]]], box)
    median = _from_module(
        median,
        "stdlib:statistics",
        "statistics.py",
        inspect.getsourcelines(statistics.median)[1],
        PLAIN_IMAGE,
    )
    median_truth = ground_truth(generation_row(_recorded(median)))

    inputs = [encode_input([key, seq]) for key, seq in COUNTBY_CALLS]
    cases = [
        Case(input=i, expected=canonical_json(recipes.countby(k, s)))
        for i, (k, s) in zip(inputs, COUNTBY_CALLS, strict=True)
    ]
    countby = verified(COUNTBY).model_copy(
        update={"test_cases": cases, "test_inputs": inputs, "tests_total": len(cases)}
    )
    countby = _from_module(
        countby, "pypi:toolz", "toolz/recipes.py", inspect.getsourcelines(recipes.countby)[1], ENV_IMAGE
    )
    countby_truth = ground_truth(generation_row(_recorded(countby)))

    texts = [
        completion(MEDIAN),
        completion(IMPORT_MEDIAN),
        completion(COUNTBY),
        completion(IMPORT_COUNTBY),
        completion(FROM_COUNTBY),
    ]
    truths = [median_truth, median_truth, countby_truth, countby_truth, countby_truth]
    assert compute_scores(texts, truths) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert compute_score("codemint/generation", texts[2], countby_truth) == 1.0
    # The baseline that can import the original, and a reward run outside the package's image.
    baseline = PipelineSettings().sandbox.model_copy(update={"hide_original": False})
    assert compute_scores(texts, truths, sandbox=baseline) == [1.0, 1.0, 1.0, 1.0, 1.0]
    plain = PipelineSettings().sandbox.model_copy(update={"package_env": False})
    assert compute_scores(texts[2:3], truths[2:3], sandbox=plain) == [0.0]


def bring_image_up_to_date() -> None:
    """Rebuild the sandbox image if its runner files changed (a no-op when they did not)."""
    subprocess.run(
        ["bash", str(REPO / "sandbox/build_image.sh")], check=True, capture_output=True, timeout=600
    )


def _import_trick(truth: dict[str, Any]) -> str:
    """A completion that takes the original from its module instead of writing it (imported
    where the code runs, so a hidden original fails every test with ImportError)."""
    module = truth["environment"]["hide"]["module"]
    if truth["sample_kind"] in CLASS_KINDS:
        name = truth["class_name"]
        return f"from {module} import {name} as _Original\n\nclass {name}(_Original):\n    pass\n"
    name = truth["entry_point"]
    return (
        f"from {module} import {name} as _original\n\n"
        f"def {name}(*args, **kwargs):\n    return _original(*args, **kwargs)\n"
    )


@pytest.mark.usefixtures("prefect_server")
def test_every_row_of_a_real_run_rewards_its_reference_and_not_the_import_trick(tmp_path: Path) -> None:
    """A real pipeline run over stdlib modules and an installed package (toolz, whose rows
    run in its derived image): with compute_scores' default settings every exported
    generation row scores 1.0 for its reference code and 0.0 for importing the original."""
    from codemint import store
    from codemint.cli import flow_settings
    from codemint.flows.pipeline import pipeline

    box = docker_settings()
    settings = PipelineSettings(
        runs_dir=tmp_path,
        shards=2,
        sandbox=box,
        adequacy=AdequacySettings(enabled=False),  # not what is measured here: saves minutes
        exercises=ExercisesSettings(kinds=["generation"]),
    )
    with flow_settings(heartbeats=False):
        summary = pipeline(
            # Functions, methods (textwrap's) and a package's rows: three sources, no more (each
            # source's rows cost testgen's time, the run's most).
            packages=["bisect", "textwrap", "toolz.itertoolz"],
            run_id="hidden",
            settings=settings,
        )
    assert summary.dataset_dir is not None
    rows = [
        row
        for split in ("train", "validation")
        for row in store.read_rows(Path(summary.dataset_dir) / "rl" / f"{split}.parquet")
        if row["extra_info"]["exercise"] == "generation"
    ]
    truths = [json.loads(row["reward_model"]["ground_truth"]) for row in rows]
    sources = {row["extra_info"]["provenance"]["source_uri"] for row in rows}
    assert "pypi:toolz" in sources and len(sources) >= 3, sources
    assert all(t["environment"]["hide"] is not None for t in truths)
    # Package rows name their derived image's requirement set; the run's stdlib rows need none.
    requirements = {
        row["extra_info"]["provenance"]["source_uri"]: t["environment"]["requirements"]
        for row, t in zip(rows, truths, strict=True)
    }
    assert f"toolz=={importlib.metadata.version('toolz')}" in requirements.pop("pypi:toolz")
    assert all(r == [] for r in requirements.values())
    # Some toolz rows import the package: they pass only where it is installed.
    assert any("toolz" in row["extra_info"]["reference_code"] for row in rows)

    bring_image_up_to_date()  # other work may have changed the runner files since the run
    references = [completion(row["extra_info"]["reference_code"]) for row in rows]
    tricks = [completion(_import_trick(t)) for t in truths]
    scores = compute_scores(references + tricks, truths + truths)
    failed = {rows[i]["extra_info"]["id"]: s for i, s in enumerate(scores[: len(rows)]) if s != 1.0}
    assert not failed, failed
    leaked = {rows[i]["extra_info"]["entry_point"]: s for i, s in enumerate(scores[len(rows) :]) if s != 0.0}
    assert not leaked, leaked
