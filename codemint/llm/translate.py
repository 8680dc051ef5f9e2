"""JavaScript translations of verified functions: the LLM rewrites the Python original in
JavaScript; the derive stage keeps a translation only if it passes the row's tests in the
sandbox (`tasks/derive/translation.py`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from codemint.llm import errors, prompts
from codemint.llm.client import LLMClient
from codemint.llm.codetext import labelled_blocks
from codemint.llm.errors import LLMError
from codemint.llm.fitting import fit_prompt
from codemint.llm.runtime import per_item
from codemint.llm.strategies import LLMResult, usable_choices
from codemint.records import Verified
from codemint.settings import ExercisesSettings

PROMPTS = ("translate_js",)
_JS_LANGS = ("javascript", "js", "node", "nodejs", "")
_EXPORT = re.compile(
    r"^(\s*)export\s+(?:default\s+)?(?=(?:async\s+)?function\b|const\b|let\b|var\b)", re.MULTILINE
)
_MODULE_EXPORTS = re.compile(r"^\s*module\.exports\b.*$", re.MULTILINE)


def defines(code: str, name: str) -> bool:
    """Whether the code declares `name` as a function or binds it at top level."""
    n = re.escape(name)
    declared = rf"(?:^|[\s;])(?:async\s+)?function\s*\*?\s*{n}\s*\("
    bound = rf"\b(?:const|let|var)\s+{n}\s*="
    return re.search(f"{declared}|{bound}", code) is not None


def extract_js(text: str, entry_point: str) -> str | None:
    """The first JavaScript (or unlabelled) code block that defines `entry_point`, with ES
    module `export`s and CommonJS `module.exports` lines taken out (the driver calls it)."""
    blocks = [body for lang, body in labelled_blocks(text) if lang in _JS_LANGS]
    for block in blocks or [text]:
        code = _MODULE_EXPORTS.sub("", _EXPORT.sub(r"\1", block)).strip("\n")
        if defines(code, entry_point):
            return code + "\n"
    return None


async def translations_for(client: LLMClient, rec: Verified, n: int) -> LLMResult[list[str]]:
    name = PROMPTS[0]
    # The reply must hold the whole function again: the code is never cut to fit.
    messages = await fit_prompt(
        client, name, client.settings.max_tokens, cut=None,
        entry_point=rec.entry_point, code=rec.original_code.strip("\n"),
    )  # fmt: skip
    completion = await client.chat(messages, stage=name, prompt_version=prompts.version(name), n=n)
    found: list[str] = []
    dropped: list[str] = []
    for text in completion.texts:
        code = extract_js(text, rec.entry_point)
        if code is None:
            dropped.append(errors.MISSING_ENTRY_POINT if labelled_blocks(text) else errors.NO_CODE)
        elif code not in found:
            found.append(code)
    return usable_choices(client, name, completion, found, dropped, "translation")


async def javascript_translations(
    client: LLMClient, cfg: ExercisesSettings, records: Sequence[Verified]
) -> list[LLMResult[list[str]] | LLMError]:
    """Per record, up to `cfg.translation_candidates` distinct translations, or why none."""
    return await per_item(records, lambda rec: translations_for(client, rec, cfg.translation_candidates))
