"""The plans around this one: which released a WorkflowDefinition, which older plan is still at work on the
same workflow (a rival the newer plan waits for), which work on the same ConductorCluster."""

from __future__ import annotations

from collections.abc import Iterable

from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain.migrations.model import ENDED, Phase


def plans_releasing(resource: str, plans: Iterable[MigrationPlan]) -> list[str]:
    """Plans that released WorkflowDefinition ``resource`` at their cutover (after their gates passed)."""
    return [p.metadata.name for p in plans if p.status.cutover_at
            and (p.status.released or p.spec.to.workflow_definition_ref.name) == resource]


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

