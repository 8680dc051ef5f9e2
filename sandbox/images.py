"""Sandbox images that carry a source's environment: the exact installed versions of a package
and its dependencies, so `missing_import` means a module that really is unavailable.

A derived image is the sandbox image plus unpacked wheels on a `.pth` path, tagged by the
hash of (base image id, requirement set): built once, then found by tag. The wheels are
fetched on the HOST with `pip download` (the configured index and cache; `pip wheel` for a
requirement with no wheel) and copied into the build context, so the container never touches
a network. Only the docker backend runs derived images; the local backend uses the base
interpreter (see `image_identity`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from codemint.original_module import source_module
from codemint.records import Provenance
from codemint.sandbox.api import SandboxUnavailableError

if TYPE_CHECKING:  # settings imports sandbox.api: a runtime import here would be circular
    from codemint.settings import SandboxSettings

log = logging.getLogger(__name__)

ENV_LABEL = "codemint.sandbox.requirements"
_DOCKERFILE = """\
FROM {base}
USER root
COPY site /opt/codemint/site
RUN python3 -c "import os, site; d = site.getsitepackages()[0]; os.makedirs(d, exist_ok=True); \\
open(os.path.join(d, 'codemint-env.pth'), 'w').write('/opt/codemint/site\\n')"
LABEL {label}="{requirements}"
USER 10001:10001
"""


class EnvironmentBuildError(RuntimeError):
    """A requirement set could not be turned into an image (named in the message)."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return None
    dists = importlib.metadata.packages_distributions().get(top)
    return dists[0] if dists else None


def requirement_set(packages: list[str]) -> list[str]:
    """`name==version` for the distributions providing `packages` and, transitively, their
    installed runtime dependencies (markers evaluated here; extras left out). Stdlib: none."""
    from packaging.requirements import InvalidRequirement, Requirement

    pending = [d for d in (_distribution_of(p) for p in packages) if d]
    pinned: dict[str, str] = {}
    while pending:
        name = pending.pop()
        key = _canonical(name)
        if key in pinned:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed here is not part of the set
        pinned[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    return sorted(pinned.values(), key=str.lower)


def env_tag(base_id: str, requirements: list[str], base_image: str) -> str:
    digest = hashlib.sha256("\n".join([base_id, *requirements]).encode()).hexdigest()[:16]
    repo = base_image.rsplit(":", 1)[0] if ":" in base_image.rsplit("/", 1)[-1] else base_image
    return f"{repo}-env:{digest}"


def _docker(args: list[str], timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    from codemint.sandbox.docker_backend import docker_cli

    return subprocess.run(
        [docker_cli(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def image_id(image: str) -> str | None:
    """The image's content id, or None when there is no such image."""
    from codemint.sandbox.docker_backend import image_id as inspect_id

    try:
        return inspect_id(image)
    except SandboxUnavailableError as exc:
        if "not found" in str(exc):
            return None
        raise


def _pip(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        check=False,
    )


def fetch_wheels(requirements: list[str], dest: Path) -> list[Path]:
    """Wheels for exactly `requirements`, for the sandbox's CPython 3.11 on this architecture."""
    dest.mkdir(parents=True, exist_ok=True)
    machine = platform.machine()
    platforms = [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}", "any"]
    for req in requirements:
        platform_args = [x for p in platforms for x in ("--platform", p)]
        target = [
            "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
            "--implementation", "cp", *platform_args, "--dest", str(dest), req,
        ]  # fmt: skip
        got = _pip(target, dest)
        if got.returncode != 0:
            # No wheel on the index: build one here from the sdist (pure-Python packages).
            got = _pip(["wheel", "--no-deps", "--wheel-dir", str(dest), req], dest)
        if got.returncode != 0:
            raise EnvironmentBuildError(
                f"{req}: no wheel could be fetched or built: {got.stderr.strip()[-300:]}"
            )
    return sorted(dest.glob("*.whl"))


def unpack_wheels(wheels: list[Path], site: Path) -> None:
    """A wheel is a zip of its installed files: unpacking it is installing it (no scripts run)."""
    site.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                target = (site / member).resolve()
                if not target.is_relative_to(site.resolve()):
                    raise EnvironmentBuildError(f"{wheel.name}: member {member!r} escapes the install dir")
            archive.extractall(site)


def ensure_env_image(
    base_image: str,
    requirements: list[str],
    fetch: Callable[[list[str], Path], list[Path]] = fetch_wheels,
) -> str:
    """The derived image for `requirements` on `base_image` (built if missing); its tag."""
    base_id = image_id(base_image)
    if base_id is None:
        raise SandboxUnavailableError(f"sandbox image {base_image} not found (run sandbox/build_image.sh)")
    tag = env_tag(base_id, requirements, base_image)
    if image_id(tag) is not None:
        return tag
    with tempfile.TemporaryDirectory(prefix="codemint-env-") as tmp:
        ctx = Path(tmp)
        wheels = fetch(requirements, ctx / "wheels")
        unpack_wheels(wheels, ctx / "site")
        (ctx / "Dockerfile").write_text(
            _DOCKERFILE.format(base=base_image, label=ENV_LABEL, requirements=" ".join(requirements)),
            encoding="utf-8",
        )
        (ctx / ".dockerignore").write_text("wheels\n", encoding="utf-8")
        built = _docker(["build", "--quiet", "--network", "none", "--tag", tag, str(ctx)])
        if built.returncode != 0:
            raise EnvironmentBuildError(f"docker build of {tag} failed: {built.stderr.strip()[-500:]}")
    log.info("sandbox: built %s for %s", tag, ", ".join(requirements))
    return tag


def with_package_environment(settings: SandboxSettings, packages: list[str]) -> SandboxSettings:
    """Sandbox settings whose image carries `packages`' installed environment (docker backend),
    or the settings unchanged (no third-party package, the local backend, or turned off)."""
    if not settings.package_env or settings.backend == "local":
        return settings
    requirements = requirement_set(packages)
    if not requirements:
        return settings
    from codemint.sandbox.docker_backend import engine_problem

    problem = engine_problem(settings.image)
    if problem is not None:
        if settings.backend == "docker":
            raise SandboxUnavailableError(problem)
        log.warning("sandbox: %s; the package environment cannot be built", problem)
        return settings
    return settings.model_copy(update={"image": ensure_env_image(settings.image, requirements)})


def image_identity(settings: SandboxSettings) -> str:
    """What ran the code, recorded on every executed row: `image@sha256:...` (the sandbox's
    `image_digest`), or the local backend's runner and interpreter digest."""
    key = settings.model_dump_json()
    if key not in _identities:
        from codemint.sandbox import image_digest, resolved_backend

        digest = image_digest(settings)
        _identities[key] = f"{settings.image}@{digest}" if resolved_backend(settings) == "docker" else digest
    return _identities[key]


_identities: dict[str, str] = {}


def _derived(image: str) -> bool:
    """Whether a recorded image is a package environment image (`<repo>-env:<hash>@...`)."""
    return "-env:" in image.split("@", 1)[0]


@functools.lru_cache(maxsize=256)
def _requirements_of(top: str) -> tuple[str, ...]:
    return tuple(requirement_set([top]))


def environment_requirements(provenance: Provenance, image: str) -> list[str]:
    """The requirement set a row's reward must run under: its package's exact installed
    versions when its original ran in a derived image, else none (the plain image)."""
    module = source_module(provenance)
    if module is None or not _derived(image):
        return []
    return list(_requirements_of(module.split(".")[0]))
