"""Sandboxed execution of untrusted code: `open_sandbox` picks a backend from settings.

Backends: "docker" (warm locked-down containers, the real boundary), "local" (the same
runner on the host in bubblewrap/unshare namespaces, weaker) and "auto" (docker when the
engine answers and the image exists, else local with a warning). Asking for "docker" when it
cannot run raises `SandboxUnavailableError`; there is never a silent fallback.
"""

from __future__ import annotations

import logging
import sys
import threading

from codemint.sandbox.api import (
    CallOutcome,
    ExecJob,
    ExecLimits,
    ExecResult,
    Sandbox,
    SandboxUnavailableError,
)
from codemint.settings import SandboxSettings

log = logging.getLogger(__name__)

__all__ = [
    "CallOutcome",
    "ExecJob",
    "ExecLimits",
    "ExecResult",
    "Sandbox",
    "SandboxUnavailableError",
    "image_digest",
    "open_sandbox",
    "result_fingerprint",
    "shared_sandbox",
]


def resolved_backend(settings: SandboxSettings) -> str:
    """The backend `settings` runs on: "auto" becomes docker when the engine and image are there."""
    from codemint.sandbox.docker_backend import engine_problem

    if settings.backend != "auto":
        return settings.backend
    problem = engine_problem(settings.image)
    if problem is None:
        return "docker"
    log.warning("sandbox: Docker unavailable (%s); falling back to the local backend", problem)
    return "local"


def image_digest(settings: SandboxSettings) -> str:
    """Content digest of what executes jobs: the Docker image's id (not its tag, which can be
    rebuilt under the same name), or for the local backend the runner's files and the host's
    Python version."""
    from codemint.sandbox.docker_backend import image_id
    from codemint.sandbox.files import runner_digest

    if resolved_backend(settings) == "docker":
        return image_id(settings.image)
    return f"local:{runner_digest()[:32]}:python-{sys.version.split()[0]}"


def result_fingerprint(settings: SandboxSettings) -> list[object]:
    """What changes the outcome of an execution (limits, the image's content), not its speed;
    part of the cache key of every stage that runs code. Hiding the row's original changes
    what a candidate (and the original) can import."""
    hide = {"hide_original": settings.hide_original}
    return [settings.limits.model_dump(mode="json"), image_digest(settings), hide]


def open_sandbox(settings: SandboxSettings) -> Sandbox:
    """A new sandbox for `settings`; the caller closes it (or uses it as a context manager)."""
    from codemint.sandbox.docker_backend import DockerSandbox
    from codemint.sandbox.local_backend import LocalSandbox

    if resolved_backend(settings) == "docker":
        return DockerSandbox(
            settings.image,
            settings.workers,
            settings.jobs_per_container,
            settings.limits,
            import_once=settings.import_once,
        )
    return LocalSandbox(
        settings.workers, settings.jobs_per_container, settings.limits, import_once=settings.import_once
    )


_shared: dict[str, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(settings: SandboxSettings) -> Sandbox:
    """One process-wide sandbox per distinct settings, safe to call `run_batch` on from many
    threads; it is closed at interpreter exit (callers should not close it)."""
    key = settings.model_dump_json()
    with _shared_lock:
        box = _shared.get(key)
        if box is None or getattr(box, "closed", False):
            from codemint.sandbox.metered import Metered

            # counted: executions per stage in the run report (codemint/exec_meter.py)
            box = Metered(open_sandbox(settings))
            _shared[key] = box
        return box
