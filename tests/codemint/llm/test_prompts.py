"""Prompt templates: every one renders, versions are stable and change with the text, the
fixed instructions come first and the code last."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemint.llm import prompts

STRATEGY_PROMPTS = {
    "summarize", "self_evaluate", "propose_inputs", "input_generator", "regenerate", "judge", "realistic_bug",
    "kill_mutants", "translate_js",
}  # fmt: skip


def test_every_strategy_prompt_exists() -> None:
    assert set(prompts.names()) == STRATEGY_PROMPTS


@pytest.mark.parametrize("name", sorted(STRATEGY_PROMPTS))
def test_render_puts_fixed_instructions_first(name: str) -> None:
    template = prompts.load(name)
    values = {var: f"<{var}>" for var in template.variables}
    messages = prompts.render(name, **values)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "{{" not in messages[0]["content"] and "<" not in messages[0]["content"].replace("<=", "")
    assert messages[0]["content"] == prompts.system_text(name)
    user = messages[1]["content"]
    assert all(f"<{var}>" in user for var in template.variables)
    # kill_mutants: the code, then the mutants' diffs against it
    last = next(v for v in ("mutants", "code", "instruction") if v in template.variables)
    tail = user.rstrip().removesuffix("```").rstrip()
    assert tail.endswith(f"<{last}>")  # the long variable part goes last


def test_values_are_not_expanded_twice() -> None:
    messages = prompts.render("summarize", entry_point="f", code="x = '{{entry_point}}'")
    assert "x = '{{entry_point}}'" in messages[1]["content"]


def test_missing_or_unknown_variables_are_errors() -> None:
    with pytest.raises(ValueError, match="missing variables \\['code'\\]"):
        prompts.render("summarize", entry_point="f")
    with pytest.raises(ValueError, match="unknown \\['typo'\\]"):
        prompts.render("summarize", entry_point="f", code="", typo=1)
    with pytest.raises(KeyError, match="no prompt named"):
        prompts.render("nope")


def test_version_names_number_and_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = prompts.version("judge")
    assert version.startswith("judge@v1-") and version == prompts.version("judge")
    original = (prompts.PROMPT_DIR / "judge.txt").read_text()
    (tmp_path / "judge.txt").write_text(original.replace("strict reviewer", "careful reviewer"))
    monkeypatch.setattr(prompts, "PROMPT_DIR", tmp_path)
    prompts.load.cache_clear()
    try:
        edited = prompts.version("judge")
    finally:
        monkeypatch.undo()
        prompts.load.cache_clear()
    assert edited.startswith("judge@v1-") and edited != version
    assert prompts.version("judge") == version
