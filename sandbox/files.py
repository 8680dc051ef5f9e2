"""The files that make up the in-sandbox runtime, staged side by side wherever the runner runs.

The Docker image copies them to /opt/codemint (sandbox/build_image.sh and the Dockerfile
list the same files; a test keeps the lists equal); the local backend binds or copies them
into its namespace. `runner_digest` is the content digest of exactly these files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from codemint import codec

_SANDBOX_DIR = Path(__file__).resolve().parent
# Staged name -> source file. The runner imports the codec as `codec` when run as a script.
RUNNER_FILES: dict[str, Path] = {
    "runner.py": _SANDBOX_DIR / "runner.py",
    "zygote.py": _SANDBOX_DIR / "zygote.py",
    "import_once.py": _SANDBOX_DIR / "import_once.py",
    "codec.py": Path(codec.__file__).resolve(),
}
RUNNER_SCRIPT = "runner.py"


def stage_runner(directory: str | Path) -> Path:
    """Copy the runtime files into `directory` (made if needed); returns the runner's path."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, source in RUNNER_FILES.items():
        shutil.copyfile(source, target / name)
        (target / name).chmod(0o444)
    return target / RUNNER_SCRIPT


def runner_digest() -> str:
    """sha256 over the staged names and contents of the runtime files."""
    h = hashlib.sha256()
    for name in sorted(RUNNER_FILES):
        h.update(name.encode() + b"\0" + RUNNER_FILES[name].read_bytes() + b"\0")
    return h.hexdigest()


# The Dockerfile beside the runtime files: with them, the image's build context.
DOCKERFILE = _SANDBOX_DIR / "Dockerfile"
IMAGE_HASH_LABEL = "codemint.sandbox.hash"


def image_context_hash() -> str:
    """The label sandbox/build_image.sh puts on the image it builds from these files (sha256 of
    runner.py, zygote.py, import_once.py, codec.py and the Dockerfile, in that order, first 16
    hex digits).
    An image whose label differs was built from another codemint's runner."""
    h = hashlib.sha256()
    names = ("runner.py", "zygote.py", "import_once.py", "codec.py")
    for path in (*(RUNNER_FILES[name] for name in names), DOCKERFILE):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
