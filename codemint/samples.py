"""Sample kinds beyond plain functions: how a method sample is run, described and fed inputs.

A method sample's code is its (trimmed) class plus dependencies; `entry_point` names the
method and `class_name` the class. To run it, the stages append a small trusted harness that
builds the instance, calls the method and returns both the return value and the instance's
state afterwards, so a candidate that returns the right value but leaves the object in a
different state fails. The state compared is the attributes the row's prompt shows
(`state_attributes`, from `codemint.prompt_context.shown_attributes` on the reference code):
a test never checks an attribute the solver was not shown. One input is
`[init_args, init_kwargs, args, kwargs]`.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Sequence
from typing import Any, Protocol

from codemint import safe_ast
from codemint.codec import canonical_json, decode_input
from codemint.prompt_context import cut_docstring, shown_attributes

METHOD_HARNESS = "__codemint_call_method__"

_HARNESS = """

def __codemint_state__(obj):
    state = {}
    if isinstance(getattr(obj, "__dict__", None), dict):
        state.update(obj.__dict__)
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name.startswith("__") and not name.endswith("__"):  # stored mangled, as `__x` attributes
                name = "_" + klass.__name__.lstrip("_") + name
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                state[name] = getattr(obj, name)
    shown = STATE_SHOWN
    return {k: ("<self>" if v is obj else v) for k, v in state.items() if shown is None or k in shown}


def __codemint_call_method__(init_args, init_kwargs, args, kwargs):
    obj = CLASS_NAME(*init_args, **init_kwargs)
    returned = CALL
    return {"returned": "<self>" if returned is obj else returned, "state": __codemint_state__(obj)}
"""
_CLASS_HARNESS = """

def __codemint_call_method__(init_args, init_kwargs, args, kwargs):
    return {"returned": getattr(CLASS_NAME, METHOD_ATTR)(*args, **kwargs)}
"""
# Sample kinds run through a harness: a method called on an instance built from generated
# constructor arguments, a property read on one, or a class method called on the class.
CLASS_KINDS = {"method", "property", "classmethod"}


def method_attribute(class_name: str, method: str) -> str:
    """The attribute a private `__name` method is stored under (name mangling)."""
    if method.startswith("__") and not method.endswith("__"):
        return f"_{class_name.lstrip('_')}{method}"
    return method


def runnable(
    code: str,
    sample_kind: str,
    entry_point: str,
    class_name: str | None,
    state_attributes: Sequence[str] | None = None,
) -> tuple[str, str]:
    """(code to run, entry point to call) for a sample's code: methods go through the harness,
    which returns the instance's attributes named in `state_attributes` (None: all of them)."""
    if sample_kind not in CLASS_KINDS or not class_name:
        return code, entry_point
    attr = repr(method_attribute(class_name, entry_point))
    if sample_kind == "classmethod":
        harness = _CLASS_HARNESS
    else:
        call = "getattr(obj, METHOD_ATTR)" + ("" if sample_kind == "property" else "(*args, **kwargs)")
        harness = _HARNESS.replace("CALL", call)
    harness = harness.replace("CLASS_NAME", class_name).replace("METHOD_ATTR", attr)
    shown = "None" if state_attributes is None else repr(frozenset(state_attributes))
    harness = harness.replace("STATE_SHOWN", shown)  # last: names are not placeholders
    return code.rstrip("\n") + "\n" + harness, METHOD_HARNESS


class SampleRow(Protocol):
    """What `compared_state` reads of a row (an `Instructed` row or any later one)."""

    @property
    def original_code(self) -> str: ...
    @property
    def sample_kind(self) -> str: ...
    @property
    def entry_point(self) -> str: ...
    @property
    def class_name(self) -> str | None: ...
    @property
    def context_code(self) -> str | None: ...


def compared_state(row: SampleRow) -> list[str] | None:
    """The instance attributes a row's tests compare: those its prompt's context shows
    (from the reference code), or None (the whole state) for a row whose prompt shows no
    context (`summarize.context_prompts` off, or rows made before it) and non-method rows."""
    if row.sample_kind not in CLASS_KINDS or not row.class_name or row.context_code is None:
        return None
    try:
        return shown_attributes(row.original_code, row.class_name, row.entry_point)
    except (SyntaxError, ValueError, RecursionError):
        return None


def find_class(code: str, name: str) -> ast.ClassDef | None:
    for node in safe_ast.parse(code).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    return None


def find_method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def without_receiver(func: ast.FunctionDef) -> ast.FunctionDef:
    """A copy of a method's definition without its first (`self`) parameter."""
    args = ast.arguments(
        posonlyargs=func.args.posonlyargs[1:] if func.args.posonlyargs else [],
        args=func.args.args if func.args.posonlyargs else func.args.args[1:],
        vararg=func.args.vararg,
        kwonlyargs=func.args.kwonlyargs,
        kw_defaults=func.args.kw_defaults,
        kwarg=func.args.kwarg,
        defaults=func.args.defaults,  # they align with the last parameters: dropping the first keeps them
    )
    copy = ast.FunctionDef(name=func.name, args=args, body=func.body, decorator_list=[], returns=func.returns)
    return ast.fix_missing_locations(copy)


def _is_classvar(annotation: ast.expr) -> bool:
    text = ast.unparse(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def constructor_signature(cls: ast.ClassDef) -> ast.FunctionDef | None:
    """The constructor's parameters as a function definition (without `self`): `__init__`, or
    the annotated fields of a dataclass-like class; None when instances take no arguments."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return without_receiver(node)
    fields = [
        n
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and not _is_classvar(n.annotation)
    ]
    if not fields:
        return None
    args = [
        ast.arg(arg=n.target.id, annotation=n.annotation) for n in fields if isinstance(n.target, ast.Name)
    ]
    defaults = [n.value for n in fields if n.value is not None]
    # Fields with defaults come last in a dataclass; keep only a consistent trailing run.
    defaults = defaults if all(n.value is not None for n in fields[len(fields) - len(defaults) :]) else []
    func = ast.FunctionDef(
        name="__init__",
        args=ast.arguments(posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=defaults),
        body=[ast.Pass()],
        decorator_list=[],
    )
    return ast.fix_missing_locations(func)


def method_instruction(
    code: str, class_name: str, signature: str, docstring: str, kind: str = "method", context: bool = False
) -> str:
    """Instruction for a method sample: the class to write, its constructor, the method(s).
    With `context` (the prompt shows the class context beside it), the class docstring is cut
    to its first paragraph and the other methods are not listed: the context shows those it uses."""
    cls = find_class(code, class_name)
    methods: list[str] = []
    class_doc = ""
    init_sig = ""
    if cls is not None:
        class_doc = ast.get_docstring(cls) or ""
        class_doc = cut_docstring(class_doc) if context else inspect.cleandoc(class_doc)
        for node in cls.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name == "__init__":
                    init_sig = f"__init__({ast.unparse(node.args)})"
                elif f"def {node.name}(" not in signature:
                    methods.append(node.name)
    target = signature.removeprefix("def ")
    what = {"property": "the property", "classmethod": "the class method"}.get(kind, "the method")
    parts = [f"Implement the Python class `{class_name}` with {what} `{target}`."]
    if init_sig:
        parts.append(f"Its constructor is `{init_sig}`.")
    if methods and not context:
        parts.append("It also needs the methods " + ", ".join(f"`{m}`" for m in methods) + ".")
    text = " ".join(parts)
    if class_doc:
        text += f"\n\n{class_doc}"
    return f"{text}\n\n`{target.split('(')[0]}`: {inspect.cleandoc(docstring)}"


def method_input(init: tuple[list[Any], dict[str, Any]], call: tuple[list[Any], dict[str, Any]]) -> list[Any]:
    """The harness's positional arguments for one test: constructor args, then the call's."""
    return [list(init[0]), dict(init[1]), list(call[0]), dict(call[1])]


def call_arguments(input_text: str, sample_kind: str) -> dict[int | str, str]:
    """Canonical codec texts of the values a test's call was given, by position or keyword (a
    method: the method's own arguments, out of the harness's `[init_args, init_kwargs, args,
    kwargs]`); empty when the input does not read back."""
    try:
        args, kwargs = decode_input(input_text)
        if sample_kind in CLASS_KINDS:
            if len(args) != 4 or not isinstance(args[2], list) or not isinstance(args[3], dict):
                return {}
            args, kwargs = args[2], args[3]
        given: dict[int | str, Any] = dict(enumerate(args))
        given.update(kwargs)
        return {key: canonical_json(value) for key, value in given.items()}
    except (ValueError, TypeError, RecursionError):
        return {}


def focus_code(code: str, sample_kind: str, class_name: str | None, entry_point: str) -> str:
    """The part of a sample's code that is its own: a method sample's target method (the class
    and dependencies it carries are shared with its sibling samples), else the whole code.
    Near-dedup compares this, so two methods of one class are not near-duplicates of each other."""
    if sample_kind not in CLASS_KINDS or not class_name:
        return code
    try:
        cls = find_class(code, class_name)
    except (SyntaxError, ValueError, RecursionError):
        return code
    method = find_method(cls, entry_point) if cls is not None else None
    return code if method is None else f"class {class_name}:\n" + ast.unparse(method)


# What Python's data model asks of a special method: for a method sample with no docstring of
# its own in a documented class, this plus the class's docstring is the instruction.
PROTOCOL = {
    "__repr__": "Return the object's developer representation, as `repr(obj)` shows it.",
    "__str__": "Return the object's readable string form, as `str(obj)` shows it.",
    "__eq__": "Return whether the object equals `other` (`obj == other`); NotImplemented for other types.",
    "__ne__": "Return whether the object differs from `other` (`obj != other`).",
    "__lt__": "Return whether the object orders before `other` (`obj < other`).",
    "__le__": "Return whether the object orders before or equal to `other` (`obj <= other`).",
    "__gt__": "Return whether the object orders after `other` (`obj > other`).",
    "__ge__": "Return whether the object orders after or equal to `other` (`obj >= other`).",
    "__hash__": "Return the object's hash, consistent with its equality (`hash(obj)`).",
    "__len__": "Return the number of items in the object (`len(obj)`).",
    "__bool__": "Return the object's truth value (`bool(obj)`).",
    "__contains__": "Return whether `item` is in the object (`item in obj`).",
    "__getitem__": "Return the item stored under `key` (`obj[key]`), raising as a mapping or sequence would.",
    "__setitem__": "Store `value` under `key` (`obj[key] = value`).",
    "__delitem__": "Remove the item stored under `key` (`del obj[key]`).",
    "__iter__": "Return an iterator over the object's items (`iter(obj)`).",
    "__reversed__": "Return an iterator over the object's items in reverse order (`reversed(obj)`).",
    "__next__": "Return the next item, raising StopIteration when there is none (`next(obj)`).",
    "__missing__": "Return the value for a `key` that is not present (called by `obj[key]`).",
    "__call__": "Call the object like a function (`obj(...)`).",
    "__add__": "Return the object plus `other` (`obj + other`).",
    "__sub__": "Return the object minus `other` (`obj - other`).",
    "__or__": "Return the union of the object and `other` (`obj | other`).",
    "__and__": "Return the intersection of the object and `other` (`obj & other`).",
    "__xor__": "Return the symmetric difference of the object and `other` (`obj ^ other`).",
    "__ior__": "Update the object in place with the union with `other` (`obj |= other`) and return it.",
    "__iand__": "Intersect the object with `other` in place (`obj &= other`) and return it.",
    "__isub__": "Remove `other`'s items from the object in place (`obj -= other`) and return it.",
    "__ixor__": "Update the object in place with the symmetric difference (`obj ^= other`) and return it.",
    "__format__": "Return the object formatted with `format_spec` (`format(obj, spec)`).",
}


def protocol_doc(code: str, class_name: str, method: str) -> str | None:
    """The protocol description for a special method of a class that has a docstring, else None."""
    text = PROTOCOL.get(method)
    if text is None:
        return None
    cls = find_class(code, class_name)
    return text if cls is not None and ast.get_docstring(cls) else None
