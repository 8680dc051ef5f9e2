"""What a docstring states about its parameters: declared types and numeric ranges.

Read from Sphinx fields (`:param x:`, `:type x:`), Google sections (`Args: x (int): ...`),
NumPy sections (`x : int`) and plain sentences whose subject is a parameter ("n must be > 0",
"Argument s is a bytes-like object or ASCII string"). Only clear statements count: a phrase
this module cannot read whole, a condition ("If n is positive ..."), an alternative it cannot
name ("a string or a compiled pattern") or an exception ("unless ...") states nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from codemint.offline.contract_types import Accepts, Shape, annotation_type, union


@dataclass(frozen=True)
class Bound:
    """`value <op> limit` must hold for a number."""

    op: str  # ">", ">=", "<", "<="
    limit: float

    def holds(self, value: float) -> bool:
        ops = {">": value > self.limit, ">=": value >= self.limit}
        ops.update({"<": value < self.limit, "<=": value <= self.limit})
        return ops[self.op]


@dataclass
class DocParam:
    """Statements about one parameter. A value is outside them only when every statement
    excludes it: `types` are alternatives together, each of `ranges` is one statement."""

    types: list[Accepts] = field(default_factory=list)
    ranges: list[tuple[Bound, ...]] = field(default_factory=list)
    optional: bool = False  # the docstring calls it optional: None may stand for it


@dataclass
class Phrase:
    accepts: Accepts | None = None
    bounds: tuple[Bound, ...] = ()
    optional: bool = False
    end: int = 0  # where the phrase stopped in the text


_NUM = r"-?\d+(?:\.\d+)?"
# (pattern, kind, takes "of <elements>"); longer words first.
_BASES: list[tuple[re.Pattern[str], str, bool]] = [
    (re.compile(p + r"\b"), kind, container)
    for p, kind, container in [
        (r"(?:bytes-like objects?|byte ?strings?|bytes (?:objects?|strings?)|bytes)", "bytes", False),
        (r"bytearrays?", "bytearray", False),
        (r"(?:strings?|strs?)", "str", False),
        (r"(?:integers?|ints?)", "int", False),
        (r"(?:floating[- ]point (?:numbers?|values?)|floats?)", "float", False),
        (r"numbers?", "complex", False),
        (r"(?:booleans?|bools?)", "bool", False),
        (r"none", "none", False),
        (r"(?:lists?|(?:\d+-)?tuples?)", "listlike", True),
        (r"(?:dicts?|dictionar(?:y|ies)|mappings?)", "mapping", False),
        (r"(?:frozensets?|sets?)", "setlike", True),
        (r"sequences?", "sequence", True),
        (r"iterables?", "iterable", True),
        (r"(?:callables?|functions?)", "callable", False),
    ]
]
_NUMERIC = {"int", "float", "complex"}
_ARTICLE = re.compile(r"(?:an?|one|the)\s+")
# Words before a type that narrow nothing a check could see ("an ASCII string").
_ADJECTIVES = re.compile(
    r"(?:(?P<pos>strictly positive|positive)|(?P<nonneg>non-negative|nonnegative|non negative)"
    r"|(?P<opt>optional)|ascii|unicode|hex|hexadecimal|text|character|single|valid|non-empty"
    r"|nonempty|real-valued|real|python)\s+"
)
_COMPARE = re.compile(rf"\s*(?P<op>>=|>|≥)\s*(?P<n>{_NUM})\b")
_INTERVAL = re.compile(rf"\s+in\s+\[\s*(?P<lo>{_NUM})\s*,\s*(?P<hi>{_NUM})\s*\]")
_RANGE_ONLY = re.compile(
    rf"(?:(?P<pos>strictly positive|positive)|(?P<nonneg>non-negative|nonnegative|non negative)"
    rf"|(?:at least|greater than or equal to|>=|≥)\s*(?P<ge>{_NUM})|(?:greater than|>)\s*(?P<gt>{_NUM}))"
    r"(?=\s*(?:[.;,:)]|$))"  # the whole clause: "positive values shift right" is no requirement
)
_CLAUSE_END = re.compile(r"\s*(?:[.;,:)]|$)")
_OF = re.compile(r"\s+of\s+")
_OPTIONAL = re.compile(r"optional\b")
_SEP = re.compile(r"\s*,\s*or\s+|\s+or\s+|\s*,\s*|\s*/\s*")
# Words after a stated type that take the statement back or make it conditional.
_HEDGES = re.compile(r"\b(?:or|either|unless|otherwise|except|alternatively|also|if|when|whether)\b")


def _adjective_bounds(match: re.Match[str]) -> tuple[Bound, ...]:
    if match.group("pos"):
        return (Bound(">", 0),)
    if match.group("nonneg"):
        return (Bound(">=", 0),)
    return ()


def _alternative(text: str, pos: int, typed: bool) -> tuple[Shape, tuple[Bound, ...], bool, int] | None:
    """One alternative of a type phrase at `pos`: ([article] adjectives base [bound]
    [of elements]) -> (shape, bounds, optional, end), or None when it is not one.
    `typed`: the text is a type field, where a bare "set" is the type, not the verb."""
    article = _ARTICLE.match(text, pos)
    if m := article:
        if pos and m.group().startswith("the"):
            return None  # "a string, the number to parse": an apposition, not a second type
        pos = m.end()
    bounds: tuple[Bound, ...] = ()
    optional = False
    while m := _ADJECTIVES.match(text, pos):
        bounds += _adjective_bounds(m)
        optional = optional or bool(m.group("opt"))
        pos = m.end()
    for pattern, kind, container in _BASES:
        if not (m := pattern.match(text, pos)):
            continue
        pos = m.end()
        if kind == "setlike" and not (typed or article or _OF.match(text, pos)):
            return None  # "must be set to the module": the verb
        if c := _COMPARE.match(text, pos):
            bounds += (Bound(">=" if c.group("op") in (">=", "≥") else ">", float(c.group("n"))),)
            pos = c.end()
        elif i := _INTERVAL.match(text, pos):
            bounds += (Bound(">=", float(i.group("lo"))), Bound("<=", float(i.group("hi"))))
            pos = i.end()
        items: tuple[Accepts | None, ...] = ()
        if container and (of := _OF.match(text, pos)):
            element = _alternative(text, of.end(), typed)
            if element is None:
                return None  # "a list of lines": a list, of what is unknown
            items, pos = ((element[0],),), element[3]
            if (sep := _SEP.match(text, pos)) and _alternative(text, sep.end(), typed) is not None:
                items = ()  # "a list of str or bytes": which the "or" joins is unclear
        return Shape(kind, items), (bounds if kind in _NUMERIC else ()), optional, pos
    return None


def parse_phrase(text: str, *, whole: bool = False) -> Phrase | None:
    """A type phrase at the start of `text` ("a positive integer", "a bytes-like object or
    ASCII string", "list of str, optional"); `whole`: the text must be only that (a type field)."""
    text = text.lower()
    phrase = Phrase()
    # "positive", "> 0": a range, no type.
    if _alternative(text, 0, whole) is None:
        if (m := _RANGE_ONLY.match(text)) and not (whole and text[m.end() :].strip(" .")):
            return Phrase(None, _adjective_bounds(m) or _range_bounds(m), end=m.end())
        return None
    pos, shapes = 0, list[Shape]()
    while True:
        if (m := _OPTIONAL.match(text, pos)) and shapes:
            phrase.optional, pos = True, m.end()
        else:
            alt = _alternative(text, pos, whole)
            if alt is None:
                return None  # an alternative this module cannot name: nothing certain
            shape, bounds, optional, pos = alt
            shapes.append(shape)
            phrase.bounds += bounds
            phrase.optional = phrase.optional or optional
        sep = _SEP.match(text, pos)
        if sep is None:
            break
        after = sep.end()
        if (
            "or" not in sep.group()
            and _alternative(text, after, whole) is None
            and not _OPTIONAL.match(text, after)
        ):
            break  # "a string, the text to wrap": an apposition ends the phrase
        pos = sep.end()
    if len(shapes) > 1:
        phrase.bounds = ()  # "an int or a string": which the bound belongs to is unclear
    phrase.accepts, phrase.end = union(tuple(shapes)), pos
    if whole and text[pos:].strip(" .") != "":
        return None
    return phrase


def _range_bounds(m: re.Match[str]) -> tuple[Bound, ...]:
    if m.group("ge") is not None:
        return (Bound(">=", float(m.group("ge"))),)
    return (Bound(">", float(m.group("gt"))),)


def _type_field(text: str) -> Phrase | None:
    """A declared type (`:type x:`, `x (int)`, `x : int`): words or annotation syntax."""
    text = re.sub(r",?\s*\b(?:default|defaults to)\b.*$", "", text.strip(), flags=re.S | re.I)
    phrase = parse_phrase(text, whole=True)
    if phrase is not None:
        return phrase
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    accepts = annotation_type(node)
    return None if accepts is None else Phrase(accepts)


def _statement(rest: str, *, article_required: bool) -> Phrase | None:
    """A phrase that must be the whole claim: no hedge after it. `article_required`: a type
    named without an article must end its clause ("String values are quoted" names none)."""
    phrase = parse_phrase(rest)
    if phrase is None:
        return None
    ends_clause = _CLAUSE_END.match(rest, phrase.end)
    if article_required and phrase.accepts is not None and not (_ARTICLE.match(rest.lower()) or ends_clause):
        return None
    after = re.split(r"[.;:]\s", rest[phrase.end :] + " ", maxsplit=1)[0]
    if _HEDGES.search(after.lower()):
        return None
    return phrase


def _add(into: DocParam, phrase: Phrase | None, *, with_type: bool = True) -> None:
    if phrase is None:
        return
    if with_type and phrase.accepts is not None:
        into.types.append(phrase.accepts)
    if phrase.bounds:
        into.ranges.append(phrase.bounds)
    into.optional = into.optional or phrase.optional


# A requirement inside a parameter's description: "Must be positive.", "It should be >= 0."
_DESC_REQUIREMENT = re.compile(
    r"(?:^|(?<=[.;]\s))(?:it |this |the value )?(?:must|should) be\s+(?!not\b)", re.I
)


def _describe(into: DocParam, desc: str, has_type_field: bool) -> None:
    desc = " ".join(desc.split())
    head = _statement(desc, article_required=True)
    _add(into, head, with_type=not has_type_field)
    for m in _DESC_REQUIREMENT.finditer(desc):
        _add(into, _statement(desc[m.end() :].split(". ")[0], article_required=False))


_SPHINX = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:(?P<type>[^:]*?)\s+)?\**(?P<name>\w+)\s*:(?P<desc>.*)$"
)
_SPHINX_TYPE = re.compile(r"^:type\s+\**(?P<name>\w+)\s*:(?P<type>.*)$")
_GOOGLE_HEAD = re.compile(
    r"^(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters):\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^\**(?P<name>\w+)\s*(?:\((?P<type>[^)]*)\))?\s*:(?:\s+(?P<desc>.*)|$)")
_NUMPY_HEAD = re.compile(r"^(?:Parameters|Other Parameters|Keyword Arguments)\s*$")
_NUMPY_ENTRY = re.compile(r"^(?P<names>\**\w+(?:\s*,\s*\**\w+)*)\s*(?::\s*(?P<type>.*))?$")

Entry = tuple[list[str], str | None, str]  # names, declared type, description


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block(lines: list[str], start: int, indent: int) -> tuple[str, int]:
    """The continuation lines after `start` indented deeper than `indent`, joined."""
    out, i = [], start + 1
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
        if not lines[i].strip() and (i + 1 >= len(lines) or _indent(lines[i + 1]) <= indent):
            break
        out.append(lines[i].strip())
        i += 1
    return " ".join(out), i


def _sphinx(lines: list[str]) -> tuple[list[Entry], dict[str, str]]:
    entries: list[Entry] = []
    types: dict[str, str] = {}
    for i, line in enumerate(lines):
        if m := _SPHINX.match(line.strip()):
            more, _ = _block(lines, i, _indent(line))
            entries.append(([m.group("name")], m.group("type"), f"{m.group('desc')} {more}"))
        elif m := _SPHINX_TYPE.match(line.strip()):
            more, _ = _block(lines, i, _indent(line))
            types[m.group("name")] = f"{m.group('type')} {more}".strip()
    return entries, types


def _sections(lines: list[str]) -> list[Entry]:
    """Google (`Args:` then `x (int): ...`) and NumPy (`Parameters` / `----` then `x : int`)."""
    entries: list[Entry] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        head = _indent(line)
        numpy = (
            _NUMPY_HEAD.match(line.strip())
            and i + 1 < len(lines)
            and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1])
        )
        if not (numpy or _GOOGLE_HEAD.match(line.strip())):
            i += 1
            continue
        i += 2 if numpy else 1
        level = None  # indentation of the entries
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            if level is None:
                level = _indent(line)
            if _indent(line) < level or (not numpy and _indent(line) <= head):
                break
            if numpy and i + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]):
                break  # the next NumPy section
            desc, nxt = _block(lines, i, _indent(line))
            if numpy and (m := _NUMPY_ENTRY.match(line.strip())):
                names = [n.strip().lstrip("*") for n in m.group("names").split(",")]
                entries.append((names, m.group("type"), desc))
            elif not numpy and (m := _GOOGLE_ENTRY.match(line.strip())):
                entries.append(([m.group("name")], m.group("type"), f"{m.group('desc') or ''} {desc}"))
            i = nxt
    return entries


# A sentence whose subject is a parameter: "Optional arg cutoff (default 0.6) is a float in
# [0, 1].", "n must be > 0.". A sentence that starts otherwise ("If n is ...", "The value
# is ..." for a parameter `value`) is not one.
_SUBJECT = re.compile(
    r"^(?:(?:the|an?)\s+(?=optional|arg|param|keyword))?(?P<opt>optional\s+)?"
    r"(?:(?:arg|argument|parameter|param|keyword argument)\s+)?"
    r"[`*'\"]*(?P<name>\w+)[`*'\"]*\s*(?:\([^)]*\)\s*)?(?:,?\s*if (?:given|specified|provided),?\s*)?"
    r"(?P<verb>is|must be|should be|has to be|needs to be|must always be)\s+(?!not\b)(?P<rest>.+)$",
    re.I,
)


def _sentences(doc: str) -> list[str]:
    kept = [ln for ln in doc.splitlines() if not ln.strip().startswith((">>>", "..."))]
    out = []
    for para in re.split(r"\n\s*\n", "\n".join(kept)):
        out.extend(re.split(r"(?<=[.!?;])\s+", " ".join(para.split())))
    return out


def _prose(doc: str, params: set[str], out: dict[str, DocParam]) -> None:
    for sentence in _sentences(doc):
        m = _SUBJECT.match(sentence)
        if not m or m.group("name") not in params:
            continue
        name = m.group("name")
        phrase = _statement(m.group("rest"), article_required=m.group("verb").lower() == "is")
        if phrase is None:
            continue
        into = out.setdefault(name, DocParam())
        _add(into, phrase)
        into.optional = into.optional or bool(m.group("opt"))


def doc_params(doc: str | None, params: list[str]) -> dict[str, DocParam]:
    """Per parameter name (of `params`), what `doc` states about it."""
    out: dict[str, DocParam] = {}
    if not doc:
        return out
    lines = doc.expandtabs().splitlines()
    entries, sphinx_types = _sphinx(lines)
    entries += _sections(lines)
    wanted = set(params)
    for names, declared, desc in entries:
        for name in names:
            if name not in wanted:
                continue
            into = out.setdefault(name, DocParam())
            declared = declared or sphinx_types.get(name)
            if declared:
                _add(into, _type_field(declared))
            _describe(into, desc, bool(declared))
    for name, declared in sphinx_types.items():
        if name in wanted and name not in {n for names, _, _ in entries for n in names}:
            _add(out.setdefault(name, DocParam()), _type_field(declared))
    _prose(doc, wanted, out)
    return out
