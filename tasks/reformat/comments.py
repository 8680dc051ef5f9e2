"""Comments that document a function the way a docstring would.

Much real code explains a helper in a comment block above its `def` (or first thing in its
body) instead of a docstring. Such a block becomes the sample's `comment`, which the offline
summarizer uses when there is no docstring. Not every comment is documentation: banners,
tool directives, TODO/FIXME notes, licence text and commented-out code are not, nor is a block of fewer than
`MIN_WORDS` words.
"""

from __future__ import annotations

import ast
import re

from codemint import safe_ast

MIN_WORDS = 5
# Tool directives, and notes about work left (a TODO says what the code does not do yet).
_DIRECTIVE = re.compile(
    r"^(?:noqa|type:|pragma|fmt:|pylint:|mypy:|-\*-|isort:|ruff:|(?:todo|fixme|xxx|hack)\b)", re.IGNORECASE
)
_NOT_DOC = re.compile(r"\b(?:copyright|license|licence|spdx)\b", re.IGNORECASE)
_BANNER = re.compile(r"^[\W_]*$")


def _block(lines: list[str], last: int, stop: int) -> list[str]:
    """The `#` lines ending at index `last` (going up, not past `stop`), text after the `#`."""
    out: list[str] = []
    i = last
    while i >= stop and lines[i].strip().startswith("#"):
        out.append(lines[i].strip().lstrip("#").strip())
        i -= 1
    return out[::-1]


def _is_code(text: str) -> bool:
    try:
        tree = safe_ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return False
    # A sentence parses only by accident, and then as a bare name or a comparison chain.
    return any(not isinstance(n, ast.Expr) or not isinstance(n.value, ast.Name) for n in tree.body)


def clean(block: list[str]) -> str | None:
    kept = [ln for ln in block if not _DIRECTIVE.match(ln) and not _BANNER.match(ln)]
    text = "\n".join(kept).strip()
    if len(text.split()) < MIN_WORDS or _NOT_DOC.search(text) or _is_code(text):
        return None
    return text


def doc_comment(lines: list[str], node: ast.AST) -> str | None:
    """The comment block right above a `def` (and its decorators) or opening its body;
    `lines`: the module's source lines."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.body:
        return None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    above = clean(_block(lines, first - 1, 0)) if first > 0 else None
    if above:
        return above
    body_start = node.body[0].lineno - 1  # index of the first statement's line
    if body_start - 1 >= node.lineno:  # comment lines between the `def` line and it
        return clean(_block(lines, body_start - 1, node.lineno))
    return None
