"""Normal behaviour on both backends: values, exceptions, kwargs, batches, pool mechanics."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
from sandbox_support import BACKENDS, FAST, IMAGE, assert_healthy, make_sandbox, run_one, sandbox

from codemint.codec import canonical_json, encode_input
from codemint.sandbox import open_sandbox, shared_sandbox
from codemint.sandbox.api import ExecJob, Sandbox, SandboxUnavailableError
from codemint.settings import SandboxSettings

__all__ = ["sandbox"]

VALUES_CODE = """
import math
class Thing:
    def __repr__(self):
        return 'Thing()'
def f(kind):
    return {
        'none': None, 'bool': True, 'int': -7, 'float': 2.5, 'nan': math.nan, 'str': 'héllo',
        'list': [1, [2]], 'tuple': (1, 'a'), 'set': {3, 1}, 'frozenset': frozenset({'x'}),
        'dict': {'b': 1, 2: 'a'}, 'bytes': b'\\x00ab', 'bytearray': bytearray(b'z'),
        'complex': 1j, 'generator': (i * i for i in range(4)), 'map': map(abs, [-1, -2]),
        'object': Thing(),
    }[kind]
"""


def expected() -> dict[str, Any]:
    """Fresh each time: the iterators are consumed by encoding."""
    return {
        "none": None,
        "bool": True,
        "int": -7,
        "float": 2.5,
        "nan": float("nan"),
        "str": "héllo",
        "list": [1, [2]],
        "tuple": (1, "a"),
        "set": {3, 1},
        "frozenset": frozenset({"x"}),
        "dict": {"b": 1, 2: "a"},
        "bytes": b"\x00ab",
        "bytearray": bytearray(b"z"),
        "complex": 1j,
        "generator": iter([0, 1, 4, 9]),
        "map": iter([1, 2]),
    }


def test_return_values_of_every_codec_type(sandbox: Sandbox) -> None:
    kinds = [*expected(), "object"]
    inputs = [encode_input([k]) for k in kinds]
    job = ExecJob(job_id="values", code=VALUES_CODE, entry_point="f", inputs=inputs)
    (res,) = sandbox.run_batch([job])
    assert res.infra_error is None
    for kind, out in zip(kinds, res.outcomes, strict=True):
        assert out.status == "ok", (kind, out)
        if kind == "object":
            assert out.result == '{"__object__":["__codemint__.Thing",[]]}'  # by state
        else:
            assert out.result == canonical_json(expected()[kind]), kind


def test_exceptions_by_type(sandbox: Sandbox) -> None:
    code = (
        "class MyError(Exception):\n"
        "    pass\n"
        "def f(kind):\n"
        "    if kind == 'value':\n"
        "        raise ValueError('bad value')\n"
        "    if kind == 'key':\n"
        "        return {}['missing']\n"
        "    if kind == 'custom':\n"
        "        raise MyError(object())\n"
        "    if kind == 'exit':\n"
        "        raise SystemExit(3)\n"
        "    import json\n"
        "    json.loads('{')\n"
    )
    inputs = [encode_input([k]) for k in ["value", "key", "custom", "exit", "json"]]
    job = ExecJob(job_id="exc", code=code, entry_point="f", inputs=inputs)
    (res,) = sandbox.run_batch([job])
    got = [(o.status, o.exc_type, o.exc_message) for o in res.outcomes]
    assert got[0] == ("error", "ValueError", "bad value")
    assert got[1] == ("error", "KeyError", "'missing'")
    assert got[2] == ("error", "__codemint__.MyError", "<object object at 0x>")
    assert got[3] == ("error", "SystemExit", "3")
    assert got[4][:2] == ("error", "json.decoder.JSONDecodeError")


def test_kwargs_stdout_and_order(sandbox: Sandbox) -> None:
    code = "def f(a, *, scale=1, tag='x'):\n    print(tag, a)\n    return a * scale\n"
    inputs = [encode_input([i], {"scale": 10, "tag": f"t{i}"}) for i in range(6)]
    (res,) = sandbox.run_batch([ExecJob(job_id="kw", code=code, entry_point="f", inputs=inputs)])
    assert [o.result for o in res.outcomes] == [str(i * 10) for i in range(6)]
    assert [o.stdout for o in res.outcomes] == [f"t{i} {i}\n" for i in range(6)]
    assert all(o.duration_s > 0 for o in res.outcomes)


def test_lone_surrogates_in_printed_text_and_messages_arrive_as_utf8_escapes(sandbox: Sandbox) -> None:
    # Bytes decoded with surrogateescape print as lone surrogates, which no UTF-8 file (the
    # stages' Parquet) can hold: they arrive as their `\\udcXX` escapes.
    code = (
        "def f(raw):\n"
        "    text = bytes(raw).decode('utf-8', 'surrogateescape')\n"
        "    print(text)\n"
        "    if raw[0] > 0xF0:\n"
        "        raise ValueError(text)\n"
        "    return len(text)\n"
    )
    inputs = [encode_input([[0xE3, 0x61]]), encode_input([[0xFE]])]
    (res,) = sandbox.run_batch([ExecJob(job_id="surrogates", code=code, entry_point="f", inputs=inputs)])
    printed, raised = res.outcomes
    assert (printed.status, printed.result, printed.stdout) == ("ok", "2", "\\udce3a\n")
    assert (raised.status, raised.exc_type, raised.stdout) == ("error", "ValueError", "\\udcfe\n")
    for outcome in res.outcomes:
        for text in (outcome.stdout, outcome.exc_message, outcome.stderr):
            (text or "").encode("utf-8")  # raises on a lone surrogate


def test_import_failure_and_missing_entry_point_are_per_input_errors(sandbox: Sandbox) -> None:
    code = "import numpy_not_here\ndef f():\n    pass\n"
    job = ExecJob(job_id="imp", code=code, entry_point="f", inputs=["{}", "{}"])
    (res,) = sandbox.run_batch([job])
    assert [(o.status, o.exc_type) for o in res.outcomes] == [("error", "ModuleNotFoundError")] * 2
    assert "numpy_not_here" in (res.outcomes[0].exc_message or "")
    out = run_one(sandbox, "def g():\n    return 1\n")
    assert (out.status, out.exc_type) == ("error", "NameError")
    bad_input = '{"args": [{"__iter__": []}]}'
    bad = ExecJob(job_id="bad", code="def f(x):\n    return x\n", entry_point="f", inputs=[bad_input])
    (res,) = sandbox.run_batch([bad])
    assert (res.outcomes[0].status, res.outcomes[0].exc_type) == ("error", "ValueError")
    assert_healthy(sandbox)


def test_empty_job_and_batch(sandbox: Sandbox) -> None:
    assert sandbox.run_batch([]) == []
    (res,) = sandbox.run_batch([ExecJob(job_id="e", code="def f():\n    pass\n", entry_point="f", inputs=[])])
    assert res.outcomes == [] and res.infra_error is None


def test_concurrent_batches_from_many_threads(sandbox: Sandbox) -> None:
    code = "def f(a, b):\n    return a * b\n"
    errors: list[str] = []

    def worker(t: int) -> None:
        jobs = [
            ExecJob(
                job_id=f"{t}-{j}",
                code=code,
                entry_point="f",
                inputs=[encode_input([t, j]), encode_input([j, 2])],
            )
            for j in range(8)
        ]
        for j, res in enumerate(sandbox.run_batch(jobs)):
            if res.job_id != f"{t}-{j}" or [o.result for o in res.outcomes] != [str(t * j), str(j * 2)]:
                errors.append(f"{t}-{j}: {res}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_are_recycled_after_n_jobs(backend: str) -> None:
    box = make_sandbox(backend, workers=1, jobs_per_worker=2)
    try:
        code = "def f():\n    return 1\n"
        jobs = [ExecJob(job_id=str(i), code=code, entry_point="f", inputs=["{}"]) for i in range(5)]
        assert all(r.outcomes[0].result == "1" for r in box.run_batch(jobs))
        assert box.started_workers >= 3  # type: ignore[attr-defined]
    finally:
        box.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_worker_is_replaced_and_job_requeued(backend: str) -> None:
    box: Any = make_sandbox(backend, workers=1)
    try:
        assert_healthy(box)
        code = "import time\ndef f():\n    time.sleep(1.0)\n    return 'done'\n"
        job = ExecJob(job_id="victim", code=code, entry_point="f", inputs=["{}"], limits=FAST)
        result: list[Any] = []
        th = threading.Thread(target=lambda: result.append(box.run_batch([job])[0]))
        th.start()
        time.sleep(0.5)
        (worker,) = box._workers.values()
        worker.proc.kill()  # the container client / namespace launcher dies mid-job
        th.join(timeout=60)
        (res,) = result
        assert res.infra_error is None, res.infra_error
        assert res.outcomes[0].result == '"done"'  # re-run on a fresh worker
        assert box.started_workers == 2
        assert_healthy(box)
    finally:
        box.close()


def test_local_backend_warns_about_weaker_isolation(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        box = make_sandbox("local", workers=1)
    box.close()
    assert any("weaker isolation" in r.getMessage() or "unshare" in r.getMessage() for r in caplog.records)


def test_closed_sandbox_refuses_jobs() -> None:
    box = make_sandbox("local", workers=1)
    box.close()
    box.close()  # twice is fine
    with pytest.raises(RuntimeError):
        box.run_batch([ExecJob(job_id="x", code="", entry_point="f", inputs=[])])


def test_open_sandbox_never_falls_back_silently(caplog: pytest.LogCaptureFixture) -> None:
    missing = SandboxSettings(backend="docker", image="codemint-no-such-image:never", workers=1)
    with pytest.raises(SandboxUnavailableError):
        open_sandbox(missing)
    with caplog.at_level(logging.WARNING):
        box = open_sandbox(missing.model_copy(update={"backend": "auto"}))
    try:
        assert box.backend_name == "local"
        assert any("falling back" in r.getMessage() for r in caplog.records)
    finally:
        box.close()


@pytest.mark.docker
def test_auto_picks_docker_when_available() -> None:
    from sandbox_support import require_docker

    require_docker()
    with open_sandbox(SandboxSettings(backend="auto", image=IMAGE, workers=1)) as box:
        assert box.backend_name == "docker"
        assert_healthy(box)


def test_shared_sandbox_is_one_instance_per_settings() -> None:
    settings = SandboxSettings(backend="local", workers=1)
    boxes: list[Sandbox] = []
    threads = [threading.Thread(target=lambda: boxes.append(shared_sandbox(settings))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len({id(b) for b in boxes}) == 1
    other = shared_sandbox(settings.model_copy(update={"workers": 2}))
    assert other is not boxes[0]
    assert json.loads(run_one(boxes[0], "def f():\n    return [1]\n").result or "null") == [1]
    for box in (boxes[0], other):
        box.close()
    assert shared_sandbox(settings) is not boxes[0]  # a closed one is replaced
    shared_sandbox(settings).close()


def _fake_runner_pool(script: str, workers: int = 1) -> Sandbox:
    """The shared pool over a stand-in runner process (real processes, no backend)."""
    import sys

    from codemint.sandbox.pool import WorkerPool, spawn_worker

    def factory(slot: int) -> Any:
        return spawn_worker(f"fake-{slot}", [sys.executable, "-c", script], {}, lambda: None)

    return WorkerPool(factory, workers, 100)


def test_wedged_worker_hits_the_host_deadline_then_infra_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import codemint.sandbox.pool as pool_mod

    monkeypatch.setattr(pool_mod, "JOB_MARGIN_S", 0.5)
    monkeypatch.setattr(pool_mod, "PER_INPUT_MARGIN_S", 0.1)
    # Says ready, then never answers: a wedged runner.
    box: Any = _fake_runner_pool("import time\nprint('{\"ready\": true}', flush=True)\ntime.sleep(60)\n")
    try:
        job = ExecJob(
            job_id="w",
            code="",
            entry_point="f",
            inputs=["{}"],
            limits=FAST.model_copy(update={"timeout_s": 0.1}),
        )
        t0 = time.monotonic()
        (res,) = box.run_batch([job])
        assert res.infra_error is not None and "deadline" in res.infra_error
        assert res.outcomes == []
        assert box.started_workers >= 2  # the retry ran on a replacement
        assert time.monotonic() - t0 < 10
    finally:
        box.close()


def test_workers_that_cannot_start_fail_jobs_instead_of_hanging() -> None:
    box = _fake_runner_pool("import sys\nsys.exit('no runner here')\n")
    try:
        (res,) = box.run_batch([ExecJob(job_id="n", code="", entry_point="f", inputs=["{}"])])
        assert res.infra_error is not None and "no runner here" in res.infra_error
    finally:
        box.close()
