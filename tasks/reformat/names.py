"""The names a piece of code reads from the module it stands in: what must be carried with it.

The compiler's own scope analysis (`symtable`) decides, per scope, whether a name is local,
an enclosing function's or the module's: a name one method assigns (`time = ...`) is still
the module's `time` in another method or in a default value. One case it reports as local is
read from the module all the same: a class body that reads a name before binding it
(`_template = _template`), since class bodies look names up as they run.
"""

from __future__ import annotations

import ast
import copy
import symtable


def free_names(node: ast.AST, unparsed: str | None = None) -> set[str]:
    """Names `node` reads but does not bind at its own top level: its module's names.
    `unparsed`: `ast.unparse(node)`, when the caller has it already."""
    try:
        table = symtable.symtable(ast.unparse(node) if unparsed is None else unparsed, "<snippet>", "exec")
    except SyntaxError:  # code the compiler refuses on its own (`nonlocal` of an outside name):
        return set()  # nothing to carry; it fails where it runs and is dropped there with why
    symbols = table.get_symbols()
    bound = {s.get_name() for s in symbols if s.is_assigned() or s.is_imported()}
    needed = {s.get_name() for s in symbols if s.is_referenced()} | _global_below(table)
    for cls in ast.walk(node):
        if isinstance(cls, ast.ClassDef):
            needed |= _read_before_bound(cls)
    return needed - bound


def _global_below(table: symtable.SymbolTable) -> set[str]:
    """Module names the scopes nested in `table` read."""
    needed: set[str] = set()
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        pending.extend(scope.get_children())
        # `not is_local()`: 3.11 takes any scope named "top" (a method `top`) for the module's.
        needed |= {s.get_name() for s in scope.get_symbols() if s.is_global() and not s.is_local()}
    return needed


class ClassFreeNames:
    """`free_names` of a top-level class cut down to some of its members, for many such cuts
    of one class, without analysing every kept method again for each.

    A method's own scope resolves its names the same whichever siblings stand beside it (a
    class scope is not visible to the methods in it), so what a method reads from the module
    is found once, compiled alone in a class of the same name (`super()`, name mangling). The
    cut class is then analysed with its methods' bodies left out (decorators, defaults and
    annotations, evaluated in the class scope, kept): the class scope itself, header and
    class-level statements. A part the compiler refuses makes the whole refused (`set()`)."""

    def __init__(self, cls: ast.ClassDef) -> None:
        self.cls = cls
        self._method_names: dict[int, set[str] | None] = {}
        self._nested_early: dict[int, set[str]] = {}

    def _in_method(self, method: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str] | None:
        key = id(method)
        if key not in self._method_names:
            alone = ast.ClassDef(name=self.cls.name, bases=[], keywords=[], body=[method], decorator_list=[])
            # 3.12+: the class's type parameters are the method's enclosing names, not the module's.
            setattr(alone, "type_params", getattr(self.cls, "type_params", []))  # noqa: B010
            try:
                table = symtable.symtable(ast.unparse(alone), "<snippet>", "exec")
            except SyntaxError:
                self._method_names[key] = None
            else:
                # Below the class scope: the method's scopes, and lambdas or comprehensions in
                # its defaults (also in the cut class's own analysis: the union is the same).
                (class_scope,) = table.get_children()
                self._method_names[key] = _global_below(class_scope)
        return self._method_names[key]

    def _early(self, member: ast.stmt) -> set[str]:
        """What classes within a member read before binding (`_read_before_bound`)."""
        key = id(member)
        if key not in self._nested_early:
            early: set[str] = set()
            for cls in ast.walk(member):
                if isinstance(cls, ast.ClassDef):
                    early |= _read_before_bound(cls)
            self._nested_early[key] = early
        return self._nested_early[key]

    def of(self, members: list[ast.stmt]) -> set[str]:
        """`free_names` of the class with only `members` in its body."""
        methods = [m for m in members if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
        shells = {id(m): copy.copy(m) for m in methods}
        for shell in shells.values():
            shell.body = [ast.Pass()]
        cut = copy.copy(self.cls)
        cut.body = [shells.get(id(m), m) for m in members]
        try:
            table = symtable.symtable(ast.unparse(cut), "<snippet>", "exec")
        except SyntaxError:
            return set()
        symbols = table.get_symbols()
        bound = {s.get_name() for s in symbols if s.is_assigned() or s.is_imported()}
        needed = {s.get_name() for s in symbols if s.is_referenced()} | _global_below(table)
        for method in methods:
            names = self._in_method(method)
            if names is None:
                return set()
            needed |= names
        # A method's shell keeps what `_read_before_bound` looks at (its name, decorators, defaults).
        needed |= _read_before_bound(cut)
        for member in members:
            needed |= self._early(member)
        return needed - bound


def _read_before_bound(cls: ast.ClassDef) -> set[str]:
    """Names the class body reads before it binds them itself (the module's, at that point)."""
    bound: set[str] = set()
    early: set[str] = set()
    for stmt in cls.body:
        loads, stores = _class_level_names(stmt)
        if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr):
            early |= loads - bound  # `x = x`: the value is read before the name is bound
        else:  # a loop or block binds before it reads (`for x in ...: use(x)`), as a rule
            early |= loads - bound - stores
        bound |= stores
    return early & bound


def _class_level_names(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """Names a class-body statement reads and binds in the class scope itself: not inside a
    nested function, class or comprehension, apart from what is evaluated where it stands
    (decorators, defaults, bases, a comprehension's first iterable)."""
    loads: set[str] = set()
    stores: set[str] = set()
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stores.add(node.name)
            outside: list[ast.AST] = list(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                outside += [*node.bases, *(k.value for k in node.keywords)]
            else:
                outside += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            pending.extend(outside)
        elif isinstance(node, ast.Lambda):
            pending.extend([*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)])
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            pending.append(node.generators[0].iter)
        else:
            if isinstance(node, ast.Name):
                (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
            pending.extend(ast.iter_child_nodes(node))
    return loads, stores
