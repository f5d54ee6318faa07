"""drain: pause what starts old executions, wait for them to finish, then cut over and resume; at the deadline
wait, fail, or move what remains (MoveRemaining, in one wave)."""

from __future__ import annotations

from conductor_operator.api.migration import Drain as DrainSpec
from conductor_operator.api.migration import MigrationPlanStatus
from conductor_operator.domain.conditions import parse_time
from conductor_operator.domain.migrations.model import Phase, versions_text
from conductor_operator.domain.migrations.strategies.base import DryRun, Strategy, deadline_of


class Drain(Strategy):
    name = "drain"
    drains_before_cutover = True

    def __init__(self, spec: DrainSpec):
        self.deadline, self.on_deadline = spec.deadline, spec.on_deadline
        self.pauses_triggers = bool(spec.pause_triggers)
        self.moves_executions = spec.on_deadline == "MoveRemaining"
        self.mover_settings = spec

    def moves_after_registration(self, status: MigrationPlanStatus) -> bool:
        """MoveRemaining moves what still runs when the deadline released the target (not a promote, not a
        drain that ended)."""
        deadline = deadline_of(status)
        released_late = deadline is not None and parse_time(status.cutover_at) >= deadline
        return bool(self.on_deadline == "MoveRemaining" and released_late and not status.drain.drained_at)

    def holds_triggers(self, status: MigrationPlanStatus) -> bool:
        return status.registered_at is None and status.phase in (Phase.DRAINING, Phase.CUTTING_OVER)

    def planned_before_release(self, dry: DryRun) -> list[str]:
        planned = []
        if self.pauses_triggers:
            planned.append(f"pause the event handlers and schedules that start {dry.workflow_name}")
        planned.append(f"wait up to {self.deadline} until {versions_text(dry.from_versions)} drain "
                       f"({dry.running} execution(s) running now); at the deadline: {self.on_deadline}")
        return planned

    def planned_after_release(self, dry: DryRun) -> list[str]:
        return ["resume the paused triggers once it is registered"] if self.pauses_triggers else []
