"""What a training-exercise kind is: the rows derive makes from a verified row, and how export
writes them.

An exercise kind (generation, summarization, repair, translation) is one module under
`tasks/derive/`, a subclass of `ExerciseKind` listed in `tasks/derive/registry.py`. The
derive stage and the export loop over the registry, so a new kind touches its own module and
the registry only (docs/exercise-kinds.md walks through one).

The base lives in the core so that export's writers (`codemint/curation/exercise_export.py`) can
take kinds as parameters without importing the stage packages above them.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import pyarrow as pa

from codemint.records import ExerciseRow, Verified, content_id
from codemint.settings import ExercisesSettings, PipelineSettings

T = TypeVar("T")


class DeriveContext(Protocol):
    """What a kind may use of the derive stage running it."""

    settings: PipelineSettings
    metrics: Counter[str]

    @property
    def cfg(self) -> ExercisesSettings: ...

    def call_llm(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """`work(client)` with the run's LLM request cache; usage lands in the stage's metrics
        (`codemint/llm/stage.py`)."""
        ...


def exercise_row(
    rec: Verified, kind: str, prompt: str, response: str, key: str = "", **extra: Any
) -> ExerciseRow:
    """The one way to build a row of any kind: the verified row's fields, the kind, its own id
    (`key` tells apart several rows of one kind per function), the two turns and the details."""
    return ExerciseRow(
        **rec.model_dump(),
        exercise=kind,
        exercise_id=content_id(f"{kind}:{rec.id}:{key}"),
        prompt=prompt,
        response=response,
        **extra,
    )


class ExerciseKind(abc.ABC):
    """One kind of training row: how derive makes it and how export writes it."""

    name: ClassVar[str]
    # Columns of the kind's own dataset config; None for a kind whose rows go to configs
    # written elsewhere (generation: messages, alpaca, weak, examples).
    schema: ClassVar[pa.Schema | None] = None
    # Whether a reward from the row's tests can score it: its rows are also RL rows.
    rl: ClassVar[bool] = False

    @abc.abstractmethod
    def derive(self, ctx: DeriveContext, records: Sequence[Verified]) -> dict[str, list[ExerciseRow]]:
        """Rows per verified row id (a row with none is absent, counted in `ctx.metrics`)."""

    def llm_prompts(self, cfg: ExercisesSettings) -> list[str]:
        """The LLM prompts this kind sends as configured (none: it does not use the LLM)."""
        return []

    def fingerprint(self, settings: PipelineSettings) -> list[Any]:
        """Cache-key inputs besides the code and the derive settings (e.g. the sandbox image)."""
        return []

    def record(self, row: ExerciseRow) -> dict[str, Any]:
        """The row of the kind's own config (kinds with a `schema`)."""
        raise NotImplementedError(f"{self.name} rows have no config of their own")

    def exported(self, row: ExerciseRow) -> bool:
        """Whether the row is written to the kind's config (some are withheld, counted)."""
        return True

    def rl_row(self, row: ExerciseRow) -> bool:
        """Whether the row is an RL row."""
        return self.rl

    def rl_prompt(self, row: ExerciseRow) -> str:
        """The RL prompt: the user turn unless the kind says otherwise."""
        return row.prompt
