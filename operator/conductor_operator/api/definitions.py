"""WorkflowDefinition and TaskDefinition: Conductor definitions as Kubernetes resources."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from conductor_operator.api.common import (
    ClusterRef,
    Defaulted,
    DefinitionSource,
    Duration,
    Model,
    OpenObject,
    StatusBase,
    exactly_one,
    immutable,
)


class WorkflowTask(Model):
    """One task of a workflow: the keys named here are typed, every other key is kept as written."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = Field(description="Task definition name (for SIMPLE tasks) or a label.")
    task_reference_name: str = Field(alias="taskReferenceName",
                                     description="Unique within the workflow; executions refer to tasks by it.")
    type: str | None = Field(None, description="SIMPLE when left out; SWITCH, FORK_JOIN, DO_WHILE, "
                                                  "SUB_WORKFLOW, HTTP, INLINE, WAIT, ...")


class WorkflowBody(Model):
    """A Conductor WorkflowDef without name and version (they come from the resource's spec)."""

    description: str | None = None
    tasks: list[WorkflowTask] = Field(min_length=1, description="The tasks, in order.")
    input_parameters: list[str] | None = Field(None, description="Names of the workflow inputs.")
    output_parameters: OpenObject | None = Field(None, description="Workflow output mapping.")
    schema_version: int = Field(2, description="Conductor's definition schema version.")
    restartable: bool | None = None
    timeout_policy: Literal["TIME_OUT_WF", "ALERT_ONLY"] | None = None
    timeout_seconds: int | None = Field(None, ge=0)
    failure_workflow: str | None = None
    owner_email: str | None = None
    workflow_status_listener_enabled: bool | None = None
    variables: OpenObject | None = None
    input_template: OpenObject | None = None
    input_schema: OpenObject | None = None
    output_schema: OpenObject | None = None
    enforce_schema: bool | None = None
    metadata: OpenObject | None = None


class WorkflowPolicy(Model):
    on_delete: Literal["Retain", "Delete"] = Field(
        "Retain", description="Delete removes the version from Conductor once no execution of it runs and no "
                              "pinned sub-workflow refers to it; Retain leaves it registered.")
    on_drift: Literal["Reapply", "Report"] = Field(
        "Reapply", description="What to do when Conductor's copy was changed outside the operator.")
    in_place_change: Literal["Refuse", "Allow"] = Field(
        "Refuse", description="Whether changing the content of an already registered version is allowed. "
                              "Refuse keeps running and future executions of a version meaning one thing.")


class WorkflowDefinitionSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("name", "spec.name is immutable: create a new WorkflowDefinition for another workflow"),
        immutable("version", "spec.version is immutable: create a new WorkflowDefinition resource for a new "
                             "version"),
        exactly_one("definition", "definitionFrom"),
    ]})
    cluster_ref: ClusterRef | None = Field(None, description="The ConductorCluster; \"default\" in this "
                                                             "namespace when left out.")
    name: str = Field(min_length=1, max_length=255, description="Conductor workflow name.")
    version: int = Field(ge=1, description="Conductor workflow version.")
    definition: WorkflowBody | None = Field(None, description="The definition, inline.")
    definition_from: DefinitionSource | None = Field(None, description="The definition, from a ConfigMap.")
    policy: WorkflowPolicy = Defaulted(WorkflowPolicy)
    drift_check_interval: str = Duration("5m", "How often Conductor's copy is compared with this resource.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.definition is None) == (self.definition_from is None):
            raise ValueError("set exactly one of definition, definitionFrom")
        return self


class Executions(Model):
    running: int = Field(description="RUNNING or PAUSED executions of this version.")
    read_at: str = Field(description="When they were counted.")


class WorkflowDefinitionStatus(StatusBase):
    registered: bool | None = None
    content_hash: str | None = Field(None, description="Hash of the content the operator registered.")
    registered_at: str | None = None
    last_drift_check_at: str | None = None
    executions: Executions | None = None


class WorkflowDefinition(Model):
    spec: WorkflowDefinitionSpec
    status: WorkflowDefinitionStatus | None = None


class TaskBody(Model):
    """A Conductor TaskDef without its name."""

    description: str | None = None
    retry_count: int | None = Field(None, ge=0)
    retry_logic: Literal["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"] | None = None
    retry_delay_seconds: int | None = Field(None, ge=0)
    timeout_seconds: int | None = Field(None, ge=0)
    timeout_policy: Literal["RETRY", "TIME_OUT_WF", "ALERT_ONLY"] | None = None
    response_timeout_seconds: int | None = Field(None, ge=1)
    poll_timeout_seconds: int | None = Field(None, ge=0)
    concurrent_exec_limit: int | None = Field(None, ge=0)
    rate_limit_per_frequency: int | None = Field(None, ge=0)
    rate_limit_frequency_in_seconds: int | None = Field(None, ge=0)
    input_keys: list[str] | None = None
    output_keys: list[str] | None = None
    input_template: OpenObject | None = None
    owner_email: str | None = None
    input_schema: OpenObject | None = None
    output_schema: OpenObject | None = None
    enforce_schema: bool | None = None


class TaskPolicy(Model):
    on_delete: Literal["Retain", "Delete"] = Field(
        "Retain", description="Delete removes it from Conductor once no workflow definition uses it and no "
                              "execution that uses it runs.")
    on_drift: Literal["Reapply", "Report"] = "Reapply"


class TaskDefinitionSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("name", "spec.name is immutable: create a new TaskDefinition for another task"),
        exactly_one("definition", "definitionFrom"),
    ]})
    cluster_ref: ClusterRef | None = None
    name: str = Field(min_length=1, max_length=255, description="Conductor task definition name.")
    definition: TaskBody | None = None
    definition_from: DefinitionSource | None = None
    policy: TaskPolicy = Defaulted(TaskPolicy)
    drift_check_interval: str = Duration("5m", "How often Conductor's copy is compared with this resource.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.definition is None) == (self.definition_from is None):
            raise ValueError("set exactly one of definition, definitionFrom")
        return self


class TaskDefinitionStatus(StatusBase):
    registered: bool | None = None
    content_hash: str | None = None
    registered_at: str | None = None
    last_drift_check_at: str | None = None


class TaskDefinition(Model):
    spec: TaskDefinitionSpec
    status: TaskDefinitionStatus | None = None

