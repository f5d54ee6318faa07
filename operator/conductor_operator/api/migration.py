"""MigrationPlan: move a workflow from old versions to a target version with one strategy.

Only the schema is served so far; the reconciler comes with the MigrationPlan issues.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from conductor_operator.api.common import (
    ClusterRef,
    Defaulted,
    Duration,
    Model,
    OpenObject,
    StatusBase,
    exactly_one,
    immutable,
)


class FromVersions(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [exactly_one("versions", "allOlder")]})
    versions: list[int] | None = Field(None, min_length=1, description="The versions to move from.")
    all_older: bool | None = Field(None, description="Every registered version lower than the target.")


class WorkflowDefinitionRef(Model):
    name: str = Field(description="A WorkflowDefinition resource in the same namespace.")


class Target(Model):
    workflow_definition_ref: WorkflowDefinitionRef


class Parallel(Model):
    retire_old_versions: bool = Field(False, description="Delete old versions from Conductor once drained.")
    retire_after: str = Duration("0s", "How long to wait after the drain before retiring.")


class Drain(Model):
    deadline: str = Duration(None, "How long old executions may take to finish.")
    on_deadline: Literal["Wait", "Fail", "MoveRemaining"] = "Wait"
    pause_triggers: bool = Field(True, description="Pause event handlers and schedules that start old versions.")


class CanarySelector(Model):
    older_than: str | None = Duration(None, "Only executions older than this.")
    correlation_id_pattern: str | None = None
    current_task: str | None = Field(None, description="Only executions whose current task has this reference.")


class Canary(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [exactly_one("count", "percent")]})
    count: int | None = Field(None, ge=1)
    percent: int | None = Field(None, ge=1, le=100)
    selector: CanarySelector | None = None


class Step(Model):
    percent: int = Field(ge=1, le=100)
    pause: str | None = Duration(None, "Wait this long after the step before the next one.")


class HealthGate(Model):
    window: str = Duration("10m", "How long moved executions are watched.")
    max_failure_percent: int = Field(5, ge=0, le=100)


class UpgradeWaves(Model):
    mover: Literal["Auto", "OrkesUpgrade", "TerminateRestart"] = "Auto"
    workers_idempotent: bool = Field(False, description="Required for TerminateRestart, which re-runs every task.")
    acknowledge_breaking: bool = False
    canary: Canary | None = None
    steps: list[Step] = Field(default_factory=list)
    health_gate: HealthGate = Defaulted(HealthGate)
    on_gate_failure: Literal["Pause", "Rollback"] = "Pause"
    task_output: OpenObject | None = Field(None, description="Outputs of tasks skipped by Orkes' upgrade, by "
                                                              "taskReferenceName.")


class Strategy(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one("parallel", "drain", "upgradeWaves")]})
    parallel: Parallel | None = None
    drain: Drain | None = None
    upgrade_waves: UpgradeWaves | None = None


class GateWorkflow(Model):
    name: str
    version: int | None = None
    input: OpenObject | None = None
    expected_output: OpenObject | None = None
    timeout: str = Duration("5m", "")


class Gates(Model):
    require_workers: bool = Field(True, description="Every task type of the target has polling workers.")
    workflows: list[GateWorkflow] = Field(default_factory=list)


class DrainDetection(Model):
    interval: str = Duration("30s", "How often running executions are counted.")
    consecutive_zero_readings: int = Field(3, ge=1)
    grace_period: str = Duration("5m", "How long the count must stay at zero.")


class Requests(Model):
    promote: str | None = Field(None, description="A one-shot request token; a new value asks again.")
    abort: str | None = None
    rollback: str | None = None


class MigrationPlanSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("workflowName", "spec.workflowName is immutable: create another MigrationPlan")]})
    cluster_ref: ClusterRef | None = None
    workflow_name: str = Field(min_length=1)
    from_: FromVersions = Field(alias="from")
    to: Target
    strategy: Strategy
    gates: Gates = Defaulted(Gates)
    drain_detection: DrainDetection = Defaulted(DrainDetection)
    healthy_when: Literal["Accepted", "Completed"] = Field(
        "Accepted", description="What Ready means for GitOps tools: the plan accepted and progressing, or done.")
    dry_run: bool = False
    paused: bool = False
    requests: Requests | None = None


class Finding(Model):
    level: str
    reason: str
    task_ref: str | None = None
    message: str = ""


class Verdict(Model):
    level: Literal["Safe", "Caution", "Breaking"] | None = None
    findings: list[Finding] = Field(default_factory=list)
    from_versions: list[int] = Field(default_factory=list)
    to_version: int | None = None


class VersionCount(Model):
    version: int
    running: int
    read_at: str


class MigrationPlanStatus(StatusBase):
    phase: str | None = None
    message: str | None = None
    verdict: Verdict | None = None
    versions: list[VersionCount] = Field(default_factory=list)
    drain: OpenObject | None = None
    gates: list[OpenObject] = Field(default_factory=list)
    waves: OpenObject | None = None
    handled_requests: OpenObject | None = None


class MigrationPlan(Model):
    spec: MigrationPlanSpec
    status: MigrationPlanStatus | None = None
