"""Reformat on real and crafted modules: standalone functions with their dependencies."""

from __future__ import annotations

import textwrap
from collections import Counter

from codemint.records import Function, Provenance, Rejected, Snippet, content_id
from codemint.settings import PipelineSettings
from codemint.tasks.ingest.stage import Ingest, plan_sources
from codemint.tasks.reformat.stage import Reformat

MODULE = textwrap.dedent(
    '''
    import re, os
    from math import sqrt as root
    from .sibling import helper

    _WORD = re.compile(r"\\w+")
    LIMIT = 10

    def count_words(text):
        """Count the words in text."""
        if not text: return 0
        return min(len(_WORD.findall(text)), LIMIT)

    def hyp(a, b): return root(a * a + b * b)

    def uses_helper(x):
        return helper(x) + 1

    def missing(x):
        return undefined_thing(x)

    def outer(x):
        def inner(y):
            return y + 1
        return inner(x)

    async def fetch(url):
        return url

    class Box:
        def get(self, k):
            return k

    def _private(x):
        return x

    def noargs():
        return 1
    '''
)


# Only standalone public functions, no triviality floor: the behaviour before methods,
# closures and private helpers became samples (tests/tasks/reformat/test_improper.py).
FUNCTIONS_ONLY = {"methods": False, "lift_nested": False, "keep_used_private": False, "min_body_nodes": 0}


def reformat(
    code: str, path: str = "pkg/mod.py", **reformat_settings: object
) -> tuple[dict[str, Function], list[Rejected]]:
    snippet = Snippet(id=content_id(code), code=code, provenance=Provenance(source_uri="test:", path=path))
    settings = PipelineSettings(reformat=reformat_settings or FUNCTIONS_ONLY)
    out = list(Reformat(settings).run([snippet]))
    return {o.entry_point: o for o in out if isinstance(o, Function)}, [
        o for o in out if isinstance(o, Rejected)
    ]


def test_functions_carry_only_what_they_need() -> None:
    funcs, _ = reformat(MODULE)
    cw = funcs["count_words"]
    assert cw.original_code.startswith("import re\n")
    assert "import os" not in cw.original_code and "LIMIT = 10" in cw.original_code
    assert '_WORD = re.compile(r"\\w+")' in cw.original_code  # verbatim, raw string kept
    assert cw.docstring == "Count the words in text."
    assert cw.signature == "def count_words(text)"
    assert cw.provenance.line_start == 9 and cw.provenance.line_end == 12
    # normalised: the one-line `if` is unnested
    assert "if not text:\n        return 0" in cw.code
    assert funcs["hyp"].original_code.startswith("from math import sqrt as root\n")
    # the relative import is made absolute from the file's package path
    assert "from pkg.sibling import helper" in funcs["uses_helper"].original_code


def test_what_cannot_stand_alone_is_dropped_with_a_reason() -> None:
    funcs, rejected = reformat(MODULE)
    assert set(funcs) == {"count_words", "hyp", "uses_helper", "outer"}
    reasons = Counter(r.drop_reason for r in rejected)
    assert reasons == Counter(
        {
            "unresolved_name": 1,
            "closure": 1,
            "async_function": 1,
            "method": 1,
            "private": 1,
            "no_parameters": 1,
        }
    )
    unresolved = next(r for r in rejected if r.drop_reason == "unresolved_name")
    assert unresolved.detail.startswith("undefined_thing")
    assert all(r.provenance and r.provenance.line_start for r in rejected)


def test_syntax_error_is_quarantined_with_line() -> None:
    funcs, rejected = reformat("def f(x):\n    return (x\n", path="broken.py")
    assert not funcs
    assert [(r.drop_reason, r.status) for r in rejected] == [("syntax_error", "quarantined")]
    assert "line" in rejected[0].detail


def test_ids_are_stable_and_code_compiles_on_real_stdlib() -> None:
    settings = PipelineSettings()
    snippets = [s for s in Ingest(settings).run(plan_sources([], ["textwrap", "heapq", "colorsys"]))]
    first = [o for o in Reformat(settings).run(snippets) if isinstance(o, Function)]
    again = [o for o in Reformat(settings).run(snippets) if isinstance(o, Function)]
    assert [f.id for f in first] == [f.id for f in again]
    names = {f.entry_point for f in first}
    assert {"dedent", "wrap", "rgb_to_hsv", "heappush"} <= names
    for f in first:
        compile(f.code, f.entry_point, "exec")
        compile(f.original_code, f.entry_point, "exec")
    dedent = next(f for f in first if f.entry_point == "dedent")
    assert "_whitespace_only_re" in dedent.original_code and "import re" in dedent.original_code
