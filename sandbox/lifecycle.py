"""Process-wide cleanup: every live pool is closed at interpreter exit and on SIGTERM/SIGINT.

Workers carry their owner's token (`owner_token`: pid and start time) as a runner `--tag` and a
container label, so leftovers can be traced to a process and stale ones told from live ones.
Signal handlers chain to whatever was installed before (Prefect, pytest, the CLI), so the
process still ends (or raises KeyboardInterrupt) as it would have without the sandbox.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _Closable(Protocol):
    def close(self) -> None: ...


_pools: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_previous: dict[int, Any] = {}


def register_pool(pool: _Closable) -> None:
    global _installed
    with _lock:
        _pools.add(pool)
        if _installed:
            return
        _installed = True
    atexit.register(close_all)
    _install_signal_handlers()


def close_all() -> None:
    for pool in list(_pools):
        try:
            pool.close()
        except Exception as exc:
            log.warning("sandbox: closing %r failed: %s", pool, exc)


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal only works there; atexit still covers normal exits
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            _previous[sig] = signal.getsignal(sig)
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    close_all()
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        # Default action (terminate): restore it and re-deliver the signal to ourselves.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22 (starttime) counted after the ")" that ends the command name.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def owner_alive(token: str) -> bool:
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _start_time(pid) == start
