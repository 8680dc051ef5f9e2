"""The context a prompt shows beside its instruction, and the instance state its tests compare."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap

from codemint.prompt_context import (
    MAX_CLASS_DOC_CHARS,
    context_code,
    cut_docstring,
    platform_note,
    shown_attributes,
)
from codemint.records import Function, Provenance, Snippet, content_id
from codemint.samples import method_attribute
from codemint.settings import PipelineSettings
from codemint.tasks.reformat.stage import Reformat


def stdlib_samples(module: str) -> list[Function]:
    """The samples reformat makes of a standard-library module's real source."""
    source = inspect.getsource(importlib.import_module(module))
    where = Provenance(source_uri=f"stdlib:{module}", path=f"{module}.py")
    snippet = Snippet(id=content_id(source), code=source, provenance=where)
    return [f for f in Reformat(PipelineSettings()).run([snippet]) if isinstance(f, Function)]


def sample(module: str, entry_point: str, kind: str) -> Function:
    (found,) = [f for f in stdlib_samples(module) if f.entry_point == entry_point and f.sample_kind == kind]
    return found


def test_a_function_context_holds_the_exception_class_it_raises_and_not_the_target() -> None:
    monthrange = sample("calendar", "monthrange", "function")
    context = context_code(monthrange.original_code, "monthrange")
    assert "class IllegalMonthError(ValueError):" in context
    assert "def isleap(year):" in context and "mdays = [" in context
    assert "def monthrange(" not in context
    ast.parse(context)


def test_a_method_context_shows_header_constructor_and_what_the_target_uses() -> None:
    formatday = sample("calendar", "formatday", "method")
    context = context_code(formatday.original_code, "formatday", "HTMLCalendar")
    tree = ast.parse(context)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    assert list(classes) == ["Calendar", "HTMLCalendar"]  # the base first, as Python needs it
    methods = {n.name for c in classes.values() for n in c.body if isinstance(n, ast.FunctionDef)}
    # The constructor (inherited), and the property accessors its assignment goes through.
    assert methods == {"__init__", "getfirstweekday", "setfirstweekday"}
    assert 'cssclass_noday = "noday"' in context  # a class attribute the target reads
    assert "# def formatday(self, day, weekday): the method to write" in context
    # Only what the shown code names comes along from the module: not the module's helpers.
    assert "def monthrange" not in context and "IllegalMonthError" not in context
    # The attributes compared: those the shown code sets or reads, the property's storage too.
    assert shown_attributes(formatday.original_code, "HTMLCalendar", "formatday") == [
        "_firstweekday",
        "firstweekday",
    ]


def test_the_shown_constructor_chain_brings_the_attributes_it_sets() -> None:
    longest = sample("difflib", "find_longest_match", "method")
    context = context_code(longest.original_code, "find_longest_match", "SequenceMatcher")
    for shown in ("def __init__(", "def set_seqs(", "def set_seq2(", "def __chain_b("):
        assert shown in context
    assert "def ratio(" not in context and "def get_opcodes(" not in context
    attributes = shown_attributes(longest.original_code, "SequenceMatcher", "find_longest_match")
    assert {"b2j", "bjunk", "bpopular", "fullbcount", "a", "b"} <= set(attributes)
    assert "set_seq1" not in attributes  # a method is not state


CACHE = textwrap.dedent(
    '''
    class Lookup:
        """Words by their first letter."""

        def __init__(self, words):
            self.words = list(words)

        def starting(self, letter):
            """The words that start with `letter`, in order."""
            if self._index is None:
                pass
            found = [w for w in self.words if w.startswith(letter)]
            self._last = found
            self.hits = len(found)
            return found

        def size(self):
            """How many words, and `hits` of the last lookup."""
            return len(self.words), self.hits
    '''
)


def test_an_attribute_only_the_target_sets_is_compared_only_when_its_docstring_names_it() -> None:
    assert shown_attributes(CACHE, "Lookup", "starting") == ["words"]
    # `hits` is named by the target's docstring here: public, and the prompt states it.
    named = CACHE.replace("in order.", "in order; `hits` counts them.")
    assert shown_attributes(named, "Lookup", "starting") == ["hits", "words"]
    # A private cache is never compared unless shown code sets or reads it.
    assert "_last" not in shown_attributes(named, "Lookup", "starting")


def test_name_mangled_attributes_are_named_as_stored() -> None:
    code = textwrap.dedent(
        """
        class Box:
            def __init__(self, n):
                self.__n = n

            def grow(self, k):
                self.__n += k
                return self.__n
        """
    )
    assert shown_attributes(code, "Box", "grow") == ["_Box__n"]


def test_a_dataclass_field_is_state_the_context_shows() -> None:
    code = textwrap.dedent(
        """
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int
            y: int = 0

            def moved(self, dx):
                self.x += dx
                return self.x
        """
    )
    context = context_code(code, "moved", "Point")
    assert context.startswith("from dataclasses import dataclass\n\n@dataclass\nclass Point:")
    assert "x: int" in context and "y: int = 0" in context
    assert shown_attributes(code, "Point", "moved") == ["x", "y"]


def test_a_long_class_docstring_is_cut_to_its_first_paragraph_at_a_sentence() -> None:
    first = "One sentence here. " * 40
    cut = cut_docstring(f"{first}\n\nA second paragraph.")
    assert len(cut) <= MAX_CLASS_DOC_CHARS and cut.endswith("here.") and "second" not in cut
    assert cut_docstring("Short.\n\n    More.") == "Short."
    doc = inspect.getdoc(importlib.import_module("difflib").SequenceMatcher) or ""
    assert len(doc) > 3000 and len(cut_docstring(doc)) <= MAX_CLASS_DOC_CHARS


def test_a_function_context_cuts_the_long_docstring_of_a_class_it_uses() -> None:
    close = sample("difflib", "get_close_matches", "function")
    context = context_code(close.original_code, "get_close_matches")
    assert '"gestalt pattern matching".' in context and "human-friendly diff" not in context
    assert "def find_longest_match(" in context  # the code it runs is all there
    ast.parse(context)


def test_platform_specific_modules_say_whose_path_rules_apply() -> None:
    assert "Windows path rules" in (platform_note("ntpath.py") or "")
    assert "Windows path rules" in (platform_note("Lib/nturl2path.py") or "")
    assert "POSIX path rules" in (platform_note("posixpath.py") or "")
    assert platform_note("textwrap.py") is None and platform_note("pkg/ntpath_extra.py") is None


def test_every_method_row_context_parses_and_shows_each_attribute_its_tests_compare() -> None:
    # Real classes of the default corpus: each compared attribute is assigned or read in the
    # shown code (as `self.NAME`, or mangled `self.__name`) or named by the target's docstring.
    rows = 0
    for module in ("calendar", "difflib", "textwrap", "shlex", "string", "statistics", "html.parser"):
        for f in stdlib_samples(module):
            if f.class_name is None or f.sample_kind == "function":
                ast.parse(context_code(f.original_code, f.entry_point))
                continue
            rows += 1
            context = context_code(f.original_code, f.entry_point, f.class_name)
            ast.parse(context)
            docstring = f.docstring or ""
            for name in shown_attributes(f.original_code, f.class_name, f.entry_point):
                plain = re.sub(r"^_[A-Za-z0-9]\w*?(__\w+)$", r"\1", name)
                shown = f"self.{plain}" in context or f"self.{name}" in context
                declared = re.search(rf"^\s+{re.escape(name)}\s*:", context, re.MULTILINE) is not None
                assert shown or declared or name in docstring, (module, f.entry_point, name)
    assert rows >= 40


def _unresolved_globals(code: str) -> set[str]:
    """Global names some scope of `code` reads that neither the code nor builtins define."""
    import builtins
    import symtable

    top = symtable.symtable(code, "<answer>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    defined |= {t.get_name() for t in top.get_children()}
    missing: set[str] = set()
    pending = [top]
    while pending:
        table = pending.pop()
        pending.extend(table.get_children())
        for s in table.get_symbols():
            if s.is_referenced() and (s.is_global() or table is top) and not s.is_assigned():
                missing.add(s.get_name())
    return {n for n in missing - defined if not hasattr(builtins, n) and n != "__class__"}


def test_the_reference_answer_made_of_the_context_and_the_target_defines_all_it_uses() -> None:
    # The row's own solution, written into the shown context where the marker says, reads no
    # name the context leaves out and calls no method of its class that the context omits.
    checked = 0
    for module in ("calendar", "difflib", "textwrap", "shlex", "html.parser", "fnmatch", "string"):
        for f in stdlib_samples(module):
            if f.class_name is None or f.sample_kind == "function":
                continue
            context = context_code(f.original_code, f.entry_point, f.class_name)
            tree = ast.parse(f.original_code)
            (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f.class_name]
            target = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == f.entry_point)
            marker = next(line for line in context.splitlines() if line.endswith(": the method to write"))
            lines = f.original_code.splitlines()
            start = min([target.lineno, *(d.lineno for d in target.decorator_list)])
            answer = context.replace(marker, "\n".join(lines[start - 1 : target.end_lineno]))
            assert _unresolved_globals(answer) == set(), (module, f.entry_point)
            namespace: dict[str, object] = {}
            exec(compile(answer, f"<{module}.{f.entry_point}>", "exec"), namespace)
            built = namespace[f.class_name]
            methods = {
                m.name
                for c in ast.walk(tree)
                if isinstance(c, ast.ClassDef)
                for m in c.body
                if isinstance(m, ast.FunctionDef)
            }
            for name in {n.attr for n in ast.walk(target) if isinstance(n, ast.Attribute)} & methods:
                assert hasattr(built, method_attribute(f.class_name, name)), (module, f.entry_point, name)
            checked += 1
    assert checked >= 30
