"""The strategies of a MigrationPlan, one module each; ``strategy_of`` picks the one a spec names."""

from __future__ import annotations

from conductor_operator.api.migration import MigrationPlanSpec
from conductor_operator.domain.migrations.strategies.base import DryRun, Strategy, mover_for
from conductor_operator.domain.migrations.strategies.drain import Drain
from conductor_operator.domain.migrations.strategies.parallel import Parallel
from conductor_operator.domain.migrations.strategies.upgrade_waves import UpgradeWaves

__all__ = ["Drain", "DryRun", "Parallel", "Strategy", "UpgradeWaves", "moves_executions", "mover_for",
           "strategy_of"]


def strategy_of(spec: MigrationPlanSpec) -> Strategy:
    """The strategy spec.strategy names (exactly one is set)."""
    chosen = spec.strategy
    if chosen.upgrade_waves:
        return UpgradeWaves(chosen.upgrade_waves)
    if chosen.drain:
        return Drain(chosen.drain)
    if chosen.parallel:
        return Parallel(chosen.parallel)
    return Strategy()


def moves_executions(spec: MigrationPlanSpec) -> bool:
    """Whether the plan may move running executions: upgradeWaves, or a drain that moves what remains."""
    return strategy_of(spec).moves_executions
