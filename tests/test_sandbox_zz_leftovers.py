"""Runs after the other sandbox modules (file order): nothing of ours is left behind."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from conftest_sandbox import _prepare_docker

from codemint.sandbox.lifecycle import close_all


def _runner_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "runner.py --scratch" in cmdline or "codemint-sbx-" in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_no_stray_runner_process_or_container() -> None:
    close_all()  # pools of earlier modules are closed already; this covers shared ones
    deadline = time.monotonic() + 15
    while _runner_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _runner_processes() == []
    if shutil.which("docker") and _prepare_docker.cache_info().currsize and _prepare_docker() is None:
        from codemint.sandbox.docker_backend import list_containers, owner_alive

        # Ours, or orphans of a dead owner (other live processes may own pools of their own).
        mine = f"{os.getpid()}:"
        leftovers = [c for c, owner in list_containers() if owner.startswith(mine) or not owner_alive(owner)]
        assert leftovers == []
