"""`ast.parse` behind one process-wide lock.

CPython before 3.12 keeps the recursion depth of its C-to-Python AST conversion in
interpreter state, not thread state (gh-106905): two threads parsing at once can fail with
"SystemError: AST constructor recursion depth mismatch". Stages run as threads of one
process (Prefect's thread pool), so every parse in codemint goes through here.
"""

from __future__ import annotations

import ast
import sys
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

_LOCK: AbstractContextManager[Any] = threading.Lock() if sys.version_info < (3, 12) else nullcontext()


def parse(source: str, mode: str = "exec") -> Any:
    with _LOCK:
        return ast.parse(source, mode=mode)
