"""Realistic bugs for repair rows: the LLM rewrites a correct function with one bug of a kind
programmers make (off-by-one, wrong condition, missing case, ...). The derive stage keeps a
bug only under the rule it applies to mutants: some test of the row must catch it."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codemint import safe_ast
from codemint.llm import errors, prompts
from codemint.llm.client import LLMClient
from codemint.llm.codetext import extract_function_code
from codemint.llm.errors import LLMError
from codemint.llm.fitting import fit_prompt
from codemint.llm.runtime import per_item
from codemint.llm.strategies import LLMResult, usable_choices
from codemint.records import Verified
from codemint.settings import ExercisesSettings

PROMPTS = ("realistic_bug",)
BUG_KINDS = ("off_by_one", "wrong_condition", "missing_case", "wrong_operator", "wrong_variable")
_BUG_LINE = re.compile(r"^\W*Bug\W*:\s*([A-Za-z_ -]+?)\s*:\s*(.+?)\s*$", re.MULTILINE)
UNCHANGED = "llm_unchanged_code"  # the reply gave the original back


@dataclass(frozen=True)
class LLMBug:
    kind: str  # one of BUG_KINDS, or "other" when the reply named none of them
    description: str
    code: str


def _same_program(a: str, b: str) -> bool:
    try:
        return ast.dump(safe_ast.parse(a)) == ast.dump(safe_ast.parse(b))
    except SyntaxError:
        return False


def parse_bug(text: str, entry_point: str, original: str) -> LLMBug | str:
    """The bug in one reply, or the reason the reply has none."""
    code = extract_function_code(text, entry_point)
    if code is None:
        return errors.MISSING_ENTRY_POINT
    if _same_program(code, original):
        return UNCHANGED
    match = _BUG_LINE.search(text)
    kind = match.group(1).strip().lower().replace(" ", "_").replace("-", "_") if match else ""
    description = match.group(2) if match else ""
    return LLMBug(kind if kind in BUG_KINDS else "other", description, code)


async def bugs_for(client: LLMClient, rec: Verified, n: int) -> LLMResult[list[LLMBug]]:
    name = PROMPTS[0]
    # The reply must hold the whole code again, so the code is never cut to fit: a prompt
    # too long for the context is dropped (llm_prompt_too_long).
    messages = await fit_prompt(
        client,
        name,
        client.settings.max_tokens,
        cut=None,
        entry_point=rec.entry_point,
        code=rec.original_code.strip("\n"),
    )
    completion = await client.chat(
        messages,
        stage=name,
        prompt_version=prompts.version(name),
        n=n,
    )
    found: list[LLMBug] = []
    dropped: list[str] = []
    for text in completion.texts:
        bug = parse_bug(text, rec.entry_point, rec.original_code)
        if isinstance(bug, str):
            dropped.append(bug)
        elif all(bug.code != b.code for b in found):
            found.append(bug)
    return usable_choices(client, name, completion, found, dropped, "bug")


async def realistic_bugs(
    client: LLMClient, cfg: ExercisesSettings, records: Sequence[Verified]
) -> list[LLMResult[list[LLMBug]] | LLMError]:
    """Per record, up to `cfg.llm_bugs` distinct buggy versions, or the reason there are none."""
    return await per_item(records, lambda rec: bugs_for(client, rec, max(1, cfg.llm_bugs)))
