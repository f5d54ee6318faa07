"""The walk of a MigrationPlan through its phases: ``plan_migration`` (pure: the clock passed in, no I/O).

One step runs from what is recorded: before the gates (target, validation, gates, dry run), the drain before a
cutover, or after the cutover (registration, waves, drain, retirement, rollback). The rooms it walks through
are mixed in from gates, drain, waves, rollback, requests, retirement and status; every phase change asks the
table in ``phases``, and ``strategy`` says which steps the plan runs.
"""

from __future__ import annotations

from datetime import datetime

from conductor_operator.api.migration import (
    DrainStatus,
    GateResult,
    MigrationPlanSpec,
    MigrationPlanStatus,
    WavesStatus,
)
from conductor_operator.domain.conditions import FALSE, UNKNOWN, format_time, kstatus
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.drain import Draining
from conductor_operator.domain.migrations.gates import gate_runs_target, gates_digest
from conductor_operator.domain.migrations.model import (
    ENDED,
    REASON_ACTIVATED_EARLY,
    REASON_CONFLICT,
    REASON_DRY_RUN,
    REASON_GATE_FAILED,
    REASON_GATES_PASSED,
    REASON_GATES_PENDING,
    REASON_NOT_HIGHEST,
    REASON_TARGET_AMONG_OLD_VERSIONS,
    REASON_TARGET_CHANGED,
    REASON_TARGET_GONE,
    REASON_TARGET_MISMATCH,
    REASON_TARGET_NOT_FOUND,
    REASON_TARGET_NOT_READABLE,
    WORKERS_GATE,
    ActionKind,
    MigrationStep,
    Phase,
    PlanAction,
    PlanObservation,
    TargetView,
    WaveState,
    gate_text,
    versions_text,
)
from conductor_operator.domain.migrations.phases import On
from conductor_operator.domain.migrations.recovery import Recovery, recovery_planned
from conductor_operator.domain.migrations.replay import REPLAY_GATE
from conductor_operator.domain.migrations.requests import Requests
from conductor_operator.domain.migrations.retirement import Retirement
from conductor_operator.domain.migrations.rollback import Rollback
from conductor_operator.domain.migrations.strategies import DryRun
from conductor_operator.domain.migrations.validation import PlanUnderCheck, validate, verdict_status, versions_to_move
from conductor_operator.domain.migrations.waves import Waves


def plan_migration(spec: MigrationPlanSpec, status: MigrationPlanStatus, observed: PlanObservation,
                   now: datetime, generation: int | None) -> MigrationStep:
    """The next step of a MigrationPlan: pure, from the spec, the recorded status and what was observed.

    Status is the record of progress (the cutover time, the drain readings, retired versions), so a
    restarted operator picks up where the last one stopped.
    """
    return Planner(spec, status.model_copy(deep=True), observed, now, generation).run()


class Planner(Recovery, Requests, Draining, Waves, Rollback, Retirement):
    """One step of a plan; its state is ``context.StepState``."""

    def run(self) -> MigrationStep:
        status, spec = self.status, self.spec
        if self.observed.rival and status.phase not in (Phase.FAILED, *ENDED):
            return self._stall(On.RIVAL, REASON_CONFLICT,
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
            return self._wait(On.TARGET_MISSING, REASON_TARGET_NOT_FOUND,
                              f"WorkflowDefinition {spec.to.workflow_definition_ref.name} not found in this namespace")
        if target.workflow_name != spec.workflow_name:
            return self._stall(On.TARGET_REFUSED, REASON_TARGET_MISMATCH,
                               f"WorkflowDefinition {target.resource} is workflow {target.workflow_name!r}, "
                               f"not {spec.workflow_name!r}: spec.to must name a version of spec.workflowName")
        if target.version in (spec.from_.versions or ()):
            return self._stall(On.TARGET_REFUSED, REASON_TARGET_AMONG_OLD_VERSIONS,
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
            return self._wait(On.TARGET_UNREADABLE, REASON_TARGET_NOT_READABLE,
                              f"WorkflowDefinition {target.resource} cannot be read: {target.problem}")
        from_versions = self.from_versions
        verdict, refusal = validate(PlanUnderCheck(spec, self.observed, target, from_versions, self.strategy))
        if verdict is not None:
            status.verdict = verdict_status(verdict, from_versions, target.version)
        if refusal is not None:
            return self._stall(On.VALIDATION_REFUSED, refusal.reason, refusal.message)
        self._target_warnings(target)
        if spec.paused:
            return self._paused(On.PAUSED_BEFORE_GATES)
        workers = self._workers_gate(target)
        if spec.dry_run:
            return self._dry_run(target, from_versions, workers)
        # Check workflows start once workers poll; one already started is kept while they are away.
        kept = [g for g in status.gates if g.name not in (WORKERS_GATE, REPLAY_GATE)]
        replayed = self._replay_gate()  # the replay needs no workers: every task's output is mocked
        checks = self._workflow_gates(target) if workers.passed else kept
        gates = [workers, *([replayed] if replayed else []), *checks]
        status.gates = gates
        failed = [g for g in gates if g.name != WORKERS_GATE and not g.passed and g.reason == REASON_GATE_FAILED]
        if failed:
            self.events.append(Event("Warning", REASON_GATE_FAILED, gate_text(failed)))
            return self._failed()
        waiting = [g for g in gates if not g.passed]
        if waiting:
            return self._wait(On.GATES_PENDING, REASON_GATES_PENDING, gate_text(waiting))
        status.gates_passed_at = format_time(self.now)
        if self.strategy.drains_before_cutover:
            self.events.append(Event("Normal", REASON_GATES_PASSED,
                                     f"gates passed: draining {versions_text(from_versions)} before "
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
            return self._paused()
        if status.registered_at is None:
            if not target.registered:
                pausing = PlanAction(ActionKind.PAUSE_TRIGGERS)  # one added since the release is held too
                if self.strategy.pauses_triggers and pausing not in self.actions:
                    self.actions.append(pausing)
                return self._wait(On.NOT_REGISTERED, Phase.CUTTING_OVER.value,
                                  f"waiting for WorkflowDefinition {target.resource} to register "
                                  f"{spec.workflow_name} v{target.version}")
            self._registered(target)
        if status.phase == Phase.MOVING and (step := self._waves()):
            return step
        if status.phase == Phase.RECOVERING and (step := self._recovery()):  # spec.recoverFailed
            return step
        old = self._unretired(target)
        if status.phase == Phase.DRAINING:
            if self._drain_ended(old):
                self.enter(On.DRAINED_RETIRE if self.strategy.retires and old else On.DRAINED)
            else:
                self._pinning_triggers(old, target)
                return self._progress(On.DRAIN_WAITS, self._drain_message(old))
        if status.phase == Phase.RETIRING:
            if self._old_running(old):  # a pinned caller started an old version again
                self.enter(On.RUNNING_AGAIN)
                status.drain = DrainStatus(since=status.drain.since if status.drain else format_time(self.now))
                return self._progress(On.DRAIN_WAITS, self._drain_message(old))
            if old and self.strategy.retires:
                return self._retire(old)
            self.enter(On.RETIRED)
            retired = (f"retired {versions_text(status.retired_versions)}" if status.retired_versions
                       else "nothing retired")
            self.events.append(Event("Normal", Phase.COMPLETED.value, retired))
        return self._completed()

    def _registered(self, target: TargetView) -> None:
        """The cutover is complete: the next phase is moving, or draining what still runs on the old versions."""
        status, spec = self.status, self.spec
        status.registered_at = format_time(self.now)
        self.events.append(Event("Normal", "CutOver", f"{spec.workflow_name} v{target.version} is registered: "
                                                      f"unpinned starts run on it, pinned callers keep their version"))
        if self.strategy.moves_after_registration(status):
            self.enter(On.REGISTERED_TO_MOVE)
            waves = self.strategy.waves()
            status.waves = WavesStatus(current=waves[0].number, count=len(waves), state=WaveState.MOVING,
                                       since=format_time(self.now))
        elif self._recovers():  # spec.recoverFailed: failed executions restart on the target, then the drain
            self._begin_recovery(On.REGISTERED_TO_RECOVER)
        elif self.strategy.drains_before_cutover and status.drain and status.drain.drained_at:
            self.enter(On.REGISTERED_DRAINED)
        else:
            self.enter(On.REGISTERED)
            status.drain = DrainStatus(since=format_time(self.now))

    def _start_over(self) -> None:
        if self.status.phase == Phase.FAILED:
            self.enter(On.SPEC_CHANGED)
        self._terminate_running_gates("the spec changed")
        self.status.gates, self.status.replay = [], None
        self.status.gates_passed_at, self.status.drain = None, None  # a drain before its cutover starts over too

    def _unretired(self, target: TargetView) -> list[int]:
        return [v for v in self.from_versions if v not in self.status.retired_versions and v != target.version]

    def _from_versions(self, target: TargetView) -> list[int]:
        source = self.spec.from_
        return versions_to_move(explicit=source.versions, all_older=bool(source.all_older),
                                registered=self.observed.registered_versions, target=target.version)

    def _target_warnings(self, target: TargetView) -> None:
        higher = [v for v in self.observed.registered_versions if v > target.version]
        if higher:
            self.warnings.append((REASON_NOT_HIGHEST,
                                  f"{self.spec.workflow_name} {versions_text(higher)} is registered above the target "
                                  f"v{target.version}: unpinned starts go to v{max(higher)}, not to the target"))
        if self.status.cutover_at is None and target.version in self.observed.registered_versions:
            how = ("set spec.activation: ByMigrationPlan on WorkflowDefinition " + target.resource
                   if target.activation == "Immediate" else "it was registered by something other than this plan")
            self.warnings.append((REASON_ACTIVATED_EARLY,
                                  f"v{target.version} is registered in Conductor before the gates passed, so they "
                                  f"cannot hold the cutover: {how}"))

    def _dry_run(self, target: TargetView, from_versions: list[int], workers: GateResult) -> MigrationStep:
        spec, status = self.spec, self.status
        status.gates = [workers]
        planned = [f"wait for workers: {workers.message}" if not workers.passed else f"workers: {workers.message}"]
        for gate in spec.gates.workflows:
            what = "the target definition" if gate_runs_target(gate, spec.workflow_name, target.version) else \
                f"workflow {gate.name}" + (f" v{gate.version}" if gate.version else "")
            planned.append(f"run check workflow {gate.name} ({what}) and expect {gate.expected_output or {}} "
                           f"within {gate.timeout}")
        if replay_gate := spec.gates.replay:
            planned.append(f"replay up to {replay_gate.sample} execution(s) of {versions_text(from_versions)} started "
                           f"in the last {replay_gate.within} through v{target.version} (POST /workflow/test, outputs "
                           f"mocked from their own tasks) and compare them")
        running = status.running.old if status.running else "an unknown number of"
        dry = DryRun(spec.workflow_name, from_versions, running, self.observed.flavor)
        planned += self.strategy.planned_before_release(dry)
        planned.append(f"let WorkflowDefinition {target.resource} register {spec.workflow_name} v{target.version}: "
                       f"unpinned starts move to it, pinned callers keep their version")
        planned += self.strategy.planned_after_release(dry)
        if spec.recover_failed:
            planned += recovery_planned(spec.recover_failed, target.version)
        status.planned_actions = planned
        self.enter(On.DRY_RUN)
        status.message = "dry run: nothing is changed; see status.plannedActions"
        return self._step(kstatus(True, REASON_DRY_RUN, status.message),
                          gates=(FALSE if not workers.passed else UNKNOWN, REASON_DRY_RUN, "dry run"))
