"""Where a row's tests were recorded, so the reward runs completions under the same conditions.

An exported rl row's ground truth carries `environment`: the sandbox image its original ran
in (as recorded, `tag@sha256:...`), the requirement set that image was derived for (the
exact installed versions of the row's package and its dependencies; empty for stdlib and
file rows) and what of the row's module a job must not reach (`hide`). The reward builds the
derived image from the requirement set when it is missing (sandbox/images.py) and hides the
original as execute and verify did.
"""

from __future__ import annotations

import functools
import logging
import threading

from pydantic import BaseModel

from codemint.original_module import hidden_original, source_module
from codemint.records import Executed
from codemint.sandbox.api import HiddenOriginal
from codemint.settings import SandboxSettings

log = logging.getLogger(__name__)


class RowEnvironment(BaseModel):
    image: str | None = None  # what the original ran in, as recorded on the row
    requirements: list[str] = []  # `name==version`: the derived image's requirement set
    hide: HiddenOriginal | None = None


def _derived(image: str | None) -> bool:
    """Whether a recorded image is a package environment image (`<repo>-env:<hash>@...`)."""
    return image is not None and "-env:" in image.split("@", 1)[0]


@functools.lru_cache(maxsize=256)
def _requirements(top: str) -> tuple[str, ...]:
    from codemint.sandbox.images import requirement_set

    return tuple(requirement_set([top]))


def row_environment(row: Executed) -> RowEnvironment:
    """The environment of an executed row (see the module docstring)."""
    module = source_module(row.provenance)
    requirements: list[str] = []
    if module is not None and _derived(row.sandbox_image):
        requirements = list(_requirements(module.split(".")[0]))
    hide = hidden_original(row.provenance, row.sample_kind, row.entry_point, row.class_name)
    return RowEnvironment(image=row.sandbox_image, requirements=requirements, hide=hide)


_images: dict[tuple[str, tuple[str, ...]], str] = {}
_images_lock = threading.Lock()


def sandbox_for(env: RowEnvironment, base: SandboxSettings) -> SandboxSettings:
    """`base` with the image `env` needs: the derived image for its requirement set (built
    once if missing) on the docker backend with `package_env` on; else `base` unchanged."""
    if not env.requirements or not base.package_env or base.backend == "local":
        return base
    key = (base.image, tuple(env.requirements))
    with _images_lock:  # verl scores one completion per call: find the image once
        if key not in _images:
            _images[key] = _derived_image(base, env.requirements)
        image = _images[key]
    return base.model_copy(update={"image": image})


def _derived_image(base: SandboxSettings, requirements: list[str]) -> str:
    from codemint.sandbox import resolved_backend
    from codemint.sandbox.images import ensure_env_image

    if resolved_backend(base) != "docker":
        log.warning("reward: no Docker; %s runs without its package environment", requirements)
        return base.image
    return ensure_env_image(base.image, list(requirements))
