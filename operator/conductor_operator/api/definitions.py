"""WorkflowDefinition and TaskDefinition: Conductor definitions as Kubernetes resources.

The definition bodies have a typed top level, so the API server reports a misspelled key, while
task bodies inside a workflow stay open (Conductor has dozens of task types, each with its keys).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from conductor_operator.api.common import (
    ClusterRef,
    ConductorName,
    Defaulted,
    DefinitionSource,
    Duration,
    Model,
    OpenObject,
    Resource,
    StatusBase,
    check_exactly_one,
    exactly_one,
    immutable,
)

OnDelete = Literal["Retain", "Delete"]
OnDrift = Literal["Reapply", "Report"]

_CLUSTER_REF = "The ConductorCluster to register with; the one named \"default\" in this namespace when left out."
_DEFINITION_FROM = ("The definition from a ConfigMap key holding its JSON file; a name and version in the file "
                    "must match spec.")
_DRIFT_CHECK = "How often Conductor's copy is compared with this resource."

MAX_VERSION = 2**31 - 1
"""Conductor keeps versions in a Java int."""

MAX_TASK_NESTING = 4
"""How deep tasks may sit inside other tasks (a SWITCH case, a FORK_JOIN branch, a DO_WHILE loop): a top-level
task is at level 0, a task in its SWITCH case at level 1, and a task at this level may hold no more tasks. The
CRD schema describes the nested task lists to this depth, so the API server refuses deeper ones; the operator
applies the same limit to a definition from a ConfigMap."""

MAX_DEFINITION_DEPTH = 64
"""How many JSON levels a definition (the object in spec.definition, or the JSON file in a ConfigMap) may nest,
counting the definition itself as one: free-form values (inputParameters, for one) count too. The operator
refuses a deeper definition with a Stalled condition; it reads nothing nested deeper than it can walk."""

MAX_SIZE_NOTE = ("The whole resource is limited by the API server (about 1.5 MiB, etcd's limit), a ConfigMap "
                 "by its 1 MiB")

_NESTED_TASK_KEYS = ("decisionCases", "defaultCase", "loopOver", "forkTasks")
_NESTING = (f"Tasks nest at most {MAX_TASK_NESTING} levels deep (a SWITCH case, a FORK_JOIN branch or a DO_WHILE "
            f"loop inside another is one level; move deeper tasks into a sub-workflow), and a definition at "
            f"most {MAX_DEFINITION_DEPTH} JSON levels.")


# ---- WorkflowDefinition --------------------------------------------------------------------------

def _nested_tasks(level: int) -> dict:
    """Schema of the task lists a task holds when they are at nesting ``level`` (SWITCH cases, FORK_JOIN
    branches, a DO_WHILE loop): typed to MAX_TASK_NESTING, then refused. Each task stays open otherwise."""
    if level > MAX_TASK_NESTING:
        refused = f"None: tasks nest at most {MAX_TASK_NESTING} levels."
        tasks: dict = {"type": "array", "maxItems": 0,
                       "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        return {"decisionCases": {"description": refused, "type": "object", "additionalProperties": tasks},
                **{key: {"description": refused, **tasks} for key in ("defaultCase", "loopOver")},
                "forkTasks": {"description": refused, "type": "array", "items": tasks}}
    tasks = {"type": "array", "items": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": _nested_tasks(level + 1)}}
    nested = f"nesting level {level} of {MAX_TASK_NESTING}"
    return {"decisionCases": {"description": f"SWITCH: the tasks of each case ({nested}).", "type": "object",
                              "additionalProperties": tasks},
            "defaultCase": {"description": f"SWITCH: the tasks of the default case ({nested}).", **tasks},
            "loopOver": {"description": f"DO_WHILE: the tasks of the loop ({nested}).", **tasks},
            "forkTasks": {"description": f"FORK_JOIN: the tasks of each branch ({nested}).", "type": "array",
                          "items": tasks}}


def _with_nested_tasks(schema: dict) -> None:
    schema["properties"].update(_nested_tasks(1))


class WorkflowTask(Model):
    """One task of a workflow: name, taskReferenceName and type are checked, every other key is kept as written."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_with_nested_tasks)

    name: str = Field(min_length=1, description="Task definition name (SIMPLE tasks), or a label for system tasks.")
    task_reference_name: str = Field(min_length=1, description="Unique in the workflow; executions refer to tasks "
                                                               "by it.")
    type: str | None = Field(None, description="SIMPLE when left out; or SWITCH, FORK_JOIN, JOIN, DO_WHILE, "
                                               "SUB_WORKFLOW, HTTP, INLINE, WAIT, ...")


class WorkflowBody(Model):
    """A Conductor WorkflowDef without name and version (they come from spec.name and spec.version)."""

    description: str | None = Field(None, description="What the workflow does.")
    tasks: list[WorkflowTask] = Field(min_length=1, description="The tasks, in order; bodies as Conductor takes them.")
    input_parameters: list[str] | None = Field(None, description="Names of the workflow's inputs.")
    output_parameters: OpenObject | None = Field(None, description="The workflow's output, as expressions.")
    schema_version: int = Field(2, description="Conductor's definition schema version.")
    restartable: bool | None = Field(None, description="Whether completed executions may be restarted.")
    timeout_policy: Literal["TIME_OUT_WF", "ALERT_ONLY"] | None = Field(
        None, description="What happens when timeoutSeconds passes.")
    timeout_seconds: int | None = Field(None, ge=0, description="Time limit of an execution; 0 for none.")
    failure_workflow: str | None = Field(None, description="Workflow started when an execution fails.")
    owner_email: str | None = Field(None, description="Owner's email (Conductor may require one).")
    workflow_status_listener_enabled: bool | None = Field(None, description="Publish status changes to the "
                                                                            "configured listener.")
    variables: OpenObject | None = Field(None, description="Initial workflow variables.")
    input_template: OpenObject | None = Field(None, description="Default input values.")
    input_schema: OpenObject | None = Field(None, description="Reference to a schema for the input.")
    output_schema: OpenObject | None = Field(None, description="Reference to a schema for the output.")
    enforce_schema: bool | None = Field(None, description="Whether the schemas are enforced.")
    metadata: OpenObject | None = Field(None, description="Free-form metadata kept with the definition.")


class WorkflowPolicy(Model):
    on_delete: OnDelete = Field(
        "Retain", description="Retain leaves the version registered when the resource is deleted; Delete removes it "
                              "from Conductor once no execution of it runs and no pinned sub-workflow refers to it.")
    on_drift: OnDrift = Field(
        "Reapply", description="When Conductor's copy was changed outside the operator: Reapply this resource, or "
                               "Report the drift in a condition.")
    in_place_change: Literal["Refuse", "Allow"] = Field(
        "Refuse", description="Whether the content of an already registered version may change. Refuse keeps a "
                              "version meaning one thing for running and future executions: publish a new version.")


class WorkflowDefinitionSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("name", "spec.name is immutable: create a new WorkflowDefinition for another workflow"),
        immutable("version", "spec.version is immutable: create a new WorkflowDefinition resource for a new version"),
        exactly_one("definition", "definitionFrom", where="spec"),
    ]})

    cluster_ref: ClusterRef | None = Field(None, description=_CLUSTER_REF)
    name: ConductorName = Field(description="Conductor workflow name (no /, \\, ?, # or control character; not . "
                                            "or ..: Conductor takes it in URL paths).")
    version: int = Field(ge=1, le=MAX_VERSION, description="Conductor workflow version; one resource per "
                                                           "version (at most 2147483647, a Java int).")
    definition: WorkflowBody | None = Field(None, description="The definition inline (a WorkflowDef without name "
                                                              f"and version). {_NESTING} {MAX_SIZE_NOTE}.")
    definition_from: DefinitionSource | None = Field(None, description=f"{_DEFINITION_FROM} {_NESTING} "
                                                                       f"{MAX_SIZE_NOTE}.")
    policy: WorkflowPolicy = Defaulted(WorkflowPolicy, "What the operator does on delete, on drift and on change.")
    drift_check_interval: Duration = Field("5m", description=_DRIFT_CHECK)
    activation: Literal["Immediate", "ByMigrationPlan"] = Field(
        "Immediate", description="When this version is first registered: Immediate, or ByMigrationPlan, once a "
                                 "MigrationPlan in this namespace that targets this resource has passed its gates "
                                 "(registering a version moves every unpinned start to it).")

    @model_validator(mode="after")
    def _one_source(self) -> WorkflowDefinitionSpec:
        check_exactly_one(self, {"definition": "definition", "definition_from": "definitionFrom"}, where="spec")
        return self


class Executions(Model):
    running: int = Field(0, description="RUNNING and PAUSED executions of this version.")
    read_at: str | None = Field(None, description="When they were counted (RFC 3339).")


class WorkflowDefinitionStatus(StatusBase):
    registered: bool | None = Field(None, description="Whether this version is registered in Conductor.")
    content_hash: str | None = Field(None, description="Hash of the definition the operator registered.")
    registered_at: str | None = Field(None, description="When the operator last registered it (RFC 3339).")
    last_drift_check_at: str | None = Field(None, description="When Conductor's copy was last compared (RFC 3339).")
    executions: Executions | None = Field(None, description="Running executions of this version.")


class WorkflowDefinition(Resource):
    """One version of a Conductor workflow definition, registered and kept in sync by the operator."""

    KIND: ClassVar[str] = "WorkflowDefinition"
    PLURAL: ClassVar[str] = "workflowdefinitions"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("wfd", "wfdef")

    spec: WorkflowDefinitionSpec
    status: WorkflowDefinitionStatus = Field(default_factory=WorkflowDefinitionStatus)


# ---- TaskDefinition ------------------------------------------------------------------------------

class TaskBody(Model):
    """A Conductor TaskDef without its name (it comes from spec.name)."""

    description: str | None = Field(None, description="What the task does.")
    retry_count: int | None = Field(None, ge=0, description="Retries after a failure.")
    retry_logic: Literal["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"] | None = Field(
        None, description="How the delay between retries grows.")
    retry_delay_seconds: int | None = Field(None, ge=0, description="Delay before a retry.")
    timeout_seconds: int | None = Field(None, ge=0, description="Time limit of one task execution, retries included.")
    timeout_policy: Literal["RETRY", "TIME_OUT_WF", "ALERT_ONLY"] | None = Field(
        None, description="What happens when timeoutSeconds passes.")
    response_timeout_seconds: int | None = Field(None, ge=1, description="How long a worker may hold the task "
                                                                        "without an update.")
    poll_timeout_seconds: int | None = Field(None, ge=0, description="How long the task may wait for a worker.")
    concurrent_exec_limit: int | None = Field(None, ge=0, description="Executions of this task at once; 0 for no "
                                                                     "limit.")
    rate_limit_per_frequency: int | None = Field(None, ge=0, description="Executions allowed per "
                                                                        "rateLimitFrequencyInSeconds.")
    rate_limit_frequency_in_seconds: int | None = Field(None, ge=0, description="The rate limit's window.")
    input_keys: list[str] | None = Field(None, description="Names of the task's inputs (documentation).")
    output_keys: list[str] | None = Field(None, description="Names of the task's outputs (documentation).")
    input_template: OpenObject | None = Field(None, description="Default input values.")
    owner_email: str | None = Field(None, description="Owner's email (Conductor may require one).")
    input_schema: OpenObject | None = Field(None, description="Reference to a schema for the input.")
    output_schema: OpenObject | None = Field(None, description="Reference to a schema for the output.")
    enforce_schema: bool | None = Field(None, description="Whether the schemas are enforced.")


class TaskPolicy(Model):
    on_delete: OnDelete = Field(
        "Retain", description="Retain leaves the task registered when the resource is deleted; Delete removes it "
                              "from Conductor once no workflow definition uses it.")
    on_drift: OnDrift = Field(
        "Reapply", description="When Conductor's copy was changed outside the operator: Reapply this resource, or "
                               "Report the drift in a condition.")


class TaskDefinitionSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        immutable("name", "spec.name is immutable: create a new TaskDefinition for another task"),
        exactly_one("definition", "definitionFrom", where="spec"),
    ]})

    cluster_ref: ClusterRef | None = Field(None, description=_CLUSTER_REF)
    name: ConductorName = Field(description="Conductor task definition name (global in Conductor, not versioned; no "
                                            "/, \\, ?, # or control character; not . or ..).")
    definition: TaskBody | None = Field(None, description="The definition inline (a TaskDef without name).")
    definition_from: DefinitionSource | None = Field(None, description=_DEFINITION_FROM)
    policy: TaskPolicy = Defaulted(TaskPolicy, "What the operator does on delete and on drift.")
    drift_check_interval: Duration = Field("5m", description=_DRIFT_CHECK)

    @model_validator(mode="after")
    def _one_source(self) -> TaskDefinitionSpec:
        check_exactly_one(self, {"definition": "definition", "definition_from": "definitionFrom"}, where="spec")
        return self


class TaskDefinitionStatus(StatusBase):
    registered: bool | None = Field(None, description="Whether the task is registered in Conductor.")
    content_hash: str | None = Field(None, description="Hash of the definition the operator registered.")
    registered_at: str | None = Field(None, description="When the operator last registered it (RFC 3339).")
    last_drift_check_at: str | None = Field(None, description="When Conductor's copy was last compared (RFC 3339).")


class TaskDefinition(Resource):
    """A Conductor task definition (global, not versioned), registered and kept in sync by the operator."""

    KIND: ClassVar[str] = "TaskDefinition"
    PLURAL: ClassVar[str] = "taskdefinitions"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ctd", "taskdef")

    spec: TaskDefinitionSpec
    status: TaskDefinitionStatus = Field(default_factory=TaskDefinitionStatus)
