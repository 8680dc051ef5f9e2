"""Methods as samples: what kind of method it is and which parts of its class it needs.

A method that uses `self` is carried with a trimmed copy of its class: the class header
and attributes, every dunder method (protocols are called implicitly: `len(self)`,
`self[i]`, `==`), the target, and every method whose name the kept code mentions as an
attribute or a string (`self.helper()`, `other.helper()`, `getattr(self, "helper")`),
to a fixed point. Static methods, and methods that never use `self`/`cls`, become plain
functions.
"""

from __future__ import annotations

import ast
import copy
from typing import Literal

MethodRole = Literal["instance", "static", "class", "property"]
FuncDef = ast.FunctionDef | ast.AsyncFunctionDef

# Not worth a sample of their own (they are carried with every method sample instead), or not
# callable through an instance the usual way.
LIFECYCLE = {
    "__init__", "__new__", "__del__", "__init_subclass__", "__class_getitem__", "__set_name__",
    "__post_init__", "__getattr__", "__getattribute__", "__setattr__", "__delattr__",
    "__enter__", "__exit__", "__aenter__", "__aexit__", "__await__", "__aiter__", "__anext__",
    "__get__", "__set__", "__delete__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
    "__copy__", "__deepcopy__", "__subclasshook__", "__instancecheck__", "__subclasscheck__",
}  # fmt: skip


def _decorator_name(dec: ast.expr) -> str:
    if isinstance(dec, ast.Call):
        dec = dec.func
    if isinstance(dec, ast.Name):
        return dec.id
    if isinstance(dec, ast.Attribute):
        return dec.attr
    return ""


def method_role(node: FuncDef) -> MethodRole:
    names = {_decorator_name(d) for d in node.decorator_list}
    if names & {"property", "cached_property", "setter", "getter", "deleter", "abstractproperty"}:
        return "property"
    if "staticmethod" in names:
        return "static"
    if "classmethod" in names:
        return "class"
    return "instance"


def is_property_getter(node: FuncDef) -> bool:
    """`@property` / `@cached_property` itself, not `@x.setter` or `@x.deleter`."""
    return any(
        _decorator_name(d) in ("property", "cached_property") and not isinstance(d, ast.Call)
        for d in node.decorator_list
    )


def first_param(node: FuncDef) -> str | None:
    positional = [*node.args.posonlyargs, *node.args.args]
    return positional[0].arg if positional else None


def uses_receiver(node: FuncDef, name: str | None) -> bool:
    """Whether the body reads `self` (or `cls`), or calls zero-argument `super()` (needs the class)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in (name, "__class__"):
            return True
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Name)
            and child.func.id == "super"
            and not child.args
        ):
            return True
    return False


def as_plain_function(node: ast.FunctionDef, drop_receiver: bool) -> ast.FunctionDef:
    """The method as a module-level function: no staticmethod/classmethod, no unused receiver."""
    plain = copy.deepcopy(node)
    plain.decorator_list = [
        d for d in plain.decorator_list if _decorator_name(d) not in ("staticmethod", "classmethod")
    ]
    if drop_receiver:
        if plain.args.posonlyargs:
            plain.args.posonlyargs = plain.args.posonlyargs[1:]
        else:
            plain.args.args = plain.args.args[1:]
    return plain


# Dunders every sample carries: construction, attribute access and the container/equality
# protocols that builtins call implicitly (`len(self)`, `self[i]`, `x in self`, `==`).
_ALWAYS = {
    "__init__", "__new__", "__post_init__", "__init_subclass__", "__getattr__", "__getattribute__",
    "__setattr__", "__delattr__", "__len__", "__iter__", "__next__", "__contains__", "__getitem__",
    "__setitem__", "__delitem__", "__missing__", "__eq__", "__ne__", "__hash__", "__bool__",
    "__str__", "__repr__", "__format__", "__index__", "__int__", "__float__",
}  # fmt: skip
_OPERATOR_DUNDERS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.MatMult: "matmul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.LShift: "lshift",
    ast.RShift: "rshift", ast.BitOr: "or", ast.BitXor: "xor", ast.BitAnd: "and",
}  # fmt: skip
_COMPARE_DUNDERS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_UNARY_DUNDERS = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert"}


def _mentioned(nodes: list[ast.stmt]) -> set[str]:
    """Attribute names, identifier-like strings and operator dunders that `nodes` may use."""
    found: set[str] = set()
    for stmt in nodes:
        for child in ast.walk(stmt):
            if isinstance(child, ast.Attribute):
                found.add(child.attr)
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                if child.value.isidentifier():
                    found.add(child.value)
            elif isinstance(child, ast.Name):
                found.add(child.id)  # a method used as a plain name in the class body (`x = property(_get)`)
            elif isinstance(child, ast.BinOp | ast.AugAssign) and type(child.op) in _OPERATOR_DUNDERS:
                op = _OPERATOR_DUNDERS[type(child.op)]
                found.update({f"__{op}__", f"__r{op}__", f"__i{op}__"})
            elif isinstance(child, ast.Compare):
                found.update(
                    f"__{_COMPARE_DUNDERS[type(o)]}__" for o in child.ops if type(o) in _COMPARE_DUNDERS
                )
            elif isinstance(child, ast.UnaryOp) and type(child.op) in _UNARY_DUNDERS:
                found.add(f"__{_UNARY_DUNDERS[type(child.op)]}__")
    return found


def needed_members(cls: ast.ClassDef, target: FuncDef) -> list[ast.stmt]:
    """The class body statements a sample of `target` carries, in source order."""
    return ClassMembers(cls).needed(target)


class ClassMembers:
    """`needed_members` for every method of one class, sharing the work: what each member
    mentions is found once, and so is what the members every sample carries pull in."""

    def __init__(self, cls: ast.ClassDef) -> None:
        self.cls = cls
        self._methods: dict[str, list[FuncDef]] = {}
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self._methods.setdefault(stmt.name, []).append(stmt)
        self._mentions: dict[int, set[str]] = {}
        always = [
            stmt
            for stmt in cls.body
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or stmt.name in _ALWAYS
        ]
        self._base: set[int] = set()
        self._grow(self._base, always)

    def _grow(self, kept: set[int], new: list[ast.stmt]) -> None:
        """Add `new` to `kept` and every method their code mentions, to a fixed point (the same
        set as re-reading all kept code per round: what is reachable from the start)."""
        pending = [stmt for stmt in new if id(stmt) not in kept]
        kept.update(id(stmt) for stmt in pending)
        while pending:
            stmt = pending.pop()
            mentioned = self._mentions.get(id(stmt))
            if mentioned is None:
                mentioned = self._mentions[id(stmt)] = _mentioned([stmt])
            for name in mentioned:
                for m in self._methods.get(name, ()):
                    if id(m) not in kept:
                        kept.add(id(m))
                        pending.append(m)

    def needed(self, target: FuncDef) -> list[ast.stmt]:
        kept = set(self._base)
        self._grow(kept, [target])
        return [stmt for stmt in self.cls.body if id(stmt) in kept]


def trimmed_class(cls: ast.ClassDef, members: list[ast.stmt]) -> ast.ClassDef:
    trimmed = copy.copy(cls)
    trimmed.body = list(members)
    return trimmed


def _start_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def trimmed_class_text(lines: list[str], cls: ast.ClassDef, members: list[ast.stmt]) -> str:
    """The trimmed class verbatim: its header lines, then each kept member's lines."""
    first = _start_line(cls.body[0])
    if first <= cls.lineno:  # `class A: x = 1` on one line: no verbatim header to cut
        return ast.unparse(trimmed_class(cls, members)) + "\n"
    header = "".join(lines[_start_line(cls) - 1 : first - 1])
    parts = ["".join(lines[_start_line(m) - 1 : m.end_lineno]).rstrip() + "\n" for m in members]
    return header + "\n".join(parts)


def constructor(cls: ast.ClassDef) -> ast.FunctionDef | None:
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            return stmt
    return None
