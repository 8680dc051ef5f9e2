"""A job's code imported once, its inputs forked from that state (sandbox/import_once.py):
each input still sees nothing of any other, limits and output are per input as before, the
old path is taken when the import leaves state that would outlive an input, and the outcomes
are those of a fresh import per input.

A per-job zygote is used when the import costs more than the process it adds (measured on
the job's first input, run the old way): the codes here sleep at their top level to be such
imports, and a code whose import is cheap keeps the old path."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from sandbox_support import BACKENDS, FAST, make_sandbox

from codemint.codec import encode_input
from codemint.sandbox.api import CallOutcome, ExecJob, ExecLimits, ExecResult, HiddenOriginal, Sandbox
from codemint.settings import DEFAULT_STDLIB_MODULES

Boxes = tuple[Sandbox, Sandbox]  # import once, fresh import per input


def _boxes(backend: str) -> Iterator[Boxes]:
    once = make_sandbox(backend, workers=1)
    fresh = make_sandbox(backend, workers=1)
    fresh.import_once = False  # type: ignore[attr-defined]
    assert once.import_once is True  # type: ignore[attr-defined]
    try:
        yield once, fresh
    finally:
        once.close()
        fresh.close()


@pytest.fixture(scope="module", params=BACKENDS)
def boxes(request: pytest.FixtureRequest) -> Iterator[Boxes]:
    yield from _boxes(request.param)


# The slower cases (imports that sleep, limits that run out) on the real boundary only.
@pytest.fixture(scope="module", params=[pytest.param("docker", marks=pytest.mark.docker)])
def docker_boxes(request: pytest.FixtureRequest) -> Iterator[Boxes]:
    yield from _boxes(request.param)


def _job(
    code: str, calls: list[list[Any]], job_id: str = "j", limits: ExecLimits = FAST, **extra: Any
) -> ExecJob:
    inputs = [encode_input(args) for args in calls]
    return ExecJob(job_id=job_id, code=code, entry_point="f", inputs=inputs, limits=limits, **extra)


def _run(box: Sandbox, job: ExecJob) -> ExecResult:
    (result,) = box.run_batch([job])
    assert result.infra_error is None, result.infra_error
    assert len(result.outcomes) == len(job.inputs)
    return result


def _seen(outcome: CallOutcome) -> tuple[Any, ...]:
    """Everything a verdict or a test case can read from an outcome."""
    return (
        outcome.status,
        outcome.result,
        outcome.exc_type,
        outcome.exc_message,
        outcome.args_after,
        outcome.stdout,
        outcome.stderr,
    )


# Each input leaves its secret in module state, in every directory it can name (the import's
# work dir and temp dir included) and looks for the others' secrets there and in its memory.
SNOOP = """
import os, re, tempfile, time
time.sleep(0.3)  # an import worth a per-job zygote
IMPORT_DIR = os.getcwd()
TEMP_DIR = tempfile.gettempdir()
SEEN = []
TABLE = {"secrets": set()}

def _in_memory(words):
    # one-character classes: the pattern finds a word without holding it
    pattern = re.compile(b"|".join(b"".join(b"[" + re.escape(c.encode()) + b"]" for c in w) for w in words))
    hits = []
    mem = open("/proc/self/mem", "rb", buffering=0)
    for line in open("/proc/self/maps"):
        span, perms = line.split()[:2]
        if not perms.startswith("r"):
            continue
        lo, hi = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(lo)
            hits += pattern.findall(mem.read(hi - lo))
        except (OSError, OverflowError, ValueError):
            pass
    return sorted({h.decode() for h in hits})

def f(secret, others):
    found = list(SEEN) + sorted(TABLE["secrets"])
    SEEN.append(secret)
    TABLE["secrets"].add(secret)
    dirs = {IMPORT_DIR, TEMP_DIR, "/tmp", "/dev/shm", os.getcwd()}
    for d in dirs:
        try:
            with open(os.path.join(d, "left-" + secret), "w") as fh:
                fh.write(secret)
        except OSError:
            pass
    files = set()
    for d in dirs:
        try:
            files |= {n for n in os.listdir(d) if n.startswith("left-") and n != "left-" + secret}
        except OSError:
            pass
    return [found, sorted(files), _in_memory(others)]
"""


def test_inputs_see_nothing_of_each_other_through_the_imported_state(boxes: Boxes) -> None:
    once, _fresh = boxes
    secrets = [f"input-secret-{i}-9f3a" for i in range(4)]
    # The other inputs' secrets as lists of characters: this input never holds them whole.
    calls = [[s, [list(o) for o in secrets if o != s]] for s in secrets]
    # Reading all of a process's memory takes a while on a loaded machine: a longer limit.
    result = _run(once, _job(SNOOP, calls, limits=FAST.model_copy(update={"timeout_s": 8.0, "cpu_s": 8})))
    # The first input's own import (it measured the cost), then the per-job zygote's.
    assert (result.imports, result.import_fallback) == (2, None)
    assert [o.import_s > 0 for o in result.outcomes] == [True, False, False, False]
    for outcome in result.outcomes:
        assert outcome.status == "ok", outcome
        assert json.loads(outcome.result or "null") == [[], [], []]


# Top levels that leave something a fork would share between inputs (or not carry at all),
# each used as a channel by the call: the old path must be taken, with its outcomes.
LEFTOVERS = {
    "threads": (
        "import queue, threading\nBOX = queue.Queue()\n"
        "threading.Thread(target=lambda: BOX.put(BOX.get()), daemon=True).start()\n"
        "def f(secret):\n    BOX.put(secret)\n    return secret\n"
    ),
    "shared memory mappings": (
        "import mmap\nMM = mmap.mmap(-1, 64)\n"
        "def f(secret):\n    before = MM[:16].rstrip(b'\\0').decode()\n"
        "    MM[:16] = secret.encode().ljust(16, b'\\0')\n    return before\n"
    ),
    "open file descriptors": (
        "import os\nR, W = os.pipe()\nos.set_blocking(R, False)\n"
        "def f(secret):\n    try:\n        before = os.read(R, 100).decode()\n    except BlockingIOError:\n"
        "        before = ''\n    os.write(W, secret.encode())\n    return before\n"
    ),
    "child processes": (
        "import os, time\nPID = os.fork()\nif PID == 0:\n    time.sleep(30)\n    os._exit(0)\n"
        "def f(secret):\n    return secret\n"
    ),
    "import left files": (
        "import os, tempfile\nPATH = os.path.join(tempfile.gettempdir(), 'shared.txt')\n"
        "open(PATH, 'w').close()\n"
        "def f(secret):\n    before = open(PATH).read()\n"
        "    open(PATH, 'w').write(secret)\n    return before\n"
    ),
    "interval timers": (
        "import signal\nsignal.signal(signal.SIGALRM, lambda *a: None)\n"
        "signal.setitimer(signal.ITIMER_REAL, 100)\n"
        "def f(secret):\n    return signal.getitimer(signal.ITIMER_REAL)[0] > 0\n"
    ),
}


# An import worth a per-job zygote over three more inputs, even on a loaded machine.
SLOW_TOP = "import time\ntime.sleep(0.25)\n"


@pytest.mark.parametrize("reason", sorted(LEFTOVERS))
def test_an_import_that_leaves_shared_state_falls_back_to_a_fresh_import_per_input(
    docker_boxes: Boxes, reason: str
) -> None:
    once, fresh = docker_boxes
    calls = [["alpha-secret"], ["beta-secret"], ["gamma-secret"], ["delta-secret"]]
    job = _job(SLOW_TOP + LEFTOVERS[reason], calls)
    got, want = _run(once, job), _run(fresh, job)
    assert got.import_fallback == reason
    assert got.imports == len(job.inputs) + 1  # the per-job zygote's import, then one per input
    assert [_seen(o) for o in got.outcomes] == [_seen(o) for o in want.outcomes]
    secrets = [args[0] for args in (json.loads(text)["args"] for text in job.inputs)]
    for mine, outcome in zip(secrets, got.outcomes, strict=True):
        assert outcome.status == "ok", outcome
        assert not [s for s in secrets if s != mine and s in (outcome.result or "")], outcome


LIMITS = """
import os, signal, time
IMPORTER = os.getpid()  # the per-job zygote, imported once; else the input's own process
print("imported " + "x" * 5000)
time.sleep(0.6)

def f(what):
    if what == "sleep":
        time.sleep(1.2)  # within the limit alone, not with the import's 0.6 s
    elif what == "hang":
        time.sleep(1e9)
    elif what == "memory":
        return len(bytearray(10**10))
    elif what == "flood":
        print("y" * 12000)
    elif what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif what == "kill zygote" and IMPORTER != os.getpid():
        os.kill(IMPORTER, signal.SIGKILL)
    elif what == "stop zygote" and IMPORTER != os.getpid():
        os.kill(IMPORTER, signal.SIGSTOP)
    print("called", what)
    return what
"""


@pytest.mark.parametrize(
    ("calls", "fallback"),
    [
        (["ok", "sleep", "hang", "memory", "flood", "crash", "ok"], None),
        (["ok", "kill zygote", "ok", "ok"], "per-job zygote gone"),
        (["ok", "stop zygote", "ok", "ok"], "per-job zygote stopped"),
    ],
    ids=["limits", "zygote_killed", "zygote_stopped"],
)
def test_limits_output_and_failures_stay_with_their_input(
    docker_boxes: Boxes, calls: list[str], fallback: str | None
) -> None:
    once, fresh = docker_boxes
    job = _job(LIMITS, [[c] for c in calls])
    got, want = _run(once, job), _run(fresh, job)
    assert got.import_fallback == fallback
    statuses = [o.status for o in got.outcomes]
    assert statuses == [o.status for o in want.outcomes]
    expected = {"ok": "ok", "sleep": "timeout", "hang": "timeout", "memory": "memory"}
    expected |= {"flood": "output_limit", "crash": "killed", "kill zygote": "ok", "stop zygote": "ok"}
    assert statuses == [expected[c] for c in calls]
    for g, w in zip(got.outcomes, want.outcomes, strict=True):
        assert g.stdout.startswith("imported x"), g  # the import's output starts every input's
        assert _seen(g) == _seen(w)
        assert g.duration_s >= 0.5  # the shared import counts against each input


@pytest.mark.parametrize(
    ("code", "fallback"),
    [
        (
            "print('partial', end='')\nraise ValueError('bad top level')\ndef f(x):\n    return x\n",
            "import failed",
        ),
        ("import sys\nsys.exit(3)\ndef f(x):\n    return x\n", "import failed"),
        ("def g(x):\n    return x\n", "import failed"),  # no entry point
        # Only the per-job zygote's import hangs (its fd 3 is a socket, a job process's a pipe).
        (
            "import os, stat\nif stat.S_ISSOCK(os.fstat(3).st_mode):\n    time.sleep(1e9)\n"
            "def f(x):\n    return x\n",
            "import timed out",
        ),
        # Every import hangs: the first input's timeout says nothing of the import's cost.
        ("time.sleep(1e9)\ndef f(x):\n    return x\n", None),
    ],
    ids=["raises", "exits", "no_entry_point", "times_out_once", "always_times_out"],
)
def test_a_failing_import_gives_every_input_the_old_outcome(
    docker_boxes: Boxes, code: str, fallback: str | None
) -> None:
    once, fresh = docker_boxes
    # Every import hanging costs a limit per input: two inputs show it.
    job = _job(SLOW_TOP + code, [[1], [2]] if fallback is None else [[1], [2], [3], [4]])
    got, want = _run(once, job), _run(fresh, job)
    assert got.import_fallback == fallback
    assert [_seen(o) for o in got.outcomes] == [_seen(o) for o in want.outcomes]


def test_each_input_starts_from_the_state_the_import_left(boxes: Boxes) -> None:
    # A seeded stream, a lazily filled cache and a counter: as after the input's own import.
    code = SLOW_TOP + (
        "import random\nrandom.seed(7)\nFIRST = random.random()\nCACHE = {}\nCOUNT = [0]\n"
        "def f(i):\n    COUNT[0] += 1\n    CACHE.setdefault(i, random.random())\n"
        "    return [FIRST, random.random(), COUNT[0], len(CACHE)]\n"
    )
    job = _job(code, [[1], [2], [1], [3]])
    once, fresh = boxes
    got, want = _run(once, job), _run(fresh, job)
    assert got.import_fallback is None
    assert [_seen(o) for o in got.outcomes] == [_seen(o) for o in want.outcomes]
    assert got.imports == 2  # the first input's import, then the per-job zygote's
    assert len({o.result for o in got.outcomes}) == 1  # seeded at import: the same for every input


def test_what_an_input_does_to_the_imports_work_dir_is_undone_for_the_next(boxes: Boxes) -> None:
    code = SLOW_TOP + (
        "import os\nHERE = os.getcwd()\n"
        "def f(what):\n    if what == 'symlink':\n        os.rmdir(HERE)\n        os.symlink('/', HERE)\n"
        "    elif what == 'chmod':\n        os.chmod(HERE, 0)\n    elif what == 'fill':\n"
        "        open(os.path.join(HERE, 'x'), 'w').write('x')\n    if what != 'look':\n        return what\n"
        "    return [os.path.isdir(HERE) and not os.path.islink(HERE), sorted(os.listdir(HERE))]\n"
    )
    job = _job(code, [["fill"], ["look"], ["chmod"], ["look"], ["symlink"], ["look"]])
    once, fresh = boxes
    got, want = _run(once, job), _run(fresh, job)
    assert (got.imports, got.import_fallback) == (2, None)
    assert [_seen(o) for o in got.outcomes] == [_seen(o) for o in want.outcomes]
    assert [json.loads(o.result or "null") for o in got.outcomes[1::2]] == [[True, []]] * 3


# Functions of the bundled default corpus (the stdlib modules `make run` reads), each run as
# the module's whole source with its top level, on inputs that return, mutate and raise.
CORPUS_CALLS: dict[str, list[tuple[str, list[list[Any]]]]] = {
    "textwrap": [
        ("dedent", [["  a\n  b"], ["\tx\n\ty"], [3]]),
        ("shorten", [["hello big world", 12], ["a", 1]]),
    ],
    "colorsys": [("rgb_to_hsv", [[0.2, 0.4, 0.4], [1.0, 1.0, 1.0], ["x", 1, 1]])],
    "heapq": [("heappush", [[[1, 3, 5], 2], [[], 0], [None, 1]]), ("nlargest", [[2, [5, 1, 3]], [1, []]])],
    "bisect": [("insort_left", [[[1, 2, 4], 3], [[1], 0]]), ("bisect_right", [[[1, 2, 2, 3], 2], [[], 1]])],
    "html": [("escape", [["<a href='x'>"], ["&"], [None]])],
    "fnmatch": [("fnmatch", [["a.py", "*.py"], ["a.txt", "*.py"]]), ("translate", [["*.p?"], ["[!a]"]])],
    "shlex": [("split", [["a 'b c' d"], ["'unclosed"]]), ("quote", [["a b"], [""]])],
    "string": [("capwords", [["hello   world"], ["a-b c", "-"]])],
    "posixpath": [("normpath", [["a//b/../c"], [""]]), ("splitext", [["x.tar.gz"], [".bashrc"]])],
    "statistics": [("median", [[[3, 1, 2]], [[]]]), ("mean", [[[1, 2, 4]], [["a"]]])],
    "calendar": [("monthrange", [[2024, 2], [2023, 13]]), ("isleap", [[2000], [1900]])],
    "difflib": [("get_close_matches", [["appel", ["ape", "apple", "peach"]], ["x", []]])],
    "urllib.parse": [("quote", [["a b&c"], ["/é"]]), ("urlsplit", [["http://h/p?q#f"], [""]])],
    "base64": [("b64encode", [[b"abc"], [b""]])],
    "json": [("dumps", [[{"a": 1}], [[1, 2]]])],  # relative imports: fails as a lone module
}


def _corpus_jobs() -> list[ExecJob]:
    jobs = []
    for name, entries in CORPUS_CALLS.items():
        assert name in DEFAULT_STDLIB_MODULES
        source = inspect.getsource(import_module(name))
        for entry, calls in entries:
            # The row's own function hidden in its module, as execute runs the original; a
            # top level made dearer than a process (as a bigger module's is) and more inputs,
            # so the per-job zygote is used.
            hide = HiddenOriginal(module=name, names=[entry])
            code = f"{SLOW_TOP}{source}\n\ndef f(*args):\n    return {entry}(*args)\n"
            jobs.append(_job(code, calls * 2, job_id=f"{name}.{entry}", hide=hide))
    return jobs


def test_outcomes_are_the_same_with_import_once_on_and_off_over_the_default_corpus(
    docker_boxes: Boxes,
) -> None:
    once, fresh = docker_boxes
    jobs = _corpus_jobs()
    got, want = once.run_batch(jobs), fresh.run_batch(jobs)
    fallbacks = {}
    for job, g, w in zip(jobs, got, want, strict=True):
        assert g.infra_error is None and w.infra_error is None, (g.infra_error, w.infra_error)
        assert [_seen(o) for o in g.outcomes] == [_seen(o) for o in w.outcomes], job.job_id
        assert w.imports == len(job.inputs) and w.import_fallback is None
        if g.import_fallback is not None:
            fallbacks[job.job_id] = g.import_fallback
        else:
            assert g.imports == 2  # the first input's, which measured it, and the per-job zygote's
            assert all(o.import_s == 0.0 for o in g.outcomes[1:])  # paid once, by the job
            assert all(o.import_s > 0.0 for o in w.outcomes)  # paid by every input
    assert fallbacks == {"json.dumps": "import failed"}
    statuses = {o.status for r in got for o in r.outcomes}
    assert {"ok", "error"} <= statuses
    assert any(o.args_after for r in got for o in r.outcomes)  # heappush/insort mutate


def test_a_cheap_import_keeps_the_old_path(boxes: Boxes) -> None:
    once, _fresh = boxes
    job = _job("def f(x):\n    return x * 2\n", [[i] for i in range(6)])
    for _ in range(2):  # measured on the first job's first input, remembered for the second
        result = _run(once, job)
        assert (result.imports, result.import_fallback) == (6, None)
        assert [o.result for o in result.outcomes] == [str(2 * i) for i in range(6)]
