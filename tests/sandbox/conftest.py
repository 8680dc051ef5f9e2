"""Nothing of ours outlives the session, whatever order the tests ran in.

A session-scoped autouse fixture: at teardown every pool is closed and no runner process that
carries this process's owner tag (`--tag`, see sandbox/lifecycle.py) and no container labelled
with it may remain. Other processes' sandboxes on the same machine are not ours to judge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sandbox_support import _prepare_docker, processes_matching

from codemint.sandbox.lifecycle import close_all, owner_token


def _our_runners(owner: str) -> list[str]:
    return processes_matching(f"--tag {owner}")


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    owner = owner_token()
    yield
    close_all()
    deadline = time.monotonic() + 15
    while _our_runners(owner) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _our_runners(owner) == []
    if _prepare_docker.cache_info().currsize and _prepare_docker() is None:
        from codemint.sandbox.docker_backend import OWNER_LABEL, list_containers

        assert list_containers(f"{OWNER_LABEL}={owner}") == []
