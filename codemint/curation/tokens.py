"""Code tokens and stable 64-bit token / n-gram hashes shared by the curation stages.

Hashes must agree across processes and runs (signatures are computed in worker processes
and compared in the parent), so Python's salted `hash()` is never used here.
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import re
import tokenize
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from codemint import safe_ast

U64 = npt.NDArray[np.uint64]

LOCAL = "ID"  # what a locally bound name becomes when locals are normalised
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_MARKERS = {tokenize.NEWLINE: "<NL>", tokenize.INDENT: "<IN>", tokenize.DEDENT: "<DE>"}
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]*('''|\"\"\"|'|\")")
_FALLBACK = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|[^\w\s]")
_COMMENT = re.compile(r"#[^\n]*")
_WORD = re.compile(r"\w+")


def local_names(code: str) -> set[str]:
    """Names the code binds itself (parameters, assignment/loop/with/except targets).

    Renaming these does not change what a function does, so near-dedup can ignore them;
    function, class, attribute and global names are kept because they carry meaning.
    """
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    names.discard("self")
    names.discard("cls")
    return names


def _string_token(text: str) -> str:
    # Quote style and inner whitespace are formatting, not content.
    match = _STRING_PREFIX.match(text)
    body = text[match.end() : len(text) - len(match.group(1))] if match else text
    return "S:" + " ".join(body.split())


def _number_token(text: str) -> str:
    try:
        return repr(ast.literal_eval(text))  # 1_000 == 1000, 0x10 == 16
    except (ValueError, SyntaxError):
        return text


def code_tokens(code: str, *, normalize_locals: bool = True) -> list[str]:
    """Python tokens of `code` without comments or layout; a regex split if it does not tokenize."""
    locals_ = local_names(code) if normalize_locals else set()
    out: list[str] = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in _SKIP:
                continue
            if tok.type in _MARKERS:
                text = _MARKERS[tok.type]
            elif tok.type == tokenize.STRING:
                text = _string_token(tok.string)
            elif tok.type == tokenize.NUMBER:
                text = _number_token(tok.string)
            elif tok.type == tokenize.NAME and tok.string in locals_ and previous != ".":
                text = LOCAL
            else:
                text = tok.string
            out.append(text)
            previous = tok.string
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return fallback_tokens(code, locals_)


def fallback_tokens(code: str, locals_: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Tokens of text that Python cannot tokenize: words, numbers and single symbols."""
    tokens = _FALLBACK.findall(_COMMENT.sub("", code))
    return [LOCAL if t in locals_ and not keyword.iskeyword(t) else t for t in tokens]


def strip_comments(code: str) -> str:
    """The code without comments (kept as is if it does not tokenize)."""
    try:
        kept = [
            tok.string
            for tok in tokenize.generate_tokens(io.StringIO(code).readline)
            if tok.type != tokenize.COMMENT
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    return " ".join(kept)


def words(text: str, *, is_code: bool) -> list[str]:
    """Lower-cased word tokens (identifiers, keywords, numbers, words of strings/prose).

    Punctuation is dropped so that prose (an instruction, a docstring) and code normalise
    the same way; comments are dropped from code so added comments do not hide a copy.
    """
    if is_code:
        text = strip_comments(text)
    return _WORD.findall(text.lower())


@lru_cache(maxsize=1 << 18)
def token_hash(token: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def hash_tokens(tokens: list[str]) -> U64:
    return np.fromiter((token_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))


def mix64(x: U64) -> U64:
    """splitmix64 finaliser: spreads polynomial n-gram hashes over all 64 bits."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_PRIME = np.uint64(0x100000001B3)


def ngram_hashes(token_hashes: U64, n: int) -> U64:
    """64-bit hash of every window of `n` consecutive tokens (none if fewer than n tokens)."""
    m = len(token_hashes) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _PRIME + token_hashes[k : k + m]
    return mix64(h)
