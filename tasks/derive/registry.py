"""The exercise kinds derive makes and export writes, in the order a function's rows come.

Adding a kind: a module beside this one with an `ExerciseKind` subclass (its rows, its
config's schema and record, its LLM prompts and cache-key inputs; see `codemint/exercise.py`
and docs/exercise-kinds.md), and one line here.
"""

from __future__ import annotations

from collections.abc import Sequence

from codemint.exercise import ExerciseKind
from codemint.tasks.derive.generation import Generation
from codemint.tasks.derive.repair import Repair
from codemint.tasks.derive.summarization import Summarization
from codemint.tasks.derive.translation import Translation

KINDS: dict[str, ExerciseKind] = {
    kind.name: kind for kind in (Generation(), Summarization(), Repair(), Translation())
}


def configured(names: Sequence[str]) -> list[ExerciseKind]:
    """The kinds named, in registry order (how a function's rows are ordered)."""
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise ValueError(f"unknown exercise kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    return [kind for name, kind in KINDS.items() if name in names]
