"""Memory limits for a local worker's whole process tree (runner, zygotes, every job process).

cgroup v2 where the unified hierarchy offers the memory controller (at /sys/fs/cgroup, or
/sys/fs/cgroup/unified on hybrid hosts), else a writable cgroup v1 memory hierarchy; swap is
excluded so the limit really limits. Without either, `MemoryCgroups.open` returns None and the
caller logs that only per-process rlimits apply. Workers join their cgroup before they exec
(`wrap_argv`), so nothing they start escapes it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GROUP_NAME = "codemint-sandbox"
_seq = itertools.count()


def _write(path: Path, text: str) -> None:
    path.write_text(text)


@dataclass
class MemoryCgroups:
    kind: str  # "v2" or "v1"
    parent: Path

    @classmethod
    def open(cls) -> tuple[MemoryCgroups | None, str]:
        """The hierarchy to use, or None and why not."""
        problems = []
        for base in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
            controllers = base / "cgroup.controllers"
            if not controllers.exists():
                continue
            if "memory" not in controllers.read_text().split():
                problems.append(f"{base}: cgroup v2 without the memory controller")
                continue
            try:
                parent = base / GROUP_NAME
                if "memory" not in (base / "cgroup.subtree_control").read_text().split():
                    _write(base / "cgroup.subtree_control", "+memory")
                parent.mkdir(exist_ok=True)
                if "memory" not in (parent / "cgroup.subtree_control").read_text().split():
                    _write(parent / "cgroup.subtree_control", "+memory")
                return cls("v2", parent), ""
            except OSError as exc:
                problems.append(f"{base}: {exc}")
        v1 = Path("/sys/fs/cgroup/memory")
        if (v1 / "memory.limit_in_bytes").exists():
            try:
                parent = v1 / GROUP_NAME
                parent.mkdir(exist_ok=True)
                return cls("v1", parent), ""
            except OSError as exc:
                problems.append(f"{v1}: {exc}")
        return None, "; ".join(problems) or "no cgroup memory controller is mounted"

    def create(self, limit_mb: int) -> Path:
        """A new cgroup limited to `limit_mb` of memory and no swap."""
        group = self.parent / f"w-{os.getpid()}-{next(_seq)}"
        group.mkdir()
        limit = str(limit_mb * 1024 * 1024)
        if self.kind == "v2":
            _write(group / "memory.max", limit)
            if (group / "memory.swap.max").exists():
                _write(group / "memory.swap.max", "0")
        else:
            _write(group / "memory.limit_in_bytes", limit)
            if (group / "memory.memsw.limit_in_bytes").exists():
                _write(group / "memory.memsw.limit_in_bytes", limit)
            else:
                _write(group / "memory.swappiness", "0")
        return group

    @staticmethod
    def wrap_argv(group: Path, argv: list[str]) -> list[str]:
        """`argv`, started after its shell joined `group`."""
        script = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        return ["/bin/sh", "-c", script, str(group), *argv]

    @staticmethod
    def oom_kills(group: Path) -> int:
        """How many processes the kernel's OOM killer ended in `group` so far."""
        for name in ("memory.events", "memory.oom_control"):
            with contextlib.suppress(OSError):
                for line in (group / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        return 0

    @staticmethod
    def remove(group: Path, wait_s: float = 2.0) -> None:
        """Remove `group` once its processes are gone (they are being killed)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                group.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    log.warning("sandbox: cgroup %s not removed: %s", group, exc)
                    return
                time.sleep(0.05)
