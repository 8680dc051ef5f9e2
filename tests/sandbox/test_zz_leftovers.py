"""Runs after the other sandbox modules (file order): nothing of ours is left behind."""

from __future__ import annotations

import os
import shutil
import time

from sandbox_support import _prepare_docker, processes_matching

from codemint.sandbox.lifecycle import close_all


def _runner_processes() -> list[str]:
    return processes_matching("runner.py --scratch", "codemint-sbx-")


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
