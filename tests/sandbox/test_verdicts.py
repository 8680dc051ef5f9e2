"""Verdicts that cannot be forged (issue 10), on every backend: no job sees another job's data,
comparisons see stdout and mutated arguments, repeats of the original share nothing, and no
state a job leaves behind (IPC objects, keys, hostile work dirs, chmods) reaches the next job."""

from __future__ import annotations

import io
import json

from sandbox_support import FAST, assert_healthy, run_one, sandbox

from codemint.codec import Construct, canonical_json, encode_input
from codemint.records import TestCase as Case
from codemint.sandbox.api import CallOutcome, ExecJob, Sandbox
from codemint.tasks.execute.stage import behaviour_fields, outcome_key
from codemint.tasks.verify.stage import passes

__all__ = ["sandbox"]  # the fixture, imported from the shared module

SECRET = "expected-output-7c2e91d4aa"
# Finds SECRET anywhere in the process's readable memory without holding it contiguously
# itself (a regex of one-character classes).
MEMORY_SCAN = (
    "import re\n"
    "def f(secret_chars):\n"
    "    pattern = re.compile(b''.join(b'[' + c.encode() + b']' for c in secret_chars))\n"
    "    hits = 0\n"
    "    mem = open('/proc/self/mem', 'rb', buffering=0)\n"
    "    for line in open('/proc/self/maps'):\n"
    "        span, perms = line.split()[:2]\n"
    "        if not perms.startswith('r'):\n"
    "            continue\n"
    "        lo, hi = (int(x, 16) for x in span.split('-'))\n"
    "        try:\n"
    "            mem.seek(lo)\n"
    "            hits += len(pattern.findall(mem.read(hi - lo)))\n"
    "        except (OSError, OverflowError, ValueError):\n"
    "            pass\n"
    "    return hits\n"
)


def _jobs(code: str, inputs: list[str], n: int, prefix: str, zygote: int = 0) -> list[ExecJob]:
    return [
        ExecJob(job_id=f"{prefix}{i}", code=code, entry_point="f", inputs=inputs, limits=FAST, zygote=zygote)
        for i in range(n)
    ]


def _outcomes(box: Sandbox, jobs: list[ExecJob]) -> list[list[CallOutcome]]:
    results = box.run_batch(jobs)
    for res in results:
        assert res.infra_error is None, res.infra_error
    return [res.outcomes for res in results]


def test_a_job_finds_nothing_of_earlier_jobs_in_its_memory(sandbox: Sandbox) -> None:
    # Earlier jobs on every worker had SECRET in their code, input and reply.
    code = f"def f(x):\n    return {SECRET!r} + x\n"
    first = _outcomes(sandbox, _jobs(code, [encode_input(["!"])] * 2, 4, "secret"))
    assert all(json.loads(o[0].result or "null") == SECRET + "!" for o in first)
    scans = _outcomes(sandbox, _jobs(MEMORY_SCAN, [encode_input([list(SECRET)])], 4, "scan"))
    for (out,) in scans:
        assert (out.status, out.result) == ("ok", "0"), out


def test_repeats_on_different_zygotes_share_neither_hash_seed_nor_files(sandbox: Sandbox) -> None:
    # Set order of strings follows the hash seed; the file replays an earlier answer if it can.
    code = (
        "import os, random\n"
        "def f():\n"
        "    path = '/tmp/replay'\n"
        "    if os.path.exists(path):\n"
        "        return open(path).read()\n"
        "    answer = repr((list({str(i) * 3 for i in range(40)}), random.random()))\n"
        "    open(path, 'w').write(answer)\n"
        "    return answer\n"
    )
    runs = [_outcomes(sandbox, _jobs(code, [encode_input([])], 1, "nd", zygote=z))[0] for z in (0, 1)]
    keys = {outcome_key(r[0]) for r in runs}
    assert len(keys) == 2, runs  # Execute rejects the sample as nondeterministic
    orders = [json.loads(r[0].result or "null").split("], ")[0] for r in runs]
    assert orders[0] != orders[1]  # different hash seeds, not only different random draws


def test_stdout_and_mutated_arguments_are_part_of_the_expected_outcome(sandbox: Sandbox) -> None:
    original = "def f(xs):\n    print('sum', sum(xs))\n    xs.append(len(xs))\n"
    inputs = [encode_input([[i, i + 1]]) for i in range(3)]
    (orig,) = _outcomes(sandbox, _jobs(original, inputs, 1, "orig"))
    assert orig[0].stdout == "sum 1\n" and orig[0].args_after == encode_input([[0, 1, 2]])
    assert behaviour_fields([orig, orig], [0, 1, 2]) == (True, True)
    cases = [
        Case(input=t, expected=o.result, stdout=o.stdout, args_after=o.args_after)
        for t, o in zip(inputs, orig, strict=True)
    ]
    candidates = {
        "return_none": ("def f(xs):\n    return None\n", False),
        "prints_only": ("def f(xs):\n    print('sum', sum(xs))\n", False),
        "mutates_only": ("def f(xs):\n    xs.append(len(xs))\n", False),
        "same": ("def f(xs):\n    print('sum', sum(xs))\n    xs += [len(xs)]\n", True),
    }
    for name, (code, ok) in candidates.items():
        (outs,) = _outcomes(sandbox, _jobs(code, inputs, 1, name))
        assert all(passes(c, o) for c, o in zip(cases, outs, strict=True)) is ok, name


def test_constant_banner_is_not_compared_but_input_dependent_output_is(sandbox: Sandbox) -> None:
    inputs = [encode_input([i]) for i in range(3)]
    (banner,) = _outcomes(sandbox, _jobs("def f(x):\n    print('hello')\n    return x\n", inputs, 1, "b"))
    assert behaviour_fields([banner], [0, 1, 2]) == (False, False)


def test_instances_are_compared_by_state(sandbox: Sandbox) -> None:
    code = "class Box:\n    def __init__(self, v):\n        self.v = v\ndef f(x):\n    return Box(x * 2)\n"
    (outs,) = _outcomes(sandbox, _jobs(code, [encode_input([1]), encode_input([2])], 1, "box"))
    assert outs[0].result == '{"__object__":["__codemint__.Box",[["v",2]]]}'
    assert outs[0].result != outs[1].result


def test_named_tuples_enums_and_container_subclasses_are_compared_by_contents(sandbox: Sandbox) -> None:
    code = (
        "import enum\nfrom typing import NamedTuple\n"
        "class P(NamedTuple):\n    x: int\n    y: int\n"
        "class Colour(enum.Enum):\n    RED = 1\n    BLUE = 2\n"
        "class Bag(list):\n    pass\n"
        "def f(i):\n    return [P(i, 2 * i), Colour(1 + i % 2), Bag([i])]\n"
    )
    (outs,) = _outcomes(sandbox, _jobs(code, [encode_input([1]), encode_input([2])], 1, "nt"))
    assert outs[0].status == outs[1].status == "ok"
    assert '["__value__",{"__tuple__":[1,2]}]' in (outs[0].result or "")
    assert '["__value__","BLUE"]' in (outs[0].result or "")
    assert '["__value__","RED"]' in (outs[1].result or "")
    assert outs[0].result != outs[1].result


CONSTRUCTED = (
    "from dataclasses import dataclass\n"
    "@dataclass\nclass Point:\n    x: float\n    y: float\n"
    "def f(p: Point, scale: int = 1) -> float:\n    p.x *= scale\n    return (p.x ** 2 + p.y ** 2) ** 0.5\n"
)


def test_inputs_can_be_instances_of_the_codes_own_classes(sandbox: Sandbox) -> None:
    point = Construct("Point", [3.0], {"y": 4.0})
    builtin = Construct("print", [], {})
    inputs = [encode_input([point]), encode_input([point], {"scale": 0}), encode_input([builtin])]
    (outs,) = _outcomes(sandbox, _jobs(CONSTRUCTED, inputs, 1, "new"))
    assert [o.status for o in outs] == ["ok", "ok", "error"]
    assert (outs[0].result, outs[1].result) == ("5.0", "4.0")
    # Only the code's own classes can be built: not a builtin, whatever the name.
    assert outs[2].exc_type == "TypeError" and "not a class of the code" in (outs[2].exc_message or "")
    # The instance's state after the call is reported (in state form) and compared.
    assert outs[1].args_after is not None and '["x",0.0]' in outs[1].args_after
    keys = behaviour_fields([outs], [0, 1])
    assert keys == (False, True)
    expected = [Case(input=inputs[i], expected=outs[i].result, args_after=outs[i].args_after) for i in (0, 1)]
    wrong = CONSTRUCTED.replace("p.x *= scale", "p = Point(p.x * scale, p.y)")  # forgets to mutate
    jobs = [*_jobs(CONSTRUCTED, inputs[:2], 1, "g"), *_jobs(wrong, inputs[:2], 1, "w")]
    (good, bad) = _outcomes(sandbox, jobs)
    assert all(passes(c, o) for c, o in zip(expected, good, strict=True))
    assert passes(expected[0], bad[0]) and not passes(expected[1], bad[1])


def test_in_memory_files_are_inputs_and_what_is_read_or_written_counts(sandbox: Sandbox) -> None:
    # A reader of a binary file object: the value and how far it read are both the outcome.
    reader = "def f(fp):\n    size = fp.read(1)[0]\n    return fp.read(size)\n"
    inputs = [encode_input([io.BytesIO(b"\x02abc")]), encode_input([io.BytesIO(b"\x00z")])]
    (outs,) = _outcomes(sandbox, _jobs(reader, inputs, 1, "rd"))
    assert [o.result for o in outs] == [canonical_json(b"ab"), canonical_json(b"")]
    assert outs[0].args_after == encode_input([_at(io.BytesIO(b"\x02abc"), 3)])
    expected = [
        Case(input=t, expected=o.result, args_after=o.args_after) for t, o in zip(inputs, outs, strict=True)
    ]
    candidates = {
        "same": ("def f(fp):\n    n = fp.read(1)[0]\n    return fp.read(n)\n", True),
        "reads_all": ("def f(fp):\n    data = fp.read()\n    return data[1 : 1 + data[0]]\n", False),
    }
    # A writer: what it wrote to the output file is compared, though it returns None.
    writer = "def f(src, dst):\n    dst.write(src.read().upper())\n"
    w_inputs = [encode_input([io.StringIO("ab\n"), io.StringIO()])]
    (w_outs,) = _outcomes(sandbox, _jobs(writer, w_inputs, 1, "wr"))
    assert w_outs[0].args_after == encode_input([_at(io.StringIO("ab\n"), 3), _at(io.StringIO("AB\n"), 3)])
    w_expected = Case(input=w_inputs[0], expected=w_outs[0].result, args_after=w_outs[0].args_after)
    for name, (code, ok) in candidates.items():
        (got,) = _outcomes(sandbox, _jobs(code, inputs, 1, name))
        assert all(passes(c, o) for c, o in zip(expected, got, strict=True)) is ok, name
    (lower,) = _outcomes(sandbox, _jobs(writer.replace("upper", "lower"), w_inputs, 1, "wl"))
    assert not passes(w_expected, lower[0])


def test_a_generator_that_raises_as_it_is_consumed_is_compared_by_items_and_exception(
    sandbox: Sandbox,
) -> None:
    # The error surfaces only while the result is consumed, after the call returned.
    original = "def f(xs):\n    for x in xs:\n        yield 10 // x\n"
    inputs = [encode_input([[5, 2]]), encode_input([[5, 0, 1]])]
    (outs,) = _outcomes(sandbox, _jobs(original, inputs, 1, "gen"))
    assert [o.status for o in outs] == ["ok", "ok"]
    assert (
        outs[1].result == '{"__iter_raised__":[[2],"ZeroDivisionError","integer division or modulo by zero"]}'
    )
    expected = [Case(input=t, expected=o.result) for t, o in zip(inputs, outs, strict=True)]
    candidates = {
        "same": ("def f(xs):\n    return (10 // x for x in xs)\n", True),
        "raises_before_any_item": (
            "def f(xs):\n"
            "    if 0 in xs:\n"
            "        raise ZeroDivisionError('integer division or modulo by zero')\n"
            "    yield from (10 // x for x in xs)\n",
            False,
        ),
        "other_error": (
            "def f(xs):\n"
            "    for x in xs:\n"
            "        if not x:\n"
            "            raise ValueError(x)\n"
            "        yield 10 // x\n",
            False,
        ),
    }
    for name, (code, ok) in candidates.items():
        (got,) = _outcomes(sandbox, _jobs(code, inputs, 1, name))
        assert all(passes(c, o) for c, o in zip(expected, got, strict=True)) is ok, name


def _at(stream: io.IOBase, position: int) -> io.IOBase:
    stream.seek(position)
    return stream


IPC_LEFTOVERS = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def f():\n"
    "    made = []\n"
    "    shm = libc.shmget(0, 64 * 1024 * 1024, 0o1600)\n"  # IPC_CREAT | 0600
    "    libc.shmat.restype = ctypes.c_void_p\n"
    "    addr = libc.shmat(shm, None, 0) if shm >= 0 else None\n"
    "    if addr not in (None, ctypes.c_void_p(-1).value):\n"
    "        ctypes.memset(addr, 1, 64 * 1024 * 1024)\n"
    "        made.append('shm')\n"
    "    if libc.msgget(0, 0o1600) >= 0:\n"
    "        made.append('msg')\n"
    "    if libc.semget(0, 4, 0o1600) >= 0:\n"
    "        made.append('sem')\n"
    "    libc.mq_open.restype = ctypes.c_int\n"
    "    if libc.mq_open(b'/codemint-q', os.O_CREAT | os.O_RDWR, 0o600, None) >= 0:\n"
    "        made.append('mq')\n"
    "    key = libc.syscall(248, b'user', b'codemint-key', b'secret', 6, -4)\n"  # add_key, user keyring
    "    if key >= 0:\n"
    "        made.append('key')\n"
    "    return made\n"
)
IPC_CHECK = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def f():\n"
    "    seen = []\n"
    "    for kind in ('shm', 'msg', 'sem'):\n"
    "        try:\n"
    "            rows = open(f'/proc/sysvipc/{kind}').read().splitlines()[1:]\n"
    "        except OSError:\n"
    "            rows = []\n"
    "        seen += [kind] * len(rows)\n"
    "    libc.mq_open.restype = ctypes.c_int\n"
    "    if libc.mq_open(b'/codemint-q', os.O_RDWR, 0, None) >= 0:\n"
    "        seen.append('mq')\n"
    "    if libc.syscall(250, 11, -4, None, 0) > 0:\n"  # KEYCTL_READ of the user keyring: its size
    "        seen.append('key')\n"
    "    return seen\n"
)


def test_ipc_objects_and_keys_do_not_outlive_their_job(sandbox: Sandbox) -> None:
    made = _outcomes(sandbox, _jobs(IPC_LEFTOVERS, [encode_input([])], 4, "ipc"))
    assert all(o[0].status == "ok" and "shm" in (o[0].result or "") for o in made), made
    checks = _outcomes(sandbox, _jobs(IPC_CHECK, [encode_input([])], 4, "check"))
    for (out,) in checks:
        assert (out.status, out.result) == ("ok", "[]"), out
    assert_healthy(sandbox)


HOSTILE_WORK_DIRS = {
    "mode_000_dir": (
        "import os\ndef f():\n    os.makedirs('a/b/c')\n    open('a/b/c/x', 'w').write('x')\n"
        "    os.chmod('a/b', 0)\n    os.chmod('a', 0)\n    return 1\n"
    ),
    "deep_tree": (
        "import os\ndef f():\n    for _ in range(1500):\n        os.mkdir('d')\n        os.chdir('d')\n"
        "    open('leaf', 'w').write('x')\n    os.chmod('.', 0o500)\n    return 1\n"
    ),
    "long_names_deep": (
        "import os\ndef f():\n    name = 'n' * 200\n    for _ in range(60):\n        os.mkdir(name)\n"
        "        os.chdir(name)\n    return 1\n"
    ),
    "symlinks_out": (
        "import os\ndef f():\n    os.symlink('/etc', 'etc')\n    os.symlink('..', 'up')\n"
        "    os.symlink('/tmp', 'tmp')\n    os.mkdir('loop')\n    os.symlink('../loop', 'loop/self')\n"
        "    return 1\n"
    ),
    "chmods_shared_dirs": (
        "import contextlib, os\ndef f():\n"
        "    for path in ('/tmp', '/dev/shm', '/dev', '/dev/mqueue', os.getcwd()):\n"
        "        with contextlib.suppress(OSError):\n            os.chmod(path, 0)\n    return 1\n"
    ),
    "files_in_dev": (
        "import contextlib, os\ndef f():\n"
        "    with contextlib.suppress(OSError):\n        open('/dev/planted', 'w').write('x')\n"
        "    with contextlib.suppress(OSError):\n        os.mkdir('/dev/shm/planted', 0)\n    return 1\n"
    ),
}
AFTER_HOSTILE = (
    "import os, tempfile\n"
    "def f():\n"
    "    for d in ('/tmp', '/dev/shm'):\n"
    "        with tempfile.NamedTemporaryFile(dir=d) as fh:\n"
    "            fh.write(b'ok')\n"
    "    return sorted(set(os.listdir('/dev')) & {'planted'}) + sorted(os.listdir('/dev/shm'))\n"
)


def test_hostile_work_dirs_and_chmods_never_cost_a_verdict(sandbox: Sandbox) -> None:
    for name, code in HOSTILE_WORK_DIRS.items():
        outs = _outcomes(sandbox, _jobs(code, [encode_input([])], 2, name))
        assert all(o[0].status == "ok" for o in outs), (name, outs)
        after = _outcomes(sandbox, _jobs(AFTER_HOSTILE, [encode_input([])], 4, f"after-{name}"))
        for (out,) in after:
            assert (out.status, out.result) == ("ok", "[]"), (name, out)


def test_a_job_cannot_reach_the_zygote_or_the_runner(sandbox: Sandbox) -> None:
    # Kill or stop every other process it can see: the pool still serves fresh job processes.
    code = (
        "import os, signal\n"
        "def f(sig):\n"
        "    for p in os.listdir('/proc'):\n"
        "        if p.isdigit() and int(p) != os.getpid():\n"
        "            try:\n"
        "                os.kill(int(p), sig)\n"
        "            except OSError:\n"
        "                pass\n"
        "    return 1\n"
    )
    for sig in (19, 9):  # SIGSTOP, then SIGKILL
        _outcomes(sandbox, _jobs(code, [encode_input([sig])], 2, f"kill{sig}"))
        assert_healthy(sandbox)
    _ = run_one(sandbox, "def f():\n    return 2\n")


def test_memory_limit_covers_the_whole_process_tree(sandbox: Sandbox) -> None:
    # 12 children of 180 MB each stay under the per-process limit (256 MB) but not the tree's.
    code = (
        "import os, time\n"
        "def f():\n"
        "    kids = []\n"
        "    for _ in range(12):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            block = bytearray(180 * 1024 * 1024)\n"
        "            for i in range(0, len(block), 4096):\n"
        "                block[i] = 1\n"
        "            time.sleep(0.3)\n"
        "            os._exit(0)\n"
        "        kids.append(pid)\n"
        "    return sum(os.waitpid(p, 0)[1] == 0 for p in kids)\n"
    )
    limits = FAST.model_copy(update={"timeout_s": 10.0, "cpu_s": 10})
    out = run_one(sandbox, code, limits=limits)
    assert out.status != "ok" or int(out.result or "0") < 12, out
    assert_healthy(sandbox)


def test_a_job_is_never_host_root(sandbox: Sandbox) -> None:
    # What a job running as host root could do: change kernel settings, chmod host devices.
    code = (
        "import os, stat\n"
        "def f():\n"
        "    done = []\n"
        "    for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/kernel/hostname'):\n"
        "        try:\n"
        "            os.close(os.open(path, os.O_WRONLY))\n"
        "            done.append(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    for name in os.listdir('/dev'):\n"
        "        path = '/dev/' + name\n"
        "        mode = os.lstat(path).st_mode\n"
        "        if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):\n"
        "            continue  # device nodes only: the job's own tmpfs mounts are its to chmod\n"
        "        try:\n"
        "            os.chmod(path, mode & 0o7777)\n"
        "            done.append(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return done\n"
    )
    out = run_one(sandbox, code)
    assert (out.status, out.result) == ("ok", "[]"), out


def test_test_case_fields_reach_the_export_schema() -> None:
    from codemint.records import Verified, arrow_schema

    case_type = str(arrow_schema(Verified).field("test_cases").type)
    assert "stdout" in case_type and "args_after" in case_type
