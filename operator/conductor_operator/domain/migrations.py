"""Pure decisions a MigrationPlan is made of: which versions move, the verdict, when a version drained.

The MigrationPlan reconciler (docs/migration-design.md) composes these; each is small enough to be
checked on its own, and none reads a clock: the time is passed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import (
    DrainStatus,
    GateResult,
    GateWorkflow,
    MigrationPlan,
    MigrationPlanSpec,
    MigrationPlanStatus,
    RunningSummary,
    VersionCount,
)
from conductor_operator.api.migration import Finding as FindingStatus
from conductor_operator.api.migration import Verdict as VerdictStatus
from conductor_operator.domain.compatibility import SAFE, Compatibility, Finding, InvalidDefinition, Verdict, compare
from conductor_operator.domain.conditions import FALSE, TRUE, UNKNOWN, Condition, format_time, kstatus, parse_time
from conductor_operator.domain.definitions import REGISTERED, Event, iter_tasks


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

    def allows(self, strategy: str, *, acknowledged_breaking: bool = False) -> bool:
        return Verdict(self.level).allows(strategy, acknowledged_breaking=acknowledged_breaking)


def plan_verdict(old_definitions: dict[int, dict], target: dict, *,
                 changed_task_defs: Iterable[str] = ()) -> PlanVerdict:
    """Compare every old version with the target; the worst finding of any of them decides."""
    changed = tuple(changed_task_defs)
    level, findings = SAFE, []
    for version in sorted(old_definitions):
        verdict = compare(old_definitions[version], target, changed_task_defs=changed)
        level = max(level, verdict.level)
        findings += [(version, finding) for finding in verdict.findings]
    return PlanVerdict(level, tuple(findings))


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
    RETIRING = "Retiring"  # drained old versions are removed from Conductor
    COMPLETED = "Completed"
    FAILED = "Failed"  # a check workflow failed; a change of the spec starts over
    DRY_RUN = "DryRun"  # spec.dryRun: status shows what would happen


# Condition types and reasons of a MigrationPlan
GATES_PASSED = "GatesPassed"
CUT_OVER = "CutOver"
DRAINED = "Drained"
WARNING = "Warning"

REASON_TARGET_NOT_FOUND = "TargetNotFound"
REASON_TARGET_NOT_READABLE = "TargetNotReadable"
REASON_TARGET_MISMATCH = "TargetMismatch"
REASON_VERSIONS_NOT_FOUND = "VersionsNotFound"
REASON_INVALID_DEFINITION = "InvalidDefinition"
REASON_STRATEGY_NOT_ALLOWED = "StrategyNotAllowed"
REASON_STRATEGY_NOT_IMPLEMENTED = "StrategyNotImplemented"
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
REASON_REQUESTS_IGNORED = "RequestsNotImplemented"
REASON_NO_WARNINGS = "NoWarnings"

WORKERS_GATE = "Workers"
_RUNNING_GATE_STATES = frozenset({"RUNNING", "PAUSED"})


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


class ActionKind(StrEnum):
    START_GATE = "StartGate"
    TERMINATE_GATE = "TerminateGate"
    RETIRE = "Retire"


@dataclass(frozen=True)
class PlanAction:
    kind: ActionKind
    gate: GateWorkflow | None = None
    run_target_inline: bool = False
    """START_GATE: run the target definition without registering it (the gate names the target)."""
    execution_id: str | None = None
    version: int | None = None


@dataclass
class MigrationStep:
    """What a reconcile of a MigrationPlan does: the status to write, actions, conditions, events."""

    status: MigrationPlanStatus
    conditions: list[Condition]
    actions: list[PlanAction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def counts_due(status: MigrationPlanStatus, interval: timedelta, now: datetime) -> bool:
    """Whether running executions should be counted now: every drainDetection.interval, at every step
    while retiring (a version is deleted only on a fresh count), never once the plan has ended."""
    if status.phase in (Phase.COMPLETED, Phase.FAILED):
        return False
    if status.phase == Phase.RETIRING:
        return True
    read_at = parse_time(status.running.read_at) if status.running else None
    return read_at is None or now - read_at >= interval


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


def output_mismatches(expected: Mapping | None, output: Mapping | None) -> list[str]:
    """Keys of ``expected`` whose value the output does not hold, as ``key: wanted X, got Y``."""
    output = output or {}
    return [f"{key}: wanted {value!r}, got {output.get(key, '<missing>')!r}"
            for key, value in (expected or {}).items() if output.get(key) != value]


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

    # ---- the walk through the phases ------------------------------------------------------------

    def run(self) -> MigrationStep:
        status, spec = self.status, self.spec
        if spec.requests and (spec.requests.promote or spec.requests.abort or spec.requests.rollback):
            self.warnings.append((REASON_REQUESTS_IGNORED, "spec.requests (promote, abort, rollback) are not acted "
                                                           "on by this operator version"))
        if status.cutover_at is not None and status.verdict is not None:
            target = self._released_target()
            self.from_versions = list(status.verdict.from_versions)
            self._record_counts(target.version)
            return self._after_cutover(target)
        digest = gates_digest(spec)
        if status.gates_checked_spec != digest:
            self._start_over()  # the gates check the spec as it is written now
            status.gates_checked_spec = digest
        target = self.observed.target
        if target is None:
            return self._wait(Phase.PENDING, REASON_TARGET_NOT_FOUND,
                              f"WorkflowDefinition {spec.to.workflow_definition_ref.name} not found in this namespace")
        if target.workflow_name != spec.workflow_name:
            return self._stall(Phase.PENDING, REASON_TARGET_MISMATCH,
                               f"WorkflowDefinition {target.resource} is workflow {target.workflow_name!r}, "
                               f"not {spec.workflow_name!r}: spec.to must name a version of spec.workflowName")
        self.from_versions = self._from_versions(target)
        self._record_counts(target.version)
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
        acknowledged = bool(spec.strategy.upgrade_waves and spec.strategy.upgrade_waves.acknowledge_breaking)
        if not verdict.allows(strategy, acknowledged_breaking=acknowledged):
            return self._stall(Phase.VALIDATING, REASON_STRATEGY_NOT_ALLOWED,
                               f"the change is {verdict.level.value}: {strategy} would move running executions "
                               f"onto a definition they cannot continue on; use parallel or drain, or set "
                               f"spec.strategy.upgradeWaves.acknowledgeBreaking after reading the findings")
        if strategy != "parallel":
            return self._stall(Phase.VALIDATING, REASON_STRATEGY_NOT_IMPLEMENTED,
                               f"the {strategy} strategy is not implemented by this operator version yet; "
                               f"the verdict is shown and nothing was changed")
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
        status.cutover_at = format_time(self.now)
        status.released = target.resource
        self.events.append(Event("Normal", "CutoverStarted",
                                 f"gates passed: {spec.workflow_name} v{target.version} is released for "
                                 f"registration; unpinned starts go to it once registered"))
        return self._after_cutover(target)

    def _after_cutover(self, target: TargetView) -> MigrationStep:
        status, spec = self.status, self.spec
        self._target_warnings(target)
        if status.phase == Phase.COMPLETED:
            return self._completed()
        if spec.paused or spec.dry_run:
            return self._paused(Phase(status.phase or Phase.CUTTING_OVER))
        if status.drain is None or status.drain.since is None:
            if not target.registered:
                return self._wait(Phase.CUTTING_OVER, Phase.CUTTING_OVER.value,
                                  f"waiting for WorkflowDefinition {target.resource} to register "
                                  f"{spec.workflow_name} v{target.version}")
            status.phase = Phase.DRAINING
            status.drain = DrainStatus(since=format_time(self.now))
            self.events.append(Event("Normal", "CutOver", f"{spec.workflow_name} v{target.version} is registered: "
                                                          f"unpinned starts run on it, pinned callers keep "
                                                          f"their version"))
        old = self._unretired(target)
        if status.phase == Phase.DRAINING:
            if not old or (self.observed.counts is not None and self._drained()):  # judged on a fresh reading
                status.drain.drained_at = format_time(self.now)
                self.events.append(Event("Normal", DRAINED, f"no execution of {_versions(old)} has run for "
                                                             f"{spec.drain_detection.grace_period}"))
                status.phase = Phase.RETIRING if self._retiring() and old else Phase.COMPLETED
            else:
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
        self.actions += [PlanAction(ActionKind.TERMINATE_GATE, execution_id=g.execution_id) for g in self.status.gates
                         if g.execution_id and not g.passed and g.reason == REASON_GATE_RUNNING]
        self.status.gates = []

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
        if counts is None:
            return
        status = self.status
        read_at = format_time(self.now)
        old = self.from_versions
        shown = sorted(set(counts) | set(old) | {target_version})
        status.versions = [VersionCount(version=v, running=counts.get(v, 0), read_at=read_at) for v in shown]
        status.running = RunningSummary(old=sum(counts.get(v, 0) for v in old), target=counts.get(target_version, 0),
                                        read_at=read_at)
        if status.phase in (Phase.DRAINING, Phase.RETIRING) and status.drain is not None:
            unretired = [v for v in old if v not in status.retired_versions]
            state = record_reading(_drain_state(status.drain), sum(counts.get(v, 0) for v in unretired), self.now)
            status.drain.zero_readings = state.zero_readings
            status.drain.first_zero_at = format_time(state.first_zero_at) if state.first_zero_at else None

    def _old_running(self, old: list[int]) -> bool:
        counts = self.observed.counts
        return counts is not None and any(counts.get(v, 0) for v in old)

    def _drained(self) -> bool:
        detection = self.spec.drain_detection
        return drained(_drain_state(self.status.drain), self.now, readings_needed=detection.consecutive_zero_readings,
                       grace=parse_duration(detection.grace_period))

    def _drain_message(self, old: list[int]) -> str:
        running = self.status.running.old if self.status.running else None
        drain = self.status.drain or DrainStatus()
        needed = max(2, self.spec.drain_detection.consecutive_zero_readings)
        if running:
            return f"{running} execution(s) still run on {_versions(old)}; new unpinned starts go to the target"
        return (f"{_versions(old)} read zero {drain.zero_readings} of {needed} time(s) in a row; drained after "
                f"{self.spec.drain_detection.grace_period} at zero")

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
        previous = {g.name: g for g in self.status.gates}
        results = []
        for gate in self.spec.gates.workflows:
            before = previous.get(gate.name)
            if before is None or (before.execution_id is None and before.reason != REASON_GATE_FAILED):
                self.actions.append(PlanAction(ActionKind.START_GATE, gate=gate, run_target_inline=gate_runs_target(
                    gate, self.spec.workflow_name, target.version)))
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
        if state not in _RUNNING_GATE_STATES:
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
        planned.append(f"let WorkflowDefinition {target.resource} register {spec.workflow_name} v{target.version}: "
                       f"unpinned starts move to it, pinned callers keep their version")
        running = status.running.old if status.running else "an unknown number of"
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
        warnings = list(dict.fromkeys(self.warnings))
        cut = status.phase in (Phase.DRAINING, Phase.RETIRING, Phase.COMPLETED)
        drained_at = status.drain.drained_at if status.drain else None
        conditions = [
            *kstatus_conditions,
            Condition(GATES_PASSED, *gates),
            Condition(CUT_OVER, TRUE if cut else FALSE, "TargetRegistered" if cut else "NotCutOver",
                      f"the target is registered since {status.drain.since}" if cut and status.drain else ""),
            Condition(DRAINED, TRUE if drained_at else FALSE, "OldVersionsDrained" if drained_at else "NotDrained",
                      f"drained at {drained_at}" if drained_at else ""),
            Condition(WARNING, TRUE if warnings else FALSE, warnings[0][0] if warnings else REASON_NO_WARNINGS,
                      "; ".join(text for _, text in warnings)),
        ]
        return MigrationStep(status, conditions, self.actions, self.events)

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

    def _accepted(self) -> bool:
        return self.spec.healthy_when == "Accepted" and self.status.phase in (Phase.DRAINING, Phase.RETIRING)

    def _progress(self, phase: Phase, message: str) -> MigrationStep:
        """Accepted (healthyWhen: Accepted, target registered) reads as done to kstatus: Ready, not
        Reconciling, so a drain of days does not hold a sync; the drain shows in message and Drained."""
        self.status.phase, self.status.message = phase, message
        accepted = self._accepted()
        return self._step(kstatus(accepted, phase.value, message, reconciling=not accepted))

    def _wait(self, phase: Phase, reason: str, message: str) -> MigrationStep:
        self.status.phase, self.status.message = phase, message
        return self._step(kstatus(False, reason, message, reconciling=True))

    def _stall(self, phase: Phase, reason: str, message: str) -> MigrationStep:
        self.status.phase, self.status.message = phase, message
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
    """Plans that retired this version of the workflow from Conductor."""
    return [p.metadata.name for p in plans
            if p.spec.workflow_name == workflow_name and version in p.status.retired_versions]


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
    return VerdictStatus(level=verdict.level.value, findings=findings, from_versions=from_versions,
                         to_version=to_version)


def _versions(versions: Iterable[int]) -> str:
    listed = [f"v{v}" for v in versions]
    return ", ".join(listed) if listed else "no version"


def _gate_text(gates: Iterable[GateResult]) -> str:
    return "; ".join(f"{g.name}: {g.message}" for g in gates)


REASON_AWAITING_ACTIVATION = "AwaitingActivation"
REASON_RETIRED = "RetiredByMigrationPlan"


def definition_hold(*, resource: str, workflow_name: str, version: int, activation: str, ever_registered: bool,
                    plans: Iterable[MigrationPlan], label: str) -> list[Condition] | None:
    """Conditions for a WorkflowDefinition whose version is absent from Conductor and must stay so, else None.

    Absent because a MigrationPlan retired it (registering it again would undo the retirement), or
    because it waits for a plan to release it (``spec.activation: ByMigrationPlan``): registering a
    version is what moves unpinned starts to it, so it waits for the plan's gates.
    """
    plans = list(plans)
    if retired_by := plans_retiring(workflow_name, version, plans):
        message = f"{label} was retired from Conductor by MigrationPlan {', '.join(retired_by)}"
        return [*kstatus(True, REASON_RETIRED, message),
                Condition(REGISTERED, FALSE, REASON_RETIRED, message)]
    if activation == "ByMigrationPlan" and not ever_registered and not plans_releasing(resource, plans):
        message = (f"{label} is registered once a MigrationPlan in this namespace that targets WorkflowDefinition "
                   f"{resource} passes its gates (spec.activation: ByMigrationPlan)")
        return [*kstatus(False, REASON_AWAITING_ACTIVATION, message, reconciling=True),
                Condition(REGISTERED, FALSE, REASON_AWAITING_ACTIVATION, message)]
    return None
