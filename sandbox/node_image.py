"""The sandbox image variant with Node.js, for checking JavaScript translations.

It is the sandbox image plus Debian's own `nodejs` (bookworm's, never a vendor build the host
may have) and the packages it needs that the sandbox image lacks. The .deb files are fetched
on the HOST with `apt-get download` (the machine's configured Debian mirror) and installed
with `dpkg -i` in a build without network. The tag hashes the base image id and the exact
package versions: built once, then found by tag. Jobs still run the sandbox's Python runner:
the JavaScript runs in a `node` process a job spawns, under that job's limits.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from codemint.sandbox.api import SandboxUnavailableError
from codemint.sandbox.images import _docker, image_id

if TYPE_CHECKING:  # settings imports sandbox.api: a runtime import here would be circular
    from codemint.settings import SandboxSettings

log = logging.getLogger(__name__)

NODE_PACKAGE = "nodejs"
NODE_LABEL = "codemint.sandbox.node"
# Debian's builds carry "dfsg" in their version; a vendor repository's nodejs does not.
_DEBIAN_BUILD = re.compile(r"\+dfsg")
_DOCKERFILE = """\
FROM {base}
USER root
COPY debs /tmp/codemint-debs
RUN PATH=/usr/local/sbin:/usr/sbin:/sbin:$PATH dpkg -i /tmp/codemint-debs/*.deb \\
    && rm -rf /tmp/codemint-debs && node --version
LABEL {label}="{packages}"
USER 10001:10001
"""
_DEP_FLAGS = [
    "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
    "--no-breaks", "--no-replaces", "--no-enhances",
]  # fmt: skip


class NodeImageError(RuntimeError):
    """The Node variant could not be built (named in the message)."""


def _run(args: list[str], cwd: Path | None = None, timeout: float = 300.0) -> str:
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NodeImageError(f"{args[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise NodeImageError(f"{' '.join(args[:3])} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def debian_node_version() -> str:
    """The newest `nodejs` version the Debian archive offers this machine (package lists
    fetched first, as root, when the machine has none yet)."""
    for attempt in range(2):
        for line in _run(["apt-cache", "madison", NODE_PACKAGE]).splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 2 and _DEBIAN_BUILD.search(parts[1]):
                return parts[1]  # madison lists the newest first
        if attempt == 0 and os.geteuid() == 0:
            _run(["apt-get", "update", "-qq"], timeout=600)
    raise NodeImageError("no Debian build of nodejs in the apt sources (run apt-get update as root)")


def installed_packages(image: str) -> set[str]:
    got = _docker(["run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", image,
                   "-W", "-f", "${Package}\\n"], timeout=120)  # fmt: skip
    if got.returncode != 0:
        raise NodeImageError(f"cannot list the packages of {image}: {got.stderr.strip()[-300:]}")
    return set(got.stdout.split())


def missing_packages(version: str, have: set[str]) -> list[str]:
    """`name=version` for nodejs and each package it depends on that the image lacks."""
    listing = _run(["apt-cache", "depends", *_DEP_FLAGS, f"{NODE_PACKAGE}={version}"])
    names = {ln.strip() for ln in listing.splitlines() if ln and not ln.startswith((" ", "<"))}
    names -= have
    names.discard(NODE_PACKAGE)
    shown = _run(["apt-cache", "show", "--no-all-versions", *sorted(names)]) if names else ""
    versions = dict(re.findall(r"^Package: (\S+)\n(?:.*\n)*?Version: (\S+)", shown, re.MULTILINE))
    pinned = [f"{name}={versions[name]}" for name in sorted(names) if name in versions]
    return [f"{NODE_PACKAGE}={version}", *pinned]


def node_tag(base_id: str, packages: list[str], base_image: str) -> str:
    digest = hashlib.sha256("\n".join([base_id, *packages]).encode()).hexdigest()[:16]
    repo = base_image.rsplit(":", 1)[0] if ":" in base_image.rsplit("/", 1)[-1] else base_image
    return f"{repo}-node:{digest}"


def ensure_node_image(base_image: str) -> str:
    """The Node variant of `base_image` (built if missing); its tag."""
    base_id = image_id(base_image)
    if base_id is None:
        raise SandboxUnavailableError(f"sandbox image {base_image} not found (run sandbox/build_image.sh)")
    if base_id not in _built:
        _built[base_id] = _ensure(base_image, base_id)
    return _built[base_id]


_built: dict[str, str] = {}  # base image id -> its Node variant's tag, once checked this process


def node_sandbox_settings(settings: SandboxSettings) -> SandboxSettings | None:
    """The settings with the Node variant as the image; None for the local backend, which
    has no image to add Node to."""
    from codemint.sandbox import resolved_backend

    if resolved_backend(settings) != "docker":
        return None
    return settings.model_copy(update={"image": ensure_node_image(settings.image)})


def _ensure(base_image: str, base_id: str) -> str:
    packages = missing_packages(debian_node_version(), installed_packages(base_image))
    tag = node_tag(base_id, packages, base_image)
    if image_id(tag) is not None:
        return tag
    with tempfile.TemporaryDirectory(prefix="codemint-node-") as tmp:
        ctx = Path(tmp)
        debs = ctx / "debs"
        debs.mkdir()
        _run(["apt-get", "download", *packages], cwd=debs, timeout=600)
        (ctx / "Dockerfile").write_text(
            _DOCKERFILE.format(base=base_image, label=NODE_LABEL, packages=" ".join(packages)),
            encoding="utf-8",
        )
        built = _docker(["build", "--quiet", "--network", "none", "--tag", tag, str(ctx)])
        if built.returncode != 0:
            raise NodeImageError(f"docker build of {tag} failed: {built.stderr.strip()[-500:]}")
    log.info("sandbox: built %s with %s", tag, ", ".join(packages))
    return tag
