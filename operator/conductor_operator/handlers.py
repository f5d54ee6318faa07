"""kopf wiring only: settings at startup, and thin handlers that call the reconcilers.

Create, update, resume and the periodic timer of a resource all run the same reconcile. A
reconcile returns an Outcome; the handler writes its status (once, and only what changed),
posts its events, and asks kopf to retry after a delay when the outcome says so. Handlers
return nothing: a return value would land in status and be pruned by the strict schema.
"""

from __future__ import annotations

import logging

import kopf

from conductor_operator.kube import GROUP, VERSION, Kube, load_config
from conductor_operator.reconcile import Outcome, Runtime
from conductor_operator.reconcile.migration import finalize_plan, reconcile_plan
from conductor_operator.settings import Settings

SETTINGS = Settings.from_env()
PREFIX = "conductor-operator.io"

CLUSTERS = (GROUP, VERSION, "conductorclusters")
WORKFLOWS = (GROUP, VERSION, "workflowdefinitions")
TASKS = (GROUP, VERSION, "taskdefinitions")
PLANS = (GROUP, VERSION, "migrationplans")


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_) -> None:
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.peering.clusterwide = not SETTINGS.namespaces
    if SETTINGS.peering:
        settings.peering.name = SETTINGS.peering
        settings.peering.mandatory = True
        settings.peering.priority = SETTINGS.peering_priority
        settings.peering.lifetime = int(SETTINGS.peering_lifetime)
    else:
        settings.peering.standalone = True
    memo.runtime = Runtime(SETTINGS, Kube(load_config()))


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_) -> None:
    await memo.runtime.aclose()


def _deliver(outcome: Outcome | None, body: kopf.Body, patch: kopf.Patch, *, retry: bool = True) -> None:
    if outcome is None:
        return
    current = body.get("status") or {}
    for key, value in (outcome.status or {}).items():
        if current.get(key) != value:
            patch.status[key] = value
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if retry and outcome.retry_after is not None:
        raise kopf.TemporaryError(outcome.message or "will retry", delay=outcome.retry_after)


# ---- ConductorCluster ---------------------------------------------------------------------------

@kopf.on.resume(*CLUSTERS)
@kopf.on.create(*CLUSTERS)
@kopf.on.update(*CLUSTERS, field="spec")
async def cluster_changed(body, patch, memo, **_) -> None:
    _deliver(await memo.runtime.reconcile_cluster(body, due_only=False), body, patch, retry=False)


@kopf.timer(*CLUSTERS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
async def cluster_timer(body, patch, memo, **_) -> None:
    _deliver(await memo.runtime.reconcile_cluster(body, due_only=True), body, patch, retry=False)


# ---- WorkflowDefinition -------------------------------------------------------------------------

@kopf.on.resume(*WORKFLOWS)
@kopf.on.create(*WORKFLOWS)
@kopf.on.update(*WORKFLOWS, field="spec")
async def workflow_changed(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.reconcile_workflow(body, due_only=False, attempt=retry), body, patch)


@kopf.timer(*WORKFLOWS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
async def workflow_timer(body, patch, memo, **_) -> None:
    _deliver(await memo.runtime.reconcile_workflow(body, due_only=True), body, patch, retry=False)


@kopf.on.delete(*WORKFLOWS)
async def workflow_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.finalize_workflow(body, attempt=retry), body, patch)


# ---- TaskDefinition -----------------------------------------------------------------------------

@kopf.on.resume(*TASKS)
@kopf.on.create(*TASKS)
@kopf.on.update(*TASKS, field="spec")
async def task_changed(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.reconcile_task(body, due_only=False, attempt=retry), body, patch)


@kopf.timer(*TASKS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
async def task_timer(body, patch, memo, **_) -> None:
    _deliver(await memo.runtime.reconcile_task(body, due_only=True), body, patch, retry=False)


@kopf.on.delete(*TASKS)
async def task_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.finalize_task(body, attempt=retry), body, patch)


# ---- MigrationPlan ------------------------------------------------------------------------------

@kopf.on.resume(*PLANS)
@kopf.on.create(*PLANS)
@kopf.on.update(*PLANS, field="spec")
async def plan_changed(body, patch, memo, retry, **_) -> None:
    _deliver(await reconcile_plan(memo.runtime, body, attempt=retry), body, patch)


@kopf.timer(*PLANS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
async def plan_timer(body, patch, memo, **_) -> None:
    _deliver(await reconcile_plan(memo.runtime, body), body, patch, retry=False)


@kopf.on.delete(*PLANS)
async def plan_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await finalize_plan(memo.runtime, body, attempt=retry), body, patch)
