"""`ast.parse`, and `compile` of a tree, behind one process-wide lock.

CPython before 3.12 keeps the recursion depth of its AST conversions (C to Python when
parsing, Python to C when compiling a tree) in interpreter state, not thread state
(gh-106905): two threads converting at once can fail with "SystemError: AST constructor
recursion depth mismatch". Stages run as threads of one process (Prefect's thread pool), so
every parse and every compile of a tree in codemint goes through here.
"""

from __future__ import annotations

import ast
import sys
import threading
from contextlib import AbstractContextManager, nullcontext
from types import CodeType
from typing import Any

_LOCK: AbstractContextManager[Any] = threading.Lock() if sys.version_info < (3, 12) else nullcontext()


def parse(source: str, mode: str = "exec") -> Any:
    with _LOCK:
        return ast.parse(source, mode=mode)


def compile_tree(tree: ast.Module, filename: str, mode: str = "exec") -> CodeType:
    """`compile(tree, filename, mode)`: a parsed tree compiled without parsing its text again."""
    with _LOCK:
        return compile(tree, filename, mode)
