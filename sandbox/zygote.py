"""The zygote and the job processes it forks: code that runs where job data never was.

The runner (sandbox/runner.py) reads jobs and replies, so its memory holds other jobs' code,
inputs and expected outputs. It therefore never forks a job itself: at start it spawns this
module as a fresh interpreter (one per hash seed), which only ever receives pipe file
descriptors over a private socket and forks. Each request double-forks: the intermediate
child exits at once, so the job process is re-parented to the runner (PID 1 or a child
subreaper), which waits for it, supervises it and reads its pipes. The job process reads its
own job (code, entry point, one input, limits) from the job pipe, so the zygote never sees
job data either; a job can find nothing of another job in its memory.

Standard library only; staged beside runner.py and codec.py (see sandbox/files.py).
Run as `python -s -P zygote.py` with the control socket as fd 3.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import resource
import signal
import socket
import sys
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # on the host: codemint.sandbox.zygote
    from codemint import codec
    from codemint.sandbox import import_once
else:  # run as a script in the sandbox, with codec.py and import_once.py staged beside this file
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, _HERE)
    import codec
    import import_once

    sys.path.remove(_HERE)

MODULE_NAME = "__codemint__"
CONTROL_FD = 3
RESULT_FD = 3
# What the job process expects on the control socket: one byte and these four fds.
FORK_REQUEST = b"F"
JOB_FDS = 4  # job pipe (read end), stdout, stderr, result pipe (write ends)
SHIELDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGQUIT,
)
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWIPC = 0x08000000
_KEYCTL_NR = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_CLEAR = 7
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5

_type = type
_monotonic = time.monotonic


def _load_libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


LIBC = _load_libc()


def libc_call(name: str, *args: int) -> bool:
    """True when the libc function exists and returned 0."""
    fn: Callable[..., int] | None = getattr(LIBC, name, None) if LIBC is not None else None
    if fn is None:
        return False
    try:
        return fn(*args) == 0
    except Exception:
        return False


def prctl(option: int, value: int) -> bool:
    return libc_call("prctl", option, value, 0, 0, 0)


class Limits:
    """Mirror of `codemint.sandbox.api.ExecLimits` (the runner cannot import pydantic)."""

    __slots__ = (
        "cpu_s",
        "max_file_size_mb",
        "max_open_files",
        "max_procs",
        "memory_mb",
        "output_cap_bytes",
        "result_cap_bytes",
        "timeout_s",
    )

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.timeout_s = float(data.get("timeout_s", 3.0))
        self.cpu_s = int(data.get("cpu_s", 3))
        self.memory_mb = int(data.get("memory_mb", 512))
        self.max_procs = int(data.get("max_procs", 32))
        self.max_open_files = int(data.get("max_open_files", 64))
        self.max_file_size_mb = int(data.get("max_file_size_mb", 16))
        self.output_cap_bytes = int(data.get("output_cap_bytes", 16_384))
        self.result_cap_bytes = int(data.get("result_cap_bytes", 4_000_000))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _set_rlimit(which: int, value: int) -> None:
    try:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def _keyctl(*args: int) -> None:
    if _KEYCTL_NR is not None:
        with contextlib.suppress(Exception):
            LIBC.syscall(_KEYCTL_NR, *args)


def fresh_keyrings() -> None:
    """Keys a previous job of this uid left in the kernel keyrings are gone for this one."""
    _keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0)
    _keyctl(KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING)
    _keyctl(KEYCTL_CLEAR, KEY_SPEC_USER_SESSION_KEYRING)


# --------------------------------------------------------------------------- the zygote


def serve(control: socket.socket) -> None:
    """Fork one job process per request until the runner closes the socket."""
    pid_r, pid_w = os.pipe()
    control.sendall(b"R")
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(control, 16, JOB_FDS)
        except (ConnectionError, OSError):
            return
        if not msg:
            return
        if msg != FORK_REQUEST or len(fds) != JOB_FDS:
            for fd in fds:
                os.close(fd)
            control.sendall((0).to_bytes(4, "little"))
            continue
        if sibling_fork_works():
            reply = _fork_sibling_job(fds, control, pid_r, pid_w)
        else:
            reply = _double_fork_job(fds, control, pid_r, pid_w)
        control.sendall(reply)


def _start_job(fds: list[int], control: socket.socket, pid_r: int, pid_w: int) -> None:
    """In the new job process: drop the zygote's descriptors and run the job. Never returns."""
    try:
        os.close(pid_r)
        os.close(pid_w)
        control.detach()
        job_main(fds)
    finally:
        os._exit(125)


def _fork_sibling_job(fds: list[int], control: socket.socket, pid_r: int, pid_w: int) -> bytes:
    """One fork whose child is the runner's child (CLONE_PARENT): the cheap path."""
    global _SIBLING_OK
    try:
        pid = fork_sibling()
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EPERM, errno.ENOSYS):
            for fd in fds:
                os.close(fd)
            return (0).to_bytes(4, "little")  # out of processes: this job fails, not the next
        _SIBLING_OK = False  # not allowed here: the portable path from now on
        return _double_fork_job(fds, control, pid_r, pid_w)
    if pid == 0:
        _start_job(fds, control, pid_r, pid_w)
    for fd in fds:
        os.close(fd)
    return pid.to_bytes(4, "little")


def _double_fork_job(fds: list[int], control: socket.socket, pid_r: int, pid_w: int) -> bytes:
    """Portable path: the intermediate child exits at once, so the job process is re-parented
    to the runner (PID 1 or a child subreaper)."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the intermediate child
        try:
            job_pid = os.fork()
        except BaseException:
            job_pid = -1
        if job_pid == 0:
            _start_job(fds, control, pid_r, pid_w)
        with contextlib.suppress(BaseException):
            os.write(pid_w, max(job_pid, 0).to_bytes(4, "little"))
        os._exit(0)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child, 0)
    os.set_blocking(pid_r, False)
    try:
        reply = os.read(pid_r, 4)
    except BlockingIOError:
        reply = b""
    return reply if len(reply) == 4 else (0).to_bytes(4, "little")


# fork(2) with CLONE_PARENT through the raw clone syscall, wrapped in CPython's own before/after
# fork hooks exactly as os.fork wraps fork(2). Called through PyDLL so the GIL stays held.
# Safe here because the zygote is single-threaded (no lock can be held by another thread).
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
CLONE_PARENT = 0x00008000


def _load_pylibc() -> Any:
    try:
        lib = ctypes.PyDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        return lib
    except (OSError, AttributeError):
        return None


_PYLIBC = _load_pylibc() if _SYS_CLONE is not None else None


_SIBLING_OK = _PYLIBC is not None


def sibling_fork_works() -> bool:
    return _SIBLING_OK


def fork_sibling() -> int:
    """Like os.fork, but the child is a child of our parent; 0 in the child."""
    assert _PYLIBC is not None and _SYS_CLONE is not None
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = int(_PYLIBC.syscall(_SYS_CLONE, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone(CLONE_PARENT) failed")
    return pid


def main() -> int:
    # First of all: same-uid jobs must not ptrace us or read /proc/<zygote>/mem.
    prctl(PR_SET_DUMPABLE, 0)
    for sig in SHIELDED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    control = socket.socket(fileno=CONTROL_FD)
    serve(control)
    return 0


# --------------------------------------------------------------------------- the hidden original
#
# A row's candidate must write the row's function, not import it from the module the row came
# from. Before the job's code runs, the job process makes the row's function or class (and
# every alias of it in a loaded module, and the same name in a stdlib accelerator such as
# `_heapq`) unreachable by attribute: `M.f`, `from M import f`, `import_module`, `sys.modules`
# and `os.path.f` all raise. The module's own functions keep their globals, so the module (and
# the runner's codec, which binds what it uses at import) still works. Re-imports and reloads
# come back concealed (a meta path finder wraps the loader). Not a boundary against a
# determined job: loading the file by path under another name, `object.__getattribute__` or a
# function's `__globals__` still reach it.

_getframe = sys._getframe
# A module's real namespace, whatever its class's attribute lookup says.
_MODULE_DICT_SLOT: Any = vars(types.ModuleType)["__dict__"]


def _module_dict(module: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = _MODULE_DICT_SLOT.__get__(module)
    return namespace


_ModuleType = types.ModuleType
_partial = functools.partial
_object_getattribute = object.__getattribute__


def hidden_original(spec: Any) -> dict[str, Any] | None:
    """A job's `hide` field validated: {"module": dotted name, "names": [identifiers]} or None."""
    if spec is None:
        return None
    if (
        _type(spec) is not dict
        or _type(spec.get("module")) is not str
        or _type(spec.get("names")) is not list
    ):
        raise TypeError("hide must be {'module': str, 'names': [str, ...]}")
    names = spec["names"]
    if not all(_type(n) is str and n.isidentifier() for n in names):
        raise TypeError("hide names must be identifiers")
    if not all(part.isidentifier() for part in spec["module"].split(".")):
        raise TypeError("hide module must be a dotted name")
    return {"module": spec["module"], "names": list(names)}


def _import_system_globals() -> tuple[dict[str, Any], ...]:
    """Globals of the import machinery, which must see a concealed module's real namespace
    (a reload executes the module's code in it)."""
    found = []
    for name in ("_frozen_importlib", "_frozen_importlib_external"):
        module = sys.modules.get(name)
        if module is not None:
            found.append(_module_dict(module))
    return tuple(found)


def _concealing_class(
    base: type, module_name: str, hidden: set[str], trusted: tuple[dict[str, Any], ...]
) -> type:
    """A subclass of `base` (the module's type) whose attribute lookup refuses `hidden`."""
    base_get: Any = base.__getattribute__
    base_set: Any = base.__setattr__

    def __getattribute__(self: Any, name: str) -> Any:
        if name in hidden:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if name == "__dict__":
            real = base_get(self, name)
            caller = _getframe(1).f_globals
            if any(caller is g for g in trusted):
                return real
            return {k: v for k, v in real.items() if k not in hidden}
        if name == "__all__":
            try:
                return [n for n in base_get(self, name) if n not in hidden]
            except AttributeError:
                public = [n for n in _module_dict(self) if not n.startswith("_")]
                if not hidden.intersection(public):
                    raise
                # Without __all__, `import *` would take every public name: list them but these.
                return [n for n in public if n not in hidden]
        return base_get(self, name)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name == "__class__":
            raise TypeError(f"module {module_name!r}: its class cannot be changed")
        base_set(self, name, value)

    namespace = {
        "__getattribute__": __getattribute__,
        "__setattr__": __setattr__,
        "__codemint_hidden__": hidden,
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
    }
    return _type(base.__name__, (base,), namespace)


def conceal(module: Any, names: set[str] | frozenset[str], trusted: tuple[dict[str, Any], ...]) -> None:
    """Make `names` unreachable as attributes of `module` (idempotent, adds to earlier names)."""
    cls = _type(module)
    hidden = cls.__dict__.get("__codemint_hidden__")
    if _type(hidden) is set:
        hidden.update(names)
        return
    name = _module_dict(module).get("__name__")
    module.__class__ = _concealing_class(cls, str(name), set(names), trusted)


class _Reconcealing:
    """A loader that conceals the names again after executing a (re)imported module."""

    def __init__(self, loader: Any, owner: OriginalConcealer, fullname: str) -> None:
        self._loader = loader
        self._owner = owner
        self._fullname = fullname

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        self._owner.executing(self._fullname, True)
        try:
            self._loader.exec_module(module)
        finally:
            self._owner.executing(self._fullname, False)
        self._owner.loaded(self._fullname)


class OriginalConcealer:
    """Keeps a row's original out of the job's reach, now and whenever its module is (re)loaded.

    Installed first on `sys.meta_path`: the module (or its top-level package, whose import
    re-exports it) is concealed when its import finishes, so a job that never imports it does
    not pay for importing it."""

    def __init__(self, module: str, names: list[str]) -> None:
        self.module = module
        self.names = frozenset(names)
        self.top = module.partition(".")[0]
        last = module.rpartition(".")[2]
        # The C accelerator of a stdlib module holds same-named versions (_heapq.heappush).
        accelerator = f"_{last}"
        self.accelerator = (
            accelerator
            if self.top in sys.stdlib_module_names and accelerator in sys.stdlib_module_names
            else None
        )
        self.watched = {self.module, self.top} | ({self.accelerator} if self.accelerator else set())
        self.trusted = _import_system_globals()
        self._top_running = False

    # -- meta path finder

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.watched:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Reconcealing(spec.loader, self, fullname)
                return spec
        return None

    def executing(self, fullname: str, running: bool) -> None:
        if fullname == self.top:
            self._top_running = running

    def loaded(self, fullname: str) -> None:
        """After `fullname` was executed by an import or a reload."""
        if fullname == self.accelerator:
            module = sys.modules.get(fullname)
            if module is not None:
                conceal(module, self.names, self.trusted)
            return
        if fullname == self.module and self.top != self.module and self._top_running:
            return  # its package is still importing (and re-exporting it): conceal after
        if fullname == self.top and self.module not in sys.modules:
            with contextlib.suppress(Exception):
                __import__(self.module)
        self.apply()

    # -- concealment

    def install(self) -> None:
        sys.meta_path.insert(0, self)
        if self.module in sys.modules:
            self.apply()

    def apply(self) -> None:
        module = sys.modules.get(self.module)
        if module is None:
            return
        targets: dict[int, tuple[Any, set[str]]] = {id(module): (module, set(self.names))}
        namespace = _module_dict(module)
        originals = [namespace[n] for n in self.names if n in namespace]
        if self.accelerator is not None:
            with contextlib.suppress(Exception):
                accel = __import__(self.accelerator)
                targets[id(accel)] = (accel, set(self.names))
                accel_ns = _module_dict(accel)
                originals += [accel_ns[n] for n in self.names if n in accel_ns]
        # Aliases: every loaded module holding one of these objects, under any name, bare or
        # wrapped once (a partial, a decorator's __wrapped__, toolz.curried's curry objects).
        wanted = {id(obj) for obj in originals if callable(obj)}
        runner = _runner_modules()
        for other in list(sys.modules.values()):
            if not isinstance(other, _ModuleType) or id(other) in runner:
                continue
            try:
                items = list(_module_dict(other).items())
            except Exception:
                continue
            held = {k for k, v in items if id(v) in wanted or _wraps(v, wanted)}
            if held:
                targets.setdefault(id(other), (other, set()))[1].update(held)
        _bind_runner_modules({i for i in targets})
        for target, names in targets.values():
            with contextlib.suppress(Exception):
                conceal(target, names, self.trusted)


def _wraps(value: Any, wanted: set[int]) -> bool:
    """Whether `value` wraps one of the `wanted` objects: a partial of it, or an object whose
    instance dict holds it or a partial of it. Never raises (module attributes can be
    proxies that fail on any access)."""
    try:
        kind = _type(value)
        if kind is _partial:
            return id(value.func) in wanted
        if issubclass(kind, _ModuleType | type):
            return False
        attrs = _object_getattribute(value, "__dict__")
        if _type(attrs) is not dict:
            return False
        for inner in attrs.values():
            if id(inner) in wanted or (_type(inner) is _partial and id(inner.func) in wanted):
                return True
    except Exception:
        pass
    return False


def _runner_modules() -> set[int]:
    return {id(m) for m in (sys.modules.get(__name__), codec, import_once) if m is not None}


def _bind_runner_modules(concealed: set[int]) -> None:
    """The runner's own code (this module, the codec) keeps full modules: its references to a
    module about to be concealed become private copies of it."""
    for owner in (globals(), _module_dict(codec), _module_dict(import_once)):
        for key, value in list(owner.items()):
            if isinstance(value, _ModuleType) and id(value) in concealed:
                copy = _ModuleType(value.__name__)
                _module_dict(copy).update(_module_dict(value))
                owner[key] = copy


def conceal_original(spec: dict[str, Any] | None) -> None:
    """Apply a job's `hide` (see `hidden_original`); a module that fails to import is left to
    fail again when the job imports it."""
    if not spec or not spec["names"]:
        return
    with contextlib.suppress(Exception):
        OriginalConcealer(spec["module"], spec["names"]).install()


# --------------------------------------------------------------------------- the job process


def job_main(fds: list[int]) -> None:
    """Runs in the job process: read the job, lock down, call the entry point. Never returns."""
    job_r, out_w, err_w, res_w = fds
    try:
        os.setsid()
        for sig in SHIELDED_SIGNALS:  # the job gets Python's usual dispositions back
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        job = json.loads(_read_all(job_r))
        os.close(job_r)
        template = job.get("template") is True
        code, entry_point = job["code"], job["entry_point"]
        input_text = "" if template else job["input"]
        limits = Limits(job["limits"])
        child_uid = job.get("child_uid")
        hide = hidden_original(job.get("hide"))
        if template:
            # The per-job zygote counts as one process of the uid: its inputs keep max_procs.
            limits.max_procs += 1
        # The per-job zygote's inputs share its IPC namespace; the runner wipes it per input.
        _lock_down(limits, job["workdir"], child_uid, (out_w, err_w, res_w), own_ipc=not template)
    except BaseException:
        os._exit(125)
    # After the lock-down (a reload runs the module's code), before the job's code.
    conceal_original(hide)
    if template:
        import_once.template_main(job, sys.modules[__name__])
        os._exit(0)
    message = call_entry_point(code, entry_point, input_text)
    finish(message)


def _lock_down(
    limits: Limits, workdir: str, child_uid: int | None, fds: tuple[int, int, int], own_ipc: bool = True
) -> None:
    out_w, err_w, res_w = fds
    # The zygote is non-dumpable; the job must be dumpable to write its own /proc/self files.
    prctl(PR_SET_DUMPABLE, 1)
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, b"1000")
        os.close(fd)
    except OSError:
        pass
    if own_ipc and os.geteuid() == 0:
        # A root runner (local backend via unshare): SysV IPC and POSIX queues of this job
        # live in a namespace of its own and vanish with it.
        libc_call("unshare", CLONE_NEWIPC)
    max_fd = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    mb = 1024 * 1024
    cpu = max(1, limits.cpu_s)
    try:  # soft limit -> SIGXCPU (reported as timeout); hard limit 1 s later -> SIGKILL
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    except (ValueError, OSError):
        _set_rlimit(resource.RLIMIT_CPU, cpu)
    _set_rlimit(resource.RLIMIT_AS, limits.memory_mb * mb)
    _set_rlimit(resource.RLIMIT_NPROC, limits.max_procs)
    _set_rlimit(resource.RLIMIT_NOFILE, limits.max_open_files)
    _set_rlimit(resource.RLIMIT_FSIZE, limits.max_file_size_mb * mb)
    _set_rlimit(resource.RLIMIT_CORE, 0)
    if child_uid is not None:
        # A root runner drops the job to an unprivileged uid: no capabilities, no write
        # access to root-owned host files, cannot signal the runner.
        os.setgroups([])
        os.setgid(child_uid)
        os.setuid(child_uid)
        prctl(PR_SET_DUMPABLE, 1)  # setuid reset it
    fresh_keyrings()
    os.chdir(workdir)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.dup2(res_w, RESULT_FD)
    if max_fd == resource.RLIM_INFINITY or max_fd > 1 << 20:
        max_fd = 1 << 20
    os.closerange(RESULT_FD + 1, max_fd)  # the control socket and every other inherited fd
    os.environ["HOME"] = workdir
    os.environ["TMPDIR"] = workdir
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if fd == 0:
            stream = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        else:  # line-buffered so output survives a kill mid-run
            stream = open(  # noqa: SIM115
                fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
            )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.argv = ["<codemint>"]
    if "random" in sys.modules:  # never the same stream as another job of this zygote
        sys.modules["random"].seed()


def import_code(code: str) -> dict[str, Any]:
    """Execute the job's code as the module `__codemint__`; its namespace."""
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = "<codemint>"
    sys.modules[MODULE_NAME] = module
    compiled = compile(code, "<codemint>", "exec")
    exec(compiled, module.__dict__)
    return module.__dict__


def call_entry_point(
    code: str, entry_point: str, input_text: str, namespace: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the code and call the entry point on one input; the reply for the runner.

    `namespace`: the code already imported (a per-job zygote's fork), not executed again.
    `args_after` (the arguments' state after the call, in the input's format) is present
    only when it differs from the input: the call changed a mutable argument. "t" holds
    when the import started, the call started and the call ended (monotonic clock, the
    runner's too): the runner splits an execution's seconds with them, for metrics only.
    """
    my_pid = os.getpid()
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    constructed = '"__new__"' in input_text
    t_import, t_call = _monotonic(), -1.0
    try:
        args, kwargs = codec.decode_input(input_text)
        t_import = t_call = _monotonic()
        if namespace is None:
            t_call = -1.0
            namespace = import_code(code)
            t_call = _monotonic()
        fn = namespace.get(entry_point)
        if fn is None:
            raise NameError(f"entry point {entry_point!r} is not defined")
        if constructed:  # instances of the code's own classes, built now that it has run
            args, kwargs = codec.decode_input(input_text, codec.constructor_for(namespace))
        value = fn(*args, **kwargs)
        if os.getpid() != my_pid:
            os._exit(0)  # a forked copy of the job returning: never report for it
        codec.restore_builtins()
        message: dict[str, Any] = {"status": "ok", "result": codec.canonical_json(value)}
    except MemoryError:
        if os.getpid() != my_pid:
            os._exit(0)
        return {"status": "memory", "exc_type": "MemoryError", "exc_message": ""}
    except BaseException as exc:
        if os.getpid() != my_pid:
            os._exit(0)
        codec.restore_builtins()
        if t_call < t_import:  # raised by the import
            t_call = _monotonic()
        message = {
            "status": "error",
            "exc_type": codec.type_name(_type(exc)),
            "exc_message": codec.exc_message(exc),
        }
    try:
        # Unchanged: the same text in input order. The state is reported in canonical dict
        # order, as results are (a call's key insertion order can follow the hash seed).
        # An input with constructed instances is not in the state format: always report it.
        if constructed or codec.encode_input(args, kwargs) != input_text:
            message["args_after"] = codec.encode_state(args, kwargs)
    except BaseException:
        pass
    message["t"] = [t_import, t_call, _monotonic()]
    return message


def finish(message: dict[str, Any]) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    try:
        data = (codec.dump_ascii(message) + "\n").encode("ascii")
        write_all(RESULT_FD, data)
    except BaseException:
        os._exit(124)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
