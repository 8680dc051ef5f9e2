"""codemint: real code in, verified instruction-tuning data out."""

from pathlib import Path

__version__ = "0.1.0"

# pyproject.toml installs the top-level flows/, tasks/ and sandbox/ folders as codemint.flows,
# codemint.tasks and codemint.sandbox. When Python runs from a source checkout (`python -m codemint`,
# `python -c` in the repository root), this folder shadows the installed package; letting the
# checkout's root serve as a second search location gives those three the same names there.
_checkout = Path(__file__).parent.parent
if (_checkout / "pyproject.toml").is_file() and all(
    (_checkout / name / "__init__.py").is_file() for name in ("flows", "tasks", "sandbox")
):
    __path__.append(str(_checkout))
