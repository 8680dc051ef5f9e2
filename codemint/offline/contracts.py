"""Input contracts: which test inputs lie inside what a function's annotations and docstring
state it accepts.

A test records what the reference does on its input; on an input the description rules out
(a list where a string is documented, n <= 0 where n is positive, None where a str is
annotated) a correct alternative may do something else, so such a test would fail it. The
contract is conservative: a value is outside it only when every statement about its
parameter (annotation, declared type, sentence) excludes it; what nothing states is open.
A precondition the docstring states of the call as a whole ("Assume y1 <= y2", "assuming a
is sorted": codemint/offline/contract_relations.py) must hold too.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codemint import safe_ast
from codemint.codec import decode_input
from codemint.offline.contract_docs import Bound, doc_params
from codemint.offline.contract_relations import Relation, stated_relations
from codemint.offline.contract_types import Accepts, annotation_type, mismatch, union
from codemint.samples import CLASS_KINDS

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_HAS_DEFAULT = object()  # binding needs to know a default exists, not its value


@dataclass(frozen=True)
class ParamContract:
    accepts: Accepts | None  # None: any type
    ranges: tuple[tuple[Bound, ...], ...]  # a number must meet one of them (none: any)
    allows_none: bool  # a None default or "optional": None stands for "not given"

    def violation(self, value: Any) -> str | None:
        """Why `value` is outside: "none", "type", "element", "choice" or "range"; None when it fits."""
        if value is None and self.allows_none:
            return None
        reason = mismatch(self.accepts, value)
        if reason is not None:
            return reason
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and self.ranges and not any(all(b.holds(value) for b in c) for c in self.ranges):
            return "range"
        return None


@dataclass(frozen=True)
class Violation:
    param: str
    kind: str  # none | type | element | choice | range | precondition

    def __str__(self) -> str:
        return f"{self.kind}:{self.param}"


@dataclass(frozen=True)
class Contract:
    """A signature (to bind arguments to parameters) and what each parameter accepts."""

    signature: inspect.Signature
    params: dict[str, ParamContract]
    relations: tuple[Relation, ...] = ()  # preconditions over several arguments

    def violation(self, args: Sequence[Any], kwargs: dict[str, Any]) -> Violation | None:
        if not self.params and not self.relations:
            return None
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None  # a call that does not fit the signature is not this check's business
        for name, value in bound.arguments.items():
            contract = self.params.get(name)
            if contract is None:
                continue
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                values = list(value)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                values = list(value.values())
            else:
                values = [value]
            for item in values:
                if reason := contract.violation(item):
                    return Violation(name, reason)
        for relation in self.relations:
            if not relation.holds(bound.arguments):
                return Violation(relation.param, "precondition")
        return None


def _literal(node: ast.expr | None) -> tuple[bool, Any]:
    if node is None:
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _param_nodes(args: ast.arguments) -> list[tuple[ast.arg, inspect.Parameter, ast.expr | None]]:
    """Every parameter with its `inspect.Parameter` and default expression (None: none)."""
    P = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out: list[tuple[ast.arg, inspect.Parameter, ast.expr | None]] = []

    def add(arg: ast.arg, parameter: inspect.Parameter, default: ast.expr | None) -> None:
        # The value of a default does not matter to binding, only that there is one.
        if default is not None:
            parameter = parameter.replace(default=_HAS_DEFAULT)
        out.append((arg, parameter, default))

    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = P.POSITIONAL_ONLY if i < len(args.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        add(arg, P(arg.arg, kind), default)
    if args.vararg:
        add(args.vararg, P(args.vararg.arg, P.VAR_POSITIONAL), None)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        add(arg, P(arg.arg, P.KEYWORD_ONLY), default)
    if args.kwarg:
        add(args.kwarg, P(args.kwarg.arg, P.VAR_KEYWORD), None)
    return out


def function_contract(
    func: FunctionNode, *, bound_method: bool = False, shadowed: frozenset[str] = frozenset()
) -> Contract:
    """The contract of `func` from its annotations and docstring. `bound_method`: the first
    parameter (self, cls) is filled by Python, not by the inputs."""
    nodes = _param_nodes(func.args)
    if bound_method and nodes and nodes[0][1].kind is not inspect.Parameter.VAR_POSITIONAL:
        nodes = nodes[1:]
    docstring = ast.get_docstring(func)
    docs = doc_params(docstring, [a.arg for a, _, _ in nodes])
    params = {}
    for arg, _, default in nodes:
        doc = docs.get(arg.arg)
        claims = [annotation_type(arg.annotation, shadowed), *(doc.types if doc else [])]
        stated = [c for c in claims if c is not None]
        known, value = _literal(default)
        contract = ParamContract(
            accepts=union(*stated) if stated else None,
            ranges=tuple(doc.ranges) if doc else (),
            allows_none=(known and value is None) or bool(doc and doc.optional),
        )
        if known and value is not None:
            # A default the statements rule out: they are not the whole truth (a sentinel).
            if mismatch(contract.accepts, value):
                contract = ParamContract(None, contract.ranges, contract.allows_none)
            if contract.violation(value) == "range":
                contract = ParamContract(contract.accepts, (), contract.allows_none)
        if contract.accepts is not None or contract.ranges:
            params[arg.arg] = contract
    relations = stated_relations(docstring, [a.arg for a, _, _ in nodes])
    return Contract(inspect.Signature([p for _, p, _ in nodes]), params, relations)


def _defined_names(tree: ast.Module) -> frozenset[str]:
    """Names the code defines itself: an annotation naming one means the code's thing."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def _function(body: list[ast.stmt], name: str) -> FunctionNode | None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _decorated(func: FunctionNode, name: str) -> bool:
    return any(isinstance(d, ast.Name) and d.id == name for d in func.decorator_list)


@dataclass(frozen=True)
class RowContract:
    """The contract of a row's inputs: a function's call, or for a method sample (inputs
    `[init_args, init_kwargs, args, kwargs]`, codemint/samples.py) the method's call and
    the constructor's."""

    call: Contract | None
    init: Contract | None = None
    harness: bool = False

    def violation(self, text: str) -> Violation | None:
        try:
            args, kwargs = decode_input(text)
        except ValueError:
            return None
        if not self.harness:
            return self.call.violation(args, kwargs) if self.call else None
        if len(args) != 4 or kwargs or not isinstance(args[0], list) or not isinstance(args[2], list):
            return None
        init_args, init_kwargs, call_args, call_kwargs = args
        found = (
            self.init.violation(init_args, init_kwargs)
            if self.init and isinstance(init_kwargs, dict)
            else None
        )
        if found:
            return found
        if self.call and isinstance(call_kwargs, dict):
            return self.call.violation(call_args, call_kwargs)
        return None


def row_contract(code: str, entry_point: str, sample_kind: str, class_name: str | None) -> RowContract:
    """The contract of a row's code (its `original_code`, the code execute runs)."""
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return RowContract(None)
    shadowed = _defined_names(tree)
    if sample_kind not in CLASS_KINDS:
        func = _function(tree.body, entry_point)
        return RowContract(function_contract(func, shadowed=shadowed) if func else None)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None:
        return RowContract(None, harness=True)
    method = _function(cls.body, entry_point)
    call = None
    if method is not None and sample_kind != "property":
        call = function_contract(
            method, bound_method=not _decorated(method, "staticmethod"), shadowed=shadowed
        )
    init = _function(cls.body, "__init__")
    # A class method runs on the class: no instance, so no constructor arguments.
    init_contract = None
    if init is not None and sample_kind != "classmethod":
        init_contract = function_contract(init, bound_method=True, shadowed=shadowed)
    return RowContract(call, init_contract, harness=True)
