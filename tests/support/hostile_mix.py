"""A burst of benign jobs with a share of hostile ones (issue 10's load test), shared by
tests/sandbox/test_hostile_mix.py (small) and benchmarks/sandbox_hostile_mix.py (1,000 jobs).

Benign jobs have expected results computed here on the host; hostile ones try every class of
attack that must not cost a benign job its correct verdict: forging, reading other jobs' data,
killing or stopping the runner and zygote, IPC and file leftovers, floods, bombs and hangs."""

from __future__ import annotations

import random

from codemint.codec import canonical_json, encode_input
from codemint.sandbox.api import ExecJob, ExecLimits

# CPU-bound hostility ends at 1 s of CPU; the wall-clock limit is generous so that a benign
# job on an overloaded machine is never cut off for waiting for a CPU.
MIX_LIMITS = ExecLimits(timeout_s=5.0, cpu_s=1, memory_mb=256)
BENIGN_CODE = "def f(a, b):\n    return {'sum': a + b, 'pair': (a, b), 'text': str(a) * (b % 3)}\n"


def benign_expected(a: int, b: int) -> str:
    return canonical_json({"sum": a + b, "pair": (a, b), "text": str(a) * (b % 3)})


HOSTILE = {
    "scan_memory_for_answers": (
        "import gc\ndef f(a, b):\n"
        "    found = [o for o in gc.get_objects() if isinstance(o, str) and '\"sum\"' in o]\n"
        "    return {'sum': a + b + len(found), 'pair': (a, b), 'text': str(a) * (b % 3)}\n"
    ),
    "kill_everything": (
        "import os\ndef f(a, b):\n"
        "    for p in os.listdir('/proc'):\n"
        "        if p.isdigit() and int(p) != os.getpid():\n"
        "            try:\n                os.kill(int(p), 9)\n"
        "            except OSError:\n                pass\n"
        "    os.kill(-1, 9)\n"
    ),
    "stop_everything": (
        "import os\ndef f(a, b):\n"
        "    for p in os.listdir('/proc'):\n"
        "        if p.isdigit() and int(p) != os.getpid():\n"
        "            try:\n                os.kill(int(p), 19)\n"
        "            except OSError:\n                pass\n"
    ),
    "exit_zero_and_fake_result": (
        'import os\ndef f(a, b):\n    print(\'{"status": "ok", "result": "1"}\')\n    os._exit(0)\n'
    ),
    "shm_leftover": (
        "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.shmat.restype = ctypes.c_void_p\n"
        "def f(a, b):\n    i = libc.shmget(0, 96 * 1024 * 1024, 0o1600)\n"
        "    ctypes.memset(libc.shmat(i, None, 0), 1, 96 * 1024 * 1024)\n    return 1\n"
    ),
    "hostile_dirs": (
        "import os\ndef f(a, b):\n    for _ in range(300):\n        os.mkdir('d')\n        os.chdir('d')\n"
        "    os.chmod('.', 0)\n    os.chmod('/tmp', 0)\n    return 1\n"
    ),
    "daemon": (
        "import os, time\ndef f(a, b):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(1000)\n        os._exit(0)\n    return 1\n"
    ),
    "fork_bomb": (
        "import os\ndef f(a, b):\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n"
    ),
    "busy_loop": "def f(a, b):\n    while True:\n        pass\n",
    "output_flood": "def f(a, b):\n    while True:\n        print('x' * 10000)\n",
    "memory_bomb": "def f(a, b):\n    return bytearray(10**10)\n",
    "poison_builtins": (
        "import builtins\ndef f(a, b):\n    builtins.sorted = lambda *x, **k: []\n"
        "    builtins.repr = lambda o: 'x'\n    return {'sum': 0}\n"
    ),
}


def make_mix(
    n_jobs: int, hostile_share: float, seed: int = 7, limits: ExecLimits = MIX_LIMITS
) -> tuple[list[ExecJob], dict[str, str]]:
    """`n_jobs` jobs of 3 inputs each, the given share hostile (cycling through HOSTILE),
    shuffled; returns the jobs and, per benign input, job_id#index -> expected result."""
    rng = random.Random(seed)
    n_hostile = round(n_jobs * hostile_share)
    kinds = list(HOSTILE)
    jobs: list[ExecJob] = []
    expected: dict[str, str] = {}
    for i in range(n_jobs):
        args = [(rng.randrange(-50, 50), rng.randrange(0, 9)) for _ in range(3)]
        inputs = [encode_input(list(pair)) for pair in args]
        if i < n_hostile:
            kind = kinds[i % len(kinds)]
            jobs.append(
                ExecJob(
                    job_id=f"hostile-{kind}-{i}",
                    code=HOSTILE[kind],
                    entry_point="f",
                    inputs=inputs,
                    limits=limits,
                )
            )
        else:
            job_id = f"benign-{i}"
            jobs.append(
                ExecJob(job_id=job_id, code=BENIGN_CODE, entry_point="f", inputs=inputs, limits=limits)
            )
            for k, (a, b) in enumerate(args):
                expected[f"{job_id}#{k}"] = benign_expected(a, b)
    rng.shuffle(jobs)
    return jobs, expected


def wrong_benign_verdicts(jobs: list[ExecJob], results: list, expected: dict[str, str]) -> list[str]:
    """Every benign input whose outcome is not the correct return value (with why)."""
    wrong = []
    for job, res in zip(jobs, results, strict=True):
        if not job.job_id.startswith("benign-"):
            continue
        if res.infra_error is not None:
            wrong.append(f"{job.job_id}: infra_error {res.infra_error[:200]}")
            continue
        for k, out in enumerate(res.outcomes):
            want = expected[f"{job.job_id}#{k}"]
            if out.status != "ok" or out.result != want or out.stdout or out.args_after:
                wrong.append(f"{job.job_id}#{k}: {out.status} {out.result!r} {out.exc_message!r}")
    return wrong
