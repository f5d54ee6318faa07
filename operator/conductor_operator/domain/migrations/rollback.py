"""Rollback: the old version's content registered again as the newest version (REPUBLISH), and the executions
the plan moved, that still run, moved back (MOVE_BACK, ledger first)."""

from __future__ import annotations

from conductor_operator.api.migration import RollbackStatus
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.gates import Gates
from conductor_operator.domain.migrations.model import (
    REASON_ROLLED_BACK,
    ActionKind,
    MigrationStep,
    Phase,
    PlanAction,
    TargetView,
)
from conductor_operator.domain.migrations.phases import On
from conductor_operator.domain.migrations.status import Endings
from conductor_operator.domain.waves import PENDING, RUNNING_STATES, MoveState


class Rollback(Gates, Endings):
    """Rolling back, once requested after the cutover or when a health gate fails with onGateFailure: Rollback."""

    def _begin_rollback(self, on: On) -> None:
        status = self.status
        self.enter(on)
        self._terminate_running_gates("the plan is rolling back")
        status.rollback = RollbackStatus(started_at=format_time(self.now), from_version=max(self.from_versions))
        self.events.append(Event("Warning", "RollbackStarted",
                                 f"rolling back: v{status.rollback.from_version}'s content becomes the newest "
                                 f"version again and moved executions move back"))

    def _rolling_back(self, target: TargetView | None) -> MigrationStep:
        status, observed = self.status, self.observed
        rollback = status.rollback
        if status.phase == Phase.ROLLED_BACK:
            return self._ended()
        self.enter(On.ROLLBACK_STEP)
        if rollback.version is None:
            version = max([*observed.registered_versions, status.verdict.to_version]) + 1
            self.actions.append(PlanAction(ActionKind.REPUBLISH, version=version))
            return self._wait(On.ROLLBACK_STEP, Phase.ROLLING_BACK.value,
                              f"republishing v{rollback.from_version}'s content as v{version}")
        moves = observed.moves
        if moves is None:
            return self._wait(On.ROLLBACK_STEP, Phase.ROLLING_BACK.value, "reading the ledger")
        if status.waves:
            self._count_moves(moves)
        if pending := [m for m in moves if m.state in PENDING]:
            return self._wait(On.ROLLBACK_STEP, Phase.ROLLING_BACK.value,
                              f"finishing {len(pending)} move(s) already begun")
        back = [m for m in moves if m.state is MoveState.MOVED and observed.move_states.get(m.execution_id) in
                RUNNING_STATES]
        if back:
            mover = self._mover()
            intents = tuple(m.but(MoveState.BACK_INTENT, format_time(self.now)) for m in back)
            self.actions.append(PlanAction(ActionKind.MOVE_BACK, moves=intents, mover=mover,
                                           version=rollback.version))
            return self._wait(On.ROLLBACK_STEP, Phase.ROLLING_BACK.value,
                              f"moving {len(back)} execution(s) back")
        self.enter(On.MOVED_BACK)
        left = sum(1 for m in moves if m.state is MoveState.MOVED)
        status.message = (f"rolled back: unpinned starts run v{rollback.from_version}'s content as "
                          f"v{rollback.version}; {sum(1 for m in moves if m.state is MoveState.ROLLED_BACK)} "
                          f"execution(s) moved back; v{status.verdict.to_version} stays registered for what still "
                          f"runs on it ({left} moved execution(s) had ended there)")
        self.events.append(Event("Normal", REASON_ROLLED_BACK, status.message))
        return self._ended()

