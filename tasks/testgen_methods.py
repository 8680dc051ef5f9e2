"""Test inputs for method samples: constructor arguments paired with method arguments.

Constructor arguments come from `Class(...)` calls in the class's and the method's doctest
examples, then from the constructor's signature (or a dataclass's fields) like any function's
inputs; method arguments from `obj.method(...)` examples and the method's signature. Each
input is the harness's `[init_args, init_kwargs, args, kwargs]` (codemint/samples.py).
"""

from __future__ import annotations

import ast
import random

from codemint.offline.inputs import Args, doctest_inputs, mutate, signature_inputs
from codemint.records import Instructed
from codemint.samples import constructor_signature, find_class, find_method, method_input, without_receiver


def _takes_nothing(func: ast.FunctionDef) -> bool:
    a = func.args
    required = len(a.posonlyargs) + len(a.args) - len(a.defaults)
    required_kw = sum(1 for d in a.kw_defaults if d is None)
    return required <= 0 and required_kw == 0


def _unique(found: list[tuple[Args, str]]) -> list[tuple[Args, str]]:
    seen: set[str] = set()
    out = []
    for args, source in found:
        key = repr(args)
        if key not in seen:
            seen.add(key)
            out.append((args, source))
    return out


def _side(
    func: ast.FunctionDef | None, docs: list[str | None], name: str, budget: int, rng: random.Random
) -> list[tuple[Args, str]]:
    """Arguments for one call (the constructor or the method): doctest examples, then the signature."""
    found: list[tuple[Args, str]] = []
    for doc in docs:
        found.extend((args, "doctest") for args in doctest_inputs(doc, name))
    if func is None or _takes_nothing(func):
        found.append((([], {}), "defaults"))
    if func is not None:
        found.extend(signature_inputs(func, budget, rng))
    return _unique(found)


def method_inputs(
    rec: Instructed, cap: int, mutation_rounds: int, rng: random.Random
) -> list[tuple[list, str]]:
    """Harness argument lists with the strategy that proposed each, at most `cap` of them."""
    if not rec.class_name:
        return []
    cls = find_class(rec.code, rec.class_name)
    method = find_method(cls, rec.entry_point) if cls is not None else None
    if cls is None or method is None:
        return []
    class_doc = ast.get_docstring(cls)
    budget = max(2, cap // 2)
    inits: list[tuple[Args, str]] = [(([], {}), "defaults")]  # a class method: no instance to build
    if rec.sample_kind != "classmethod":
        inits = _side(constructor_signature(cls), [class_doc, rec.docstring], rec.class_name, budget, rng)
    calls: list[tuple[Args, str]] = [(([], {}), "defaults")]  # a property is read, not called
    if rec.sample_kind != "property":
        calls = _side(without_receiver(method), [rec.docstring, class_doc], rec.entry_point, budget, rng)
    if not inits or not calls:
        return []
    out: list[tuple[list, str]] = []
    seen: set[str] = set()

    def add(init: Args, call: Args, source: str) -> None:
        value = method_input(init, call)
        key = repr(value)
        if key not in seen and len(out) < cap:
            seen.add(key)
            out.append((value, source))

    # Doctest pairs first (in order), then every call with a rotating constructor, then mixes.
    for i, (call, source) in enumerate(calls):
        init, init_source = inits[i % len(inits)]
        add(init, call, "doctest" if "doctest" in (source, init_source) else source)
    for init, source in inits:
        add(init, calls[0][0], source)
    for _ in range(mutation_rounds * cap):
        if len(out) >= cap:
            break
        init, _s = rng.choice(inits)
        call, _s = rng.choice(calls)
        if rng.random() < 0.5:
            call = mutate(call, rng)
        else:
            init = mutate(init, rng)
        add(init, call, "mutation")
    return out
