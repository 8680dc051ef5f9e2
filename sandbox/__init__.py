"""Sandboxed execution of untrusted code: `open_sandbox` picks a backend from settings.

Backends: "docker" (warm locked-down containers, the real boundary), "local" (the same
runner on the host in bubblewrap/unshare namespaces, weaker) and "auto" (docker when the
engine answers and the image exists, else local with a warning). Asking for "docker" when it
cannot run raises `SandboxUnavailableError`; there is never a silent fallback.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from codemint.sandbox.api import (
    CallOutcome,
    ExecJob,
    ExecLimits,
    ExecResult,
    Sandbox,
    SandboxUnavailableError,
)

if TYPE_CHECKING:  # settings imports sandbox.api: a runtime import here would be circular
    from codemint.settings import SandboxSettings

log = logging.getLogger(__name__)

__all__ = [
    "CallOutcome",
    "ExecJob",
    "ExecLimits",
    "ExecResult",
    "Sandbox",
    "SandboxUnavailableError",
    "open_sandbox",
    "shared_sandbox",
]


def open_sandbox(settings: SandboxSettings) -> Sandbox:
    """A new sandbox for `settings`; the caller closes it (or uses it as a context manager)."""
    from codemint.sandbox.docker_backend import DockerSandbox, engine_problem
    from codemint.sandbox.local_backend import LocalSandbox

    backend = settings.backend
    if backend == "auto":
        problem = engine_problem(settings.image)
        if problem is None:
            backend = "docker"
        else:
            log.warning("sandbox: Docker unavailable (%s); falling back to the local backend", problem)
            backend = "local"
    if backend == "docker":
        return DockerSandbox(settings.image, settings.workers, settings.jobs_per_container, settings.limits)
    return LocalSandbox(settings.workers, settings.jobs_per_container, settings.limits)


_shared: dict[str, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(settings: SandboxSettings) -> Sandbox:
    """One process-wide sandbox per distinct settings, safe to call `run_batch` on from many
    threads; it is closed at interpreter exit (callers should not close it)."""
    key = settings.model_dump_json()
    with _shared_lock:
        box = _shared.get(key)
        if box is None or getattr(box, "closed", False):
            box = open_sandbox(settings)
            _shared[key] = box
        return box
