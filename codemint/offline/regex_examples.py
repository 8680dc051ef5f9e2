"""Short strings a regular expression matches, built from its parsed form (pure, no search).

Code that looks for a pattern (`_charref = re.compile(r'&(#[0-9]+;?|...)')`, then
`_charref.sub(...)`) does its work only on text holding a match; generic strings almost never
do. The example takes each repeat at its minimum (once when it may be absent), the first or the last
alternative of a branch, and a character a class accepts; it is kept only when the pattern
really finds it (flags, lookarounds and back-references are not modelled, only checked).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The stdlib's parser of patterns (`sre_parse` before 3.11, which warns on import since).
_PARSER: Any = importlib.import_module("re._parser")
_MAX_REPEAT = 20  # a piece that must repeat more often than this: no example
_CANDIDATES = "a0xZ_ -.:/"  # tried, in order, as the member of a negated class


def _in_class(ch: str, items: list[tuple[Any, Any]]) -> bool:
    """Whether `ch` is one of a character class's items (NEGATE ignored here)."""
    code = ord(ch)
    for op, av in items:
        name = str(op)
        if name == "LITERAL" and av == code:
            return True
        if name == "RANGE" and av[0] <= code <= av[1]:
            return True
        if name == "CATEGORY":
            category = str(av)
            tests = {
                "CATEGORY_DIGIT": ch.isdigit(),
                "CATEGORY_NOT_DIGIT": not ch.isdigit(),
                "CATEGORY_SPACE": ch.isspace(),
                "CATEGORY_NOT_SPACE": not ch.isspace(),
                "CATEGORY_WORD": ch.isalnum() or ch == "_",
                "CATEGORY_NOT_WORD": not (ch.isalnum() or ch == "_"),
            }
            if tests.get(category, False):
                return True
    return False


def _class_member(items: list[tuple[Any, Any]]) -> str | None:
    if items and str(items[0][0]) == "NEGATE":
        rest = items[1:]
        return next((c for c in _CANDIDATES if not _in_class(c, rest)), None)
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            return chr(av)
        if name == "RANGE":
            return chr(av[0])
        if name == "CATEGORY":
            return next((c for c in _CANDIDATES + "\t" if _in_class(c, [(op, av)])), None)
    return None


def _emit(items: Any, last: bool, out: list[str]) -> bool:
    """Append a matching text for parsed `items` to `out`; False when a piece cannot be made."""
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append("a" if av != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            member = _class_member(list(av))
            if member is None:
                return False
            out.append(member)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            times = low or min(1, high)  # the minimum, but at least once when allowed
            if times > _MAX_REPEAT:
                return False
            for _ in range(times):
                if not _emit(sub, last, out):
                    return False
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            if not _emit(av[-1], last, out):
                return False
        elif name == "BRANCH":
            alternatives = av[1]
            if not _emit(alternatives[-1] if last else alternatives[0], last, out):
                return False
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors and lookarounds take no text; the final check judges them
        else:  # back-references, conditionals: not modelled
            return False
    return True


def examples(pattern: str, limit: int = 2) -> list[str]:
    """Up to `limit` distinct non-empty strings `pattern` finds (first and last alternatives)."""
    try:
        parsed = _PARSER.parse(pattern)
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return []
    out: list[str] = []
    for last in (False, True):
        pieces: list[str] = []
        if not _emit(parsed, last, pieces):
            continue
        text = "".join(pieces)
        if text and text not in out and compiled.search(text):
            out.append(text)
    return out[:limit]
