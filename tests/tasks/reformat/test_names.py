from __future__ import annotations

import ast
import textwrap

from codemint.tasks.reformat.names import free_names


def _names(code: str) -> set[str]:
    return free_names(ast.parse(textwrap.dedent(code)).body[0])


def test_a_name_one_method_binds_is_still_the_modules_in_another_and_in_defaults() -> None:
    code = """
    class scheduler:
        def __init__(self, timefunc=_time, delayfunc=time.sleep):
            self.timefunc = timefunc
        def run(self):
            time, action = self.queue[0]
            return action(time)
    """
    assert _names(code) == {"_time", "time"}


def test_a_class_body_that_reads_a_name_before_binding_it_reads_the_modules() -> None:
    code = """
    class HtmlDiff:
        _styles = _styles
        _legend = 'legend'
        title = _legend.upper()
        for symbol in ('+', '-'):
            _legend += symbol
        del symbol
        def make(self, tabsize=TABSIZE):
            return self._styles % _legend
    """
    assert _names(code) == {"_styles", "TABSIZE", "_legend"}  # the method's `_legend` is global


def test_parameters_lambdas_comprehensions_and_enclosing_functions_are_not_free() -> None:
    code = """
    def f(x, fmt=fmt, key=lambda item: item[0]):
        def g(y):
            return y + x + CONST
        global COUNTER
        COUNTER = 1
        return [g(z) for z in sorted(x, key=key) if z in seen] + f(x)
    """
    assert _names(code) - {"sorted"} == {"fmt", "CONST", "COUNTER", "seen"}


def test_a_method_named_top_is_not_taken_for_the_module_scope() -> None:
    # CPython 3.11's symtable calls any scope named "top" module-level: its parameters
    # would look global.
    code = """
    class POP3:
        def top(self, which, howmuch):
            return self._longcmd('TOP %s %s' % (which, howmuch), LIMIT)
    """
    assert _names(code) == {"LIMIT"}


def test_code_the_compiler_refuses_carries_nothing_instead_of_raising() -> None:
    assert _names("def g():\n    nonlocal x\n    x = LIMIT\n") == set()
