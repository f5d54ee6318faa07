"""parallel: both versions stay; new executions start on the target, old ones finish where they are, and the
drained old versions may be retired."""

from __future__ import annotations

from conductor_operator.api.migration import Parallel as ParallelSpec
from conductor_operator.domain.migrations.model import versions_text
from conductor_operator.domain.migrations.strategies.base import DryRun, Strategy, drain_wait_line


class Parallel(Strategy):
    name = "parallel"

    def __init__(self, spec: ParallelSpec):
        self.retires = bool(spec.retire_old_versions)
        self.retire_after = spec.retire_after

    def planned_after_release(self, dry: DryRun) -> list[str]:
        planned = [drain_wait_line(dry)]
        if self.retires and dry.from_versions:
            planned.append(f"retire {versions_text(dry.from_versions)} from Conductor {self.retire_after} after "
                           f"the drain")
        return planned
