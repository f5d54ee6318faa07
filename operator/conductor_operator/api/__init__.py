"""The operator's custom resources as typed models; `crdgen` writes the CRDs in crds/ from them.

Parse a raw body with `WorkflowDefinition.from_body(body)` (or `model_validate`); build status
through the status models and write `status.to_dict()`. No kopf, httpx or kubernetes here.
"""

from conductor_operator.api.cluster import ConductorCluster, ConductorClusterSpec, ConductorClusterStatus
from conductor_operator.api.common import (
    API_VERSION,
    GROUP,
    VERSION,
    Condition,
    Resource,
    parse_duration,
)
from conductor_operator.api.definitions import (
    TaskDefinition,
    TaskDefinitionSpec,
    TaskDefinitionStatus,
    WorkflowDefinition,
    WorkflowDefinitionSpec,
    WorkflowDefinitionStatus,
)
from conductor_operator.api.migration import MigrationPlan, MigrationPlanSpec, MigrationPlanStatus

KINDS: dict[str, type[Resource]] = {kind.KIND: kind for kind in (
    ConductorCluster, WorkflowDefinition, TaskDefinition, MigrationPlan)}
"""Each kind's model by its Kubernetes kind."""

__all__ = [
    "API_VERSION", "GROUP", "KINDS", "VERSION", "Condition", "ConductorCluster", "ConductorClusterSpec",
    "ConductorClusterStatus", "MigrationPlan", "MigrationPlanSpec", "MigrationPlanStatus", "Resource",
    "TaskDefinition", "TaskDefinitionSpec", "TaskDefinitionStatus", "WorkflowDefinition", "WorkflowDefinitionSpec",
    "WorkflowDefinitionStatus", "parse_duration",
]
