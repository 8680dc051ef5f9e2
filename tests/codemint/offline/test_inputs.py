from __future__ import annotations

import ast
import io
import random

import pytest

from codemint.offline.inputs import doctest_inputs, literal_value, mutate_value, stream_of


def test_docstring_examples_may_pass_in_memory_files() -> None:
    doc = ">>> import io\n>>> head(io.BytesIO(b'ab'), 1)\nb'a'\n>>> head(StringIO(), n=2)\n''\n"
    (binary, _), (text, kwargs) = list(doctest_inputs(doc, "head"))
    assert (stream_of(binary[0]), binary[1]) == (("BytesIO", b"ab", 0), 1)
    assert (stream_of(text[0]), kwargs) == (("StringIO", "", 0), {"n": 2})
    for source in ("io.BytesIO('text')", "StringIO(b'x')", "os.BytesIO(b'x')", "io.BytesIO(b'x', 1)"):
        with pytest.raises(ValueError):
            literal_value(ast.parse(source, mode="eval").body)


def test_in_memory_files_mutate_their_contents_into_a_fresh_file() -> None:
    rng = random.Random(1)
    seed = io.BytesIO(b"header\x00")
    seen = {stream_of(mutate_value(seed, rng)) for _ in range(30)}
    assert len(seen) > 3 and all(s is not None and s[0] == "BytesIO" for s in seen)
    assert stream_of(seed) == ("BytesIO", b"header\x00", 0)  # the seed itself is left alone
    text = mutate_value(io.StringIO("a=1\n"), rng)
    assert type(text) is io.StringIO
    closed = io.StringIO()
    closed.close()
    assert mutate_value(closed, rng) is closed and stream_of(closed) is None
