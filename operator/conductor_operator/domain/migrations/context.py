"""The state one step of the planner shares between its rooms (gates, drain, waves, rollback, requests,
retirement, status): the spec, the recorded status it updates, what was observed, the clock, and what the step
collects (actions, events, warnings). Every phase change goes through ``enter``, which asks the phase table."""

from __future__ import annotations

from datetime import datetime

from conductor_operator.api.migration import MigrationPlanSpec, MigrationPlanStatus
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.model import TERMINAL, Phase, PlanAction, PlanObservation
from conductor_operator.domain.migrations.phases import On, UnlistedTransition, next_phase
from conductor_operator.domain.migrations.strategies import Strategy, strategy_of


class StepState:
    def __init__(self, spec: MigrationPlanSpec, status: MigrationPlanStatus, observed: PlanObservation,
                 now: datetime, generation: int | None):
        self.spec, self.status, self.observed, self.now = spec, status, observed, now
        self.generation = generation
        self.strategy: Strategy = strategy_of(spec)
        self.actions: list[PlanAction] = []
        self.events: list[Event] = []
        self.warnings: list[tuple[str, str]] = []
        self.from_versions: list[int] = []
        self.created = False
        """The plan had no phase when this step began: requests present at its creation are not acted on."""
        self.promoted = False
        """A promote request was accepted in this step: the pause or the failed gate it names is passed."""
        self.had_ended = status.ended_at is not None and status.phase in TERMINAL
        """The plan had ended before this step (a change of its spec woke it)."""
        self.transitions: list[tuple[Phase | None, On, Phase | None]] = []
        """The phase changes of this step, in order (what the phase table allowed)."""

    def enter(self, on: On) -> Phase | None:
        """Move to the phase the table gives for the current phase and ``on``; an unlisted move raises."""
        was = self.status.phase
        try:
            was = Phase(was) if was is not None else None
        except ValueError:  # a status written by another version of the operator (a downgrade), or by hand
            raise UnlistedTransition(f"the recorded phase {was!r} is not one this operator knows") from None
        phase = next_phase(was, on)
        self.status.phase = phase
        self.transitions.append((was, on, phase))
        return phase

    def _mover(self) -> str:
        return self.strategy.mover(self.observed.flavor)
