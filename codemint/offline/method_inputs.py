"""Test inputs for method samples: constructor arguments paired with method arguments.

Constructor arguments come from `Class(...)` calls in the class's and the method's doctest
examples, then, alternating, from the constructor's signature (or a dataclass's fields) like
any function's inputs and from typed proposals (the most plausible type assignments of the
parameters, `codemint.offline.proposals`, as feedback testgen makes them for functions);
method arguments likewise from `obj.method(...)` examples, the method's signature and typed
proposals, and from members of the constructor's arguments (a key of the dict the instance was
built from, an item of its list): `__getitem__`, `remove` or `index` return normally only for a
key the instance holds, which an independent guess almost never is. Each input is the
harness's `[init_args, init_kwargs, args, kwargs]` (codemint/samples.py).
"""

from __future__ import annotations

import ast
import random

from codemint import safe_ast
from codemint.offline import proposals
from codemint.offline.inputs import Args, doctest_inputs, mutate, signature_inputs
from codemint.records import Instructed
from codemint.samples import constructor_signature, find_class, find_method, method_input, without_receiver

# Typed proposals per call side: the most plausible type assignments, inputs for each.
TYPE_HYPOTHESES = 5
TYPED_PER_HYPOTHESIS = 3
# Members of one constructor's arguments tried as the method's first argument.
MEMBERS_PER_INIT = 3


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


def _typed(
    func: ast.FunctionDef, classes: proposals.Classes, rng: random.Random, module: ast.Module | None = None
) -> list[tuple[Args, str]]:
    """A few inputs for each of the most plausible type assignments of the parameters (read
    from annotations, defaults, names and how the body uses them), as feedback testgen
    proposes them for functions: execute keeps the calls that return normally."""
    p = proposals.plan(func, classes, module)
    return [
        (args, "typed")
        for assignment in proposals.combos(p, TYPE_HYPOTHESES)
        for args in proposals.inputs_for(p, assignment, random.Random(rng.random()), TYPED_PER_HYPOTHESIS)
    ]


def _side(
    func: ast.FunctionDef | None,
    docs: list[str | None],
    name: str,
    budget: int,
    rng: random.Random,
    classes: proposals.Classes,
    module: ast.Module | None = None,
) -> list[tuple[Args, str]]:
    """Arguments for one call (the constructor or the method): doctest examples, then the
    signature's and typed proposals, alternating."""
    found: list[tuple[Args, str]] = []
    for doc in docs:
        found.extend((args, "doctest") for args in doctest_inputs(doc, name))
    if func is None or _takes_nothing(func):
        found.append((([], {}), "defaults"))
    if func is not None:
        # Alternating: the signature's guesses and the type search's each get early places.
        texts = proposals.text_values(proposals.body_literals(func, module))
        plain = list(signature_inputs(func, budget, rng, texts))
        typed = _typed(func, classes, rng, module)
        for i in range(max(len(plain), len(typed))):
            found.extend(side[i] for side in (plain, typed) if i < len(side))
    return _unique(found)


def _members(init: Args) -> list[object]:
    """Keys and items of the constructor's container arguments (the keys of `(key, value)`
    items first), and the first and last index: what a lookup on the instance can find."""
    found: list[object] = []
    for value in [*init[0], *init[1].values()]:
        if isinstance(value, dict):
            found.extend(list(value)[:MEMBERS_PER_INIT])
        elif isinstance(value, str) and len(value) > 1:
            found.extend(value[:2])  # an instance built from a text holds its characters
        elif isinstance(value, list | tuple):
            items = list(value[:MEMBERS_PER_INIT])
            # A list of pairs usually builds a mapping: the keys are what lookups take.
            found += [item[0] for item in items if isinstance(item, tuple) and len(item) == 2]
            found += items
            if value:
                found += [0, -1]
    unique: list[object] = []
    for item in found:
        if not any(type(item) is type(u) and repr(item) == repr(u) for u in unique):
            unique.append(item)
    return unique[:MEMBERS_PER_INIT]


def _with_first(call: Args, value: object) -> Args:
    return ([value, *call[0][1:]], dict(call[1]))


def _kind(args: Args) -> tuple[str, ...]:
    """The top-level argument types of a call (and of a list argument's first item)."""

    def name(v: object) -> str:
        if isinstance(v, list | tuple) and v:
            return f"{type(v).__name__}[{type(v[0]).__name__}]"
        return type(v).__name__

    return (*(name(a) for a in args[0]), *(f"{k}={name(v)}" for k, v in sorted(args[1].items())))


def _by_kind(found: list[tuple[Args, str]]) -> list[tuple[Args, str]]:
    """The first arguments of each kind, in the order the kinds first appear."""
    first: dict[tuple[str, ...], tuple[Args, str]] = {}
    for args, source in found:
        first.setdefault(_kind(args), (args, source))
    return list(first.values())


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
    classes = proposals.module_classes(rec.code)
    module = safe_ast.parse(rec.code)  # find_class parsed it: its helpers' literals seed values
    inits: list[tuple[Args, str]] = [(([], {}), "defaults")]  # a class method: no instance to build
    if rec.sample_kind != "classmethod":
        init_def = constructor_signature(cls)
        inits = _side(init_def, [class_doc, rec.docstring], rec.class_name, budget, rng, classes, module)
    calls: list[tuple[Args, str]] = [(([], {}), "defaults")]  # a property is read, not called
    call_def = without_receiver(method)
    if rec.sample_kind != "property":
        calls = _side(call_def, [rec.docstring, class_doc], rec.entry_point, budget, rng, classes, module)
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

    # Doctest pairs first (in order). Then one constructor and one call per kind of argument
    # types, every combination, the first-ranked kinds first (both sides list their guesses
    # alike: pairing by position would only combine the constructor's i-th guess with the
    # call's i-th), up to three quarters of the cap; then every call with some constructor,
    # every constructor once, and mutated mixes.
    for i, (call, source) in enumerate(calls):
        init, init_source = inits[i % len(inits)]
        if "doctest" in (source, init_source):
            add(init, call, "doctest")
    init_kinds, call_kinds = _by_kind(inits), _by_kind(calls)
    takes_positional = rec.sample_kind != "property" and bool(
        call_def.args.posonlyargs or call_def.args.args or call_def.args.vararg
    )
    if takes_positional:
        # Members fill at most a quarter of the cap: each constructor's first member, then
        # each one's second, so that they come from as many instances as possible.
        room = len(out) + cap // 4
        templates = [call for call, _s in call_kinds if call[0]] or [([], {})]
        members = [(init, _members(init)) for init, _s in inits]
        for j in range(MEMBERS_PER_INIT):
            for k, (init, found) in enumerate(members):
                if j < len(found) and len(out) < room:
                    add(init, _with_first(templates[k % len(templates)], found[j]), "member")
    pairs = [(a, b) for a in range(len(init_kinds)) for b in range(len(call_kinds))]
    for a, b in sorted(pairs, key=lambda ab: (ab[0] + ab[1], ab)):
        if len(out) >= (3 * cap) // 4:
            break
        (init, init_source), (call, source) = init_kinds[a], call_kinds[b]
        add(init, call, "typed" if "typed" in (source, init_source) else source)
    for i, (call, source) in enumerate(calls):
        add(inits[i % len(inits)][0], call, source)
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
