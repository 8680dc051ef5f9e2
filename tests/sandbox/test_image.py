"""The Docker backend runs jobs only on an image built from this codemint's runner files: an
image left from another version (same tag, other runner) is refused, never used."""

from __future__ import annotations

import io
import os

import pytest
from sandbox_support import IMAGE, require_docker

from codemint.sandbox import resolved_backend
from codemint.sandbox.api import SandboxUnavailableError
from codemint.sandbox.docker_backend import DockerSandbox, client, engine_problem
from codemint.sandbox.files import IMAGE_HASH_LABEL, image_context_hash
from codemint.settings import ExecLimits, SandboxSettings

pytestmark = pytest.mark.docker


@pytest.fixture
def stale_image() -> object:
    require_docker()
    tag = f"codemint-sandbox-stale-test:{os.getpid()}"
    dockerfile = f'FROM {IMAGE}\nLABEL {IMAGE_HASH_LABEL}="0000000000000000"\n'
    client().images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    client().images.remove(tag, force=True)


def test_the_built_image_carries_this_codemints_runner_hash() -> None:
    require_docker()
    labels = client().api.inspect_image(IMAGE)["Config"]["Labels"]
    assert labels[IMAGE_HASH_LABEL] == image_context_hash()
    assert engine_problem(IMAGE) is None


def test_a_stale_image_is_refused(stale_image: str) -> None:
    problem = engine_problem(stale_image)
    assert problem is not None and "stale" in problem and "build_image.sh" in problem
    with pytest.raises(SandboxUnavailableError, match="stale"):
        DockerSandbox(stale_image, 1, 10, ExecLimits())
    # `auto` does not run jobs on it either: it falls back to the local backend, with a warning.
    assert resolved_backend(SandboxSettings(backend="auto", image=stale_image)) == "local"
