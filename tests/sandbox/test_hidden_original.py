"""A job cannot reach the row's original in the module it came from (ExecJob.hide), on every
backend: the import trick, `from M import f`, import_module, reload, re-import, sys.modules,
vars(), `import *`, `os.path` for posixpath and accelerator modules all fail, while code that
writes the function itself, and the module's other functions, still work; also for `json`,
which the runner itself uses."""

from __future__ import annotations

import json
import os.path
import statistics

import pytest
from sandbox_support import FAST, IMAGE, require_docker, sandbox

from codemint.codec import canonical_json, encode_input
from codemint.sandbox.api import CallOutcome, ExecJob, HiddenOriginal, Sandbox

__all__ = ["sandbox"]  # the fixture, imported from the shared module

MEDIAN = HiddenOriginal(module="statistics", names=["median"])
DATA = [5, 1, 4, 2, 3, 9]

# Ways to get statistics.median without writing it: each must fail under MEDIAN.
MEDIAN_TRICKS = {
    "import_trick": "def median(*a, **k):\n    import statistics\n    return statistics.median(*a, **k)\n",
    "from_import": "from statistics import median as m\ndef median(data):\n    return m(data)\n",
    "import_module": (
        "import importlib\ndef median(data):\n    return importlib.import_module('statistics').median(data)\n"
    ),
    "reload": (
        "import importlib, statistics\n"
        "def median(data):\n"
        "    return importlib.reload(statistics).median(data)\n"
    ),
    "reimport": (
        "import sys\n"
        "def median(data):\n"
        "    import statistics\n"
        "    del sys.modules['statistics']\n"
        "    import statistics as fresh\n"
        "    return fresh.median(data)\n"
    ),
    "sys_modules": (
        "import sys, statistics\ndef median(data):\n    return sys.modules['statistics'].median(data)\n"
    ),
    "getattr": "import statistics\ndef median(data):\n    return getattr(statistics, 'median')(data)\n",
    "vars": "import statistics\ndef median(data):\n    return vars(statistics)['median'](data)\n",
    "star": "from statistics import *\n_m = median\ndef median(data):\n    return _m(data)\n",
    "unhide_class": (
        "import statistics, types\n"
        "def median(data):\n"
        "    statistics.__class__ = types.ModuleType\n"
        "    return statistics.median(data)\n"
    ),
}
# The function written out: what a real solution does (it may use the module's other parts).
MEDIAN_REFERENCE = (
    "import statistics\n"
    "def median(data):\n"
    "    data = sorted(data)\n"
    "    n = len(data)\n"
    "    if n % 2 == 1:\n"
    "        return data[n // 2]\n"
    "    assert statistics.median_low(data) == data[n // 2 - 1]  # the rest of the module works\n"
    "    return (data[n // 2 - 1] + data[n // 2]) / 2\n"
)


def _run(box: Sandbox, jobs: list[ExecJob]) -> dict[str, CallOutcome]:
    out = {}
    for job, result in zip(jobs, box.run_batch(jobs), strict=True):
        assert result.infra_error is None, result.infra_error
        (out[job.job_id],) = result.outcomes
    return out


def _job(job_id: str, code: str, entry: str, args: list[object], hide: HiddenOriginal | None) -> ExecJob:
    return ExecJob(
        job_id=job_id, code=code, entry_point=entry, inputs=[encode_input(args)], limits=FAST, hide=hide
    )


def _unreached(outcome: CallOutcome) -> bool:
    """The job failed (what it reached for was not there)."""
    return outcome.status == "error" and outcome.exc_type is not None


def _unreached_only_when_hidden(
    box: Sandbox, jobs: list[ExecJob], out: dict[str, CallOutcome], names: list[str]
) -> None:
    """Each named job failed, and the same job without `hide` returns normally."""
    again = [job.model_copy(update={"hide": None}) for job in jobs if job.job_id in names]
    unhidden = _run(box, again)
    for name in names:
        assert _unreached(out[name]), (name, out[name])
        assert unhidden[name].status == "ok", (name, unhidden[name])


def test_every_way_to_import_the_original_fails_and_the_written_function_passes(sandbox: Sandbox) -> None:
    jobs = [_job(name, code, "median", [DATA], MEDIAN) for name, code in MEDIAN_TRICKS.items()]
    # Without `hide` every trick works: the failures are the hiding's doing, not a slip.
    jobs += [_job(f"{name}-unhidden", code, "median", [DATA], None) for name, code in MEDIAN_TRICKS.items()]
    jobs.append(_job("reference", MEDIAN_REFERENCE, "median", [DATA], MEDIAN))
    out = _run(sandbox, jobs)
    expected = canonical_json(statistics.median(DATA))
    for name in MEDIAN_TRICKS:
        assert _unreached(out[name]), (name, out[name])
        unhidden = out[f"{name}-unhidden"]
        assert (unhidden.status, unhidden.result) == ("ok", expected), (name, unhidden)
    assert (out["reference"].status, out["reference"].result) == ("ok", expected), out["reference"]


def test_a_class_is_hidden_so_a_subclass_cannot_inherit_the_method(sandbox: Sandbox) -> None:
    hide = HiddenOriginal(module="statistics", names=["NormalDist"])
    subclass = (
        "import statistics\n"
        "class NormalDist(statistics.NormalDist):\n"
        "    pass\n"
        "def f(mu, sigma):\n"
        "    return NormalDist(mu, sigma).cdf(mu)\n"
    )
    uses_module = "import statistics\ndef f(mu, sigma):\n    return statistics.fmean([mu, mu + sigma])\n"
    jobs = [
        _job("subclass", subclass, "f", [0.0, 1.0], hide),
        _job("other", uses_module, "f", [0.0, 1.0], hide),
    ]
    out = _run(sandbox, jobs)
    _unreached_only_when_hidden(sandbox, jobs, out, ["subclass"])
    assert (out["other"].status, out["other"].result) == ("ok", canonical_json(0.5))


def test_posixpath_rows_hide_os_path_too(sandbox: Sandbox) -> None:
    hide = HiddenOriginal(module="posixpath", names=["join"])
    via_os = "import os\ndef join(a, *p):\n    return os.path.join(a, *p)\n"
    via_module = "import posixpath\ndef join(a, *p):\n    return posixpath.join(a, *p)\n"
    written = (
        "def join(a, *p):\n"
        "    path = a\n"
        "    for b in p:\n"
        "        if b.startswith('/'):\n"
        "            path = b\n"
        "        elif not path or path.endswith('/'):\n"
        "            path += b\n"
        "        else:\n"
        "            path += '/' + b\n"
        "    return path\n"
    )
    args: list[object] = ["usr", "lib", "/etc", "x"]
    jobs = [
        _job(n, c, "join", args, hide)
        for n, c in (("os", via_os), ("module", via_module), ("written", written))
    ]
    out = _run(sandbox, jobs)
    _unreached_only_when_hidden(sandbox, jobs, out, ["os", "module"])
    assert (out["written"].status, out["written"].result) == ("ok", canonical_json(os.path.join(*args)))


def test_accelerator_modules_lose_the_same_name(sandbox: Sandbox) -> None:
    hide = HiddenOriginal(module="heapq", names=["heapify"])
    via_c = "import _heapq\ndef heapify(x):\n    _heapq.heapify(x)\n    return x\n"
    via_heapq = "import heapq\ndef heapify(x):\n    heapq.heapify(x)\n    return x\n"
    others = "import heapq\ndef heapify(x):\n    return heapq.nsmallest(len(x), x)\n"  # not hidden
    jobs = [
        _job(n, c, "heapify", [[3, 1, 2]], hide) for n, c in (("c", via_c), ("py", via_heapq), ("ok", others))
    ]
    out = _run(sandbox, jobs)
    _unreached_only_when_hidden(sandbox, jobs, out, ["c", "py"])
    assert (out["ok"].status, out["ok"].result) == ("ok", canonical_json([1, 2, 3]))


def test_a_module_the_runner_uses_itself_can_be_hidden_and_results_still_come_back(sandbox: Sandbox) -> None:
    # The runner reads jobs and encodes results with json; a row from json hides json.dumps,
    # and a row of a JSONEncoder method hides the class json.dumps itself builds.
    value = {"b": [1, 2.5, None], "a": "x"}
    dumps = HiddenOriginal(module="json", names=["dumps"])
    encoder = HiddenOriginal(module="json.encoder", names=["JSONEncoder"])
    trick = "import json\ndef dumps(obj):\n    return json.dumps(obj, sort_keys=True)\n"
    reference = "import json\ndef dumps(obj):\n    return json.JSONEncoder(sort_keys=True).encode(obj)\n"
    class_trick = (
        "from json import JSONEncoder\ndef dumps(obj):\n    return JSONEncoder(sort_keys=True).encode(obj)\n"
    )
    jobs = [
        _job("trick", trick, "dumps", [value], dumps),
        _job("reference", reference, "dumps", [value], dumps),
        _job("class_trick", class_trick, "dumps", [value], encoder),
        _job(
            "module_trick",
            class_trick.replace("from json import", "from json.encoder import"),
            "dumps",
            [value],
            encoder,
        ),
        _job("dumps_works", trick, "dumps", [value], encoder),  # json.dumps builds a JSONEncoder inside
    ]
    out = _run(sandbox, jobs)
    expected = canonical_json(json.dumps(value, sort_keys=True))
    _unreached_only_when_hidden(sandbox, jobs, out, ["trick", "class_trick", "module_trick"])
    for name in ("reference", "dumps_works"):
        assert (out[name].status, out[name].result) == ("ok", expected), out[name]


def test_a_module_first_imported_by_the_job_is_hidden_when_its_import_finishes(sandbox: Sandbox) -> None:
    # textwrap is not loaded in the job process before the job imports it (nothing imports it
    # ahead of time); urllib.parse is reached through its package.
    dedent = HiddenOriginal(module="textwrap", names=["dedent"])
    quote = HiddenOriginal(module="urllib.parse", names=["quote"])
    jobs = [
        _job(
            "dedent", "import textwrap\ndef f(s):\n    return textwrap.dedent(s)\n", "f", ["  a\n  b"], dedent
        ),
        _job(
            "indent", "import textwrap\ndef f(s):\n    return textwrap.indent(s, '> ')\n", "f", ["a"], dedent
        ),
        _job(
            "quote",
            "import urllib\nimport urllib.parse\ndef f(s):\n    return urllib.parse.quote(s)\n",
            "f",
            ["a b"],
            quote,
        ),
        _job(
            "package", "from urllib import parse\ndef f(s):\n    return parse.quote(s)\n", "f", ["a b"], quote
        ),
        _job(
            "unquote",
            "import urllib.parse\ndef f(s):\n    return urllib.parse.unquote(s)\n",
            "f",
            ["a%20b"],
            quote,
        ),
    ]
    out = _run(sandbox, jobs)
    _unreached_only_when_hidden(sandbox, jobs, out, ["dedent", "quote", "package"])
    assert (out["indent"].status, out["indent"].result) == ("ok", canonical_json("> a"))
    assert (out["unquote"].status, out["unquote"].result) == ("ok", canonical_json("a b"))


@pytest.mark.parametrize(
    "hide",
    [
        {"module": "statistics", "names": ["median", 3]},
        {"module": "os; import x", "names": ["f"]},
        {"module": "statistics"},
    ],
)
def test_a_malformed_hide_is_refused_by_the_runner(hide: dict[str, object]) -> None:
    from codemint.sandbox.zygote import hidden_original

    with pytest.raises(TypeError):
        hidden_original(hide)


def test_a_package_row_hides_its_reexports_and_wrappers_in_the_packages_image() -> None:
    """toolz.itertoolz.pluck is also `toolz.pluck` (a re-export) and `toolz.curried.pluck` (a
    curry object wrapping it): all three are out of reach, the rest of toolz works."""
    require_docker()
    from codemint.sandbox import open_sandbox
    from codemint.sandbox.images import ensure_env_image, requirement_set
    from codemint.settings import SandboxSettings

    image = ensure_env_image(IMAGE, requirement_set(["toolz"]))
    hide = HiddenOriginal(module="toolz.itertoolz", names=["pluck"])
    tricks = {
        "reexport": "import toolz\ndef pluck(i, s):\n    return list(toolz.pluck(i, s))\n",
        "module": "from toolz.itertoolz import pluck as p\ndef pluck(i, s):\n    return list(p(i, s))\n",
        "curried": "from toolz.curried import pluck as p\ndef pluck(i, s):\n    return list(p(i, s))\n",
    }
    written = "from toolz import take\ndef pluck(i, s):\n    return [x[i] for x in take(len(s), s)]\n"
    args: list[object] = [1, [[1, 2], [3, 4]]]
    jobs = [_job(n, c, "pluck", args, hide) for n, c in [*tricks.items(), ("written", written)]]
    with open_sandbox(SandboxSettings(backend="docker", image=image, workers=1, limits=FAST)) as box:
        out = _run(box, jobs)
        _unreached_only_when_hidden(box, jobs, out, list(tricks))
    assert (out["written"].status, out["written"].result) == ("ok", canonical_json([2, 4]))


def test_hiding_survives_loaded_modules_holding_objects_that_fail_on_access(sandbox: Sandbox) -> None:
    # A proxy that raises on every attribute (its __class__ too) sits in a loaded module when
    # textwrap's import finishes and the loaded modules are scanned for aliases.
    code = (
        "import sys, types\n"
        "class Proxy:\n"
        "    @property\n"
        "    def __class__(self):\n"
        "        raise RuntimeError('outside its context')\n"
        "    def __getattribute__(self, name):\n"
        "        raise RuntimeError('outside its context')\n"
        "hostile = types.ModuleType('hostile')\n"
        "hostile.proxy = Proxy()\n"
        "sys.modules['hostile'] = hostile\n"
        "import textwrap\n"
        "def f(s):\n"
        "    return textwrap.dedent(s)\n"
    )
    hide = HiddenOriginal(module="textwrap", names=["dedent"])
    out = _run(sandbox, [_job("proxy", code, "f", ["  a"], hide), _job("control", code, "f", ["  a"], None)])
    assert (out["proxy"].status, out["proxy"].exc_type) == ("error", "AttributeError"), out["proxy"]
    assert (out["control"].status, out["control"].result) == ("ok", canonical_json("a"))
