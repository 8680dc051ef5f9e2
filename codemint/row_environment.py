"""Where a row's tests were recorded, so the reward runs completions under the same conditions.

An exported rl row's ground truth carries `environment`: the sandbox image its original ran
in (as recorded, `tag@sha256:...`), the requirement set that image was derived for (the
exact installed versions of the row's package and its dependencies; empty for stdlib and
file rows) and what of the row's module a job must not reach (`hide`), all as execute
recorded them on the row. The reward builds the derived image from the requirement set when
it is missing (codemint/reward.py, sandbox/images.py) and hides the original as execute and
verify did.
"""

from __future__ import annotations

from pydantic import BaseModel

from codemint.records import Executed, HiddenOriginal


class RowEnvironment(BaseModel):
    image: str | None = None  # what the original ran in, as recorded on the row
    requirements: list[str] = []  # `name==version`: the derived image's requirement set
    hide: HiddenOriginal | None = None


def row_environment(row: Executed) -> RowEnvironment:
    """The environment execute recorded on a row (see the module docstring)."""
    return RowEnvironment(image=row.sandbox_image, requirements=row.environment_requirements, hide=row.hidden)
