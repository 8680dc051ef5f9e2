"""MuTAP against a real vLLM server (tiny local model): the surviving mutants reach the model
as diffs, its inputs are run on the original and every mutant, and only useful ones stay."""

from __future__ import annotations

from pathlib import Path

from factories import verified
from vllm_server import MODEL_NAME, VLLMServer

from codemint import mutants
from codemint.llm import errors, prompts
from codemint.records import Instructed, WithInputs
from codemint.settings import LLMSettings, PipelineSettings
from codemint.tasks.testgen.stage import Testgen

# Few parameters and a branch the offline inputs rarely reach: mutants of it survive them.
CODE = '''
def grade(score: int) -> str:
    """Letter grade of a score."""
    if score >= 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"
'''

MODEL_FAILURES = {
    errors.MALFORMED_JSON, errors.TRUNCATED, errors.EMPTY, errors.BAD_ARITY, errors.BAD_INPUT,
    errors.REFUSED,
}  # fmt: skip


def test_surviving_mutants_reach_the_model_and_its_inputs_are_judged_by_running(
    vllm_server: VLLMServer, tmp_path: Path
) -> None:
    settings = PipelineSettings(runs_dir=tmp_path / "runs")
    settings.sandbox.backend = "local"
    settings.sandbox.workers = 2
    settings.llm = LLMSettings(
        base_url=vllm_server.base_url, model=MODEL_NAME, max_tokens=160, timeout_s=120, max_retries=1
    )
    # Offline proposals off but for one value: most mutants survive, so the model is asked.
    settings.testgen.strategies = ["feedback", "llm_mutants"]  # type: ignore[assignment]
    settings.testgen.feedback_pool = 2
    settings.testgen.feedback_type_hypotheses = 1
    settings.testgen.feedback_targeted = 0  # the offline round aimed at survivors would kill them
    row = verified(CODE)
    rec = Instructed(**{k: v for k, v in row.model_dump().items() if k in Instructed.model_fields})
    stage = Testgen(settings)
    stage.run_dir = tmp_path / "runs" / "r"
    stage.run_dir.mkdir(parents=True)
    before = vllm_server.requests_total()
    (out,) = list(stage.run([rec]))
    assert isinstance(out, WithInputs)
    assert stage.metrics["llm_mutants_asked"] == 1
    assert vllm_server.requests_total() > before  # the model was really asked
    failed = [k for k in stage.metrics if k.startswith("llm_mutants_failed:")]
    assert all(k.split(":", 1)[1] in MODEL_FAILURES for k in failed), failed
    if not failed:
        assert stage.metrics["llm_mutants_inputs"] >= 1  # its inputs were run
    # The row names the prompt that wrote part of its inputs (provenance).
    assert out.llm is not None
    assert any(use.prompt_version == prompts.version("kill_mutants") for use in out.llm.prompts)
    kept_llm = [t for t, src in zip(out.test_inputs, out.input_sources, strict=True) if src == "llm_mutants"]
    assert len(kept_llm) <= stage.metrics["llm_mutants_inputs"]


def test_the_prompt_shows_the_code_and_the_mutants_as_diffs() -> None:
    code = verified(CODE).original_code
    found = mutants.generate(code, "grade", max_mutants=4)
    diffs = [m.diff(code) for m in found[:2]]
    shown = "\n\n".join(f"Mutant {i + 1}:\n```diff\n{d.strip()}\n```" for i, d in enumerate(diffs))
    messages = prompts.render("kill_mutants", k=6, entry_point="grade", signature="def grade(score)",
                              code=code, mutants=shown)  # fmt: skip
    user = messages[1]["content"]
    assert "def grade(score: int) -> str:" in user and "Mutant 2:" in user
    assert user.index("def grade") < user.index("Mutant 1:")  # the code, then its mutants
    assert "\n-    if score >= 90:" in user or "\n-" in user
