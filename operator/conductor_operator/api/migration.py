"""MigrationPlan: move a workflow's executions from older versions to a target version.

A strategy is one of three optional sibling objects (parallel, drain, upgradeWaves) with a CEL
"exactly one of" rule, as Argo Rollouts does for canary/blueGreen: no discriminated unions, which
a Kubernetes structural schema cannot express.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from conductor_operator.api.common import (
    ClusterRef,
    ConductorName,
    Defaulted,
    Duration,
    ListedConductorName,
    Model,
    OpenObject,
    Resource,
    StatusBase,
    check_exactly_one,
    exactly_one,
    immutable,
    parse_duration,
)
from conductor_operator.api.definitions import MAX_VERSION

Level = Literal["Safe", "Caution", "Breaking"]

# ---- spec ----------------------------------------------------------------------------------------


class FromVersions(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "has(self.versions) != (has(self.allOlder) && self.allOlder)",
        "message": "set exactly one of spec.from.versions, spec.from.allOlder: true",
    }]})

    versions: list[Annotated[int, Field(ge=1, le=MAX_VERSION)]] | None = Field(None, min_length=1,
                                                               description="The versions to move executions from.")
    all_older: bool | None = Field(None, description="true: every version lower than the target.")

    @model_validator(mode="after")
    def _one_source(self) -> FromVersions:
        if (self.versions is not None) == bool(self.all_older):
            found = "none is set" if self.versions is None else "both are set"
            raise ValueError(f"set exactly one of spec.from.versions, spec.from.allOlder: true; {found}")
        return self


class WorkflowDefinitionRef(Model):
    name: str = Field(min_length=1, description="A WorkflowDefinition resource in the same namespace.")


class Target(Model):
    workflow_definition_ref: WorkflowDefinitionRef = Field(
        description="The WorkflowDefinition resource of the target version.")


class Parallel(Model):
    """Both versions stay: new executions start on the target, old ones finish where they are."""

    retire_old_versions: bool = Field(False, description="Remove the old versions from Conductor once drained.")
    retire_after: Duration = Field("0s", description="How long to wait after the drain before retiring.")


class MoverSettings(Model):
    """How running executions are moved to another version (upgradeWaves, and drain's MoveRemaining)."""

    mover: Literal["Auto", "OrkesUpgrade", "TerminateRestart"] = Field(
        "Auto", description="How an execution is moved: Orkes' upgrade API (it continues from its current task), "
                            "or terminate and restart on the latest definition (every task runs again); Auto picks "
                            "OrkesUpgrade on Orkes and TerminateRestart on Conductor OSS.")
    workers_idempotent: bool = Field(False, description="Workers tolerate running a task again: required by "
                                                        "TerminateRestart, which re-runs every task.")
    task_output: OpenObject | None = Field(None, description="Outputs for tasks Orkes' upgrade skips, keyed by "
                                                             "taskReferenceName.")
    acknowledge_breaking: bool = Field(False, description="Move executions although the verdict is Breaking.")


class Drain(MoverSettings):
    """Pause what starts old executions, wait for them to finish, then cut over and resume."""

    deadline: Duration = Field(description="How long old executions may take to finish.")
    on_deadline: Literal["Wait", "Fail", "MoveRemaining"] = Field(
        "Wait", description="When the deadline passes: keep waiting, fail the plan, or move what still runs.")
    pause_triggers: bool = Field(True, description="Pause event handlers and schedules that start the old versions "
                                                   "while draining.")


class CanarySelector(Model):
    older_than: Duration | None = Field(None, description="Only executions started at least this long ago (their "
                                                          "startTime, or createTime where Conductor gives only "
                                                          "that).")
    correlation_id_pattern: str | None = Field(None, description="Only executions whose correlationId matches this "
                                                                 "regular expression.")
    current_task: str | None = Field(None, description="Only executions whose current task has this "
                                                       "taskReferenceName.")


class Canary(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one("count", "percent", where="spec.strategy.upgradeWaves.canary")]})

    count: int | None = Field(None, ge=1, description="Move this many executions first.")
    percent: int | None = Field(None, ge=1, le=100, description="Move this percentage of executions first.")
    selector: CanarySelector | None = Field(None, description="Which executions the canary may pick.")

    @model_validator(mode="after")
    def _one_size(self) -> Canary:
        check_exactly_one(self, {"count": "count", "percent": "percent"}, where="spec.strategy.upgradeWaves.canary")
        return self


class Step(Model):
    percent: int = Field(ge=1, le=100, description="Share of the old versions' running executions moved once this "
                                                   "step is done (ineligible ones count, and stay); each step's "
                                                   "higher than the one before.")
    pause: Duration | None = Field(None, description="Wait this long after the step's health gate passed, before "
                                                     "the next step; a promote request ends the wait.")


class GateWorkflow(Model):
    name: ListedConductorName = Field(description="A workflow run as a check: before the cutover (spec.gates), or "
                                                  "after each wave (healthGate); no /, \\, ?, # or control character, "
                                                  "not . or ...")
    version: int | None = Field(None, ge=1, le=MAX_VERSION, description="Its version; the latest when left out.")
    input: OpenObject | None = Field(None, description="Its input.")
    expected_output: OpenObject | None = Field(None, description="Keys its output must hold, with their values.")
    timeout: Duration = Field("5m", description="How long it may run.")


def check_workflows(description: str):
    """A list of check workflows keyed by name (a result is kept per name)."""
    return Field(default_factory=list, description=description,
                 json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})


def refuse_repeated_names(where: str, workflows: list[GateWorkflow]) -> None:
    names = [gate.name for gate in workflows]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"{where}: each check needs its own name; repeated: {', '.join(repeated)}")


class HealthGate(Model):
    window: Duration = Field("10m", description="How long moved executions are watched after a wave.")
    max_failure_percent: int = Field(5, ge=0, le=100, description="Failed share of moved executions that fails "
                                                                  "the gate.")
    workflows: list[GateWorkflow] = check_workflows(
        "Check workflows run after each wave (on what is registered then: the target); each must complete as "
        "expected for the wave to pass. Names are unique.")

    @model_validator(mode="after")
    def _unique_names(self) -> HealthGate:
        refuse_repeated_names("spec.strategy.upgradeWaves.healthGate.workflows", self.workflows)
        return self


STEPS_RISING = "spec.strategy.upgradeWaves.steps must rise: each step's percent higher than the one before"


class UpgradeWaves(MoverSettings):
    """Move running executions to the target in waves: a canary first, a health gate after each wave."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "!has(self.steps) || self.steps.map(s, s.percent).isSorted() && "
                "self.steps.all(s, self.steps.exists_one(t, t.percent == s.percent))",
        "message": STEPS_RISING}]})

    canary: Canary | None = Field(None, description="The first, small wave.")
    steps: list[Step] = Field(default_factory=list, max_length=100, description="The waves after the canary, "
                                                                                "rising.")
    health_gate: HealthGate = Defaulted(HealthGate, "The check after each wave.")
    on_gate_failure: Literal["Pause", "Rollback"] = Field(
        "Pause", description="When a health gate fails: pause the plan, or move the executions back.")

    @model_validator(mode="after")
    def _rising(self) -> UpgradeWaves:
        percents = [step.percent for step in self.steps]
        if any(later <= earlier for earlier, later in zip(percents, percents[1:], strict=False)):
            raise ValueError(f"{STEPS_RISING}; found {', '.join(map(str, percents))}")
        return self


class Strategy(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one("parallel", "drain", "upgradeWaves", where="spec.strategy")]})

    parallel: Parallel | None = Field(None, description=Parallel.__doc__)
    drain: Drain | None = Field(None, description=Drain.__doc__)
    upgrade_waves: UpgradeWaves | None = Field(None, description=UpgradeWaves.__doc__)

    @model_validator(mode="after")
    def _one_strategy(self) -> Strategy:
        check_exactly_one(self, {"parallel": "parallel", "drain": "drain", "upgrade_waves": "upgradeWaves"},
                          where="spec.strategy")
        return self

    @property
    def name(self) -> str:
        """parallel, drain or upgradeWaves."""
        return "parallel" if self.parallel else "drain" if self.drain else "upgradeWaves"

    @property
    def mover_settings(self) -> MoverSettings | None:
        """How the strategy moves executions, when it may (upgradeWaves, or drain's MoveRemaining)."""
        return self.upgrade_waves or self.drain


REPLAY_STATUSES = Literal["COMPLETED", "RUNNING", "FAILED"]


class ReplayGate(Model):
    """Replay recent executions of the old versions through the target definition before the cutover (Conductor's
    POST /workflow/test: nothing is registered, every task's output is mocked from what the execution's own task
    produced) and compare each replay with what the execution did."""

    sample: int = Field(20, ge=1, le=200, description="How many executions to replay, the newest first.")
    within: Duration = Field("24h", description="Only executions started this recently.")
    statuses: list[REPLAY_STATUSES] = Field(
        default_factory=lambda: ["COMPLETED", "RUNNING"], min_length=1,
        description="Which executions: COMPLETED ones, RUNNING (and PAUSED) ones replayed up to their current "
                    "task, FAILED ones (the replay must fail the same way).")
    correlation_id_pattern: str | None = Field(None, description="Only executions whose correlationId matches "
                                                                 "this regular expression.")
    compare_output_keys: list[str] | None = Field(None, description="The workflow output keys that must match; "
                                                                   "every key of the execution's output when "
                                                                   "left out.")
    max_divergent: int = Field(0, ge=0, description="How many replays may diverge and the gate still passes.")
    max_divergent_percent: int | None = Field(None, ge=0, le=100, description="When set, the share of replays "
                                                                              "that may diverge, instead of "
                                                                              "maxDivergent.")
    on_unsupported: Literal["Hold", "Skip"] = Field(
        "Hold", description="When the server has no test endpoint (or cannot replay the target safely): hold the "
                            "plan before the cutover, or skip the gate (with a Warning event, never silently).")


class Gates(Model):
    require_workers: bool = Field(True, description="Every SIMPLE task of the target version has polling workers.")
    workers_seen_within: Duration = Field("5m", description="How recently a worker must have polled a task type "
                                                            "to count as polling.")
    workflows: list[GateWorkflow] = check_workflows(
        "Check workflows that must complete; names are unique (a result is kept per name).")
    replay: ReplayGate | None = Field(None, description=ReplayGate.__doc__)

    @model_validator(mode="after")
    def _unique_names(self) -> Gates:
        refuse_repeated_names("spec.gates.workflows", self.workflows)
        return self


MIN_ZERO_READINGS = 2
"""One reading of zero is never taken as drained: an execution may be between two counts."""
_DRAIN_RULES = (
    ("!has(self.interval) || duration(self.interval) > duration('0s')",
     "spec.drainDetection.interval must be longer than 0s"),
    ("!has(self.gracePeriod) || duration(self.gracePeriod) > duration('0s')",
     "spec.drainDetection.gracePeriod must be longer than 0s: the count must stay at zero for a while"),
    (f"!has(self.consecutiveZeroReadings) || self.consecutiveZeroReadings >= {MIN_ZERO_READINGS}",
     f"spec.drainDetection.consecutiveZeroReadings must be at least {MIN_ZERO_READINGS}: one reading of zero "
     f"never counts as drained"),
)


class DrainDetection(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": rule, "message": message} for rule, message in _DRAIN_RULES]})

    interval: Duration = Field("30s", description="How often running executions of the old versions are counted "
                                                  "(longer than 0s).")
    consecutive_zero_readings: int = Field(3, description=f"Readings of zero in a row that count as drained (at "
                                                          f"least {MIN_ZERO_READINGS}).")
    grace_period: Duration = Field("5m", description="How long the count must stay at zero (longer than 0s).")

    @model_validator(mode="after")
    def _honoured(self) -> DrainDetection:
        refused = [message for message, bad in (
            (_DRAIN_RULES[0][1], parse_duration(self.interval) <= timedelta(0)),
            (_DRAIN_RULES[1][1], parse_duration(self.grace_period) <= timedelta(0)),
            (_DRAIN_RULES[2][1], self.consecutive_zero_readings < MIN_ZERO_READINGS)) if bad]
        if refused:
            raise ValueError("; ".join(refused))
        return self


class Requests(Model):
    """One-shot requests: set a new token (any string) to ask again; status.handledRequests records the last."""

    promote: str | None = Field(None, description="Go on past a pause (a paused wave, a failed gate).")
    abort: str | None = Field(None, description="Stop the migration where it is.")
    rollback: str | None = Field(None, description="Move moved executions back to their old versions.")


# ---- recoverFailed (restart failed executions of the old versions on the target) ----------------------

RECOVERABLE_STATUSES = ("FAILED", "TIMED_OUT", "TERMINATED")


class RecoverySelector(Model):
    correlation_id_pattern: str | None = Field(None, description="Only executions whose correlationId matches this "
                                                                 "regular expression.")
    failed_task: str | None = Field(None, description="Only executions whose failed task has this "
                                                      "taskReferenceName (Conductor's failedReferenceTaskNames).")


class RecoveryCanary(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one("count", "percent", where="spec.recoverFailed.canary")]})

    count: int | None = Field(None, ge=1, description="Restart this many executions first.")
    percent: int | None = Field(None, ge=1, le=100, description="Restart this percentage of them first.")

    @model_validator(mode="after")
    def _one_size(self) -> RecoveryCanary:
        check_exactly_one(self, {"count": "count", "percent": "percent"}, where="spec.recoverFailed.canary")
        return self


class RecoveryHealthGate(Model):
    window: Duration = Field("10m", description="How long restarted executions are watched after a wave.")
    max_failure_percent: int = Field(5, ge=0, le=100, description="Share of restarted executions that failed again "
                                                                  "(or that Conductor refused to restart) that "
                                                                  "fails the gate.")


RECOVERY_STEPS_RISING = "spec.recoverFailed.steps must rise: each step's percent higher than the one before"


class RecoverFailed(Model):
    """After the cutover, restart executions of the old versions that ended FAILED or TIMED_OUT (optionally
    TERMINATED) within a window, from their first task on the target (Conductor's restart with the latest
    definitions), in waves with a health gate; every restart is written to the plan's ledger first."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "!has(self.steps) || self.steps.map(s, s.percent).isSorted() && "
                "self.steps.all(s, self.steps.exists_one(t, t.percent == s.percent))",
        "message": RECOVERY_STEPS_RISING}]})

    within: Duration = Field(description="Executions that ended at most this long before the target was registered "
                                         "(or since).")
    statuses: list[Literal["FAILED", "TIMED_OUT", "TERMINATED"]] = Field(
        default_factory=lambda: ["FAILED", "TIMED_OUT"], min_length=1, max_length=3,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="How they ended. TERMINATED ones the plan terminated itself (to move them) are never "
                    "restarted.")
    selector: RecoverySelector | None = Field(None, description="Which of them are restarted.")
    workers_idempotent: bool = Field(False, description="Workers tolerate running a task again: required, as a "
                                                        "restart runs every task again from the first.")
    canary: RecoveryCanary | None = Field(None, description="The first, small wave.")
    steps: list[Step] = Field(default_factory=list, max_length=100, description="The waves after the canary, "
                                                                                "rising (percent of what was found).")
    health_gate: RecoveryHealthGate = Defaulted(RecoveryHealthGate, "The check after each wave.")

    @model_validator(mode="after")
    def _rising(self) -> RecoverFailed:
        percents = [step.percent for step in self.steps]
        if any(later <= earlier for earlier, later in zip(percents, percents[1:], strict=False)):
            raise ValueError(f"{RECOVERY_STEPS_RISING}; found {', '.join(map(str, percents))}")
        return self


class MigrationPlanSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("workflowName", "spec.workflowName is immutable: create a new MigrationPlan for another workflow")]})

    cluster_ref: ClusterRef | None = Field(None, description="The ConductorCluster; the one named \"default\" in "
                                                             "this namespace when left out.")
    workflow_name: ConductorName = Field(description="The Conductor workflow to migrate (no /, \\, ?, # or control "
                                                     "character; not . or ..).")
    from_: FromVersions = Field(alias="from", description="The versions to move from.")
    to: Target = Field(description="The version to move to.")
    strategy: Strategy = Field(description="Exactly one of parallel, drain, upgradeWaves.")
    gates: Gates = Defaulted(Gates, "Checks before the migration starts.")
    drain_detection: DrainDetection = Defaulted(DrainDetection, "When old versions count as drained.")
    healthy_when: Literal["Accepted", "Completed"] = Field(
        "Accepted", description="When Ready is True for GitOps tools: once the plan is accepted and progressing, or "
                                "only when it completed.")
    dry_run: bool = Field(False, description="Report the verdict and the plan; change nothing.")
    paused: bool = Field(False, description="Hold the migration where it is.")
    requests: Requests | None = Field(None, description=Requests.__doc__)
    recover_failed: RecoverFailed | None = Field(None, description=RecoverFailed.__doc__)


# ---- status --------------------------------------------------------------------------------------

class Finding(Model):
    level: Level = Field(description="Safe, Caution or Breaking.")
    reason: str = Field(description="A CamelCase reason, such as TaskRemoved.")
    task_ref: str | None = Field(None, description="The taskReferenceName it is about.")
    message: str = Field("", description="What changed and why it matters.")


class StandingWarning(Model):
    reason: str = Field(description="A CamelCase reason, such as UnpinnedSubWorkflow.")
    task_ref: str | None = Field(None, description="The taskReferenceName it is about.")
    message: str = Field("", description="The risk, and that the old version has it too.")


class Verdict(Model):
    level: Level | None = Field(None, description="The worst level of the findings.")
    findings: list[Finding] = Field(default_factory=list, description="What differs between the versions.")
    standing_warnings: list[StandingWarning] = Field(
        default_factory=list, description="Risks the old and the new version share unchanged (such as an unpinned "
                                          "sub-workflow): shown beside the verdict, never raising its level.")
    from_versions: list[int] = Field(default_factory=list, description="The versions compared.")
    to_version: int | None = Field(None, description="The target version.")


class VersionCount(Model):
    version: int = Field(description="A workflow version.")
    running: int = Field(description="Its RUNNING and PAUSED executions.")
    read_at: str | None = Field(None, description="When they were counted (RFC 3339).")


class DrainStatus(Model):
    deadline: str | None = Field(None, description="When the drain strategy's deadline passes (RFC 3339).")
    estimated_end: str | None = Field(None, description="A rough guess of when the old versions finish, from the "
                                                        "ages of their running executions (RFC 3339).")
    zero_readings: int = Field(0, description="Readings of zero in a row so far.")
    first_zero_at: str | None = Field(None, description="When the count first read zero in this run (RFC 3339).")
    since: str | None = Field(None, description="When draining started (RFC 3339).")
    drained_at: str | None = Field(None, description="When the old versions counted as drained (RFC 3339).")


class RunningSummary(Model):
    old: int = Field(0, description="RUNNING and PAUSED executions of the versions moved from.")
    target: int = Field(0, description="RUNNING and PAUSED executions of the target version.")
    read_at: str | None = Field(None, description="When they were counted (RFC 3339).")


class GateResult(Model):
    name: str = Field(description="The gate: Workers, or the name of a check workflow.")
    passed: bool = Field(description="Whether it passed.")
    reason: str = Field("", description="A CamelCase reason.")
    message: str = Field("", description="What was found.")
    checked_at: str | None = Field(None, description="When it was checked (RFC 3339).")
    execution_id: str | None = Field(None, description="The check workflow's execution.")
    started_at: str | None = Field(None, description="When the check workflow was started (RFC 3339).")


class ReplayDivergence(Model):
    execution_id: str = Field(description="The execution replayed.")
    version: int | None = Field(None, description="Its version.")
    reason: str = Field(description="How its replay differed from what it did.")


class ReplayStatus(Model):
    checked_at: str | None = Field(None, description="When the executions were replayed (RFC 3339).")
    sampled: int = Field(0, description="Executions replayed through the target definition.")
    divergent: int = Field(0, description="Replays that differed from what the execution did.")
    skipped: list[str] = Field(default_factory=list, description="Executions sampled but not replayed, as "
                                                                 "'id: why' (at most 20).")
    divergent_executions: list[ReplayDivergence] = Field(default_factory=list, description="The first divergent "
                                                                                           "executions (at most "
                                                                                           "20), with the reason.")
    message: str | None = Field(None, description="The gate's finding.")


class WavesStatus(Model):
    current: int = Field(0, description="The wave in progress: 0 the canary, then the steps from 1.")
    count: int = Field(0, description="How many waves there are, the canary included.")
    state: str | None = Field(None, description="Moving, Watching (the health gate), Waiting (a step's pause), "
                                                "GateFailed, Held (it selected nothing while executions could "
                                                "move: held until its selector admits one, or promote skips it), "
                                                "or Done.")
    since: str | None = Field(None, description="When the wave entered its state (RFC 3339).")
    until: str | None = Field(None, description="When the health gate's window or the step's pause ends, or when a "
                                                "held wave looks at the executions again (RFC 3339).")
    total: int = Field(0, description="Executions of the old versions when last counted (as a wave is about to "
                                      "move): moved, ineligible and still to move.")
    moved: int = Field(0, description="Executions moved to the target so far.")
    ineligible: int = Field(0, description="Executions whose current task the target lacks, when last counted: "
                                           "not moved.")
    failed: int = Field(0, description="Moved executions that then failed, or that the mover could not move.")
    rolled_back: int = Field(0, description="Moved executions moved back by a rollback.")
    ineligible_executions: list[str] = Field(default_factory=list, description="Some ineligible executions, as "
                                                                               "'id: why' (at most 20).")
    message: str | None = Field(None, description="The last health gate's finding, or why the wave is held.")
    gates: list[GateResult] = Field(default_factory=list, description="The current wave's check workflows "
                                                                      "(spec.strategy.upgradeWaves.healthGate).")


class RecoveryStatus(Model):
    current: int = Field(0, description="The recovery wave in progress: 0 the canary, then the steps from 1.")
    count: int = Field(0, description="How many recovery waves there are, the canary included.")
    state: str | None = Field(None, description="Moving (restarting), Watching (the health gate), Waiting (a "
                                                "step's pause), GateFailed, or Done.")
    since: str | None = Field(None, description="When the wave entered its state (RFC 3339).")
    until: str | None = Field(None, description="When the health gate's window or the step's pause ends (RFC 3339).")
    window_start: str | None = Field(None, description="Executions that ended since then are restarted: the "
                                                       "registration of the target less spec.recoverFailed.within "
                                                       "(RFC 3339).")
    found: int = Field(0, description="Ended executions of the old versions the window and selector admit, when "
                                      "last read: restarted, ineligible and still to restart.")
    restarted: int = Field(0, description="Executions restarted on the target so far.")
    failed: int = Field(0, description="Restarted executions that failed again, or that Conductor refused to "
                                       "restart.")
    ineligible: int = Field(0, description="Executions found that are not restarted (a sub-workflow, a check "
                                           "workflow, terminated by a MigrationPlan), when last read.")
    ineligible_executions: list[str] = Field(default_factory=list, description="Some ineligible executions, as "
                                                                               "'id: why' (at most 20).")
    message: str | None = Field(None, description="The last health gate's finding.")


class TriggerStatus(Model):
    kind: Literal["EventHandler", "Schedule"] = Field(description="What starts the workflow.")
    name: str = Field(description="Its name in Conductor.")
    state: Literal["Paused", "Resumed"] = Field(description="Paused by this plan, or resumed again.")


class RollbackStatus(Model):
    started_at: str | None = Field(None, description="When the rollback started (RFC 3339).")
    version: int | None = Field(None, description="The version republished with the old content, so unpinned "
                                                  "starts run the old behaviour again.")
    from_version: int | None = Field(None, description="The old version whose content was republished.")


class HandledRequest(Model):
    token: str = Field(description="The token acted on.")
    handled_at: str | None = Field(None, description="When (RFC 3339).")
    result: str = Field("", description="What was done.")


class HandledRequests(Model):
    promote: HandledRequest | None = Field(None, description="The last promote request handled.")
    abort: HandledRequest | None = Field(None, description="The last abort request handled.")
    rollback: HandledRequest | None = Field(None, description="The last rollback request handled.")


class MigrationPlanStatus(StatusBase):
    phase: str | None = Field(None, description="Where the migration is.")
    message: str | None = Field(None, description="What is happening, for people.")
    verdict: Verdict | None = Field(None, description="The compatibility verdict between the versions.")
    versions: list[VersionCount] = Field(default_factory=list, description="Running executions per version.")
    running: RunningSummary | None = Field(None, description="Running executions on the old versions and the target.")
    drain: DrainStatus | None = Field(None, description="Drain detection progress.")
    gates: list[GateResult] = Field(default_factory=list, description="Results of the gates.")
    replay: ReplayStatus | None = Field(None, description="The replay gate's last result (spec.gates.replay).")
    gates_checked_spec: str | None = Field(None, description="Digest of the spec the gate results were checked "
                                                             "against; another spec starts the gates over.")
    gates_passed_at: str | None = Field(None, description="When every gate passed (RFC 3339); drain cuts over "
                                                          "later, once the old versions drained.")
    cutover_at: str | None = Field(None, description="When the target was released for registration (RFC 3339): "
                                                     "once the gates passed, or for drain once drained.")
    released: str | None = Field(None, description="The WorkflowDefinition released at the cutover.")
    registered_at: str | None = Field(None, description="When the released target was first seen registered "
                                                        "(RFC 3339): from then on unpinned starts run on it.")
    retired_versions: list[int] = Field(default_factory=list, description="Old versions removed from Conductor.")
    ended_at: str | None = Field(None, description="When the plan ended (Completed, Failed, Aborted or RolledBack, "
                                                   "with nothing left to do) and counted its executions a last time "
                                                   "(RFC 3339): from then on it observes nothing and keeps this "
                                                   "record, counts as of this time, until its spec changes.")
    planned_actions: list[str] = Field(default_factory=list, description="What the plan would do (spec.dryRun).")
    waves: WavesStatus | None = Field(None, description="Wave progress (upgradeWaves, and drain's MoveRemaining).")
    recovery: RecoveryStatus | None = Field(None, description="Restarts of failed executions of the old versions "
                                                              "on the target (spec.recoverFailed), counted apart "
                                                              "from moves.")
    ledger: str | None = Field(None, description="The ConfigMap recording every move of an execution and every "
                                                 "trigger paused.")
    triggers: list[TriggerStatus] = Field(default_factory=list, description="Event handlers and schedules this "
                                                                            "plan paused (drain).")
    rollback: RollbackStatus | None = Field(None, description="The rollback, once requested.")
    handled_requests: HandledRequests = Field(default_factory=HandledRequests,
                                              description="The request tokens already acted on.")


class MigrationPlan(Resource):
    """Move a workflow's executions from older versions to a target version with one strategy."""

    KIND: ClassVar[str] = "MigrationPlan"
    PLURAL: ClassVar[str] = "migrationplans"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mp", "migplan")

    spec: MigrationPlanSpec
    status: MigrationPlanStatus = Field(default_factory=MigrationPlanStatus)
