"""codemint: real code in, verified instruction-tuning data out."""

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemint.run_view import RunView

__version__ = "0.1.0"


def open_run(path: str | Path) -> "RunView":
    """A run directory (`runs/<run_id>`) as pandas DataFrames: funnel, kept and rejected rows."""
    from codemint.run_view import open_run as _open  # pandas only when asked for

    return _open(path)


# pyproject.toml installs the top-level flows/, tasks/ and sandbox/ folders as codemint.flows,
# codemint.tasks and codemint.sandbox. When Python runs from a source checkout (`python -m codemint`
# or `python -c` in the repository root), this folder shadows the installed package; this finder
# gives those three folders the same names there, and nothing else.
TOP_LEVEL_PACKAGES = ("flows", "tasks", "sandbox")


class _CheckoutFolders(importlib.abc.MetaPathFinder):
    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, leaf = fullname.partition(".")
        if package != __name__ or leaf not in TOP_LEVEL_PACKAGES:
            return None
        folder = self.root / leaf
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


_checkout = Path(__file__).resolve().parent.parent
if not (Path(__file__).parent / "flows").exists() and all(
    (_checkout / name / "__init__.py").is_file() for name in TOP_LEVEL_PACKAGES
):
    sys.meta_path.append(_CheckoutFolders(_checkout))
