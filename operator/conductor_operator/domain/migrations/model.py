"""The vocabulary of the MigrationPlan planner: its phases, the states of a wave, the reasons of its conditions,
what the shell observes (``PlanObservation``), the actions it carries out and the step a reconcile writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from conductor_operator.api.migration import (
    GateResult,
    GateWorkflow,
    MigrationPlanStatus,
    RecoveryStatus,
    WavesStatus,
)
from conductor_operator.domain.conditions import Condition, format_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.replay import ReplayObservation
from conductor_operator.domain.waves import Candidate, Move

__all__ = [  # noqa: RUF022 (constants first)
    "CUT_OVER", "DRAINED", "ENDED", "GATES_PASSED", "REASON_ABORTED", "REASON_ACTIVATED_EARLY", "REASON_CONFLICT",
    "REASON_DEADLINE_PASSED", "REASON_DRY_RUN", "REASON_GATES_PASSED", "REASON_GATES_PENDING", "REASON_GATE_FAILED",
    "REASON_GATE_PASSED", "REASON_GATE_RUNNING", "REASON_HEALTH_GATE_FAILED", "REASON_INVALID_DEFINITION",
    "REASON_MOVER_UNSUPPORTED", "REASON_NOT_HIGHEST", "REASON_NO_WARNINGS", "REASON_PAUSED",
    "REASON_RETIREMENT_BLOCKED", "REASON_ROLLED_BACK", "REASON_STRATEGY_NOT_ALLOWED",
    "REASON_TARGET_AMONG_OLD_VERSIONS", "REASON_TARGET_CHANGED", "REASON_TARGET_GONE", "REASON_TARGET_MISMATCH",
    "REASON_TARGET_NOT_FOUND", "REASON_TARGET_NOT_READABLE", "REASON_TRIGGER_PINS_OLD", "REASON_VERSIONS_NOT_FOUND",
    "REASON_WAVE_SELECTED_NOTHING", "REASON_WORKERS_MISSING", "REASON_WORKERS_NOT_IDEMPOTENT",
    "REASON_WORKERS_NOT_REQUIRED", "REASON_WORKERS_POLLING", "REASON_RECOVERY_GATE_FAILED", "TERMINAL", "WARNING",
    "WORKERS_GATE", "ActionKind", "Ended",
    "MigrationStep", "Phase", "PlanAction", "PlanObservation", "TargetView", "WaveState"
]


class Phase(StrEnum):
    PENDING = "Pending"  # the target WorkflowDefinition is missing or cannot be read yet
    VALIDATING = "Validating"  # comparing the versions; a strategy the verdict forbids stops here
    GATING = "Gating"  # waiting for workers and check workflows
    CUTTING_OVER = "CuttingOver"  # the target is released for registration; waiting until it is registered
    DRAINING = "Draining"  # old versions run to their end; counted until drained
    MOVING = "Moving"  # upgradeWaves (or drain's MoveRemaining): running executions move in waves
    RETIRING = "Retiring"  # drained old versions are removed from Conductor
    COMPLETED = "Completed"
    FAILED = "Failed"  # a check workflow failed, or a drain's deadline passed; a change of the spec starts over
    ROLLING_BACK = "RollingBack"  # the old content is republished and moved executions are moved back
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"  # stopped by an abort request where it was
    DRY_RUN = "DryRun"  # spec.dryRun: status shows what would happen
    RECOVERING = "Recovering"  # spec.recoverFailed: failed executions of the old versions restart on the target


ENDED = frozenset({Phase.COMPLETED, Phase.ROLLED_BACK, Phase.ABORTED})
TERMINAL = frozenset({*ENDED, Phase.FAILED})
"""Where a plan stops: it then observes nothing more once it has ended (``at_rest``), until its spec changes."""


class WaveState(StrEnum):
    MOVING = "Moving"  # the wave's executions are being moved
    WATCHING = "Watching"  # the health gate watches what the wave moved
    WAITING = "Waiting"  # the step's pause
    GATE_FAILED = "GateFailed"  # held until promote, rollback or abort
    HELD = "Held"  # it selected nothing while executions could move: held until it does, or promote skips it
    DONE = "Done"


# Condition types and reasons of a MigrationPlan
GATES_PASSED = "GatesPassed"
CUT_OVER = "CutOver"
DRAINED = "Drained"
WARNING = "Warning"

REASON_TARGET_NOT_FOUND = "TargetNotFound"
REASON_TARGET_NOT_READABLE = "TargetNotReadable"
REASON_TARGET_MISMATCH = "TargetMismatch"
REASON_TARGET_AMONG_OLD_VERSIONS = "TargetAmongOldVersions"
REASON_VERSIONS_NOT_FOUND = "VersionsNotFound"
REASON_INVALID_DEFINITION = "InvalidDefinition"
REASON_STRATEGY_NOT_ALLOWED = "StrategyNotAllowed"
REASON_PAUSED = "Paused"
REASON_WORKERS_POLLING = "WorkersPolling"
REASON_WORKERS_MISSING = "WorkersMissing"
REASON_WORKERS_NOT_REQUIRED = "WorkersNotRequired"
REASON_GATE_RUNNING = "GateRunning"
REASON_GATE_PASSED = "GatePassed"
REASON_GATE_FAILED = "GateFailed"
REASON_GATES_PASSED = "GatesPassed"
REASON_GATES_PENDING = "GatesPending"
REASON_DRY_RUN = "DryRun"
REASON_NOT_HIGHEST = "TargetNotHighestVersion"
REASON_ACTIVATED_EARLY = "TargetRegisteredBeforeGates"
REASON_TARGET_GONE = "TargetGone"
REASON_TARGET_CHANGED = "TargetChangedAfterCutover"
REASON_RETIREMENT_BLOCKED = "RetirementBlocked"
REASON_WORKERS_NOT_IDEMPOTENT = "WorkersNotIdempotent"
REASON_MOVER_UNSUPPORTED = "MoverUnsupported"
REASON_DEADLINE_PASSED = "DrainDeadlinePassed"
REASON_HEALTH_GATE_FAILED = "HealthGateFailed"
REASON_WAVE_SELECTED_NOTHING = "WaveSelectedNothing"
REASON_ABORTED = "Aborted"
REASON_ROLLED_BACK = "RolledBack"
REASON_CONFLICT = "ConflictingPlan"
REASON_TRIGGER_PINS_OLD = "TriggerPinsOldVersion"
REASON_NO_WARNINGS = "NoWarnings"
REASON_RECOVERY_GATE_FAILED = "RecoveryGateFailed"

WORKERS_GATE = "Workers"


@dataclass(frozen=True)
class TargetView:
    """The target WorkflowDefinition as the plan sees it."""

    resource: str
    workflow_name: str
    version: int
    definition: dict | None
    """The WorkflowDef it registers; None when it cannot be read (``problem`` says why)."""
    problem: str | None = None
    activation: str = "Immediate"
    registered: bool = False
    """The resource reports it registered and in sync (Ready), and Conductor lists the version."""


@dataclass(frozen=True)
class Ended:
    """An ended execution of an old version, as recovery (spec.recoverFailed, ``recovery``) sees it."""

    execution_id: str
    version: int
    status: str
    ended: datetime | None
    correlation_id: str | None = None
    failed_tasks: tuple[str, ...] = ()
    """The taskReferenceNames of the tasks it failed on (Conductor's failedReferenceTaskNames)."""
    parent: str | None = None
    """The execution it is a sub-workflow of, if any."""
    reason: str = ""


@dataclass(frozen=True)
class PlanObservation:
    target: TargetView | None
    """None: no WorkflowDefinition of that name in the namespace."""
    registered_versions: tuple[int, ...]
    old_definitions: Mapping[int, dict] = field(default_factory=dict)
    """Conductor's copy of each version to move from (before the cutover only)."""
    counts: Mapping[int, int] | None = None
    """Running executions per version, read now; None when not read this time."""
    last_polls: Mapping[str, datetime | None] | None = None
    """For each SIMPLE task type of the target, the last time a worker polled it (None: never)."""
    gate_executions: Mapping[str, dict] = field(default_factory=dict)
    """Check workflow executions by id: {status, output}. A started one missing here is gone."""
    referrers: Mapping[int, list[str]] | None = None
    """While retiring: for each old version, the definitions that pin it as a sub-workflow."""
    flavor: str | None = None
    """OSS or Orkes, as the server answered."""
    moves: tuple[Move, ...] | None = None
    """The ledger, while executions move or move back; None when not read."""
    candidates: tuple[Candidate, ...] | None = None
    """While moving: running executions of the old versions the ledger does not hold."""
    move_states: Mapping[str, str | None] = field(default_factory=dict)
    """While moving or rolling back: the state of each moved execution (None: gone)."""
    target_refs: frozenset[str] | None = None
    """While moving: the taskReferenceNames of the target as Conductor holds it."""
    old_starts: tuple[datetime, ...] | None = None
    """With the counts: when each running execution of the old versions started."""
    rival: str | None = None
    """An older MigrationPlan still at work on the same workflow and Conductor ("<namespace>/<name>" when it is in
    another namespace)."""
    replay: ReplayObservation | None = None
    """Before the gates passed, while the replay gate is not settled: the sampled executions replayed through the
    target and compared (``replay.compare``); None when not replayed this step."""
    pinning_triggers: Mapping[str, int] | None = None
    recoveries: tuple[Move, ...] | None = None
    """While recovering: the ledger's restarts of failed executions (spec.recoverFailed); None when not read."""
    recovery_candidates: tuple[Ended, ...] | None = None
    """While a recovery wave may pick: ended executions of the old versions in the window, the ledger's left out."""
    recovery_states: Mapping[str, str | None] = field(default_factory=dict)
    """While recovering: the state of each restarted execution (None: gone)."""
    """While draining after the cutover: the active event handlers and schedules that start the workflow at a
    pinned version ("Schedule/<name>" to the version); None when not read."""


class ActionKind(StrEnum):
    START_GATE = "StartGate"
    TERMINATE_GATE = "TerminateGate"
    RETIRE = "Retire"
    PAUSE_TRIGGERS = "PauseTriggers"  # pause every active trigger of the workflow the plan has not paused yet
    RESUME_TRIGGERS = "ResumeTriggers"  # resume every trigger the plan paused
    MOVE = "Move"  # move these executions to the target (ledger first)
    MOVE_BACK = "MoveBack"  # move these moved executions back (ledger first)
    REPUBLISH = "Republish"  # register an old version's content as a new highest version
    RECOVER = "Recover"  # restart these ended executions on the target (ledger first)


@dataclass(frozen=True)
class PlanAction:
    kind: ActionKind
    gate: GateWorkflow | None = None
    run_target_inline: bool = False
    """START_GATE: run the target definition without registering it (the gate names the target)."""
    execution_id: str | None = None
    version: int | None = None
    moves: tuple[Move, ...] = ()
    """MOVE and MOVE_BACK: the ledger entries to record as intents, then carry out."""
    wave: int | None = None
    """START_GATE of a wave's health gate: the wave (its result goes to status.waves.gates)."""
    mover: str | None = None


@dataclass
class MigrationStep:
    """What a reconcile of a MigrationPlan does: the status to write, actions, conditions, events."""

    status: MigrationPlanStatus
    conditions: list[Condition]
    actions: list[PlanAction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    transitions: list[tuple[Phase | None, str, Phase | None]] = field(default_factory=list)
    """The phase changes the step made (from, observation, to), each one the phase table lists."""



def enter_wave_state(progress: WavesStatus | RecoveryStatus, state: WaveState, now: datetime,
                     lasting: timedelta | None = None) -> None:
    """A wave's progress (the waves' or the recovery's) enters ``state`` now, until ``lasting`` from now if given."""
    progress.state, progress.since = state, format_time(now)
    progress.until = format_time(now + lasting) if lasting is not None else None


def some(ids: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def versions_text(versions: Iterable[int]) -> str:
    listed = [f"v{v}" for v in versions]
    return ", ".join(listed) if listed else "no version"


def gate_text(gates: Iterable[GateResult]) -> str:
    return "; ".join(f"{g.name}: {g.message}" for g in gates)
