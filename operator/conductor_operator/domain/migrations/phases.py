"""The phase machine of a MigrationPlan, as one table: phase x observation -> next phase, and what the planner
does then.

The planner changes ``status.phase`` only through ``next_phase``: a move the table does not list raises
``UnlistedTransition``, so the table is the single source of the phase machine, and the docs
(docs/migration-design.md, checked by a unit test) show ``table_markdown()``. A row whose next phase is its
own phase (a step that stays) documents what the planner does there; ``STAY`` keeps whatever phase the plan is
in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from conductor_operator.domain.migrations.model import Phase

NEW: Final = None
"""No phase yet: a plan never reconciled, or a failed plan starting over."""
STAY: Final = "stay"
"""The next phase is the phase the plan is in."""

Target = Phase | None | str


class On(StrEnum):
    """What a step observed that moves the plan (the second column of the table)."""

    RIVAL = "an older plan is at work on the workflow"
    SPEC_CHANGED = "what the gates check changed"
    TARGET_MISSING = "the target WorkflowDefinition is missing"
    TARGET_REFUSED = "the target names another workflow, or a version moved from"
    TARGET_UNREADABLE = "the target cannot be read"
    VALIDATION_REFUSED = "a validation check refuses the plan"
    PAUSED_BEFORE_GATES = "spec.paused, before the gates"
    DRY_RUN = "spec.dryRun, before the gates"
    GATES_PENDING = "a gate has not passed yet"
    GATE_FAILED = "a check workflow failed, or too many replays diverged"
    DRAIN_STARTED = "gates passed (drain)"
    DRAIN_WAITS = "old versions still run, or not drained yet"
    DEADLINE_FAIL = "drain deadline passed (onDeadline: Fail)"
    NOT_REGISTERED = "released; the target is not registered yet"
    REGISTERED_TO_MOVE = "target registered; executions move"
    REGISTERED_DRAINED = "target registered; already drained"
    REGISTERED = "target registered; old versions run on"
    WAVE_STEP = "a wave moves, is watched or waits"
    WAVE_STALLED = "a wave's gate failed, it selected nothing, or a higher version appeared"
    WAVES_DONE = "the last wave passed its health gate"
    HEALTH_GATE_ROLLBACK = "a health gate failed (onGateFailure: Rollback)"
    DRAINED_RETIRE = "old versions drained; retireOldVersions"
    DRAINED = "old versions drained; nothing to retire"
    RETIRE_STEP = "retiring: waiting, counting, or blocked by a pin"
    RUNNING_AGAIN = "an old version runs again"
    RETIRED = "every old version retired"
    COMPLETED = "nothing is left to do"
    PAUSED = "spec.paused (or spec.dryRun after the gates)"
    ABORT_REQUESTED = "abort requested (or rollback before the cutover)"
    ROLLBACK_REQUESTED = "rollback requested after the cutover"
    ROLLBACK_STEP = "republishing, or moving executions back"
    MOVED_BACK = "every moved execution that runs is back"
    REGISTERED_TO_RECOVER = "target registered; failed executions restart (recoverFailed)"
    WAVES_DONE_RECOVER = "the last wave passed its health gate; recoverFailed"
    RECOVER_STEP = "a recovery wave restarts, is watched or waits"
    RECOVER_STALLED = "a recovery wave's gate failed, or a higher version appeared"
    RECOVERED = "the last recovery wave passed its health gate"


P = Phase
ALL: Final = frozenset({NEW, *Phase})
PREPARING: Final = frozenset({NEW, P.PENDING, P.VALIDATING, P.GATING, P.DRY_RUN, P.DRAINING})
"""Before the gates passed. (Draining: a drain before its cutover whose spec changed starts its gates over.)"""
BEFORE_CUTOVER: Final = PREPARING | {P.FAILED, P.ABORTED}
RELEASED: Final = PREPARING | {P.CUTTING_OVER}
"""Where the cutover may begin from: released in this step (after the gates, or a drain), or cutting over."""
AFTER_CUTOVER: Final = frozenset({P.CUTTING_OVER, P.DRAINING, P.MOVING, P.RETIRING, P.COMPLETED, P.ABORTED,
                                  P.RECOVERING})
LIVE: Final = ALL - {P.COMPLETED, P.ROLLED_BACK, P.ABORTED, P.FAILED, P.ROLLING_BACK}
"""Where an abort request stops the plan."""
AT_WORK: Final = ALL - {NEW, P.COMPLETED, P.ROLLED_BACK, P.ABORTED, P.FAILED}
"""Where a plan is at work (and a newer plan on the same workflow waits for it)."""
REGISTERED_REST: Final = ALL - {P.ROLLING_BACK, P.ROLLED_BACK, P.ABORTED}
"""After the cutover, once the target is registered: what no other row moves on completes (a status written
by other means included)."""


@dataclass(frozen=True)
class Transition:
    source: frozenset
    """The phases the row applies in (``NEW``: no phase yet)."""
    on: On
    to: Target
    action: str


def _row(source: Iterable, on: On, to: Target, action: str) -> Transition:
    return Transition(frozenset(source), on, to, action)


TRANSITIONS: Final[tuple[Transition, ...]] = (
    _row({NEW}, On.RIVAL, P.PENDING, "stall (ConflictingPlan) until the older plan ended"),
    _row(AT_WORK, On.RIVAL, STAY, "stall (ConflictingPlan) until the older plan ended"),
    _row({P.FAILED}, On.SPEC_CHANGED, NEW, "start the gates over (terminate running checks)"),
    _row(BEFORE_CUTOVER, On.TARGET_MISSING, P.PENDING, "wait (TargetNotFound)"),
    _row(BEFORE_CUTOVER, On.TARGET_REFUSED, P.PENDING, "stall, Warning event"),
    _row(PREPARING, On.TARGET_UNREADABLE, P.PENDING, "wait (TargetNotReadable)"),
    _row(PREPARING, On.VALIDATION_REFUSED, P.VALIDATING, "stall with the check's reason, Warning event"),
    _row(PREPARING, On.PAUSED_BEFORE_GATES, P.GATING, "hold (Paused)"),
    _row(PREPARING, On.DRY_RUN, P.DRY_RUN, "write status.plannedActions"),
    _row(PREPARING, On.GATES_PENDING, P.GATING,
         "replay old executions (once); start check workflows once workers poll; wait"),
    _row(PREPARING | {P.FAILED}, On.GATE_FAILED, P.FAILED, "stall (GateFailed), Warning event"),
    _row(PREPARING, On.DRAIN_STARTED, P.DRAINING, "set the drain deadline; pause triggers"),
    _row({P.DRAINING}, On.DRAIN_WAITS, P.DRAINING, "count the old versions every interval"),
    _row({P.DRAINING, P.FAILED}, On.DEADLINE_FAIL, P.FAILED, "stall (DrainDeadlinePassed); resume triggers"),
    _row(RELEASED, On.NOT_REGISTERED, P.CUTTING_OVER, "release the target (cutoverAt); wait for it to register"),
    _row(RELEASED, On.REGISTERED_TO_MOVE, P.MOVING, "record registeredAt; the first wave starts"),
    _row(RELEASED, On.REGISTERED_DRAINED, P.COMPLETED, "record registeredAt"),
    _row(RELEASED, On.REGISTERED, P.DRAINING, "record registeredAt; count the old versions"),
    _row({P.MOVING}, On.WAVE_STEP, P.MOVING, "MOVE a wave (ledger first), watch it, wait its pause"),
    _row({P.MOVING}, On.WAVE_STALLED, P.MOVING, "stall until promote, rollback or abort"),
    _row({P.MOVING}, On.WAVES_DONE, P.DRAINING, "drain what is left"),
    _row({P.MOVING}, On.HEALTH_GATE_ROLLBACK, P.ROLLING_BACK, "terminate running checks; REPUBLISH"),
    _row(RELEASED, On.REGISTERED_TO_RECOVER, P.RECOVERING, "record registeredAt; the first recovery wave starts"),
    _row({P.MOVING}, On.WAVES_DONE_RECOVER, P.RECOVERING, "the first recovery wave starts"),
    _row({P.RECOVERING}, On.RECOVER_STEP, P.RECOVERING,
         "RECOVER a wave of failed executions (ledger first), watch it, wait its pause"),
    _row({P.RECOVERING}, On.RECOVER_STALLED, P.RECOVERING, "stall until promote or abort"),
    _row({P.RECOVERING}, On.RECOVERED, P.DRAINING, "drain what is left"),
    _row({P.DRAINING}, On.DRAINED_RETIRE, P.RETIRING, "record drainedAt"),
    _row({P.DRAINING}, On.DRAINED, P.COMPLETED, "record drainedAt"),
    _row({P.RETIRING}, On.RETIRE_STEP, P.RETIRING, "RETIRE the versions a fresh count finds idle and unpinned"),
    _row({P.RETIRING}, On.RUNNING_AGAIN, P.DRAINING, "count again until drained"),
    _row({P.RETIRING}, On.RETIRED, P.COMPLETED, "Completed event"),
    _row(REGISTERED_REST, On.COMPLETED, P.COMPLETED, "record endedAt after a last count"),
    _row({NEW}, On.PAUSED, P.CUTTING_OVER, "hold (Paused) (a status without a phase after the cutover)"),
    _row(ALL - {NEW}, On.PAUSED, STAY, "hold (Paused)"),
    _row(LIVE, On.ABORT_REQUESTED, P.ABORTED, "terminate running checks; nothing more moves"),
    _row(AFTER_CUTOVER, On.ROLLBACK_REQUESTED, P.ROLLING_BACK, "terminate running checks; REPUBLISH"),
    _row({P.ROLLING_BACK}, On.ROLLBACK_STEP, P.ROLLING_BACK, "REPUBLISH the old content; MOVE_BACK"),
    _row({P.ROLLING_BACK}, On.MOVED_BACK, P.ROLLED_BACK, "RolledBack event"),
)


class UnlistedTransition(AssertionError):
    """The planner tried a phase change the table does not list."""


def row_for(phase: Phase | None, on: On) -> Transition | None:
    return next((row for row in TRANSITIONS if row.on is on and phase in row.source), None)


def next_phase(phase: Phase | None, on: On) -> Phase | None:
    """The phase after ``phase`` on ``on``, as the table says; an unlisted move raises."""
    row = row_for(phase, on)
    if row is None:
        raise UnlistedTransition(f"the phase table lists no move from {phase or 'no phase'} on {on.name}")
    return phase if row.to == STAY else row.to


GROUPS: Final = (
    ("any", ALL, ""),
    ("before the cutover", BEFORE_CUTOVER, "nothing cut over"),
    ("before the gates", PREPARING, "Draining: a drain's spec changed before its cutover"),
    ("released", RELEASED, "released in this step, or cutting over"),
    ("after the cutover", AFTER_CUTOVER, ""),
    ("live", LIVE, "where an abort stops the plan"),
    ("at work", AT_WORK, "a newer plan on the same workflow waits for it"),
    ("any phase", ALL - {NEW}, ""),
    ("registered, any other", REGISTERED_REST, "a status written by other means included"),
)
"""The names the table gives sets of phases, with a note on why the set is what it is."""


def _phase_name(phase: Phase | None) -> str:
    return "(new)" if phase is NEW else str(phase)


def _members(phases: frozenset) -> str:
    order = [NEW, *Phase]
    if phases == ALL:
        return "every phase, and none yet"
    if len(phases) > len(ALL) / 2:
        return "every phase but " + ", ".join(_phase_name(p) for p in order if p not in phases)
    return ", ".join(_phase_name(p) for p in order if p in phases)


def _names(phases: frozenset) -> str:
    for name, group, _ in GROUPS:
        if phases == group:
            return name
    for name, group, _ in GROUPS:
        if group < phases and len(phases - group) == 1:
            return f"{name}, or {_phase_name(next(iter(phases - group)))}"
    return ", ".join(sorted(_phase_name(p) for p in phases))


def table_markdown() -> str:
    """The table as docs/migration-design.md shows it, then what the names of sets of phases stand for."""
    lines = ["| phase | observation | next phase | action |", "| --- | --- | --- | --- |"]
    for row in TRANSITIONS:
        to = "(new)" if row.to is NEW else "(stays)" if row.to == STAY else row.to
        lines.append(f"| {_names(row.source)} | {row.on.value} | {to} | {row.action} |")
    lines.append("")
    used = {_names(row.source).split(", or ")[0] for row in TRANSITIONS}
    lines += [f"- *{name}*: {_members(group)}{f' ({note})' if note else ''}"
              for name, group, note in GROUPS if name in used]
    return "\n".join(lines)
