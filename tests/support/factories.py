"""Small builders of pipeline rows for tests: `Verified` rows from plain code, and shards of them."""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from codemint import store
from codemint.records import Provenance, TestCase, Verified, content_id, to_table

# Small real-looking functions, distinct from each other, and near-copies of two of them.
WRAP = '''
def wrap_words(text, width=70, indent=""):
    """Split text into lines of at most width characters, each prefixed by indent."""
    words = text.split()
    lines = []
    current = indent
    for word in words:
        if len(current) + len(word) + 1 > width and current.strip():
            lines.append(current.rstrip())
            current = indent
        current += word + " "
    if current.strip():
        lines.append(current.rstrip())
    return lines
'''
# The same function as a copy would look: renamed locals, comments, blank lines, spacing.
WRAP_RENAMED = '''
def wrap_words(s, limit=70, prefix=""):
    """Split text into lines of at most width characters, each prefixed by indent."""
    # tokens of the input
    parts = s.split()
    out = []

    line = prefix
    for p in parts:  # greedy fill
        if len(line)+len(p)+1 > limit and line.strip():
            out.append(line.rstrip())
            line = prefix
        line += p + " "
    if line.strip():
        out.append(line.rstrip())
    return out
'''
# A small edit: one constant and one comparison changed.
WRAP_EDITED = WRAP.replace("width=70", "width=80").replace("> width and", ">= width and")
MEDIAN = '''
def median(values):
    """Return the median of a non-empty list of numbers."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of empty list")
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
MEDIAN_COPY = MEDIAN.replace("ordered", "xs").replace("middle", "mid")
PARSE = '''
def parse_pairs(text, sep=";", kv="="):
    """Parse 'a=1;b=2' into a dict of strings."""
    result = {}
    for chunk in text.split(sep):
        chunk = chunk.strip()
        if not chunk:
            continue
        key, _, value = chunk.partition(kv)
        result[key.strip()] = value.strip()
    return result
'''
CLAMP = '''
def clamp_all(items, low, high):
    """Clamp every number of items into the closed range [low, high]."""
    if low > high:
        raise ValueError("empty range")
    return [min(max(x, low), high) for x in items]
'''
HEX = '''
def to_hex(data, upper=False, group=2):
    """Hex digits of bytes, grouped and separated by spaces."""
    digits = data.hex()
    if upper:
        digits = digits.upper()
    return " ".join(digits[i:i + group] for i in range(0, len(digits), group))
'''

# A class whose method changes the instance: a public total, and a private attribute only it sets.
COUNTER = '''
class Counter:
    """Counts."""

    def __init__(self):
        self.total = 0

    def add(self, n):
        """Add n; return the total."""
        self._seen = n
        self.total += n
        return self.total
'''


def verified(
    code: str,
    *,
    instruction: str | None = None,
    row_id: str | None = None,
    pass_fraction: float = 1.0,
    n_tests: int = 3,
    source_uri: str = "package:demo",
    path: str = "demo.py",
    license: str | None = "MIT",
    revision: str | None = "1.0",
) -> Verified:
    """A `Verified` row for `code` (its first function is the entry point)."""
    code = textwrap.dedent(code).strip("\n") + "\n"
    func = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef))
    signature = f"def {func.name}({ast.unparse(func.args)})"
    doc = ast.get_docstring(func) or f"Compute {func.name.replace('_', ' ')}."
    cases = [
        TestCase(input=json.dumps({"args": [i], "kwargs": {}}), expected=json.dumps(i))
        for i in range(n_tests)
    ]
    passed = round(pass_fraction * n_tests)
    return Verified(
        id=row_id or content_id(code),
        code=code,
        provenance=Provenance(
            source_uri=source_uri, path=path, line_start=1, revision=revision, license=license
        ),
        parent_id=content_id("parent:" + code),
        entry_point=func.name,
        signature=signature,
        docstring=doc,
        original_code=code,
        instruction=instruction
        or f"Implement the Python function `{signature.removeprefix('def ')}`.\n\n{doc}",
        instruction_source="docstring",
        test_inputs=[c.input for c in cases],
        input_sources=["annotations"] * n_tests,
        test_cases=cases,
        candidate_kind="reformatted",
        candidate_code=code,
        pass_fraction=pass_fraction,
        tests_passed=passed,
        tests_total=n_tests,
    )


def write_shard(path: Path, rows: Sequence[Verified]) -> Path:
    store.write_table(path, to_table(list(rows), Verified))
    return path


def write_shards(directory: Path, shards: Sequence[Sequence[Verified]]) -> list[Path]:
    return [write_shard(store.kept_path(directory, i), rows) for i, rows in enumerate(shards)]
