"""Richer input proposals for feedback-driven test generation (pure: no execution here).

What the plain strategies in `inputs.py` miss, measured on the standard library:
- docstring examples in every style: `f(x) == y`, `f(x) ➞ y`, `f(x) -> y`, prose such as
  "for x = 3 the output should be ..." (any call of the entry point with literal arguments,
  and `param = literal` assignments naming the parameters);
- container annotations keep their element types (`List[str]`, `dict[str, int]`,
  `tuple[int, str]`, nested `list[list[int]]`);
- a parameter's name beats how the body uses it for text-like names (`text`, `s`, `name`:
  indexing and `len` do not make them lists), and a parameter iterated twice deep
  (`for row in grid: for x in row`, `grid[i][j]`) gets nested lists;
- literals of the body (string and number constants, comparison operands, dict keys,
  `startswith`/`endswith`/`split` arguments) seed the values, so preconditions such as
  a known name, a file extension or a separator can be met.

Each parameter gets an ordered list of type hypotheses (`TypeSpec`); the caller runs the
proposals and learns which hypotheses return normally (a type search driven by execution),
then asks for more inputs of the winning assignment (`inputs_for`).
"""

from __future__ import annotations

import ast
import io
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codemint import safe_ast
from codemint.codec import Construct, encode_input
from codemint.offline import regex_examples
from codemint.offline.inputs import Args, doctest_inputs, literal_value, stream_of

# A type hypothesis: a name and element specs ("list", ("int",)) ...; scalars have no elements.
TypeSpec = tuple[Any, ...]

INT: TypeSpec = ("int",)
STR: TypeSpec = ("str",)
FLOAT: TypeSpec = ("float",)
BOOL: TypeSpec = ("bool",)

_TEXT_NAMES = {
    "text", "s", "string", "str", "name", "word", "line", "pattern", "pat", "prefix", "suffix",
    "sep", "char", "c", "path", "p", "fmt", "template", "msg", "message", "key", "title", "sub",
    "chars", "source", "src", "url", "filename", "fname", "file", "host", "hostname", "email",
    "addr", "address", "date", "label", "value_str", "token", "body", "header", "query", "ext",
    "encoding", "mode", "domain", "data_str", "content", "cmd", "command", "var", "letter",
}  # fmt: skip
_INT_NAMES = {
    "n", "i", "j", "k", "count", "num", "size", "width", "height", "index", "idx", "year", "month",
    "day", "length", "start", "stop", "end", "step", "depth", "level", "limit", "base", "number",
    "pos", "offset", "maxsplit", "indent", "times", "hour", "minute", "second", "lo", "hi", "x",
    "y", "m", "digits", "precision", "tabsize", "firstweekday", "weekday", "bits",
}  # fmt: skip
_FLOAT_NAMES = {
    "ratio",
    "factor",
    "alpha",
    "weight",
    "frac",
    "fraction",
    "h",
    "l",
    "v",
    "g",
    "q",
    "u",
    "r",
    "t",
}
_LIST_NAMES = {
    "seq", "items", "lst", "iterable", "data", "values", "xs", "arr", "array", "elements",
    "numbers", "sequence", "lines", "words", "strings", "population", "heap", "stack", "queue",
    "a", "nums", "list", "vals", "points", "pairs", "rows", "matrix", "grid", "tokens", "parts",
}  # fmt: skip
_DICT_NAMES = {"d", "mapping", "dct", "dictionary", "table", "kwargs", "kw", "params", "headers", "env"}
_BOOL_NAMES = {"flag", "strict", "reverse", "verbose", "ignore_case", "keepends", "posix", "quote", "force"}
_BYTES_NAMES = {"buf", "buffer", "raw", "blob", "b", "bs", "octets"}

_BASE_VALUES: dict[str, list[Any]] = {
    "int": [0, 1, 2, 3, 5, 7, 10, -1, -3, 12, 100, 31],
    "float": [0.0, 0.5, 1.0, 2.5, -1.5, 3.14159, 100.0, 0.1],
    "str": [
        "abc",
        "Hello World",
        "",
        # longer than a line: text code (wrapping, shortening) does its work only on such
        "The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun.",
        "a",
        "hello, world!",
        "a-b_c 123",
        "x.py",
        "2024-01-15",
        "AbC",
        "  pad  ",
    ],
    "bool": [True, False],
    "bytes": [b"abc", b"", b"\x00\xffdata", b"hello world"],
    "None": [None],
    "fn": [bool, str, abs, len, sorted, int, repr, sum, tuple, reversed],
    "type": [int, str, list, tuple, float, bool, set],
}
# A function argument: one of the codec's allowed builtins (`codec.FUNCTION_NAMES`).
FUNCTION: TypeSpec = ("fn",)
# A class argument: one of the builtin types among those builtins.
TYPE: TypeSpec = ("type",)
# Not every `*_type` is a class (`content_type`, `mime_type` are texts): names, not suffixes.
_TYPE_NAMES = {
    "cls", "klass", "kls", "typ", "tp", "type", "type_obj", "typeobj", "base_type", "target_type",
    "exc_type", "etype", "obj_type", "base_cls", "parent_cls", "subclass", "superclass",
}  # fmt: skip
_TYPE_ATTRIBUTES = {"__mro__", "__subclasses__", "__bases__", "mro", "__base__"}
_FUNCTION_NAMES = {
    "func", "fn", "f", "function", "key", "keyfunc", "pred", "predicate", "callback", "transform",
    "mapper", "callable", "fun", "g", "func1", "func2", "validator", "converter",
}  # fmt: skip
# A file object the code reads or writes: an in-memory file of bytes or text (codec `__stream__`).
BYTES_STREAM: TypeSpec = ("stream", "bytes")
TEXT_STREAM: TypeSpec = ("stream", "text")
_STREAM_METHODS = {
    "read", "readline", "readlines", "readinto", "read1", "peek", "write", "writelines", "seek",
    "tell", "flush", "truncate", "getvalue",
}  # fmt: skip
_STREAM_NAMES = {
    "fp", "fh", "fo", "fobj", "fileobj", "file_obj", "fileobject", "stream", "fin", "fout", "infile",
    "outfile", "fsrc", "fdst", "fpin", "fpout", "instream", "outstream", "in_file", "out_file",
}  # fmt: skip
_STREAM_CONTENTS: dict[str, list[Any]] = {
    "bytes": [
        b"abc\ndef\n", b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b", b"", b"hello world",
        b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", b"12345678\n", b"'abc'\n", b"\x80\x04K\x01.",
    ],
    "text": [
        "line one\nline two\n", "", "abc", "key = value\n# comment\n", "hello world",
        "1 2 3\n4 5 6\n",
    ],
}  # fmt: skip
_ANNOTATION_ALIASES = {
    "List": "list", "Sequence": "list", "Iterable": "list", "MutableSequence": "list",
    "Collection": "list", "Iterator": "list", "Dict": "dict", "Mapping": "dict",
    "MutableMapping": "dict", "Tuple": "tuple", "Set": "set", "FrozenSet": "set",
    "AbstractSet": "set", "frozenset": "set", "AnyStr": "str", "Text": "str",
    "bytearray": "bytes", "ByteString": "bytes", "SupportsInt": "int", "SupportsFloat": "float",
    "Callable": "fn", "Type": "type",
}  # fmt: skip


@dataclass
class BodyLiterals:
    strings: list[str] = field(default_factory=list)
    numbers: list[int | float] = field(default_factory=list)
    # What the code looks for in a text: `startswith` / `split` / `find` / `in` arguments, short
    # punctuation constants (separators), `os.sep`; generated texts hold them amid plain text.
    prefixes: list[str] = field(default_factory=list)
    # Whole example texts: quoted strings and marker-holding words of the docstrings, strings
    # the code's regular expressions match.
    samples: list[str] = field(default_factory=list)


# String methods whose first argument is what the text is searched for or split on.
_LOOKED_FOR = {
    "startswith", "endswith", "split", "rsplit", "partition", "rpartition", "find", "rfind",
    "index", "rindex", "count", "replace", "strip", "lstrip", "rstrip", "removeprefix",
    "removesuffix",
}  # fmt: skip
_REGEX_CALLS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}
# `os.sep`, `os.path.altsep`, ...: path code looks for these (both platforms' separators).
_PATH_CONSTANTS = {"sep": ["/", "\\"], "altsep": ["\\", "/"], "pathsep": [":", ";"], "extsep": ["."]}
_HELPER_DEPTH = 2  # helpers of helpers of the entry point are read too


def _body(func: ast.FunctionDef) -> list[ast.stmt]:
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        return body[1:]
    return body


def _is_marker(text: str) -> bool:
    """A short constant with no letters or digits: a separator or a mark the code tests for."""
    return 0 < len(text) <= 3 and not any(ch.isalnum() for ch in text)


def _local_texts(nodes: list[ast.stmt]) -> dict[str, str]:
    """Names assigned a string constant (`sep = '\\\\'`), so `p.find(sep)` is read as a search."""
    out: dict[str, str] = {}
    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                text = node.value.value
                if isinstance(text, str):
                    out.update({t.id: text for t in node.targets if isinstance(t, ast.Name)})
    return out


def _texts_of(node: ast.expr, names: dict[str, str]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in names:
        return [names[node.id]]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [t for e in node.elts for t in _texts_of(e, names)]
    return []


def _regex_modules(module: ast.Module | None) -> set[str]:
    """Names `re` is imported as (`import re as _re`)."""
    out = {"re"}
    for node in module.body if module is not None else []:
        if isinstance(node, ast.Import):
            out |= {a.asname or a.name for a in node.names if a.name == "re"}
    return out


def _scan(nodes: list[ast.stmt], out: BodyLiterals, regex: set[str]) -> None:
    """Add the constants, looked-for texts and regex examples of `nodes` to `out`."""
    names = _local_texts(nodes)

    def look_for(texts: list[str]) -> None:
        for text in texts:
            if text and text not in out.prefixes:
                out.prefixes.append(text)
            if len(text) > 1 and _is_marker(text):  # a set of separators: each one too
                look_for(list(text))

    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Constant):
                value = node.value
                if isinstance(value, str) and len(value) <= 40 and value not in out.strings:
                    out.strings.append(value)
                    if _is_marker(value.strip() or value):
                        # distinct characters (`'\\/'`) are a set of separators: each one
                        look_for(list(value) if len(set(value)) == len(value) else [value])
                elif (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and value not in out.numbers
                    and abs(value) < 10**6
                ):
                    out.numbers.append(value)
            elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                look_for(_texts_of(node.left, names))  # `':' in url`
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                attr, receiver = node.func.attr, node.func.value
                if isinstance(receiver, ast.Name) and receiver.id in regex and attr in _REGEX_CALLS:
                    pattern = node.args[0]
                    if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str):
                        found = regex_examples.examples(pattern.value)
                        out.samples += [s for s in found if s not in out.samples]
                elif attr in _LOOKED_FOR:
                    look_for(_texts_of(node.args[0], names))
            elif isinstance(node, ast.Attribute) and node.attr in _PATH_CONSTANTS:
                base = ast.unparse(node.value)
                if base in ("os", "os.path", "path", "posixpath", "ntpath"):
                    look_for(_PATH_CONSTANTS[node.attr])


def _doc_samples(docstring: str | None, markers: list[str], names: set[str]) -> list[str]:
    """Quoted strings of a docstring (`splitdrive("c:/dir")`) but the parameters' `names`
    (`'text'` names the argument), then its words holding a marker the code looks for
    (`&gt;`, `user:pass`)."""
    if not docstring:
        return []
    quoted = re.findall(r"'([^'\n]{1,40})'|\"([^\"\n]{1,40})\"", docstring)
    out = [a or b for a, b in quoted if (a or b) not in names]
    marks = [m for m in markers if _is_marker(m) and not m.isspace()]
    for word in docstring.split():
        word = word.strip(",.:()[]{}")  # prose punctuation around it (`e.g. &gt;,`)
        if any(c in word for c in "()'\"`[]{}"):
            continue  # a piece of code (`f('a:b')`), whose quoted text is taken above
        if 1 < len(word) <= 40 and any(m in word for m in marks) and any(c.isalnum() for c in word):
            out.append(word)
    return list(dict.fromkeys(s for s in out if s.strip()))


def _helpers(func: ast.FunctionDef, module: ast.Module) -> tuple[list[ast.FunctionDef], list[ast.stmt]]:
    """The code's own top-level functions the entry point names (called or passed, helpers of
    helpers too) and the module-level assignments they read (`_charref = re.compile(...)`)."""
    functions = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
    assigned = {
        t.id: n
        for n in module.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    found: list[ast.FunctionDef] = []
    reads: list[ast.stmt] = []
    frontier = [func]
    for _ in range(_HELPER_DEPTH):
        step: list[ast.FunctionDef] = []
        for f in frontier:
            for node in ast.walk(f):
                if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
                    continue
                helper = functions.get(node.id)
                if helper is not None and helper is not func and helper not in found:
                    found.append(helper)
                    step.append(helper)
                elif node.id in assigned and assigned[node.id] not in reads:
                    reads.append(assigned[node.id])
        frontier = step
    return found, reads


def body_literals(func: ast.FunctionDef, module: ast.Module | None = None) -> BodyLiterals:
    """Constants the body compares against or looks for (docstring excluded), then, given the
    module, those of the helpers it names and of the module-level values they read (a pattern,
    a separator); example texts from the docstrings and the regular expressions."""
    out = BodyLiterals()
    regex = _regex_modules(module)
    _scan(_body(func), out, regex)
    docs = [ast.get_docstring(func)]
    params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
    if module is not None:
        helpers, reads = _helpers(func, module)
        for helper in helpers:
            _scan(_body(helper), out, regex)
            docs.append(ast.get_docstring(helper))
        for stmt in reads:  # only patterns and plain texts: a table's values are not looked for
            value = stmt.value if isinstance(stmt, ast.Assign) else None
            if isinstance(value, ast.Call | ast.Constant):
                _scan([stmt], out, regex)
    for doc in docs:
        out.samples += [s for s in _doc_samples(doc, out.prefixes, params) if s not in out.samples]
    return out


# --- docstring examples in every style -----------------------------------------------------


def _balanced_call(text: str, start: int) -> str | None:
    """The text of a call starting at `start` (at the name) up to its closing parenthesis."""
    depth = 0
    quote: str | None = None
    i = text.index("(", start)
    for j in range(i, min(len(text), i + 2000)):
        ch = text[j]
        if quote:
            if ch == quote and text[j - 1] != "\\":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return text[start : j + 1]
    return None


def _literal_args(call: ast.Call) -> Args | None:
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    try:
        args = [literal_value(a) for a in call.args]
        kwargs = {str(k.arg): literal_value(k.value) for k in call.keywords}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return args, kwargs


def docstring_examples(docstring: str | None, entry_point: str, params: list[str]) -> Iterator[Args]:
    """Inputs from every example style: `>>>`, any literal call of the entry point in the text
    (`f(x) == y`, `f(x) ➞ y`, `f(x) -> y`, ...) and `param = literal` prose."""
    if not docstring:
        return
    seen: set[str] = set()

    def fresh(args: Args) -> bool:
        key = encode_input(*args)  # canonical: in-memory files have no equality of their own
        if key in seen:
            return False
        seen.add(key)
        return True

    for args in doctest_inputs(docstring, entry_point):
        if fresh(args):
            yield args
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", docstring):
        text = _balanced_call(docstring, match.start())
        if text is None:
            continue
        try:
            node = safe_ast.parse(text.replace("\n", " "), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call):
            found = _literal_args(node)
            if found is not None and fresh(found):
                yield found
    if not params:
        return
    value = r"(\[[^\]\n]*\]|\([^)\n]*\)|\{[^}\n]*\}|\"[^\"\n]*\"|'[^'\n]*'|-?\d+(?:\.\d+)?|True|False|None)"
    names = "|".join(re.escape(p) for p in params)
    for sentence in re.split(r"(?<=[.;])\s+|\n\s*\n", docstring):
        assigned: dict[str, Any] = {}
        for m in re.finditer(rf"\b({names})\s*=\s*{value}", sentence):
            try:
                assigned.setdefault(m.group(1), ast.literal_eval(m.group(2)))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        if assigned and all(p in assigned for p in params):
            found = ([assigned[p] for p in params], {})
            if fresh(found):
                yield found


# --- type hypotheses --------------------------------------------------------------------


# The code's own record classes: name -> its spec ("new", name, ((field, spec), ...)).
Classes = dict[str, TypeSpec]
_NO_CLASSES: Classes = {}


def annotation_spec(annotation: ast.expr | None, classes: Classes = _NO_CLASSES) -> list[TypeSpec]:
    """Type specs for an annotation, element types kept: `List[str]` -> [("list", ("str",))];
    a dataclass or NamedTuple of the code -> its constructor spec."""
    if annotation is None:
        return []
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = safe_ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return [("None",)]
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return annotation_spec(annotation.left, classes) + annotation_spec(annotation.right, classes)
    if isinstance(annotation, ast.Subscript):
        base = ast.unparse(annotation.value).split(".")[-1]
        elts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        if base == "Optional":
            return [*annotation_spec(annotation.slice, classes), ("None",)]
        if base == "Union":
            return [t for e in elts for t in annotation_spec(e, classes)]
        if base == "IO":  # IO[bytes] / IO[str]
            return [BYTES_STREAM if ast.unparse(annotation.slice) == "bytes" else TEXT_STREAM]
        base = _ANNOTATION_ALIASES.get(base, base)
        inner = [(annotation_spec(e, classes) or [INT])[0] for e in elts if not isinstance(e, ast.Constant)]
        if base in ("list", "set"):
            return [(base, inner[0] if inner else INT)]
        if base == "dict":
            return [("dict", inner[0] if inner else STR, inner[1] if len(inner) > 1 else INT)]
        if base == "tuple":
            if isinstance(annotation.slice, ast.Tuple) and any(
                isinstance(e, ast.Constant) and e.value is Ellipsis for e in elts
            ):
                return [("list", inner[0] if inner else INT)]  # tuple[int, ...]: a homogeneous sequence
            return [("tuple", *inner)]
        return [(base,)] if base in _BASE_VALUES else []
    name = _ANNOTATION_ALIASES.get(
        ast.unparse(annotation).split(".")[-1], ast.unparse(annotation).split(".")[-1]
    )
    if name in ("list", "set"):
        return [(name, INT)]
    if name == "dict":
        return [("dict", STR, INT)]
    if name == "tuple":
        return [("tuple", INT, INT)]
    if name in classes:
        return [classes[name]]
    if name in ("BinaryIO", "BytesIO", "BufferedReader", "BufferedIOBase", "RawIOBase"):
        return [BYTES_STREAM]
    if name in ("TextIO", "StringIO", "TextIOWrapper", "TextIOBase", "IO"):
        return [TEXT_STREAM, BYTES_STREAM] if name == "IO" else [TEXT_STREAM]
    return [(name,)] if name in _BASE_VALUES else []


def _is_record_class(node: ast.ClassDef) -> bool:
    """A dataclass or a NamedTuple: its fields are its constructor's parameters."""
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if ast.unparse(target).split(".")[-1] == "dataclass":
            no_init = isinstance(deco, ast.Call) and any(
                k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in deco.keywords
            )
            return not no_init
    return any(ast.unparse(b).split(".")[-1] == "NamedTuple" for b in node.bases)


def module_classes(code: str, depth: int = 2) -> Classes:
    """Constructor specs of the code's top-level dataclasses and NamedTuples: the required
    fields, typed from their annotations (fields of another record class nest, `depth` deep;
    a class that needs itself is left out)."""
    try:
        tree = safe_ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    records = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef) and _is_record_class(n)}
    out: Classes = {}
    for _ in range(depth + 1):  # inner classes first: each round can use the previous ones
        for name, node in records.items():
            fields: list[tuple[str, TypeSpec]] = []
            complete = True
            for stmt in node.body:
                if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                    continue
                if "ClassVar" in ast.unparse(stmt.annotation) or stmt.value is not None:
                    continue  # class attributes and fields with defaults are not passed
                known = {k: v for k, v in out.items() if k != name}
                specs = annotation_spec(stmt.annotation, known)
                if not specs and ast.unparse(stmt.annotation).strip("'\"").split(".")[-1] in records:
                    complete = False  # needs a record class not specified yet (or itself)
                    break
                fields.append((stmt.target.id, specs[0] if specs else (_name_spec(stmt.target.id) or INT)))
            if complete:
                out[name] = ("new", name, tuple(fields))
    return out


_SEQUENCE_CALLS = {
    "len", "sorted", "reversed", "enumerate", "list", "tuple", "set", "sum", "min", "max", "iter", "zip",
    "any", "all",
}  # fmt: skip


def _binary_hint(node: ast.AST) -> bool:
    """A bytes constant, or a name that decodes or unpacks binary data (`x.decode`, `_unpack`,
    `int.from_bytes`): a file object in this body is probably opened in binary mode."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bytes)
    ident = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return any(word in ident.lower() for word in ("decode", "unpack", "from_bytes", "crc32", "bytes"))


def _usage_votes(func: ast.FunctionDef) -> dict[str, dict[TypeSpec, int]]:
    params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
    votes: dict[str, dict[TypeSpec, int]] = {p: {} for p in params}
    str_methods = {
        "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
        "endswith", "replace", "find", "rfind", "encode", "isdigit", "isspace", "isalpha", "isalnum",
        "expandtabs", "partition", "rpartition", "casefold", "title", "capitalize", "zfill", "center",
        "ljust", "rjust", "format", "join", "translate", "isupper", "islower", "count",
    }  # fmt: skip
    list_methods = {"append", "extend", "pop", "insert", "sort", "reverse", "remove", "copy"}
    dict_methods = {"keys", "values", "items", "get", "setdefault", "update", "popitem"}
    nested: set[str] = set()
    loop_vars: dict[str, str] = {}  # loop variable -> the parameter it iterates

    def vote(name: str, spec: TypeSpec, weight: int = 1) -> None:
        if name in votes:
            votes[name][spec] = votes[name].get(spec, 0) + weight

    for node in ast.walk(func):
        if (
            isinstance(node, (ast.For, ast.comprehension))
            and isinstance(node.iter, ast.Name)
            and isinstance(node.target, ast.Name)
        ):
            loop_vars[node.target.id] = node.iter.id
    wants_bytes = any(_binary_hint(n) for n in ast.walk(func))
    for node in ast.walk(func):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            attr, name = node.attr, node.value.id
            if attr in _STREAM_METHODS:  # a file object: bytes or text, whichever returns normally
                vote(name, BYTES_STREAM, 3 + wants_bytes)
                vote(name, TEXT_STREAM, 3 + (not wants_bytes))
            elif attr in str_methods and attr != "join":
                vote(name, STR, 2)
            elif attr in list_methods:
                vote(name, ("list", INT))
            elif attr in dict_methods:
                vote(name, ("dict", STR, INT), 2)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Subscript) and isinstance(node.value.value, ast.Name):
                nested.add(node.value.value.id)
            elif isinstance(node.value, ast.Name):
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    vote(node.value.id, ("dict", STR, INT), 2)
                else:
                    vote(node.value.id, ("list", INT))
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, ast.Name):
            vote(node.iter.id, ("list", INT))
            if node.iter.id in loop_vars:
                nested.add(loop_vars[node.iter.id])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Name):
                if node.func.id in _SEQUENCE_CALLS:
                    vote(first.id, ("list", INT))
                elif node.func.id in ("range", "chr", "bin", "hex", "oct"):
                    vote(first.id, INT, 2)
                elif node.func.id in ("ord",):
                    vote(first.id, STR, 2)
                elif node.func.id in ("float", "abs", "round"):
                    vote(first.id, FLOAT)
        elif isinstance(node, (ast.BinOp, ast.Compare, ast.AugAssign)):
            operands = (
                [node.left, node.right]
                if isinstance(node, ast.BinOp)
                else [node.left, *node.comparators]
                if isinstance(node, ast.Compare)
                else [node.target, node.value]
            )
            constants = [o.value for o in operands if isinstance(o, ast.Constant)]
            is_in = isinstance(node, ast.Compare) and any(
                isinstance(op, (ast.In, ast.NotIn)) for op in node.ops
            )
            for o in operands:
                if not isinstance(o, ast.Name):
                    continue
                if is_in and o is not operands[0]:  # `x in param`: a container (or a text)
                    continue
                if any(isinstance(c, str) for c in constants):
                    vote(o.id, STR, 2)
                elif any(isinstance(c, float) for c in constants):
                    vote(o.id, FLOAT)
                elif any(isinstance(c, int) and not isinstance(c, bool) for c in constants):
                    vote(o.id, INT)
    for name, spec in _type_checks(func):
        vote(name, spec, 3)
    for node in ast.walk(func):  # `p.__mro__`, `issubclass(p, T)`, `isinstance(x, p)`: a class
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in _TYPE_ATTRIBUTES:
                vote(node.value.id, TYPE, 3)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 2:
            checked = node.args[0] if node.func.id == "issubclass" else node.args[1]
            if node.func.id in ("issubclass", "isinstance") and isinstance(checked, ast.Name):
                vote(checked.id, TYPE, 3)
    for node in ast.walk(func):  # a parameter that is called, or checked with callable(): a function
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            vote(node.func.id, FUNCTION, 3)
            if node.func.id == "callable" and node.args and isinstance(node.args[0], ast.Name):
                vote(node.args[0].id, FUNCTION, 3)
    for name in nested:
        if name in votes:
            votes[name][("list", ("list", INT))] = votes[name].get(("list", INT), 0) + 3
    return votes


# Builtin types a type check can name, as the type spec a value of that type is made from.
_CHECKED_TYPES: dict[str, TypeSpec] = {
    "int": INT, "float": ("float",), "str": ("str",), "bytes": ("bytes",), "bool": ("bool",),
    "list": ("list", INT), "tuple": ("tuple", INT, INT), "dict": ("dict", ("str",), INT),
    "set": ("set", INT), "frozenset": ("set", INT),
}  # fmt: skip


def _checked_types(node: ast.expr) -> list[TypeSpec]:
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    return [_CHECKED_TYPES[n.id] for n in names if isinstance(n, ast.Name) and n.id in _CHECKED_TYPES]


def _type_checks(func: ast.FunctionDef) -> list[tuple[str, TypeSpec]]:
    """(parameter, type) for `isinstance(p, T)`, `isinstance(p, (T, U))`, `type(p) is T`,
    `type(p) == T` and `type(p) in (T, U)` in the body: what the author checks for."""
    found: list[tuple[str, TypeSpec]] = []
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Name)
        ):
            found += [(node.args[0].id, spec) for spec in _checked_types(node.args[1])]
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and isinstance(node.left.func, ast.Name)
            and node.left.func.id == "type"
            and len(node.left.args) == 1
            and isinstance(node.left.args[0], ast.Name)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.Is | ast.Eq | ast.In)
        ):
            found += [(node.left.args[0].id, spec) for spec in _checked_types(node.comparators[0])]
    return found


def _name_spec(name: str) -> TypeSpec | None:
    lowered = name.lower().strip("_")
    if lowered in _TYPE_NAMES or lowered.endswith("_cls"):
        return TYPE
    if lowered in _STREAM_NAMES:
        return BYTES_STREAM
    if lowered in _FUNCTION_NAMES or lowered.endswith(("func", "_fn", "_key", "_pred", "callback")):
        return FUNCTION
    if lowered in _TEXT_NAMES or lowered.endswith(
        ("_name", "_str", "text", "_path", "_url", "_file", "_line")
    ):
        return STR
    if lowered in _BOOL_NAMES or lowered.startswith(("is_", "use_", "allow_", "keep_")):
        return BOOL
    if (
        lowered in _INT_NAMES
        or lowered.startswith(("n_", "num_", "max_", "min_"))
        or lowered.endswith(("_count", "_size", "_len", "_index", "_idx", "width"))
    ):
        return INT
    if lowered in _FLOAT_NAMES:
        return FLOAT
    if lowered in ("pair", "point", "coords", "span", "interval"):
        return ("tuple", STR, STR) if lowered == "pair" else ("tuple", INT, INT)
    if lowered in _DICT_NAMES or lowered.endswith(("_map", "_dict")):
        return ("dict", STR, INT)
    if lowered in _BYTES_NAMES:
        return ("bytes",)
    if lowered in _LIST_NAMES or (lowered.endswith("s") and len(lowered) > 3 and lowered[:-1] in _TEXT_NAMES):
        return ("list", STR) if lowered[:-1] in _TEXT_NAMES else ("list", INT)
    return None


def _default_spec(default: ast.expr | None) -> tuple[TypeSpec | None, Any]:
    if default is None:
        return None, ...
    try:
        value = ast.literal_eval(default)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None, ...
    if value is None:
        return None, None
    if isinstance(value, bool):
        return BOOL, value
    if isinstance(value, (int, float, str, bytes)):
        return (type(value).__name__,), value
    if isinstance(value, (list, tuple)):
        return ("list", INT), value
    return None, value


def hypotheses(
    func: ast.FunctionDef, classes: Classes = _NO_CLASSES
) -> list[tuple[str, list[TypeSpec], Any]]:
    """Per positional/keyword-only required-or-described parameter: (name, ordered type
    hypotheses, literal default or ...). Annotation first; then a literal default's type;
    then a text-like name (it beats usage); then usage votes; then the name; then guesses."""
    votes = _usage_votes(func)
    params = [*func.args.posonlyargs, *func.args.args]
    defaults: list[ast.expr | None] = [None] * (len(params) - len(func.args.defaults)) + list(
        func.args.defaults
    )
    out: list[tuple[str, list[TypeSpec], Any]] = []
    for param, default in zip(params, defaults, strict=True):
        if param.arg == "self":
            continue  # a method's receiver (method samples drop it first: `without_receiver`)
        specs: list[TypeSpec] = []

        def add(spec: TypeSpec | None, specs: list[TypeSpec] = specs) -> None:
            if spec is not None and spec not in specs:
                specs.append(spec)

        annotated = annotation_spec(param.annotation, classes)
        for spec in annotated:
            add(spec)
        default_spec, default_value = _default_spec(default)
        if annotated:  # the author said what it takes: no other type is tried
            out.append((param.arg, specs[:5], default_value))
            continue
        add(default_spec)
        named = _name_spec(param.arg)
        if named == STR:
            add(STR)
        by_usage = votes.get(param.arg, {})
        for spec, _ in sorted(by_usage.items(), key=lambda kv: -kv[1]):
            add(spec)
        add(named)
        for guess in (INT, STR, ("list", INT), ("bytes",)):
            add(guess)
        out.append((param.arg, specs[:5], default_value))
    return out


# --- values for a type spec ------------------------------------------------------------------


def values_for(spec: TypeSpec, lits: BodyLiterals, rng: random.Random, count: int) -> list[Any]:
    """Up to `count` distinct values of `spec`, body literals first for scalars."""
    kind = spec[0]
    pool: list[Any] = []
    if kind == "str":
        pool = text_values(lits, 6) + _BASE_VALUES["str"]
    elif kind == "int":
        ints = [int(n) for n in lits.numbers if isinstance(n, int) or float(n).is_integer()]
        pool = ints[:6] + [n + 1 for n in ints[:3]] + _BASE_VALUES["int"]
    elif kind == "float":
        pool = [float(n) for n in lits.numbers[:4]] + _BASE_VALUES["float"]
    elif kind in _BASE_VALUES:
        pool = list(_BASE_VALUES[kind])
    elif kind in ("list", "set"):
        elem = spec[1] if len(spec) > 1 else INT
        items = values_for(elem, lits, rng, 8)
        # Populated first: code that indexes, pops or iterates its container does its work only
        # on items; numbers sorted first (a valid heap, a valid bisect input), empty still tried.
        shapes = [items[:3], [], items[:1], items[:5][::-1], [items[0]] * 2 if items else [], items[1:6]]
        if elem[0] in ("int", "float"):
            shapes = [sorted(items[:5], key=float), *shapes]
            shapes += [sorted(items[:6], key=float), [3, 1, 2] if elem[0] == "int" else [2.5, 0.5, 1.0]]
        pool = [s if kind == "list" else set(s) for s in shapes if kind == "list" or _hashable(s)]
    elif kind == "dict":
        keys = values_for(spec[1], lits, rng, 4)
        vals = values_for(spec[2], lits, rng, 4)
        pool = [dict(zip(keys[:3], vals[:3], strict=False)), {}, dict(zip(keys[:1], vals[:1], strict=False))]
        pool = [d for d in pool if _hashable(list(d))]
    elif kind == "tuple":
        parts = [values_for(e, lits, rng, 4) for e in spec[1:]]
        pool = [tuple(p[i % len(p)] for p in parts) for i in range(4)] if parts and all(parts) else [()]
    elif kind == "stream":  # fresh in-memory files; body literals as lines of the contents
        texts = [t for t in lits.strings if t and "\n" not in t][:6]
        derived = ["\n".join(texts) + "\n"] if texts else []
        if spec[1] == "bytes":
            contents = [t.encode("latin-1", "replace") for t in derived] + _STREAM_CONTENTS["bytes"]
            pool = [io.BytesIO(c) for c in contents]
        else:
            pool = [io.StringIO(c) for c in derived + _STREAM_CONTENTS["text"]]
    elif kind == "new":  # an instance of the code's record class, built in the sandbox
        parts = [values_for(f, lits, rng, 4) or [None] for _, f in spec[2]]
        pool = [Construct(spec[1], [p[(i + k) % len(p)] for k, p in enumerate(parts)], {}) for i in range(3)]
        pool += [Construct(spec[1], [rng.choice(p) for p in parts], {}) for _ in range(5)]
    out: list[Any] = []
    for value in pool:
        if not any(_same(value, v) for v in out):
            out.append(value)
        if len(out) >= count:
            break
    return out


def text_values(lits: BodyLiterals, limit: int = 8) -> list[str]:
    """Texts that reach what the code looks for, round-robin: example texts (docstrings,
    regex matches), its markers amid plain text (`a:b:c`, `abc/`, one text holding several:
    `ab\\cd/ef`) and its string constants; at most `limit`, so plain texts follow."""
    marks = lits.prefixes[:4]
    marked = [f"ab{marks[0]}cd{marks[1]}ef"] if len(marks) > 1 else []
    for variant in ("a{}b{}c", "abc{}", "{}abc", "{}"):
        marked += [variant.format(m, m) for m in marks]
    constants = [s for s in lits.strings if s]
    out: list[str] = []
    for group in itertools.zip_longest(lits.samples[:4], marked, constants[:4]):
        out += [t for t in group if t is not None and t not in out]
    return out[:limit]


def held(args: Args, lits: BodyLiterals, markers: int = 6) -> set[str]:
    """What of the code's looked-for texts an input holds: each marker (the first `markers`)
    or example text inside a text argument, and `[]k` for a container argument k with items.
    Feedback selection treats them as goals to cover, like lines."""
    looked = [m for m in lits.prefixes[:markers] if m.strip()] + lits.samples[:4]
    out: set[str] = set()
    values = [*enumerate(args[0]), *args[1].items()]
    for k, value in values:
        if isinstance(value, str):
            out |= {m for m in looked if m in value}
        elif isinstance(value, list | tuple | dict | set) and value:
            out.add(f"[]{k}")
    return out


def reach(args: Args, lits: BodyLiterals) -> int:
    """How much of what the code looks for an input holds (`held`): a tie-break."""
    return len(held(args, lits))


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    stream = stream_of(a)
    return stream == stream_of(b) if stream is not None else repr(a) == repr(b)


def _hashable(items: list[Any]) -> bool:
    try:
        set(items)
    except TypeError:
        return False
    return True


@dataclass
class Plan:
    """The parameters and what is known about them, for one function."""

    names: list[str]
    specs: list[list[TypeSpec]]
    defaults: list[Any]
    required: int  # parameters without a default
    literals: BodyLiterals
    kwonly_required: list[tuple[str, list[TypeSpec]]]
    # `*args`: the type of its items (from its name), passed 1 to 3 of them after the others.
    vararg: TypeSpec | None = None

    def assignments(self) -> list[tuple[TypeSpec, ...]]:
        """The primary hypothesis for every parameter, then one parameter changed at a time."""
        primary = tuple(s[0] for s in self.specs)
        out = [primary]
        for i, specs in enumerate(self.specs):
            for alt in specs[1:]:
                out.append((*primary[:i], alt, *primary[i + 1 :]))
        return out


def plan(func: ast.FunctionDef, classes: Classes = _NO_CLASSES, module: ast.Module | None = None) -> Plan:
    """What is known of a function's parameters; `classes`: the code's record classes
    (`module_classes`), so a parameter annotated with one gets instances as inputs; `module`:
    the code holding it, whose helpers' literals seed the values too."""
    found = hypotheses(func, classes)
    required = len([*func.args.posonlyargs, *func.args.args]) - len(func.args.defaults)
    kwonly = [
        (a.arg, annotation_spec(a.annotation, classes) or [_name_spec(a.arg) or INT])
        for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True)
        if d is None
    ]
    return Plan(
        names=[n for n, _, _ in found],
        specs=[s for _, s, _ in found],
        defaults=[d for _, _, d in found],
        required=max(0, required - (1 if func.args.args and func.args.args[0].arg == "self" else 0)),
        literals=body_literals(func, module),
        kwonly_required=kwonly,
        vararg=_vararg_spec(func.args.vararg),
    )


def _vararg_spec(vararg: ast.arg | None) -> TypeSpec | None:
    """Items of `*name`: the annotation, else what the name's singular suggests, else ints."""
    if vararg is None:
        return None
    annotated = annotation_spec(vararg.annotation)
    if annotated:
        return annotated[0]
    name = vararg.arg.lower().strip("_")
    singular = name[:-1] if name.endswith("s") and len(name) > 2 else name
    if singular in ("iter", "it", "collection"):  # the rest of the list-like names: _name_spec
        return ("list", INT)
    return _name_spec(singular) or INT


def inputs_for(p: Plan, assignment: tuple[TypeSpec, ...], rng: random.Random, count: int) -> list[Args]:
    """`count` inputs of one type assignment: the first value of each parameter, then each
    parameter swept over its values with the others at their first value, then random mixes.
    Optional parameters are passed only in some inputs (their default otherwise)."""
    pools = [values_for(spec, p.literals, rng, 10) or [None] for spec in assignment]
    kw_pools = {name: values_for(specs[0], p.literals, rng, 6) or [0] for name, specs in p.kwonly_required}
    arity_choices = sorted({p.required, len(pools)})
    out: list[Args] = []
    seen: set[str] = set()

    def emit(values: list[Any], arity: int) -> None:
        args = list(values[:arity])
        kwargs = {name: pool[0] for name, pool in kw_pools.items()}
        key = repr((args, kwargs))
        if key not in seen and len(out) < count:
            seen.add(key)
            out.append((args, kwargs))

    first = [pool[0] for pool in pools]
    for arity in arity_choices:
        emit(first, arity)
    for i, pool in enumerate(pools):
        for value in pool[1:]:
            values = list(first)
            values[i] = value
            emit(values, max(p.required, i + 1))
    for _ in range(count * 3):
        if len(out) >= count:
            break
        emit([rng.choice(pool) for pool in pools], rng.choice(arity_choices))
    if p.vararg is not None:  # every parameter passed, then 1 to 3 items of `*args`
        items = values_for(p.vararg, p.literals, rng, 6) or [None]
        kwargs = {name: pool[0] for name, pool in kw_pools.items()}
        for k in range(min(count, 3)):
            args = [pool[0] for pool in pools] + [items[(k + j) % len(items)] for j in range(k + 1)]
            key = repr((args, kwargs))
            if key not in seen:
                seen.add(key)
                out.append((args, kwargs))
    return out


def combos(p: Plan, limit: int) -> Iterator[tuple[TypeSpec, ...]]:
    """Type assignments to try, most plausible first, at most `limit`."""
    yield from itertools.islice(p.assignments(), limit)
