"""What a strategy is to the planner: one object saying which steps the plan runs (drain before the cutover,
move executions in waves, retire the old versions), so "is this waves or drain" is asked here and nowhere else.
Each strategy is a module of its own (parallel, drain, upgrade_waves); they share only this one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conductor_operator.api.migration import HealthGate, MigrationPlanStatus, MoverSettings
from conductor_operator.domain.conditions import parse_time
from conductor_operator.domain.migrations.model import versions_text
from conductor_operator.domain.waves import ORKES_UPGRADE, TERMINATE_RESTART, Wave, waves_of


def mover_for(settings: MoverSettings, flavor: str | None) -> str:
    """The mover a plan uses: the one it names, or for Auto the one the server has."""
    if settings.mover != "Auto":
        return settings.mover
    return ORKES_UPGRADE if flavor == "Orkes" else TERMINATE_RESTART


@dataclass(frozen=True)
class DryRun:
    """What a dry run's plannedActions are written from."""

    workflow_name: str
    from_versions: list[int]
    running: int | str
    """The old versions' running executions (``an unknown number of`` when not counted)."""
    flavor: str | None


class Strategy:
    """parallel, drain or upgradeWaves: the steps a plan runs. The defaults are parallel's without retirement."""

    name = "parallel"
    drains_before_cutover = False
    """Gates passed, the old versions drain before the target is released (drain)."""
    pauses_triggers = False
    """Event handlers and schedules are paused while draining before the cutover."""
    deadline: str | None = None
    """How long a drain before the cutover waits, and what it does then (Wait, Fail, MoveRemaining)."""
    on_deadline: str | None = None
    retires = False
    """Drained old versions are deleted from Conductor (parallel.retireOldVersions)."""
    retire_after: str | None = None
    moves_executions = False
    """It may move running executions onto the target (upgradeWaves, or drain's MoveRemaining)."""
    mover_settings: MoverSettings | None = None
    health_gate: HealthGate | None = None
    rolls_back_on_gate_failure = False

    def moves_after_registration(self, status: MigrationPlanStatus) -> bool:
        """Whether the plan moves executions once the target is registered (else it drains)."""
        return False

    def waves(self) -> list[Wave]:
        return waves_of(None)

    def holds_triggers(self, status: MigrationPlanStatus) -> bool:
        """Triggers stay paused while a drain waits, and until the target it releases is registered."""
        return False

    def mover(self, flavor: str | None) -> str:
        return mover_for(self.mover_settings, flavor)

    def planned_before_release(self, dry: DryRun) -> list[str]:
        """A dry run's lines for what happens between the gates and the release of the target."""
        return []

    def planned_after_release(self, dry: DryRun) -> list[str]:
        """A dry run's lines for what happens once the target is registered."""
        return []


def drain_wait_line(dry: DryRun) -> str:
    """A dry run's line for the drain after the cutover."""
    return (f"wait until {versions_text(dry.from_versions)} drain ({dry.running} execution(s) running now)"
            if dry.from_versions else "nothing to drain: no older version is registered")


def deadline_of(status: MigrationPlanStatus) -> datetime | None:
    return parse_time(status.drain.deadline) if status.drain else None
