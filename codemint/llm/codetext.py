"""Code handling around LLM calls: docstring stripping, code-block extraction, signature
arity, copy detection, and encoding proposed arguments as sandbox input text."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any

from codemint import safe_ast
from codemint.codec import encode_input

_BLOCK = re.compile(
    r"^[ \t]*(`{3,})[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE
)
_SPACE = re.compile(r"\s+")

_Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


# -- docstrings ---------------------------------------------------------------------------------


def strip_docstrings(code: str) -> str:
    """The code without docstrings (module, classes, functions), comments and layout kept.

    Docstrings that share a line with other code fall back to `ast.unparse`, which loses
    comments but is always correct.
    """
    tree = safe_ast.parse(code)
    lines = code.splitlines(keepends=True)
    cuts: list[tuple[int, int, str | None]] = []  # (first line, last line, replacement) 0-based
    for node in ast.walk(tree):
        if not isinstance(node, _Scope) or not node.body:
            continue
        doc = node.body[0]
        if not (
            isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            continue
        start, end = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
        before = lines[start][: doc.col_offset]
        after = lines[end][doc.end_col_offset or 0 :]
        if before.strip() or after.strip():
            return _unparse_without_docstrings(tree)
        # A body that is only a docstring needs a statement in its place.
        cuts.append((start, end, before + "pass\n" if len(node.body) == 1 else None))
    for start, end, replacement in sorted(cuts, reverse=True):
        lines[start : end + 1] = [replacement] if replacement else []
    return "".join(lines)


def _unparse_without_docstrings(tree: ast.Module) -> str:
    for node in ast.walk(tree):
        if isinstance(node, _Scope) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


# -- code blocks --------------------------------------------------------------------------------


def labelled_blocks(text: str) -> list[tuple[str, str]]:
    """(language label, lowercased; body) of each fenced code block in a reply, in order."""
    return [(m.group(2).lower(), m.group(3)) for m in _BLOCK.finditer(text)]


def code_blocks(text: str) -> list[str]:
    """Bodies of the fenced code blocks in a reply, Python or unlabelled ones first."""
    python: list[str] = []
    other: list[str] = []
    for lang, body in labelled_blocks(text):
        (python if lang in ("", "python", "py", "python3") else other).append(body)
    return python + other


def extract_function_code(text: str, name: str) -> str | None:
    """The first code block (or the whole reply, if it has no fence) that parses and defines
    a top-level function `name`."""
    candidates = code_blocks(text) or [text]
    for block in candidates:
        if defines_function(block, name):
            return block.strip("\n") + "\n"
    return None


def defines_function(code: str, name: str) -> bool:
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name for node in tree.body
    )


def takes_no_arguments(code: str, name: str) -> bool:
    """True if top-level function `name` can be called as `name()`."""
    for node in safe_ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            required_pos = len(a.posonlyargs) + len(a.args) - len(a.defaults)
            required_kw = sum(1 for d in a.kw_defaults if d is None)
            return required_pos == 0 and required_kw == 0
    return False


# -- copy detection -----------------------------------------------------------------------------


def copies_code(text: str, code: str, min_run: int = 60) -> bool:
    """True if `text` contains a code fence or a verbatim run of at least `min_run` characters
    (whitespace collapsed) from the body of `code`. The `def` line is left out: naming the
    signature in an instruction is wanted, pasting the body is not. Comments are ignored."""
    if "```" in text:
        return True
    body = _without_comments(_without_def_lines(code))
    haystack = _SPACE.sub(" ", text)
    needle_source = _SPACE.sub(" ", body).strip()
    if len(needle_source) < min_run or len(haystack) < min_run:
        return False
    windows = {needle_source[i : i + min_run] for i in range(len(needle_source) - min_run + 1)}
    return any(haystack[i : i + min_run] in windows for i in range(len(haystack) - min_run + 1))


def _without_comments(code: str) -> str:
    # A pasted body that skips a comment line is still a copy.
    try:
        tokens = [
            t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT
        ]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, SyntaxError):
        return code


def _without_def_lines(code: str) -> str:
    try:
        tree = safe_ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines()
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            drop.update(range(node.lineno - 1, node.body[0].lineno - 1))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


# -- signatures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """What an argument list must look like for a function."""

    positional: tuple[str, ...]  # positional-only and ordinary parameters, in order
    required_positional: int
    keyword_only: tuple[str, ...]
    required_keyword_only: tuple[str, ...]
    varargs: bool

    @property
    def min_args(self) -> int:
        """Shortest argument list: required positionals; with required keyword-only parameters,
        every positional and the keyword-only ones up to the last required one."""
        if not self.required_keyword_only:
            return self.required_positional
        last = max(self.keyword_only.index(name) for name in self.required_keyword_only)
        return len(self.positional) + last + 1

    @property
    def max_args(self) -> int | None:
        """Longest argument list: positionals, then keyword-only ones in order; None if *args."""
        if self.varargs:
            return None
        return len(self.positional) + len(self.keyword_only)

    def split(self, values: list[Any]) -> tuple[list[Any], dict[str, Any]] | None:
        """(args, kwargs) for a flat argument list, or None if its length does not fit.

        Keyword-only parameters take the values after the positional ones (a JSON list
        cannot name them); with *args every value is positional."""
        if len(values) < self.min_args or (self.max_args is not None and len(values) > self.max_args):
            return None
        if self.varargs:
            if self.required_keyword_only:
                return None
            return list(values), {}
        n_pos = len(self.positional)
        args = list(values[:n_pos])
        kwargs = dict(zip(self.keyword_only, values[n_pos:], strict=False))
        if len(args) < self.required_positional or not set(self.required_keyword_only) <= kwargs.keys():
            return None
        return args, kwargs


def parse_params(signature: str, entry_point: str, code: str = "") -> Params:
    """Params from a signature such as `def f(a, b=1) -> int`, `f(a, b=1)` or `(a, b=1)`;
    falls back to the definition of `entry_point` in `code`."""
    node = _signature_node(signature, entry_point) or _function_node(code, entry_point)
    if node is None:
        raise ValueError(f"cannot parse the signature of {entry_point!r}: {signature!r}")
    a = node.args
    positional = tuple(p.arg for p in [*a.posonlyargs, *a.args])
    kw_only = tuple(p.arg for p in a.kwonlyargs)
    return Params(
        positional=positional,
        required_positional=len(positional) - len(a.defaults),
        keyword_only=kw_only,
        required_keyword_only=tuple(p for p, d in zip(kw_only, a.kw_defaults, strict=True) if d is None),
        varargs=a.vararg is not None,
    )


def _signature_node(signature: str, entry_point: str) -> ast.FunctionDef | None:
    text = signature.strip().rstrip(":").strip()
    if text.startswith("async "):
        text = text[len("async ") :]
    if not text.startswith("def "):
        text = f"def {text}" if not text.startswith("(") else f"def {entry_point}{text}"
    for candidate in (text, f"def {entry_point}({signature.strip()})"):
        try:
            tree = safe_ast.parse(candidate + ": pass")
        except SyntaxError:
            continue
        first = tree.body[0] if tree.body else None
        if isinstance(first, ast.FunctionDef):
            return first
    return None


def _function_node(code: str, entry_point: str) -> ast.FunctionDef | None:
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return node
    return None


# -- sandbox input text ---------------------------------------------------------------------------


def input_text(args: list[Any], kwargs: dict[str, Any]) -> str:
    """Canonical `{"args": [...], "kwargs": {...}}` text with tagged values (the codec's)."""
    return encode_input(args, kwargs)
