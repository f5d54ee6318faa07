"""upgradeWaves: once the target is registered, move running executions onto it in waves (a canary first),
with a health gate after each wave; what is left then drains."""

from __future__ import annotations

from conductor_operator.api.migration import MigrationPlanStatus
from conductor_operator.api.migration import UpgradeWaves as UpgradeWavesSpec
from conductor_operator.domain.migrations.strategies.base import DryRun, Strategy, drain_wait_line
from conductor_operator.domain.waves import Wave, waves_of


class UpgradeWaves(Strategy):
    name = "upgradeWaves"
    moves_executions = True

    def __init__(self, spec: UpgradeWavesSpec):
        self.spec = spec
        self.mover_settings = spec
        self.health_gate = spec.health_gate
        self.rolls_back_on_gate_failure = spec.on_gate_failure == "Rollback"

    def moves_after_registration(self, status: MigrationPlanStatus) -> bool:
        return True

    def waves(self) -> list[Wave]:
        return waves_of(self.spec)

    def planned_after_release(self, dry: DryRun) -> list[str]:
        mover, gate, waves = self.mover(dry.flavor), self.health_gate, self.waves()
        planned = []
        for wave in waves:
            size = f"{wave.count} execution(s)" if wave.count else f"up to {wave.percent}% of them"
            pause = f", then wait {wave.pause}" if wave.pause and wave is not waves[-1] else ""
            checks = f", and run {', '.join(g.name for g in gate.workflows)}" if gate.workflows else ""
            planned.append(f"{wave.label}: move {size} with {mover}, then watch them for {gate.window} "
                           f"(at most {gate.max_failure_percent}% may fail){checks}{pause}")
        return [*planned, drain_wait_line(dry)]
