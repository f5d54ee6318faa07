"""Pure decisions a MigrationPlan is made of: which versions move, the verdict, when a version drained,
and the planner that walks a plan through its phases (gates, drain, cutover, waves, rollback, requests).

The MigrationPlan shell (reconcile/migration.py, docs/migration-design.md) observes, calls
``plan_migration`` and carries out the actions it returns; nothing here reads a clock (the time is
passed in) or does I/O. What moving an execution involves is in ``domain.waves``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import (
    DrainStatus,
    GateResult,
    GateWorkflow,
    HandledRequest,
    MigrationPlan,
    MigrationPlanSpec,
    MigrationPlanStatus,
    MoverSettings,
    RollbackStatus,
    RunningSummary,
    VersionCount,
    WavesStatus,
)
from conductor_operator.api.migration import Finding as FindingStatus
from conductor_operator.api.migration import StandingWarning as StandingWarningStatus
from conductor_operator.api.migration import Verdict as VerdictStatus
from conductor_operator.domain.compatibility import (
    BREAKING,
    SAFE,
    Compatibility,
    Finding,
    InvalidDefinition,
    StandingWarning,
    Verdict,
    compare,
)
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
from conductor_operator.domain.definitions import REGISTERED, Event, iter_tasks, state_event
from conductor_operator.domain.waves import (
    FAILED_STATES,
    LISTED_INELIGIBLE,
    ORKES_UPGRADE,
    PENDING,
    RUNNING_STATES,
    TERMINATE_RESTART,
    Candidate,
    Move,
    MoveState,
    Wave,
    estimate_drain_end,
    health,
    ineligibility,
    pick,
    quota,
    selector_text,
    started_at,
    waves_of,
)


def versions_to_move(*, explicit: Iterable[int] | None, all_older: bool, registered: Iterable[int],
                     target: int) -> list[int]:
    """The versions a plan moves from, lowest first; never the target itself.

    ``all_older`` takes every registered version below the target, so a version registered later
    and above it is left alone.
    """
    if all_older:
        return sorted({v for v in registered if v < target})
    return sorted({v for v in explicit or () if v != target})


@dataclass(frozen=True)
class PlanVerdict:
    level: Compatibility
    findings: tuple[tuple[int, Finding], ...]
    """(from version, finding), by version then in the order compare() gives."""
    standing_warnings: tuple[tuple[int, StandingWarning], ...] = ()
    """(from version, warning): risks that version shares with the target; they do not raise the level."""

    def allows(self, strategy: str, *, acknowledged_breaking: bool = False) -> bool:
        return Verdict(self.level).allows(strategy, acknowledged_breaking=acknowledged_breaking)


def plan_verdict(old_definitions: dict[int, dict], target: dict, *,
                 changed_task_defs: Iterable[str] = ()) -> PlanVerdict:
    """Compare every old version with the target; the worst finding of any of them decides."""
    changed = tuple(changed_task_defs)
    level, findings, standing = SAFE, [], []
    for version in sorted(old_definitions):
        verdict = compare(old_definitions[version], target, changed_task_defs=changed)
        level = max(level, verdict.level)
        findings += [(version, finding) for finding in verdict.findings]
        standing += [(version, warning) for warning in verdict.standing_warnings]
    return PlanVerdict(level, tuple(findings), tuple(standing))


@dataclass(frozen=True)
class DrainState:
    """Consecutive zero readings of a version's running executions, and when the run of zeros began."""

    zero_readings: int = 0
    first_zero_at: datetime | None = None


def record_reading(state: DrainState, running: int | None, now: datetime) -> DrainState:
    """Fold one reading in. Anything but a known zero (executions, or a failed read) starts over."""
    if running != 0:
        return DrainState()
    return DrainState(state.zero_readings + 1, state.first_zero_at or now)


def drained(state: DrainState, now: datetime, *, readings_needed: int, grace: timedelta) -> bool:
    """Drained: enough zero readings in a row, the first of them at least ``grace`` ago. Never one reading."""
    return (state.zero_readings >= max(2, readings_needed) and state.first_zero_at is not None
            and now - state.first_zero_at >= grace)


# ---- the MigrationPlan planner -------------------------------------------------------------------

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
    pinning_triggers: Mapping[str, int] | None = None
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


def gates_digest(spec: MigrationPlanSpec) -> str:
    """A digest of what the gates check (the cluster, the versions, the strategy, the gates, whether it is a
    dry run): another value starts them over, while pausing or other fields do not."""
    checked = spec.model_dump(mode="json", by_alias=True,
                              include={"cluster_ref", "from_", "to", "strategy", "gates", "dry_run"})
    return hashlib.sha256(json.dumps(checked, sort_keys=True).encode()).hexdigest()[:16]


def simple_task_types(definition: dict) -> list[str]:
    """Task types that need workers: the SIMPLE tasks, nested ones included."""
    return sorted({t["name"] for t in iter_tasks(definition.get("tasks") or [])
                   if t.get("type", "SIMPLE") == "SIMPLE" and t.get("name")})


def gate_runs_target(gate: GateWorkflow, workflow_name: str, target_version: int) -> bool:
    """A check workflow naming the migrated workflow (at the target version, or none) runs the target itself."""
    return gate.name == workflow_name and gate.version in (None, target_version)


def check_correlation_id(namespace: str, plan: str, check: str, generation: int | None, wave: int | None) -> str:
    """The correlationId of a check workflow: the plan, the check, and the generation (and wave) it checks,
    so a start the plan did not record can be found again, and never confused with an earlier run's."""
    where = f"/wave-{wave}" if wave is not None else ""
    return f"migrationplan/{namespace}/{plan}/{check}{where}/gen-{generation or 0}"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unrecorded_check(executions: Iterable[Mapping], plan_created: str | None) -> str | None:
    """The id of the check workflow a step started without recording it (the operator died in between),
    among the executions carrying its correlationId: the latest started since the plan was created (a plan
    deleted and created again under the same name must not adopt its predecessor's checks)."""
    def started(execution: Mapping) -> datetime:
        return started_at(execution) or EPOCH

    floor = parse_time(plan_created) or EPOCH
    latest = max((e for e in executions if started(e) >= floor), key=started, default=None)
    return latest["workflowId"] if latest else None


def output_mismatches(expected: Mapping | None, output: Mapping | None) -> list[str]:
    """Keys of ``expected`` whose value the output does not hold, as ``key: wanted X, got Y``."""
    output = output or {}
    return [f"{key}: wanted {value!r}, got {output.get(key, '<missing>')!r}"
            for key, value in (expected or {}).items() if output.get(key) != value]


def mover_for(settings: MoverSettings, flavor: str | None) -> str:
    """The mover a plan uses: the one it names, or for Auto the one the server has."""
    if settings.mover != "Auto":
        return settings.mover
    return ORKES_UPGRADE if flavor == "Orkes" else TERMINATE_RESTART


def reads_candidates(spec: MigrationPlanSpec, status: MigrationPlanStatus, now: datetime) -> bool:
    """Whether a step of a moving plan needs the old executions with their current tasks: only where a wave
    may pick what to move next (a new promote request included, and a held wave once its ``until`` passed, every
    drainDetection.interval). While a wave is watched, paused or stalled
    that read (every task of thousands of executions) would be repeated at every step for figures nothing
    acts on."""
    waves, promote = status.waves, spec.requests.promote if spec.requests else None
    handled = status.handled_requests.promote
    if waves is None or waves.state == WaveState.MOVING or (promote and (handled is None or handled.token != promote)):
        return True
    if waves.state in (WaveState.WATCHING, WaveState.WAITING, WaveState.HELD):  # a held wave looks again at until
        return waves.until is None or now >= parse_time(waves.until)
    return False


def moves_executions(spec: MigrationPlanSpec) -> bool:
    """Whether the plan may move running executions: upgradeWaves, or a drain that moves what remains."""
    drain = spec.strategy.drain
    return bool(spec.strategy.upgrade_waves or (drain and drain.on_deadline == "MoveRemaining"))


def plan_migration(spec: MigrationPlanSpec, status: MigrationPlanStatus, observed: PlanObservation,
                   now: datetime, generation: int | None) -> MigrationStep:
    """The next step of a MigrationPlan: pure, from the spec, the recorded status and what was observed.

    Status is the record of progress (the cutover time, the drain readings, retired versions), so a
    restarted operator picks up where the last one stopped.
    """
    return _Planner(spec, status.model_copy(deep=True), observed, now, generation).run()


class _Planner:
    def __init__(self, spec: MigrationPlanSpec, status: MigrationPlanStatus, observed: PlanObservation,
                 now: datetime, generation: int | None):
        self.spec, self.status, self.observed, self.now = spec, status, observed, now
        self.generation = generation
        self.actions: list[PlanAction] = []
        self.events: list[Event] = []
        self.warnings: list[tuple[str, str]] = []
        self.promoted = False
        """A promote request was accepted in this step: the pause or the failed gate it names is passed."""
        self.had_ended = status.ended_at is not None and status.phase in TERMINAL
        """The plan had ended before this step (a change of its spec woke it)."""

    # ---- the walk through the phases ------------------------------------------------------------

    def run(self) -> MigrationStep:
        status, spec = self.status, self.spec
        if self.observed.rival and status.phase not in (Phase.FAILED, *ENDED):
            return self._stall(Phase(status.phase or Phase.PENDING), REASON_CONFLICT,
                               f"MigrationPlan {self.observed.rival} is still migrating {spec.workflow_name} on the "
                               f"same Conductor; this plan waits until it has ended (or is deleted)")
        self.created = status.phase is None  # before a start over clears a failed phase
        if status.cutover_at is not None and status.verdict is not None:
            target = self._released_target()
            self.from_versions = list(status.verdict.from_versions)
            self._record_counts(target.version)
            self._requests(target)
            return self._after_cutover(target)
        digest = gates_digest(spec)
        if status.gates_checked_spec != digest and status.phase not in ENDED:
            self._start_over()  # the gates check the spec as it is written now
            status.gates_checked_spec = digest
        if status.gates_passed_at is not None and status.verdict is not None:  # a drain before its cutover
            target = self.observed.target or TargetView(spec.to.workflow_definition_ref.name, spec.workflow_name,
                                                        status.verdict.to_version, None)
            self.from_versions = list(status.verdict.from_versions)
            self._record_counts(target.version)
            self._requests(target)
            return self._drain_before_cutover(target)
        target = self.observed.target
        if target is None:
            return self._wait(Phase.PENDING, REASON_TARGET_NOT_FOUND,
                              f"WorkflowDefinition {spec.to.workflow_definition_ref.name} not found in this namespace")
        if target.workflow_name != spec.workflow_name:
            return self._stall(Phase.PENDING, REASON_TARGET_MISMATCH,
                               f"WorkflowDefinition {target.resource} is workflow {target.workflow_name!r}, "
                               f"not {spec.workflow_name!r}: spec.to must name a version of spec.workflowName")
        if target.version in (spec.from_.versions or ()):
            return self._stall(Phase.PENDING, REASON_TARGET_AMONG_OLD_VERSIONS,
                               f"spec.from.versions lists v{target.version}, the version of the target "
                               f"{target.resource}: a plan moves executions off its old versions onto the target; "
                               f"remove v{target.version} from spec.from.versions")
        self.from_versions = self._from_versions(target)
        self._record_counts(target.version)
        self._requests(target)
        return self._before_cutover(target)

    def _released_target(self) -> TargetView:
        """After the cutover the plan follows the version it released, whatever spec.to says now."""
        status, spec, observed = self.status, self.spec, self.observed
        released = status.released or spec.to.workflow_definition_ref.name
        version = status.verdict.to_version
        current = observed.target if observed.target and observed.target.resource == released else None
        if current is None:
            self.warnings.append((REASON_TARGET_GONE, f"WorkflowDefinition {released} is gone; the plan goes on "
                                                      f"with {spec.workflow_name} v{version} as Conductor holds it"))
        if spec.to.workflow_definition_ref.name != released:
            self.warnings.append((REASON_TARGET_CHANGED,
                                  f"spec.to names {spec.to.workflow_definition_ref.name}, but the plan released "
                                  f"{released} at the cutover and goes on with it: create a new MigrationPlan "
                                  f"for another target"))
        registered = version in observed.registered_versions and (current is None or current.registered)
        return TargetView(released, spec.workflow_name, version, None, registered=registered)

    def _before_cutover(self, target: TargetView) -> MigrationStep:
        status, spec = self.status, self.spec
        if status.phase == Phase.ABORTED:
            return self._ended()
        if status.phase == Phase.FAILED:
            return self._failed()
        if target.definition is None:
            return self._wait(Phase.PENDING, REASON_TARGET_NOT_READABLE,
                              f"WorkflowDefinition {target.resource} cannot be read: {target.problem}")
        from_versions = self.from_versions
        missing = [v for v in from_versions if v not in self.observed.old_definitions]
        if missing:
            return self._stall(Phase.VALIDATING, REASON_VERSIONS_NOT_FOUND,
                               f"{spec.workflow_name} version(s) {_versions(missing)} are not registered in "
                               f"Conductor: fix spec.from")
        try:
            verdict = plan_verdict({v: self.observed.old_definitions[v] for v in from_versions}, target.definition)
        except InvalidDefinition as exc:
            return self._stall(Phase.VALIDATING, REASON_INVALID_DEFINITION, str(exc))
        status.verdict = _verdict_status(verdict, from_versions, target.version)
        strategy = spec.strategy.name
        settings = spec.strategy.mover_settings
        acknowledged = bool(settings and settings.acknowledge_breaking)
        if not verdict.allows(strategy, acknowledged_breaking=acknowledged):
            return self._stall(Phase.VALIDATING, REASON_STRATEGY_NOT_ALLOWED,
                               f"the change is {verdict.level.value}: {strategy} would move running executions "
                               f"onto a definition they cannot continue on; use parallel or drain, or set "
                               f"spec.strategy.upgradeWaves.acknowledgeBreaking after reading the findings")
        if verdict.level is BREAKING and moves_executions(spec) and not acknowledged:
            return self._stall(Phase.VALIDATING, REASON_STRATEGY_NOT_ALLOWED,
                               "the change is Breaking: onDeadline: MoveRemaining would move running executions "
                               "onto a definition they cannot continue on; use Wait or Fail, or set "
                               "spec.strategy.drain.acknowledgeBreaking after reading the findings")
        if moves_executions(spec) and (refusal := self._mover_refusal()):
            return self._stall(Phase.VALIDATING, *refusal)
        if higher := [v for v in self.observed.registered_versions if v > target.version]:
            return self._stall(Phase.VALIDATING, REASON_NOT_HIGHEST,
                               f"{spec.workflow_name} {_versions(higher)} is registered above the target "
                               f"v{target.version}: unpinned starts would go to v{max(higher)}, not to the target; "
                               f"target the highest version, or retire the higher ones first")
        self._target_warnings(target)
        if spec.paused:
            return self._paused(Phase.GATING)
        workers = self._workers_gate(target)
        if spec.dry_run:
            return self._dry_run(target, from_versions, workers)
        # Check workflows start once workers poll; one already started is kept while they are away.
        kept = [g for g in status.gates if g.name != WORKERS_GATE]
        gates = [workers, *(self._workflow_gates(target) if workers.passed else kept)]
        status.gates = gates
        failed = [g for g in gates if g.name != WORKERS_GATE and not g.passed and g.reason == REASON_GATE_FAILED]
        if failed:
            status.phase = Phase.FAILED
            self.events.append(Event("Warning", REASON_GATE_FAILED, _gate_text(failed)))
            return self._failed()
        waiting = [g for g in gates if not g.passed]
        if waiting:
            return self._wait(Phase.GATING, REASON_GATES_PENDING, _gate_text(waiting))
        status.gates_passed_at = format_time(self.now)
        if spec.strategy.drain:
            self.events.append(Event("Normal", REASON_GATES_PASSED,
                                     f"gates passed: draining {_versions(from_versions)} before "
                                     f"{spec.workflow_name} v{target.version} is registered"))
            return self._drain_before_cutover(target)
        self._release(target, "gates passed")
        return self._after_cutover(target)

    def _release(self, target: TargetView, why: str) -> None:
        status = self.status
        status.cutover_at = format_time(self.now)
        status.released = target.resource
        self.events.append(Event("Normal", "CutoverStarted",
                                 f"{why}: {self.spec.workflow_name} v{target.version} is released for "
                                 f"registration; unpinned starts go to it once registered"))

    def _mover(self) -> str:
        return mover_for(self.spec.strategy.mover_settings, self.observed.flavor)

    def _mover_refusal(self) -> tuple[str, str] | None:
        mover = self._mover()
        if mover == ORKES_UPGRADE and self.observed.flavor != "Orkes":
            return (REASON_MOVER_UNSUPPORTED, "the OrkesUpgrade mover needs Orkes Conductor; this server is "
                                              f"{self.observed.flavor or 'not Orkes'}: use TerminateRestart")
        if mover == TERMINATE_RESTART and not self.spec.strategy.mover_settings.workers_idempotent:
            return (REASON_WORKERS_NOT_IDEMPOTENT, "the TerminateRestart mover runs every task of a moved execution "
                                                   "again from the start; set workersIdempotent: true once the "
                                                   "workers tolerate that")
        return None

    # ---- drain: triggers paused, old versions finish, then the cutover --------------------------

    def _drain_before_cutover(self, target: TargetView) -> MigrationStep:
        status, spec = self.status, self.spec
        drain = spec.strategy.drain
        if status.phase == Phase.ABORTED:
            return self._ended()
        if status.phase == Phase.FAILED:  # the deadline passed (onDeadline: Fail)
            return self._stall(Phase.FAILED, REASON_DEADLINE_PASSED, status.message or "the drain deadline passed")
        if status.drain is None or status.drain.since is None:
            deadline = self.now + parse_duration(drain.deadline)
            status.drain = DrainStatus(since=format_time(self.now), deadline=format_time(deadline))
            status.phase = Phase.DRAINING
            self._estimate_drain_end()
        if drain.pause_triggers:
            self.actions.append(PlanAction(ActionKind.PAUSE_TRIGGERS))
        old = self.from_versions
        if self.promoted:
            self._release(target, "promoted")
            return self._after_cutover(target)
        if spec.paused:
            return self._paused(Phase.DRAINING)
        if self._drain_ended(old):
            self._release(target, "drained")
            return self._after_cutover(target)
        if self.now < parse_time(status.drain.deadline):
            return self._progress(Phase.DRAINING, self._drain_message(old))
        running = status.running.old if status.running else "some"
        if drain.on_deadline == "Fail":
            status.phase = Phase.FAILED
            message = f"the drain deadline ({drain.deadline}) passed with {running} execution(s) on {_versions(old)}"
            self.events.append(Event("Warning", REASON_DEADLINE_PASSED, message))
            status.message = message
            return self._step(kstatus(False, REASON_DEADLINE_PASSED, f"{message}; triggers are resumed and "
                                                                     f"nothing was cut over", stalled=True))
        if drain.on_deadline == "MoveRemaining":
            self.events.append(Event("Normal", REASON_DEADLINE_PASSED, f"the drain deadline passed: moving the "
                                                                       f"{running} remaining execution(s)"))
            self._release(target, "the drain deadline passed")
            return self._after_cutover(target)
        self.warnings.append((REASON_DEADLINE_PASSED, f"the drain deadline ({drain.deadline}) passed; the plan "
                                                      f"keeps waiting (onDeadline: Wait)"))
        return self._progress(Phase.DRAINING, self._drain_message(old))

    def _after_cutover(self, target: TargetView) -> MigrationStep:
        status, spec = self.status, self.spec
        if status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
            return self._rolling_back(target)
        self._target_warnings(target)
        if status.phase == Phase.COMPLETED:
            return self._completed()
        if status.phase == Phase.ABORTED:
            return self._ended()
        if spec.paused or spec.dry_run:
            return self._paused(Phase(status.phase or Phase.CUTTING_OVER))
        if status.registered_at is None:
            if not target.registered:
                status.phase = Phase.CUTTING_OVER
                pausing = PlanAction(ActionKind.PAUSE_TRIGGERS)  # one added since the release is held too
                if spec.strategy.drain and spec.strategy.drain.pause_triggers and pausing not in self.actions:
                    self.actions.append(pausing)
                return self._wait(Phase.CUTTING_OVER, Phase.CUTTING_OVER.value,
                                  f"waiting for WorkflowDefinition {target.resource} to register "
                                  f"{spec.workflow_name} v{target.version}")
            self._registered(target)
        if status.phase == Phase.MOVING and (step := self._waves()):
            return step
        old = self._unretired(target)
        if status.phase == Phase.DRAINING:
            if self._drain_ended(old):
                status.phase = Phase.RETIRING if self._retiring() and old else Phase.COMPLETED
            else:
                self._pinning_triggers(old, target)
                return self._progress(Phase.DRAINING, self._drain_message(old))
        if status.phase == Phase.RETIRING:
            if self._old_running(old):  # a pinned caller started an old version again
                status.phase = Phase.DRAINING
                status.drain = DrainStatus(since=status.drain.since if status.drain else format_time(self.now))
                return self._progress(Phase.DRAINING, self._drain_message(old))
            if old and self._retiring():
                return self._retire(old)
            status.phase = Phase.COMPLETED
            retired = f"retired {_versions(status.retired_versions)}" if status.retired_versions else "nothing retired"
            self.events.append(Event("Normal", Phase.COMPLETED.value, retired))
        return self._completed()

    def _registered(self, target: TargetView) -> None:
        """The cutover is complete: the next phase is moving, or draining what still runs on the old versions."""
        status, spec = self.status, self.spec
        status.registered_at = format_time(self.now)
        self.events.append(Event("Normal", "CutOver", f"{spec.workflow_name} v{target.version} is registered: "
                                                      f"unpinned starts run on it, pinned callers keep their version"))
        drain = spec.strategy.drain
        deadline = parse_time(status.drain.deadline) if drain and status.drain else None
        released_late = deadline is not None and parse_time(status.cutover_at) >= deadline  # not by a promote
        if spec.strategy.upgrade_waves or (drain and drain.on_deadline == "MoveRemaining" and released_late
                                           and not status.drain.drained_at):
            status.phase = Phase.MOVING
            waves = waves_of(spec.strategy.upgrade_waves)
            status.waves = WavesStatus(current=waves[0].number, count=len(waves), state=WaveState.MOVING,
                                       since=format_time(self.now))
        elif drain and status.drain and status.drain.drained_at:
            status.phase = Phase.COMPLETED
        else:
            status.phase = Phase.DRAINING
            status.drain = DrainStatus(since=format_time(self.now))

    # ---- waves: move running executions, a health gate after each wave -------------------------

    def _waves(self) -> MigrationStep | None:
        """The next step of the waves; None once the last wave passed its gate (the plan drains what is left)."""
        status, spec, observed = self.status, self.spec, self.observed
        waves = waves_of(spec.strategy.upgrade_waves)
        progress = status.waves or WavesStatus(current=waves[0].number, count=len(waves), state=WaveState.MOVING)
        status.waves = progress
        wave = next((w for w in waves if w.number == progress.current), waves[-1])
        if observed.moves is None:
            return self._progress(Phase.MOVING, f"{wave.label}: reading the ledger")
        moves = observed.moves
        self._count_moves(moves)
        eligible = self._eligible(moves)
        if pending := [m for m in moves if m.state in PENDING]:
            return self._progress(Phase.MOVING, f"{wave.label}: finishing {len(pending)} move(s) already begun")
        if self.promoted:
            self.promoted = False  # one wave goes on, not every wave after it
            return self._next_wave(waves, wave)
        if progress.state == WaveState.GATE_FAILED:
            return self._stall(Phase.MOVING, REASON_HEALTH_GATE_FAILED,
                               f"{wave.label}: the health gate failed ({progress.message}); request promote to go "
                               f"on, rollback to move the moved executions back, or abort")
        if spec.paused:
            return self._paused(Phase.MOVING)
        if progress.state == WaveState.HELD and eligible is None:  # not looked at again in this step
            return self._held(wave, progress.message or f"{wave.label} selected nothing")
        if progress.state in (WaveState.MOVING, WaveState.HELD):
            if eligible is None:
                return self._progress(Phase.MOVING, f"{wave.label}: reading the executions to move")
            size = quota(wave, progress.total, len(moves))
            chosen = pick(eligible, wave, size, self.now)
            mover = self._mover()
            higher = [v for v in observed.registered_versions if v > status.verdict.to_version]
            if chosen and mover == TERMINATE_RESTART and higher:
                return self._stall(Phase.MOVING, REASON_NOT_HIGHEST,
                                   f"{spec.workflow_name} {_versions(higher)} was registered above the target "
                                   f"v{status.verdict.to_version}: a restart on the latest definition would land "
                                   f"there; nothing moves until the target is the highest version again")
            if chosen:
                if progress.state == WaveState.HELD:
                    self._wave_state(WaveState.MOVING)
                    progress.message = None
                intents = tuple(Move(c.execution_id, c.version, status.verdict.to_version, wave.number,
                                     MoveState.INTENT, mover, format_time(self.now)) for c in chosen)
                self.actions.append(PlanAction(ActionKind.MOVE, moves=intents, mover=mover))
                return self._progress(Phase.MOVING, f"{wave.label}: moving {len(chosen)} execution(s) to "
                                                    f"v{status.verdict.to_version}")
            if size and eligible and not any(m.wave == wave.number for m in moves):
                return self._hold(wave, eligible)
            self._wave_state(WaveState.WATCHING, self._gate_window())
            progress.gates = []  # this wave's check workflows start now
        if progress.state == WaveState.WATCHING:
            return self._watch(waves, wave, moves)
        if progress.state == WaveState.WAITING and self.now < parse_time(progress.until):
            return self._progress(Phase.MOVING, f"{wave.label} passed its health gate; the next wave starts at "
                                                f"{progress.until} (request promote to start it now)")
        return self._next_wave(waves, wave)

    def _hold(self, wave: Wave, eligible: list[Candidate]) -> MigrationStep:
        """A wave that would move executions, with executions it could move, selected none (its selector admits
        none of them): it would pass its health gate with 0 of 0 moved, and the next wave would move its share
        unprotected. It holds instead, and looks again every drainDetection.interval: it goes on once its
        selector admits an execution (one grew old enough), or when a promote request skips it."""
        progress = self.status.waves
        text = (f"{wave.label} selected nothing: its selector ({selector_text(wave.selector)}) admits none of the "
                f"{len(eligible)} execution(s) it could move")
        if wave.selector and wave.selector.older_than:
            starts = [c.started for c in eligible if c.started is not None]
            text += (f"; the oldest of them is {wave.selector.older_than} old at "
                     f"{format_time(min(starts) + parse_duration(wave.selector.older_than))}" if starts else
                     "; the start of none of them is known")
        if progress.state != WaveState.HELD:
            self._wave_state(WaveState.HELD)
            self.events.append(Event("Warning", REASON_WAVE_SELECTED_NOTHING, f"{text}; the plan holds"))
        progress.until = format_time(self.now + parse_duration(self.spec.drain_detection.interval))
        progress.message = text
        return self._held(wave, text)

    def _held(self, wave: Wave, text: str) -> MigrationStep:
        message = (f"{text}; held: a wave that moves nothing proves nothing, so the next wave does not start. "
                   f"It goes on once the selector admits an execution; request promote to skip the {wave.label}, "
                   f"or abort")
        self.warnings.append((REASON_WAVE_SELECTED_NOTHING, text))
        return self._stall(Phase.MOVING, REASON_WAVE_SELECTED_NOTHING, message)

    def _eligible(self, moves: tuple[Move, ...]) -> list[Candidate] | None:
        """The old executions a wave may move, when the shell read them (see ``reads_candidates``); the
        total and the ineligible ones are counted afresh then, and kept as they were otherwise."""
        observed, progress = self.observed, self.status.waves
        if observed.candidates is None or observed.target_refs is None:
            return None
        eligible, ineligible = [], []
        for item in observed.candidates:
            why = ineligibility(item, observed.target_refs)
            if why:
                ineligible.append(f"{item.execution_id}: {why}")
            else:
                eligible.append(item)
        progress.total = len(moves) + len(observed.candidates)
        progress.ineligible, progress.ineligible_executions = len(ineligible), ineligible[:LISTED_INELIGIBLE]
        return eligible

    def _watch(self, waves: list[Wave], wave: Wave, moves: tuple[Move, ...]) -> MigrationStep | None:
        progress, gate = self.status.waves, self._health_gate()
        result = health([m for m in moves if m.wave == wave.number], self.observed.move_states)
        progress.message = f"{result.failed} of {result.moved} execution(s) moved in {wave.label} failed"
        checks = self._check_workflows(gate.workflows, progress.gates, wave=wave.number) if gate else []
        progress.gates = checks
        failed_checks = [c for c in checks if c.reason == REASON_GATE_FAILED]
        too_many = gate is not None and result.exceeds(gate.max_failure_percent)
        if too_many or failed_checks:
            text = "; ".join([f"{wave.label}: {progress.message}"
                              + (f", above {gate.max_failure_percent}% ({_some(result.failed_ids)})"
                                 if too_many else ""),
                              *(f"check {g.name}: {g.message}" for g in failed_checks)])
            self.events.append(Event("Warning", REASON_HEALTH_GATE_FAILED, text))
            if self.spec.strategy.upgrade_waves.on_gate_failure == "Rollback":
                self._begin_rollback()
                return self._rolling_back(None)
            self._wave_state(WaveState.GATE_FAILED)
            return self._stall(Phase.MOVING, REASON_HEALTH_GATE_FAILED,
                               f"{text}; request promote to go on, rollback to move them back, or abort")
        running_checks = [c.name for c in checks if not c.passed]
        if (result.moved and self.now < parse_time(progress.until)) or running_checks:
            waiting = f"; check workflow(s) {', '.join(running_checks)} running" if running_checks else ""
            return self._progress(Phase.MOVING, f"{wave.label}: watching until {progress.until}: "
                                                f"{progress.message}{waiting}")
        self.events.append(Event("Normal", "WavePassed", f"{wave.label} passed its health gate: {progress.message}"))
        if wave.pause and wave is not waves[-1]:
            self._wave_state(WaveState.WAITING, parse_duration(wave.pause))
            return self._progress(Phase.MOVING, f"{wave.label} passed its health gate; the next wave starts at "
                                                f"{progress.until}")
        return self._next_wave(waves, wave)

    def _next_wave(self, waves: list[Wave], wave: Wave) -> MigrationStep | None:
        progress = self.status.waves
        self._terminate_running_gates(f"{wave.label} was promoted past its health gate")
        later = [w for w in waves if w.number > wave.number]
        if not later:
            self._wave_state(WaveState.DONE)
            self.status.phase = Phase.DRAINING
            self.status.drain = DrainStatus(since=format_time(self.now))
            return None
        progress.current = later[0].number
        self._wave_state(WaveState.MOVING)
        return self._waves()

    def _wave_state(self, state: WaveState, lasting: timedelta | None = None) -> None:
        progress = self.status.waves
        progress.state, progress.since = state, format_time(self.now)
        progress.until = format_time(self.now + lasting) if lasting is not None else None

    def _health_gate(self):
        return self.spec.strategy.upgrade_waves.health_gate if self.spec.strategy.upgrade_waves else None

    def _gate_window(self) -> timedelta:
        gate = self._health_gate()
        return parse_duration(gate.window) if gate else timedelta(0)

    def _count_moves(self, moves: tuple[Move, ...]) -> None:
        progress = self.status.waves
        ever_moved = [m for m in moves if m.state not in (MoveState.INTENT, MoveState.FAILED, MoveState.ENDED)]
        failed = [m for m in ever_moved if m.state is MoveState.MOVED
                  and self.observed.move_states.get(m.execution_id) in FAILED_STATES]
        progress.moved = len(ever_moved)
        progress.failed = len(failed) + sum(1 for m in moves if m.state is MoveState.FAILED)
        progress.rolled_back = sum(1 for m in moves if m.state is MoveState.ROLLED_BACK)

    # ---- rollback: the old content as the new highest version, moved executions moved back ---------

    def _begin_rollback(self) -> None:
        status = self.status
        status.phase = Phase.ROLLING_BACK
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
        status.phase = Phase.ROLLING_BACK
        if rollback.version is None:
            version = max([*observed.registered_versions, status.verdict.to_version]) + 1
            self.actions.append(PlanAction(ActionKind.REPUBLISH, version=version))
            return self._wait(Phase.ROLLING_BACK, Phase.ROLLING_BACK.value,
                              f"republishing v{rollback.from_version}'s content as v{version}")
        moves = observed.moves
        if moves is None:
            return self._wait(Phase.ROLLING_BACK, Phase.ROLLING_BACK.value, "reading the ledger")
        if status.waves:
            self._count_moves(moves)
        if pending := [m for m in moves if m.state in PENDING]:
            return self._wait(Phase.ROLLING_BACK, Phase.ROLLING_BACK.value,
                              f"finishing {len(pending)} move(s) already begun")
        back = [m for m in moves if m.state is MoveState.MOVED and observed.move_states.get(m.execution_id) in
                RUNNING_STATES]
        if back:
            mover = self._mover()
            intents = tuple(m.but(MoveState.BACK_INTENT, format_time(self.now)) for m in back)
            self.actions.append(PlanAction(ActionKind.MOVE_BACK, moves=intents, mover=mover,
                                           version=rollback.version))
            return self._wait(Phase.ROLLING_BACK, Phase.ROLLING_BACK.value,
                              f"moving {len(back)} execution(s) back")
        status.phase = Phase.ROLLED_BACK
        left = sum(1 for m in moves if m.state is MoveState.MOVED)
        status.message = (f"rolled back: unpinned starts run v{rollback.from_version}'s content as "
                          f"v{rollback.version}; {sum(1 for m in moves if m.state is MoveState.ROLLED_BACK)} "
                          f"execution(s) moved back; v{status.verdict.to_version} stays registered for what still "
                          f"runs on it ({left} moved execution(s) had ended there)")
        self.events.append(Event("Normal", REASON_ROLLED_BACK, status.message))
        return self._ended()

    # ---- one-shot requests from the spec --------------------------------------------------------

    def _requests(self, target: TargetView) -> None:
        requests, handled = self.spec.requests, self.status.handled_requests
        if requests is None:
            return
        for kind in ("abort", "rollback", "promote"):
            token, last = getattr(requests, kind), getattr(handled, kind)
            if not token or (last is not None and last.token == token):
                continue
            if self.created:
                result = "present when the plan was created: not acted on"
            else:
                result = getattr(self, f"_request_{kind}")()
            setattr(handled, kind, HandledRequest(token=token, handled_at=format_time(self.now), result=result))
            self.events.append(Event("Normal", f"{kind.capitalize()}Requested", result))

    def _request_abort(self) -> str:
        status = self.status
        if status.phase in (*ENDED, Phase.FAILED, Phase.ROLLING_BACK):
            return f"nothing to abort: the plan is {status.phase}"
        was = status.phase or Phase.PENDING
        status.phase = Phase.ABORTED
        self._terminate_running_gates("the plan was aborted")
        moved = status.waves.moved if status.waves else 0
        return f"aborted in phase {was}: nothing more moves; {moved} moved execution(s) stay on the target"

    def _request_rollback(self) -> str:
        status = self.status
        if status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
            return f"already {status.phase}"
        if status.cutover_at is None:
            return "nothing was cut over, so nothing to roll back: " + self._request_abort()
        if not self.from_versions:
            return "nothing to roll back to: no older version was moved from"
        if max(self.from_versions) in status.retired_versions:
            return f"nothing to roll back to: v{max(self.from_versions)} was retired from Conductor"
        self._begin_rollback()
        return f"rolling back from phase {status.waves.state if status.waves else status.phase}"

    def _request_promote(self) -> str:
        status = self.status
        waves = status.waves
        if self.spec.paused:
            return "not acted on: the plan is held by spec.paused; resume it, then promote again"
        if status.phase == Phase.MOVING and waves and waves.state in (WaveState.WAITING, WaveState.GATE_FAILED):
            self.promoted = True
            what = "its pause" if waves.state == WaveState.WAITING else "its failed health gate"
            return f"wave {waves.current}: went on past {what}"
        if status.phase == Phase.MOVING and waves and waves.state == WaveState.HELD:
            self.promoted = True
            return f"wave {waves.current}: skipped, as it selected nothing; the next wave starts"
        if self.spec.strategy.drain and status.phase == Phase.DRAINING and status.cutover_at is None:
            self.promoted = True
            return "cut over before the drain ended: what still runs finishes on its version"
        return f"nothing to promote in phase {status.phase or Phase.PENDING}"

    def _retire(self, old: list[int]) -> MigrationStep:
        """RETIRE each old version a fresh count finds idle and no definition pins; say what holds the others."""
        ready_at = parse_time(self.status.drain.drained_at) + parse_duration(self.spec.strategy.parallel.retire_after)
        if self.now < ready_at:
            return self._progress(Phase.RETIRING, f"retiring {_versions(old)} at {format_time(ready_at)} "
                                                  f"(spec.strategy.parallel.retireAfter)")
        if self.observed.counts is None or self.observed.referrers is None:
            return self._progress(Phase.RETIRING, f"retiring {_versions(old)} once counted afresh")
        blocked = {v: refs for v in old if (refs := self.observed.referrers.get(v))}
        self.actions += [PlanAction(ActionKind.RETIRE, version=v) for v in old if v not in blocked]
        if blocked:
            text = "; ".join(f"v{v} is pinned as a sub-workflow by {', '.join(sorted(refs))}"
                             for v, refs in blocked.items())
            self.warnings.append((REASON_RETIREMENT_BLOCKED, f"not retired: {text}"))
            return self._progress(Phase.RETIRING, f"waiting to retire: {text}")
        return self._progress(Phase.RETIRING, f"retiring {_versions(old)} from Conductor")

    # ---- pieces ---------------------------------------------------------------------------------

    def _start_over(self) -> None:
        if self.status.phase == Phase.FAILED:
            self.status.phase = None
        self._terminate_running_gates("the spec changed")
        self.status.gates = []
        self.status.gates_passed_at, self.status.drain = None, None  # a drain before its cutover starts over too

    def _terminate_running_gates(self, why: str) -> None:
        """Terminate the check workflows still running, before the cutover and in the current wave: what they
        would have judged no longer matters."""
        status = self.status
        for results in (status.gates, status.waves.gates if status.waves else []):
            for index, gate in enumerate(results):
                if gate.execution_id and not gate.passed and gate.reason == REASON_GATE_RUNNING:
                    self.actions.append(PlanAction(ActionKind.TERMINATE_GATE, execution_id=gate.execution_id))
                    results[index] = gate.model_copy(update={
                        "message": f"execution {gate.execution_id} terminated: {why}",
                        "checked_at": format_time(self.now)})

    def _from_versions(self, target: TargetView) -> list[int]:
        source = self.spec.from_
        return versions_to_move(explicit=source.versions, all_older=bool(source.all_older),
                                registered=self.observed.registered_versions, target=target.version)

    def _unretired(self, target: TargetView) -> list[int]:
        return [v for v in self.from_versions if v not in self.status.retired_versions and v != target.version]

    def _retiring(self) -> bool:
        return bool(self.spec.strategy.parallel and self.spec.strategy.parallel.retire_old_versions)

    def _record_counts(self, target_version: int) -> None:
        counts = self.observed.counts
        if counts is None or self.had_ended:  # a plan that ended keeps its final counts
            return
        status = self.status
        read_at = format_time(self.now)
        old = self.from_versions
        shown = sorted(set(counts) | set(old) | {target_version})
        status.versions = [VersionCount(version=v, running=counts.get(v, 0), read_at=read_at) for v in shown]
        status.running = RunningSummary(old=sum(counts.get(v, 0) for v in old), target=counts.get(target_version, 0),
                                        read_at=read_at)
        self._estimate_drain_end()
        if status.phase in (Phase.DRAINING, Phase.RETIRING) and status.drain is not None:
            unretired = [v for v in old if v not in status.retired_versions]
            state = record_reading(_drain_state(status.drain), sum(counts.get(v, 0) for v in unretired), self.now)
            status.drain.zero_readings = state.zero_readings
            status.drain.first_zero_at = format_time(state.first_zero_at) if state.first_zero_at else None

    def _estimate_drain_end(self) -> None:
        drain = self.status.drain
        if drain is not None and self.observed.old_starts is not None:
            end = estimate_drain_end(self.observed.old_starts, self.now)
            drain.estimated_end = format_time(end) if end else None

    def _old_running(self, old: list[int]) -> bool:
        counts = self.observed.counts
        return counts is not None and any(counts.get(v, 0) for v in old)

    def _drain_ended(self, old: list[int]) -> bool:
        """Whether the old versions drained (judged on a fresh reading); if so, record when and say so."""
        detection = self.spec.drain_detection
        ended = not old or (self.observed.counts is not None and drained(
            _drain_state(self.status.drain), self.now, readings_needed=detection.consecutive_zero_readings,
            grace=parse_duration(detection.grace_period)))
        if ended:
            self.status.drain.drained_at = format_time(self.now)
            self.events.append(Event("Normal", DRAINED, f"no execution of {_versions(old)} has run for "
                                                        f"{detection.grace_period}"))
        return ended

    def _drain_message(self, old: list[int]) -> str:
        running = self.status.running.old if self.status.running else None
        drain = self.status.drain or DrainStatus()
        needed = max(2, self.spec.drain_detection.consecutive_zero_readings)
        if running:
            drain_spec = self.spec.strategy.drain
            paused = "triggers are paused; " if drain_spec and drain_spec.pause_triggers else ""
            where = ("new unpinned starts go to the target" if self.status.registered_at else
                     f"{paused}deadline {drain.deadline}")
            ends = f"; estimated end {drain.estimated_end}" if drain.estimated_end else ""
            return f"{running} execution(s) still run on {_versions(old)}; {where}{ends}"
        return (f"{_versions(old)} read zero {drain.zero_readings} of {needed} time(s) in a row; drained after "
                f"{self.spec.drain_detection.grace_period} at zero")

    def _pinning_triggers(self, old: list[int], target: TargetView) -> None:
        """Warn of triggers that keep starting an old version: the drain cannot end while they do."""
        pinning = {key: v for key, v in (self.observed.pinning_triggers or {}).items() if v in old}
        if pinning:
            text = ", ".join(f"{key} starts v{version}" for key, version in sorted(pinning.items()))
            self.warnings.append((REASON_TRIGGER_PINS_OLD, f"{text} (pinned): the old versions will not drain "
                                                           f"while it does; unpin it or point it at v{target.version}"))

    def _target_warnings(self, target: TargetView) -> None:
        higher = [v for v in self.observed.registered_versions if v > target.version]
        if higher:
            self.warnings.append((REASON_NOT_HIGHEST,
                                  f"{self.spec.workflow_name} {_versions(higher)} is registered above the target "
                                  f"v{target.version}: unpinned starts go to v{max(higher)}, not to the target"))
        if self.status.cutover_at is None and target.version in self.observed.registered_versions:
            how = ("set spec.activation: ByMigrationPlan on WorkflowDefinition " + target.resource
                   if target.activation == "Immediate" else "it was registered by something other than this plan")
            self.warnings.append((REASON_ACTIVATED_EARLY,
                                  f"v{target.version} is registered in Conductor before the gates passed, so they "
                                  f"cannot hold the cutover: {how}"))

    def _workers_gate(self, target: TargetView) -> GateResult:
        checked_at = format_time(self.now)
        if not self.spec.gates.require_workers:
            return GateResult(name=WORKERS_GATE, passed=True, reason=REASON_WORKERS_NOT_REQUIRED,
                              message="spec.gates.requireWorkers is false", checked_at=checked_at)
        window = parse_duration(self.spec.gates.workers_seen_within)
        polls = self.observed.last_polls or {}
        idle = [t for t in simple_task_types(target.definition)
                if polls.get(t) is None or self.now - polls[t] > window]
        if idle:
            return GateResult(name=WORKERS_GATE, passed=False, reason=REASON_WORKERS_MISSING,
                              message=f"no worker polled {', '.join(idle)} in the last "
                                      f"{self.spec.gates.workers_seen_within}", checked_at=checked_at)
        return GateResult(name=WORKERS_GATE, passed=True, reason=REASON_WORKERS_POLLING,
                          message="every SIMPLE task type of the target has a polling worker", checked_at=checked_at)

    def _workflow_gates(self, target: TargetView) -> list[GateResult]:
        return self._check_workflows(self.spec.gates.workflows, self.status.gates, target_version=target.version)

    def _check_workflows(self, workflows: list[GateWorkflow], previous: list[GateResult], *,
                         target_version: int | None = None, wave: int | None = None) -> list[GateResult]:
        """Start the check workflows not started yet, judge the others. Before the cutover a check naming the
        migrated workflow runs the target inline; after a wave, what is registered runs."""
        previous = {g.name: g for g in previous}
        results = []
        for gate in workflows:
            before = previous.get(gate.name)
            if before is None or (before.execution_id is None and before.reason != REASON_GATE_FAILED):
                inline = wave is None and gate_runs_target(gate, self.spec.workflow_name, target_version)
                self.actions.append(PlanAction(ActionKind.START_GATE, gate=gate, run_target_inline=inline, wave=wave))
                results.append(GateResult(name=gate.name, passed=False, reason=REASON_GATE_RUNNING,
                                          message="starting", checked_at=format_time(self.now),
                                          started_at=format_time(self.now)))
                continue
            results.append(self._judge_gate(gate, before))
        return results

    def _judge_gate(self, gate: GateWorkflow, before: GateResult) -> GateResult:
        if before.passed or before.reason == REASON_GATE_FAILED:
            return before  # settled: a check workflow runs once per spec generation
        result = before.model_copy(update={"checked_at": format_time(self.now)})
        execution = self.observed.gate_executions.get(before.execution_id)
        if execution is None:
            return result.model_copy(update={"reason": REASON_GATE_FAILED,
                                             "message": f"execution {before.execution_id} no longer exists"})
        state = execution.get("status")
        if state == "COMPLETED":
            mismatches = output_mismatches(gate.expected_output, execution.get("output"))
            if mismatches:
                return result.model_copy(update={"reason": REASON_GATE_FAILED,
                                                 "message": "completed with unexpected output: " +
                                                            "; ".join(mismatches)})
            return result.model_copy(update={"passed": True, "reason": REASON_GATE_PASSED,
                                             "message": f"execution {before.execution_id} completed as expected"})
        if state not in RUNNING_STATES:
            reason = execution.get("reasonForIncompletion") or ""
            return result.model_copy(update={"reason": REASON_GATE_FAILED, "message": f"execution "
                                             f"{before.execution_id} ended {state}{': ' + reason if reason else ''}"})
        started = parse_time(before.started_at) or self.now
        if self.now - started > parse_duration(gate.timeout):
            self.actions.append(PlanAction(ActionKind.TERMINATE_GATE, execution_id=before.execution_id))
            return result.model_copy(update={"reason": REASON_GATE_FAILED, "message": f"execution "
                                             f"{before.execution_id} did not complete within {gate.timeout}"})
        return result.model_copy(update={"message": f"execution {before.execution_id} is {state}"})

    def _dry_run(self, target: TargetView, from_versions: list[int], workers: GateResult) -> MigrationStep:
        spec, status = self.spec, self.status
        status.gates = [workers]
        planned = [f"wait for workers: {workers.message}" if not workers.passed else f"workers: {workers.message}"]
        for gate in spec.gates.workflows:
            what = "the target definition" if gate_runs_target(gate, spec.workflow_name, target.version) else \
                f"workflow {gate.name}" + (f" v{gate.version}" if gate.version else "")
            planned.append(f"run check workflow {gate.name} ({what}) and expect {gate.expected_output or {}} "
                           f"within {gate.timeout}")
        running = status.running.old if status.running else "an unknown number of"
        drain = spec.strategy.drain
        if drain:
            if drain.pause_triggers:
                planned.append(f"pause the event handlers and schedules that start {spec.workflow_name}")
            planned.append(f"wait up to {drain.deadline} until {_versions(from_versions)} drain ({running} "
                           f"execution(s) running now); at the deadline: {drain.on_deadline}")
        planned.append(f"let WorkflowDefinition {target.resource} register {spec.workflow_name} v{target.version}: "
                       f"unpinned starts move to it, pinned callers keep their version")
        if drain and drain.pause_triggers:
            planned.append("resume the paused triggers once it is registered")
        if spec.strategy.upgrade_waves:
            mover = mover_for(spec.strategy.upgrade_waves, self.observed.flavor)
            gate = spec.strategy.upgrade_waves.health_gate
            waves = waves_of(spec.strategy.upgrade_waves)
            for wave in waves:
                size = f"{wave.count} execution(s)" if wave.count else f"up to {wave.percent}% of them"
                pause = f", then wait {wave.pause}" if wave.pause and wave is not waves[-1] else ""
                checks = f", and run {', '.join(g.name for g in gate.workflows)}" if gate.workflows else ""
                planned.append(f"{wave.label}: move {size} with {mover}, then watch them for {gate.window} "
                               f"(at most {gate.max_failure_percent}% may fail){checks}{pause}")
        if not drain:
            planned.append(f"wait until {_versions(from_versions)} drain ({running} execution(s) running now)"
                           if from_versions else "nothing to drain: no older version is registered")
        if self._retiring() and from_versions:
            planned.append(f"retire {_versions(from_versions)} from Conductor "
                           f"{spec.strategy.parallel.retire_after} after the drain")
        status.planned_actions = planned
        status.phase = Phase.DRY_RUN
        status.message = "dry run: nothing is changed; see status.plannedActions"
        return self._step(kstatus(True, REASON_DRY_RUN, status.message),
                          gates=(FALSE if not workers.passed else UNKNOWN, REASON_DRY_RUN, "dry run"))

    # ---- endings: status.phase, status.message and the conditions -------------------------------

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
        warnings = list(dict.fromkeys([*self.warnings, *_standing_warnings(status)]))
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
        return MigrationStep(status, conditions, self.actions, self.events)

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
        return FALSE, failed[0].reason, _gate_text(failed)

    def _holds_triggers(self) -> bool:
        """Triggers stay paused while a drain waits, and until the target it releases is registered."""
        status = self.status
        return bool(self.spec.strategy.drain and status.registered_at is None
                    and status.phase in (Phase.DRAINING, Phase.CUTTING_OVER))

    def _accepted(self) -> bool:
        return (self.spec.healthy_when == "Accepted" and self.status.registered_at is not None
                and self.status.phase in (Phase.DRAINING, Phase.RETIRING, Phase.MOVING))

    def _progress(self, phase: Phase, message: str) -> MigrationStep:
        """Accepted (healthyWhen: Accepted, target registered) reads as done to kstatus: Ready, not
        Reconciling, so a drain of days does not hold a sync; the drain shows in message and Drained."""
        self.status.phase, self.status.message = phase, message
        accepted = self._accepted()
        return self._step(kstatus(accepted, phase.value, message, reconciling=not accepted))

    def _wait(self, phase: Phase, reason: str, message: str) -> MigrationStep:
        self.status.phase, self.status.message = phase, message
        return self._step(kstatus(False, reason, message, reconciling=True))

    def _ended(self) -> MigrationStep:
        """Aborted or rolled back: it stays so (an aborted plan past its cutover can still be rolled back); a new
        MigrationPlan starts again."""
        status = self.status
        if status.phase == Phase.ABORTED:
            handled = status.handled_requests.abort or status.handled_requests.rollback
            status.message = handled.result if handled else "aborted"
        return self._step(kstatus(False, str(status.phase), status.message or "", stalled=True))

    def _stall(self, phase: Phase, reason: str, message: str) -> MigrationStep:
        """Stalled until a person acts. A plan refused before it starts (its spec, its target, its versions) says so in
        a Warning event when the stall begins; a stall later on follows an action that posted its own event."""
        was = self.status.condition(STALLED)
        already = was is not None and was.status == TRUE and was.reason == reason
        self.status.phase, self.status.message = phase, message
        if (phase in (Phase.PENDING, Phase.VALIDATING) and not already
                and not any(event.reason == reason for event in self.events)):
            self.events.append(state_event("Warning", reason, message))
        return self._step(kstatus(False, reason, message, stalled=True))

    def _paused(self, phase: Phase) -> MigrationStep:
        field_name = "spec.paused" if self.spec.paused else "spec.dryRun"
        message = f"held in {phase.value} by {field_name}; nothing moves until it is false"
        self.status.phase, self.status.message = phase, message
        return self._step(kstatus(self._accepted(), REASON_PAUSED, message))

    def _failed(self) -> MigrationStep:
        failed = [g for g in self.status.gates if g.reason == REASON_GATE_FAILED]
        message = (f"a gate failed, nothing was cut over: {_gate_text(failed)}; change the spec to try again"
                   if failed else "failed; change the spec to try again")
        self.status.phase, self.status.message = Phase.FAILED, message
        return self._step(kstatus(False, REASON_GATE_FAILED, message, stalled=True))

    def _completed(self) -> MigrationStep:
        status = self.status
        status.phase = Phase.COMPLETED
        retired = f"; retired {_versions(status.retired_versions)}" if status.retired_versions else ""
        status.message = f"{self.spec.workflow_name} runs on v" \
                         f"{status.verdict.to_version if status.verdict else '?'}{retired}"
        return self._step(kstatus(True, Phase.COMPLETED.value, status.message))


def record_retirement(status: MigrationPlanStatus, version: int) -> None:
    if version not in status.retired_versions:
        status.retired_versions = sorted([*status.retired_versions, version])


def plans_releasing(resource: str, plans: Iterable[MigrationPlan]) -> list[str]:
    """Plans that released WorkflowDefinition ``resource`` at their cutover (after their gates passed)."""
    return [p.metadata.name for p in plans if p.status.cutover_at
            and (p.status.released or p.spec.to.workflow_definition_ref.name) == resource]


def plans_retiring(workflow_name: str, version: int, plans: Iterable[MigrationPlan]) -> list[str]:
    """Plans that retired this version of the workflow from Conductor, or may be retiring it: a plan in
    Retiring deletes a version before it records it, so an operator killed in between leaves a deleted
    version that only the plan's phase tells apart from one deleted by hand."""
    def retiring(p: MigrationPlan) -> bool:
        status = p.status
        return version in status.retired_versions or (
            status.phase == Phase.RETIRING and status.verdict is not None and version in status.verdict.from_versions)

    return [p.metadata.name for p in plans if p.spec.workflow_name == workflow_name and retiring(p)]


def older_plans_at_work(plan: MigrationPlan, others: Iterable[MigrationPlan]) -> list[MigrationPlan]:
    """The plans, oldest first, created before this one and still at work on the same workflow (whether
    they work on the same Conductor is the caller's to tell)."""
    def age(p: MigrationPlan) -> tuple[str, str, str]:
        return p.metadata.creation_timestamp or "", p.metadata.namespace or "", p.metadata.name

    return sorted((p for p in others if p.spec.workflow_name == plan.spec.workflow_name
                   and p.metadata.uid != plan.metadata.uid and p.status.phase not in (Phase.FAILED, *ENDED)
                   and age(p) < age(plan)), key=age)


def rival_plan(plan: MigrationPlan, others: Iterable[MigrationPlan]) -> str | None:
    """The oldest plan still at work on the same workflow and Conductor (the caller filters by Conductor), if
    any, named with its namespace when that is another. Two plans would move, drain or retire the same
    executions; the newer one waits for the older."""
    older = older_plans_at_work(plan, others)
    if not older:
        return None
    rival = older[0].metadata
    return rival.name if rival.namespace == plan.metadata.namespace else f"{rival.namespace}/{rival.name}"


def same_cluster(plans: Iterable[MigrationPlan], cluster: str | None, default: str) -> list[MigrationPlan]:
    """The plans that work on the same ConductorCluster (None: the namespace default)."""
    wanted = cluster or default
    return [p for p in plans if (p.spec.cluster_ref.name if p.spec.cluster_ref else default) == wanted]


def _drain_state(drain: DrainStatus | None) -> DrainState:
    if drain is None:
        return DrainState()
    return DrainState(drain.zero_readings, parse_time(drain.first_zero_at))


def _verdict_status(verdict: PlanVerdict, from_versions: list[int], to_version: int) -> VerdictStatus:
    findings = [FindingStatus(level=f.level.value, reason=f.reason.value, task_ref=f.task_ref,
                              message=f"v{version}: {f.message}") for version, f in verdict.findings]
    standing = [StandingWarningStatus(reason=w.reason.value, task_ref=w.task_ref, message=f"v{version}: {w.message}")
                for version, w in verdict.standing_warnings]
    return VerdictStatus(level=verdict.level.value, findings=findings, standing_warnings=standing,
                         from_versions=from_versions, to_version=to_version)


def _standing_warnings(status: MigrationPlanStatus) -> list[tuple[str, str]]:
    """The verdict's standing warnings, for the Warning condition after the plan's own warnings."""
    warnings = status.verdict.standing_warnings if status.verdict else []
    return [(w.reason, f"standing warning (not in the verdict): {w.message}") for w in warnings]


def _some(ids: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _versions(versions: Iterable[int]) -> str:
    listed = [f"v{v}" for v in versions]
    return ", ".join(listed) if listed else "no version"


def _gate_text(gates: Iterable[GateResult]) -> str:
    return "; ".join(f"{g.name}: {g.message}" for g in gates)


REASON_AWAITING_ACTIVATION = "AwaitingActivation"
REASON_RETIRED = "RetiredByMigrationPlan"
REASON_RETIRED_RUNNING = "RetiredVersionRunning"


def definition_hold(*, resource: str, workflow_name: str, version: int, activation: str, ever_registered: bool,
                    plans: Iterable[MigrationPlan], label: str, running: int | None = None) -> list[Condition] | None:
    """Conditions for a WorkflowDefinition whose version is absent from Conductor and must stay so, else None.

    Absent because a MigrationPlan retired it (registering it again would undo the retirement), or
    because it waits for a plan to release it (``spec.activation: ByMigrationPlan``): registering a
    version is what moves unpinned starts to it, so it waits for the plan's gates. ``running`` counts the
    running executions of a retired version (None: not counted): retiring deletes the definition, not the
    executions, and a plain restart of an ended one runs it again on its own version, which no plan watches
    any more, so their reappearance is a Warning.
    """
    plans = list(plans)
    if retired_by := plans_retiring(workflow_name, version, plans):
        by = f"MigrationPlan {', '.join(retired_by)}"
        message = f"{label} was retired from Conductor by {by}"
        warning = Condition(WARNING, FALSE, REASON_NO_WARNINGS, "")
        if running:
            warning = Condition(WARNING, TRUE, REASON_RETIRED_RUNNING,
                                f"executions of {label} run again although {by} retired it (status.executions."
                                f"running counts them): a plain restart of an ended execution runs it on its own "
                                f"version, which nothing migrates any more; let them end, or restart them with "
                                f"useLatestDefinitions")
        return [*kstatus(True, REASON_RETIRED, message),
                Condition(REGISTERED, FALSE, REASON_RETIRED, message), warning]
    if activation == "ByMigrationPlan" and not ever_registered and not plans_releasing(resource, plans):
        message = (f"{label} is registered once a MigrationPlan in this namespace that targets WorkflowDefinition "
                   f"{resource} passes its gates (spec.activation: ByMigrationPlan)")
        return [*kstatus(False, REASON_AWAITING_ACTIVATION, message, reconciling=True),
                Condition(REGISTERED, FALSE, REASON_AWAITING_ACTIVATION, message)]
    return None
