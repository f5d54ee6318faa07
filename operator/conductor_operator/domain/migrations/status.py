"""Status composition: how a step ends (progress, wait, stall, pause, failed, completed, ended), the phase and
message it writes, the conditions (kstatus, GatesPassed, CutOver, Drained, Warning) and the record of its end."""

from __future__ import annotations

from datetime import datetime, timedelta

from conductor_operator.api.migration import MigrationPlanStatus
from conductor_operator.domain.conditions import (
    FALSE,
    STALLED,
    TRUE,
    UNKNOWN,
    Condition,
    format_time,
    kstatus,
    parse_time,
)
from conductor_operator.domain.definitions import state_event
from conductor_operator.domain.migrations.context import StepState
from conductor_operator.domain.migrations.model import (
    CUT_OVER,
    DRAINED,
    GATES_PASSED,
    REASON_GATE_FAILED,
    REASON_GATES_PASSED,
    REASON_GATES_PENDING,
    REASON_NO_WARNINGS,
    REASON_PAUSED,
    TERMINAL,
    WARNING,
    ActionKind,
    MigrationStep,
    Phase,
    PlanAction,
    gate_text,
    versions_text,
)
from conductor_operator.domain.migrations.phases import On


def counts_due(status: MigrationPlanStatus, interval: timedelta, now: datetime) -> bool:
    """Whether running executions should be counted now: every drainDetection.interval, at every step
    while retiring (a version is deleted only on a fresh count), once more as the plan ends (its last counts
    are as of its end), never after."""
    if status.phase in TERMINAL:
        return status.ended_at is None
    if status.phase == Phase.RETIRING:
        return True
    read_at = parse_time(status.running.read_at) if status.running else None
    return read_at is None or now - read_at >= interval


def at_rest(status: MigrationPlanStatus, generation: int | None) -> bool:
    """Whether a reconcile of the plan has nothing to do: it ended (``ended_at``) and its spec is the one it
    ended with (a new spec starts a failed plan over, and a request may still roll back an aborted one). Then it
    reads nothing, neither Conductor nor Kubernetes, and its status stays the record of how it ended: the
    versions registered since and the executions started since are no longer its business."""
    return status.ended_at is not None and status.phase in TERMINAL and status.observed_generation == generation


def standing_warnings(status: MigrationPlanStatus) -> list[tuple[str, str]]:
    """The verdict's standing warnings, for the Warning condition after the plan's own warnings."""
    warnings = status.verdict.standing_warnings if status.verdict else []
    return [(w.reason, f"standing warning (not in the verdict): {w.message}") for w in warnings]


class Endings(StepState):
    """How a step ends: each sets the phase through the table and composes the conditions."""

    def _step(self, kstatus_conditions: list[Condition], *, gates: tuple[str, str, str] | None = None
              ) -> MigrationStep:
        status = self.status
        status.observed_generation = self.generation
        if status.phase != Phase.DRY_RUN:
            status.planned_actions = []
        if gates is None:
            gates = self._gates_condition()
        if not self._holds_triggers():
            self.actions = [a for a in self.actions if a.kind is not ActionKind.PAUSE_TRIGGERS]
            if any(t.state == "Paused" for t in status.triggers):
                self.actions.append(PlanAction(ActionKind.RESUME_TRIGGERS))
        self._record_end()
        warnings = list(dict.fromkeys([*self.warnings, *standing_warnings(status)]))
        cut = status.registered_at is not None
        drained_at = status.drain.drained_at if status.drain else None
        conditions = [
            *kstatus_conditions,
            Condition(GATES_PASSED, *gates),
            Condition(CUT_OVER, TRUE if cut else FALSE, "TargetRegistered" if cut else "NotCutOver",
                      f"the target is registered since {status.registered_at}" if cut else ""),
            Condition(DRAINED, TRUE if drained_at else FALSE, "OldVersionsDrained" if drained_at else "NotDrained",
                      f"drained at {drained_at}" if drained_at else ""),
            Condition(WARNING, TRUE if warnings else FALSE, warnings[0][0] if warnings else REASON_NO_WARNINGS,
                      "; ".join(text for _, text in warnings)),
        ]
        if self.had_ended and status.ended_at and (kept := status.condition(WARNING)):
            conditions[-1] = Condition(WARNING, kept.status, kept.reason, kept.message)  # the record of its end
        return MigrationStep(status, conditions, self.actions, self.events, self.transitions)

    def _record_end(self) -> None:
        """A plan in a terminal phase has ended once nothing is left to do (triggers resumed, what it started
        stopped) and it has counted its executions a last time: ``ended_at`` records when, and its counts and
        message stand as of then (``at_rest``). Leaving a terminal phase (a failed plan starting over, an aborted
        one rolled back) clears it."""
        status = self.status
        if status.phase not in TERMINAL:
            status.ended_at = None
            return
        if status.ended_at is None and not self.actions and self.observed.counts is not None:
            status.ended_at = format_time(self.now)
        if status.ended_at:
            note = f"final counts as of {status.running.read_at if status.running else status.ended_at}"
            if note not in (status.message or ""):
                status.message = f"{status.message}; {note}" if status.message else note

    def _gates_condition(self) -> tuple[str, str, str]:
        status = self.status
        if status.cutover_at:
            return TRUE, REASON_GATES_PASSED, f"passed at {status.cutover_at}"
        if not status.gates:
            return UNKNOWN, REASON_GATES_PENDING, "not checked yet"
        failed = [g for g in status.gates if not g.passed]
        if not failed:
            return TRUE, REASON_GATES_PASSED, "every gate passed"
        return FALSE, failed[0].reason, gate_text(failed)

    def _holds_triggers(self) -> bool:
        return self.strategy.holds_triggers(self.status)

    def _accepted(self) -> bool:
        return (self.spec.healthy_when == "Accepted" and self.status.registered_at is not None
                and self.status.phase in (Phase.DRAINING, Phase.RETIRING, Phase.MOVING, Phase.RECOVERING))

    def _progress(self, on: On, message: str) -> MigrationStep:
        """Accepted (healthyWhen: Accepted, target registered) reads as done to kstatus: Ready, not
        Reconciling, so a drain of days does not hold a sync; the drain shows in message and Drained."""
        phase = self.enter(on)
        self.status.message = message
        accepted = self._accepted()
        return self._step(kstatus(accepted, phase.value, message, reconciling=not accepted))

    def _wait(self, on: On, reason: str, message: str) -> MigrationStep:
        self.enter(on)
        self.status.message = message
        return self._step(kstatus(False, reason, message, reconciling=True))

    def _ended(self) -> MigrationStep:
        """Aborted or rolled back: it stays so (an aborted plan past its cutover can still be rolled back); a new
        MigrationPlan starts again."""
        status = self.status
        if status.phase == Phase.ABORTED:
            handled = status.handled_requests.abort or status.handled_requests.rollback
            status.message = handled.result if handled else "aborted"
        return self._step(kstatus(False, str(status.phase), status.message or "", stalled=True))

    def _stall(self, on: On, reason: str, message: str) -> MigrationStep:
        """Stalled until a person acts. A plan refused before it starts (its spec, its target, its versions) says so in
        a Warning event when the stall begins; a stall later on follows an action that posted its own event."""
        was = self.status.condition(STALLED)
        already = was is not None and was.status == TRUE and was.reason == reason
        phase = self.enter(on)
        self.status.message = message
        if (phase in (Phase.PENDING, Phase.VALIDATING) and not already
                and not any(event.reason == reason for event in self.events)):
            self.events.append(state_event("Warning", reason, message))
        return self._step(kstatus(False, reason, message, stalled=True))

    def _paused(self, on: On = On.PAUSED) -> MigrationStep:
        field_name = "spec.paused" if self.spec.paused else "spec.dryRun"
        phase = self.enter(on)
        message = f"held in {phase.value} by {field_name}; nothing moves until it is false"
        self.status.message = message
        return self._step(kstatus(self._accepted(), REASON_PAUSED, message))

    def _failed(self) -> MigrationStep:
        failed = [g for g in self.status.gates if g.reason == REASON_GATE_FAILED]
        message = (f"a gate failed, nothing was cut over: {gate_text(failed)}; change the spec to try again"
                   if failed else "failed; change the spec to try again")
        self.enter(On.GATE_FAILED)
        self.status.message = message
        return self._step(kstatus(False, REASON_GATE_FAILED, message, stalled=True))

    def _completed(self) -> MigrationStep:
        status = self.status
        self.enter(On.COMPLETED)
        retired = f"; retired {versions_text(status.retired_versions)}" if status.retired_versions else ""
        status.message = f"{self.spec.workflow_name} runs on v" \
                         f"{status.verdict.to_version if status.verdict else '?'}{retired}"
        return self._step(kstatus(True, Phase.COMPLETED.value, status.message))
