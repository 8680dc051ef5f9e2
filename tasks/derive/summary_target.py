"""Summarization targets: the function's own documentation, as far as its shown code tells it.

A summary row teaches "read this code, write its documentation", so its target must be
words about this function that the code supports:
- a docstring (source `docstring`) or the author's comment (`comment`) is the target, and an
  LLM-written instruction (`llm`) is, as an instruction target;
- the data model's words for a special method (`protocol`), a base method's docstring
  (`inherited`) and example calls (`examples`) are not this function's documentation: no row;
- a doctest session stays in a docstring target only when the shown code contains its
  outputs; an output the code does not show (`>>> mean([1, 2, 3, 4])` / `2.5`) is the answer
  of a run the model never saw, so the session (its setup lines too) is cut.
A target cut down to too few words gives no row either; each skip is counted by its reason.
"""

from __future__ import annotations

import doctest
import re
from dataclasses import dataclass

# Sources whose words describe this function (and the target each gives).
OWN_WORDS = {"docstring": "docstring", "comment": "docstring", "llm": "instruction"}
MIN_TARGET_CHARS = 16
# A heading that introduced the cut examples ("Examples:", "Example::", "For example,").
_EXAMPLE_HEADING = re.compile(r"^\s*(?:for\s+)?(?:examples?|usage|e\.g\.)\s*(?:::?|,|\.)?\s*$", re.IGNORECASE)
_RST_UNDERLINE = re.compile(r"^\s*([-=~^*#])\1{2,}\s*$")


@dataclass(frozen=True)
class SummaryTarget:
    text: str
    target: str  # "docstring" or "instruction"
    examples_cut: int


def _shown(want: str, code: str) -> bool:
    """Whether every line of a doctest output appears in the code as a whole token run."""
    for line in want.strip().splitlines():
        line = line.strip()
        if line and not re.search(rf"(?<![\w.]){re.escape(line)}(?![\w.])", code):
            return False
    return True


def cut_unshown_examples(doc: str, code: str) -> tuple[str, int]:
    """The docstring without the doctest sessions whose outputs `code` does not all show, and
    how many examples were cut. A session is a run of examples with nothing but blank lines
    between them: its setup lines go with the output they lead to. Sessions whose outputs
    are all shown, and the text between sessions, are kept; a heading ("Examples:", a NumPy
    "Examples" section) left with nothing under it goes too."""
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:  # malformed doctest (inconsistent indentation): not examples one can run
        return doc, 0
    lines = doc.splitlines()
    sessions: list[list[doctest.Example]] = []
    end = -1
    for ex in examples:
        between = lines[end : ex.lineno] if sessions else []
        if sessions and all(not ln.strip() or ln.strip() == ">>>" for ln in between):
            sessions[-1].append(ex)
        else:
            sessions.append([ex])
        end = ex.lineno + ex.source.count("\n") + ex.want.count("\n")
    dropped: set[int] = set()
    headings: set[int] = set()
    cut = 0
    for session in sessions:
        if all(not ex.want or _shown(ex.want, code) for ex in session):
            continue
        cut += len(session)
        last = session[-1]
        stop = last.lineno + last.source.count("\n") + last.want.count("\n")
        while stop < len(lines) and lines[stop].strip() == ">>>":  # a bare prompt ends the session
            stop += 1
        dropped.update(range(session[0].lineno, stop))
        above = session[0].lineno - 1
        while above >= 0 and (above in dropped or not lines[above].strip()):
            above -= 1
        if above > 0 and _RST_UNDERLINE.match(lines[above]):
            above -= 1
        if above >= 0 and _EXAMPLE_HEADING.match(lines[above]):
            headings.add(above)
    if not cut:
        return doc, 0
    for head in headings:
        if _empty_section(lines, dropped, head):
            dropped.add(head)
            if head + 1 < len(lines) and _RST_UNDERLINE.match(lines[head + 1]):
                dropped.add(head + 1)
    text = "\n".join(line.rstrip() for i, line in enumerate(lines) if i not in dropped)
    return re.sub(r"\n{3,}", "\n\n", text).strip(), cut


def _empty_section(lines: list[str], dropped: set[int], head: int) -> bool:
    """Whether nothing that is left belongs under the heading at line `head`."""
    underlined = head + 1 < len(lines) and bool(_RST_UNDERLINE.match(lines[head + 1]))
    indent = len(lines[head]) - len(lines[head].lstrip())
    rest = [
        i for i in range(head + (2 if underlined else 1), len(lines)) if i not in dropped and lines[i].strip()
    ]
    if not rest:
        return True
    nxt = rest[0]
    if underlined:  # a NumPy section: empty when the next line starts the next section
        return nxt + 1 < len(lines) and bool(_RST_UNDERLINE.match(lines[nxt + 1]))
    return len(lines[nxt]) - len(lines[nxt].lstrip()) <= indent


def summary_target(
    source: str,
    docstring: str | None,
    comment: str | None,
    instruction: str,
    code: str,
    own_words: bool = True,
) -> SummaryTarget | str:
    """The target of a summary row, or the reason there is none (a metric name's suffix).
    `own_words` off is the old rule: a docstring row's whole docstring, else its instruction,
    except example calls (the benchmark baseline, `exercises.summary_own_words`)."""
    if not own_words:
        if source == "examples":
            return f"not_own_words:{source}"
        if source == "docstring" and (docstring or "").strip():
            return SummaryTarget((docstring or "").strip(), "docstring", 0)
        return SummaryTarget(instruction.strip(), "instruction", 0)
    target = OWN_WORDS.get(source)
    if target is None:
        return f"not_own_words:{source}"
    if source == "llm":
        text, cut = instruction.strip(), 0
    else:
        words = (docstring if source == "docstring" else comment) or ""
        text, cut = cut_unshown_examples(words.strip(), code)
    if len(text) < MIN_TARGET_CHARS:
        return "examples_only" if cut else "too_short"
    return SummaryTarget(text, target, cut)
