"""Taking the JavaScript function out of a translation reply."""

from __future__ import annotations

from codemint.llm.translate import defines, extract_js


def test_the_first_javascript_block_that_defines_the_function_is_taken() -> None:
    reply = (
        "Here it is.\n```python\ndef f(x):\n    return x\n```\n"
        "```js\nfunction g(x) { return x; }\n```\n"
        "```javascript\nconst k = 2;\nfunction f(x) {\n  return x * k;\n}\n```\n"
    )
    assert extract_js(reply, "f") == "const k = 2;\nfunction f(x) {\n  return x * k;\n}\n"


def test_module_exports_are_taken_out_so_the_driver_can_call_it() -> None:
    reply = "```javascript\nexport default function f(a) { return a; }\nmodule.exports = { f };\n```"
    code = extract_js(reply, "f")
    assert code is not None and "export" not in code and code.startswith("function f(a)")


def test_a_reply_without_the_function_gives_nothing() -> None:
    assert extract_js("```javascript\nfunction other() {}\n```", "f") is None
    assert extract_js("def f(x):\n    return x\n", "f") is None  # Python is not a translation


def test_arrow_functions_and_generators_count_as_definitions() -> None:
    assert defines("const f = (a) => a + 1;", "f")
    assert defines("function* f(n) { yield n; }", "f")
    assert defines("async function f() {}", "f")
    assert not defines("function ff(x) {}", "f") and not defines("f(1);", "f")
