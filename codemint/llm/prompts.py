"""Versioned prompt templates, one file each in `prompt_templates/` next to this module.

A template file starts with `version: N`, then `=== system` / `=== user` sections. The
system message holds the fixed instructions and takes no variables, so every request of a
stage shares one long prefix that vLLM's prefix cache reuses; the variable part (the code)
comes last in the user message. Variables are written `{{name}}`.

`version(name)` is `name@vN-<hash of the file>`: bump N for a deliberate change; the hash
still changes the version, and so every cache key, if someone edits a file and forgets to.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PROMPT_DIR = Path(__file__).with_name("prompt_templates")

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"^=== (system|user|assistant)\s*$", re.MULTILINE)
_HEADER = re.compile(r"\Aversion:\s*(\d+)\s*\n")


@dataclass(frozen=True)
class Template:
    name: str
    number: int
    digest: str
    messages: tuple[tuple[str, str], ...]  # (role, text with {{vars}})

    @property
    def version(self) -> str:
        return f"{self.name}@v{self.number}-{self.digest}"

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(m.group(1) for _, text in self.messages for m in _VAR.finditer(text))

    def render(self, values: dict[str, object]) -> list[dict[str, str]]:
        missing = self.variables - values.keys()
        unknown = values.keys() - self.variables
        if missing or unknown:
            raise ValueError(
                f"prompt {self.name}: missing variables {sorted(missing)}, unknown {sorted(unknown)}"
            )
        # One pass, so a value that itself contains "{{x}}" (code can) is never re-expanded.
        return [
            {"role": role, "content": _VAR.sub(lambda m: str(values[m.group(1)]), text)}
            for role, text in self.messages
        ]


def names() -> list[str]:
    return sorted(path.stem for path in PROMPT_DIR.glob("*.txt"))


@functools.cache
def load(name: str) -> Template:
    path = PROMPT_DIR / f"{name}.txt"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(f"no prompt named {name!r}; known: {', '.join(names())}") from None
    header = _HEADER.match(raw)
    if header is None:
        raise ValueError(f"{path}: first line must be 'version: N'")
    body = raw[header.end() :]
    parts = _SECTION.split(body)
    # split() gives [preamble, role, text, role, text, ...]
    if parts[0].strip() or len(parts) < 3:
        raise ValueError(f"{path}: expected '=== system' / '=== user' sections")
    messages = tuple((role, text.strip("\n")) for role, text in zip(parts[1::2], parts[2::2], strict=True))
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
    return Template(name=name, number=int(header.group(1)), digest=digest, messages=messages)


def render(name: str, **values: object) -> list[dict[str, str]]:
    """Chat messages for prompt `name`, with every `{{var}}` filled (all must be given)."""
    return load(name).render(values)


def version(name: str) -> str:
    """E.g. `summarize@v1-3f2a9c01de`; goes into request cache keys and on every output row."""
    return load(name).version


def system_text(name: str) -> str:
    """The fixed system message of a prompt (it has no variables)."""
    for role, text in load(name).messages:
        if role == "system":
            return text
    raise KeyError(f"prompt {name!r} has no system message")
