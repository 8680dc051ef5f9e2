"""Hostile code against both backends: each case asserts the status and that the pool still
serves a normal job correctly afterwards."""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import pytest
from sandbox_support import FAKE_SECRET, FAST, assert_healthy, run_one, sandbox

from codemint.sandbox.api import ExecLimits, Sandbox

__all__ = ["sandbox"]  # the fixture, imported from the shared module

TIMEOUT_CASES = {
    "busy_loop": "def f():\n    while True:\n        pass\n",
    "sleep_forever": "import time\ndef f():\n    time.sleep(1e9)\n",
    "long_c_call": "def f():\n    return sum(range(10**12))\n",
    "catastrophic_regex": "import re\ndef f():\n    return re.match(r'(a+)+$', 'a' * 40 + 'b')\n",
    "ignores_sigterm": (
        "import signal, time\n"
        "def f():\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(1e9)\n"
    ),
    "stops_itself": "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return 1\n",
    "fork_loop": (
        "import os\ndef f():\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n"
    ),
}


@pytest.mark.parametrize("name", sorted(TIMEOUT_CASES))
def test_runaway_code_times_out(sandbox: Sandbox, name: str) -> None:
    out = run_one(sandbox, TIMEOUT_CASES[name])
    assert out.status == "timeout", out
    assert out.result is None
    assert_healthy(sandbox)


def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    code = "import os\ndef f():\n    while True:\n        os.fork()\n"
    out = run_one(sandbox, code)
    # Forks fail at RLIMIT_NPROC/pids-limit: the job errors out or runs until the timeout.
    assert out.status in {"timeout", "error"}, out
    if out.status == "error":
        assert out.exc_type in {"BlockingIOError", "OSError", "MemoryError"}
    assert_no_leftover_processes(sandbox)
    assert_healthy(sandbox)


def test_thread_bomb(sandbox: Sandbox) -> None:
    code = (
        "import threading, time\n"
        "def f():\n"
        "    n = 0\n"
        "    try:\n"
        "        for _ in range(10000):\n"
        "            threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
        "            n += 1\n"
        "    except (RuntimeError, MemoryError):\n"
        "        pass\n"
        "    return n\n"
    )
    out = run_one(sandbox, code)
    assert out.status in {"ok", "error", "memory"}, out
    if out.status == "ok":
        assert out.result is not None and int(out.result) < 10000  # the limits stopped it
    assert_healthy(sandbox)


def test_spinning_threads_do_not_outlive_the_call(sandbox: Sandbox) -> None:
    code = (
        "import threading\n"
        "def spin():\n"
        "    while True:\n"
        "        pass\n"
        "def f():\n"
        "    for i in range(4):\n"
        "        threading.Thread(target=spin, daemon=i % 2 == 0).start()\n"
        "    return 7\n"
    )
    out = run_one(sandbox, code)
    assert (out.status, out.result) == ("ok", "7")
    assert_no_leftover_processes(sandbox)
    assert_healthy(sandbox)


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    return bytearray(10**10)\n",
        "def f():\n    return bytearray(10**11)\n",
        "def f():\n    chunks = []\n    while True:\n        chunks.append(bytearray(4 * 1024 * 1024))\n",
        "def f():\n    s = 'x'\n    while True:\n        s = s + s\n",
    ],
    ids=["bytearray_1e10", "bytearray_1e11", "slow_growth", "doubling_string"],
)
def test_memory_bombs(sandbox: Sandbox, code: str) -> None:
    out = run_one(sandbox, code)
    assert out.status == "memory", out
    assert_healthy(sandbox)


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    while True:\n        print('spam' * 20)\n",
        "import sys\ndef f():\n    sys.stdout.write('x' * 10_000_000)\n    return 1\n",
        "import os\ndef f():\n    os.write(1, b'y' * 10_000_000)\n    return 1\n",
        "import sys\ndef f():\n    while True:\n        sys.stderr.write('e' * 1000)\n",
        "def f():\n    return 'z' * 50_000_000\n",
    ],
    ids=["endless_print", "one_10mb_write", "raw_fd_write", "stderr_flood", "huge_return"],
)
def test_output_floods(sandbox: Sandbox, code: str) -> None:
    out = run_one(sandbox, code)
    assert out.status == "output_limit", out
    assert len(out.stdout.encode()) <= FAST.output_cap_bytes
    assert len(out.stderr.encode()) <= FAST.output_cap_bytes
    assert_healthy(sandbox)


def test_one_megabyte_print_under_a_large_cap(sandbox: Sandbox) -> None:
    # A big print that fits the cap must not deadlock on the pipe: it is read while running.
    limits = FAST.model_copy(update={"output_cap_bytes": 2_000_000})
    out = run_one(sandbox, "def f():\n    print('a' * 1_000_000)\n    return 1\n", limits=limits)
    assert (out.status, out.result) == ("ok", "1")
    assert len(out.stdout) == 1_000_001
    assert_healthy(sandbox)


def test_deep_recursion(sandbox: Sandbox) -> None:
    out = run_one(sandbox, "def f(n=0):\n    return f(n + 1)\n")
    assert (out.status, out.exc_type) == ("error", "RecursionError")
    code = "import sys\nsys.setrecursionlimit(10**8)\ndef f(n=0):\n    return f(n + 1)\n"
    out = run_one(sandbox, code)
    # 3.11 keeps Python frames off the C stack: frames fill memory or the clock runs out;
    # either way the runner reports it and survives.
    assert out.status in {"killed", "error", "memory", "timeout"}, out
    nested = "def f():\n    x = []\n    for _ in range(10**7):\n        x = [x]\n    return repr(x)\n"
    out = run_one(sandbox, "import sys\nsys.setrecursionlimit(10**8)\n" + nested)
    assert out.status in {"killed", "error", "memory", "timeout"}, out
    assert_healthy(sandbox)


def test_input_without_stdin(sandbox: Sandbox) -> None:
    out = run_one(sandbox, "def f():\n    return input('name? ')\n")
    assert (out.status, out.exc_type) == ("error", "EOFError")
    out = run_one(sandbox, "import sys\ndef f():\n    return sys.stdin.read()\n")
    assert (out.status, out.result) == ("ok", '""')
    assert_healthy(sandbox)


@pytest.mark.parametrize("path", ["/etc/pwned", "/usr/pwned", "/pwned", "/opt/codemint/runner.py"])
def test_cannot_write_outside_the_work_dir(sandbox: Sandbox, path: str) -> None:
    out = run_one(sandbox, "def f(p):\n    open(p, 'w').write('x')\n", path)
    assert out.status == "error", out
    assert out.exc_type in {"OSError", "PermissionError", "FileNotFoundError"}
    out = run_one(
        sandbox, "import os\ndef f():\n    open('here.txt', 'w').write('ok')\n    return os.listdir('.')\n"
    )
    assert (out.status, out.result) == ("ok", '["here.txt"]')
    assert_healthy(sandbox)


def test_filling_tmp_is_bounded_and_cleaned(sandbox: Sandbox) -> None:
    code = (
        "def f():\n"
        "    with open('/tmp/filler', 'wb') as fh:\n"
        "        for _ in range(1000):\n"
        "            fh.write(b'0' * (1 << 20))\n"
    )
    out = run_one(sandbox, code)
    assert out.status in {"error", "killed"}, out  # EFBIG/ENOSPC or SIGXFSZ
    out = run_one(sandbox, "import os\ndef f():\n    return os.listdir('/tmp')\n")
    assert out.status == "ok" and "filler" not in (out.result or ""), out
    assert_healthy(sandbox)


def test_no_network(sandbox: Sandbox) -> None:
    # A listener on the host's loopback: the sandbox's loopback is a different one.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = (
        "import socket\n"
        "def f(port):\n"
        "    names = sorted(name for _, name in socket.if_nameindex())\n"
        "    s = socket.socket()\n"
        "    s.settimeout(1)\n"
        "    try:\n"
        "        s.connect(('127.0.0.1', port))\n"
        "        return names, 'connected'\n"
        "    except OSError as exc:\n"
        "        return names, type(exc).__name__\n"
    )
    try:
        out = run_one(sandbox, code, port)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing reached the host's listener
    finally:
        server.close()
    assert out.status == "ok", out
    names, what = json.loads(out.result or "null")["__tuple__"]
    assert names == ["lo"]
    assert what != "connected"
    assert_healthy(sandbox)


def test_host_environment_is_not_visible(sandbox: Sandbox) -> None:
    assert os.environ.get("CODEMINT_FAKE_SECRET") == FAKE_SECRET
    code = (
        "import os\n"
        "def f():\n"
        "    seen = [repr(dict(os.environ))]\n"
        "    for path in ('/proc/self/environ', '/proc/1/environ', '/proc/1/cmdline'):\n"
        "        try:\n"
        "            seen.append(open(path, 'rb').read().decode('latin-1'))\n"
        "        except OSError as exc:\n"
        "            seen.append(type(exc).__name__)\n"
        "    seen.append(str(os.path.exists('/var/run/docker.sock')))\n"
        "    return seen\n"
    )
    out = run_one(sandbox, code)
    assert out.status == "ok", out
    assert FAKE_SECRET not in (out.result or "")
    assert "CODEMINT_FAKE_SECRET" not in (out.result or "")
    assert json.loads(out.result or "[]")[-1] == "False"  # no Docker socket inside
    assert_healthy(sandbox)


@pytest.mark.parametrize(
    "code",
    [
        "import os\ndef f():\n    os.kill(os.getppid(), 9)\n    return 1\n",
        "import os\ndef f():\n    try:\n        os.kill(-1, 9)\n"
        "    except OSError:\n        pass\n    return 1\n",
        "import os, signal\n"
        "def f():\n    os.kill(1, signal.SIGTERM)\n    os.kill(1, signal.SIGINT)\n    return 1\n",
    ],
    ids=["kill_parent", "kill_minus_one", "term_pid1"],
)
def test_cannot_kill_the_runner(sandbox: Sandbox, code: str) -> None:
    started = sandbox.started_workers  # type: ignore[attr-defined]
    out = run_one(sandbox, code)
    # Either the signal is dropped (PID 1 of a namespace) or refused (jobs run as another uid).
    assert (out.status, out.result) == ("ok", "1") or (out.status, out.exc_type) == (
        "error",
        "PermissionError",
    )
    assert_healthy(sandbox)
    assert sandbox.started_workers == started  # type: ignore[attr-defined]  # no worker was lost


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\ndef f():\n    os._exit(0)\n", "without a result"),
        ("import os\ndef f():\n    os._exit(3)\n", "without a result"),
        ("import ctypes\ndef f():\n    ctypes.string_at(0)\n", "SIGSEGV"),
        ("import os\ndef f():\n    os.abort()\n", "SIGABRT"),
        ("import os\nos._exit(0)\ndef f():\n    return 1\n", "without a result"),
    ],
    ids=["exit0", "exit3", "segfault", "abort", "exit_at_import"],
)
def test_abnormal_exits_are_killed(sandbox: Sandbox, code: str, message: str) -> None:
    out = run_one(sandbox, code)
    assert out.status == "killed", out
    assert message in (out.exc_message or "")
    assert_healthy(sandbox)


def test_background_children_are_swept(sandbox: Sandbox) -> None:
    code = (
        "import os, subprocess, time\n"
        "def f():\n"
        "    subprocess.Popen(['sleep', '1000'])\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(1000)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.2)\n"
        "    return 1\n"
    )
    out = run_one(sandbox, code)
    assert (out.status, out.result) == ("ok", "1")
    assert_no_leftover_processes(sandbox)
    assert_healthy(sandbox)


def assert_no_leftover_processes(box: Sandbox) -> None:
    code = (
        "import os\n"
        "def cmd(p):\n"
        "    try:\n"
        "        return open(f'/proc/{p}/cmdline', 'rb').read()\n"
        "    except OSError:\n"
        "        return b''\n"
        "def f():\n"
        "    pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "    others = sorted(p for p in pids if p not in (1, os.getpid()) and b'zygote' not in cmd(p))\n"
        "    return others, os.getppid()\n"
    )
    out = run_one(box, code)
    assert out.status == "ok", out
    others, parent = json.loads(out.result or "null")["__tuple__"]
    assert parent == 1  # the runner is PID 1 of the sandbox's PID namespace (not the zygote)
    assert others == []  # only the runner, its zygotes and this job


def test_forged_results_do_not_count(sandbox: Sandbox) -> None:
    # A fake result line on stdout, a fake line on every fd, an atexit hook: the call raises.
    code = (
        "import atexit, os\n"
        'FAKE = \'{"status": "ok", "result": "42"}\'\n'
        "def f():\n"
        "    print(FAKE)\n"
        "    atexit.register(lambda: os.write(1, FAKE.encode()))\n"
        "    written = 0\n"
        "    for fd in range(4, 256):\n"
        "        try:\n"
        "            os.write(fd, FAKE.encode() + b'\\n')\n"
        "            written += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "    raise ValueError(f'wrote to {written} inherited fds')\n"
    )
    out = run_one(sandbox, code)
    assert (out.status, out.exc_type, out.exc_message) == ("error", "ValueError", "wrote to 0 inherited fds")
    assert out.result is None
    out = run_one(sandbox, 'print(\'{"status": "ok", "result": "42"}\')\ndef f():\n    return 1\n')
    assert (out.status, out.result) == ("ok", "1")
    assert_healthy(sandbox)


def test_patched_builtins_and_weird_eq_cannot_forge(sandbox: Sandbox) -> None:
    code = (
        "import builtins, json\n"
        "class Eq:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = object.__hash__\n"
        "    def __repr__(self):\n"
        "        return '42'\n"
        "class Int(int):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = int.__hash__\n"
        "def f(kind):\n"
        "    builtins.repr = lambda o: '42'\n"
        "    builtins.isinstance = lambda *a: True\n"
        "    builtins.sorted = lambda *a, **k: []\n"
        "    json.dumps = lambda *a, **k: '42'\n"
        "    return {'eq': Eq(), 'int': Int(5), 'list': [1, 2]}[kind]\n"
    )
    eq = run_one(sandbox, code, "eq")
    assert eq.status == "ok" and eq.result == '{"__object__":["__codemint__.Eq",[]]}', eq
    sub = run_one(sandbox, code, "int")
    assert sub.status == "ok" and sub.result != "42" and sub.result != "5", sub
    lst = run_one(sandbox, code, "list")
    assert (lst.status, lst.result) == ("ok", "[1,2]")
    assert_healthy(sandbox)


def test_invalid_utf8_and_nul_bytes(sandbox: Sandbox) -> None:
    code = (
        "import sys\n"
        "def f():\n"
        "    sys.stdout.buffer.write(b'bad \\xff\\xfe end\\n')\n"
        "    sys.stdout.flush()\n"
        "    print('nul\\x00byte')\n"
        "    sys.stderr.buffer.write(b'\\x80')\n"
        "    return 'a\\x00b\\udcff'\n"
    )
    out = run_one(sandbox, code)
    assert out.status == "ok", out
    assert out.stdout == "bad \ufffd\ufffd end\nnul\x00byte\n"
    assert out.stderr == "\ufffd"
    assert out.result is not None and json.loads(out.result) == "a\x00b\udcff"
    assert_healthy(sandbox)


def test_huge_int_print_and_return(sandbox: Sandbox) -> None:
    out = run_one(sandbox, "def f():\n    print(10**100000)\n")
    assert (out.status, out.exc_type) == ("error", "ValueError")
    out = run_one(sandbox, "def f():\n    return 10**100000\n")
    assert out.status == "ok" and '"__type__":"int"' in (out.result or ""), out
    other = run_one(sandbox, "def f():\n    return 10**100000 + 1\n")
    assert other.result != out.result
    assert_healthy(sandbox)


def test_pathological_sources(sandbox: Sandbox) -> None:
    out = run_one(sandbox, "x = " + "(" * 100_000 + "\ndef f():\n    return 1\n")
    assert (out.status, out.exc_type) in {
        ("error", "SyntaxError"),
        ("error", "RecursionError"),
        ("error", "MemoryError"),
    }
    big = "# " + "a" * 10_000_000 + "\ndef f():\n    return 'big'\n"
    out = run_one(sandbox, big, limits=FAST.model_copy(update={"timeout_s": 10.0}))
    assert (out.status, out.result) == ("ok", '"big"')
    assert_healthy(sandbox)


def test_escape_helpers_stay_inside(sandbox: Sandbox) -> None:
    marker = f"/tmp/codemint-pwned-{uuid.uuid4().hex}"
    code = (
        "import ctypes, importlib, os\n"
        "def f(marker):\n"
        "    importlib.reload(os)\n"
        "    rc = ctypes.CDLL(None).system(f'touch {marker} /pwned 2>/dev/null'.encode())\n"
        "    return os.path.exists('/pwned')\n"
    )
    out = run_one(sandbox, code, marker)
    assert (out.status, out.result) == ("ok", "false"), out
    assert not Path(marker).exists()  # the sandbox's /tmp is not the host's
    assert not Path("/pwned").exists()
    assert_healthy(sandbox)


def test_state_does_not_leak_between_jobs(sandbox: Sandbox) -> None:
    writer = (
        "import os, sys, random\n"
        "def f():\n"
        "    open('/tmp/leak', 'w').write('x')\n"
        "    open('/dev/shm/leak', 'w').write('x')\n"
        "    open('cwd-leak', 'w').write('x')\n"
        "    os.environ['LEAKED'] = '1'\n"
        "    sys.modules['leaked_module'] = sys\n"
        "    random.seed(1234)\n"
        "    return random.random()\n"
    )
    reader = (
        "import os, sys, random\n"
        "def f():\n"
        "    return [os.path.exists('/tmp/leak'), os.path.exists('/dev/shm/leak'), os.listdir('.'),\n"
        "            'LEAKED' in os.environ, 'leaked_module' in sys.modules, random.random()]\n"
    )
    for _ in range(3):  # several rounds so both workers see a writer and a reader
        assert run_one(sandbox, writer).status == "ok"
        out = run_one(sandbox, reader)
        assert out.status == "ok", out
        values = json.loads(out.result or "null")
        assert values[:5] == [False, False, [], False, False]
        seeded = run_one(sandbox, "import random\nrandom.seed(1234)\ndef f():\n    return random.random()\n")
        assert values[5] != json.loads(seeded.result or "null")
    assert_healthy(sandbox)


def test_per_job_limits_are_honoured(sandbox: Sandbox) -> None:
    tight = ExecLimits(timeout_s=0.5, cpu_s=1, memory_mb=128, output_cap_bytes=100)
    out = run_one(sandbox, "import time\ndef f():\n    time.sleep(2)\n", limits=tight)
    assert out.status == "timeout" and out.duration_s < 1.5
    out = run_one(sandbox, "def f():\n    print('x' * 101)\n", limits=tight)
    assert out.status == "output_limit"
    out = run_one(sandbox, "def f():\n    return len(bytearray(200 * 1024 * 1024))\n", limits=tight)
    assert out.status == "memory"
    assert_healthy(sandbox)
