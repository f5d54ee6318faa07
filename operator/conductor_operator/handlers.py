"""kopf wiring only: settings at startup, and thin handlers that call the reconcilers.

Create, update, resume and the periodic timer of a resource all run the same reconcile. A
reconcile returns an Outcome; the handler writes its status (once, and only what changed),
posts its events, and asks kopf to retry after a delay when the outcome says so. Handlers
return nothing: a return value would land in status and be pruned by the strict schema.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from typing import Any

import kopf
from kopf._cogs.clients import api as kopf_api

from conductor_operator import metrics
from conductor_operator.domain import definitions as defs
from conductor_operator.kube import GROUP, VERSION, Kube
from conductor_operator.reconcile import Outcome, Runtime
from conductor_operator.reconcile.migration import finalize_plan, reconcile_plan
from conductor_operator.settings import Settings

SETTINGS = Settings.from_env()
PREFIX = "conductor-operator.io"

CLUSTERS = (GROUP, VERSION, "conductorclusters")
WORKFLOWS = (GROUP, VERSION, "workflowdefinitions")
TASKS = (GROUP, VERSION, "taskdefinitions")
PLANS = (GROUP, VERSION, "migrationplans")


# ---- what kopf reads and stores -----------------------------------------------------------------
#
# kopf decodes every watch event, list and patched object with Python's recursive JSON decoder, then walks each
# object recursively (copies, diffs): an object nested thousands of levels deep (the API server accepts that in
# any free-form field) raised RecursionError in the watch and stopped the operator for every namespace. So kopf's
# API client gets a decoder that first cuts whatever nests deeper than defs.MAX_OBJECT_DEPTH, and the spec of an
# object so cut is replaced by a note of where: its handlers report it (Stalled) and do nothing else. (The
# operator's own reads of other objects, in kube.py, decode the same way.)

# It also drops the copy of the whole object that `kubectl apply` keeps in an annotation: kopf holds every body it
# watches in memory, and nothing here (nor kopf, whose diff base leaves it out) reads that copy; kopf only ever
# patches, so the annotation stays on the object.

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def read_json(text: str | bytes):
    value = defs.read_api_json(text)
    if isinstance(value, dict):
        for obj in (value, value.get("object"), *(value.get("items") or [])):
            annotations = ((obj or {}).get("metadata") or {}).get("annotations") if isinstance(obj, dict) else None
            if isinstance(annotations, dict):
                annotations.pop(LAST_APPLIED, None)
    return value


class _KopfJson:
    """The json module as kopf's API client sees it: only loads differs."""

    loads = staticmethod(read_json)

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)


def _decoding(method: str):
    """kopf_api.get, .post, .patch or .delete (each answers with an object, or a list), decoding with read_json."""

    async def call(url: str, *, settings, logger, **options) -> Any:
        response = await kopf_api.request(method=method, url=url, settings=settings, logger=logger, **options)
        async with response:
            return await response.json(loads=read_json)

    return call


kopf_api.json = _KopfJson()  # the watch stream: json.loads(line)
for _method in ("get", "post", "patch", "delete"):  # lists, reads, and the object a patch answers with
    setattr(kopf_api, _method, _decoding(_method))


class HashDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """The last handled spec (kopf's diff base) as a hash in one annotation.

    kopf's own annotation holds the whole spec as JSON, and the API server refuses annotations over 256 KiB
    with a 422, which kopf retried forever for a definition that large. The handlers here never read kopf's
    diff (they reconcile the whole resource), so a hash tells "changed" from "not changed" just as well. An
    object still carrying the old annotation is diffed against it once, and the annotation is then removed.
    """

    LEGACY_KEY = "last-handled-configuration"

    def __init__(self, *, prefix: str, key: str = "last-handled-hash") -> None:
        super().__init__(prefix=prefix, key=key)
        self.legacy = kopf.AnnotationsDiffBaseStorage(prefix=prefix, key=self.LEGACY_KEY)

    @staticmethod
    def digest(essence) -> str:
        canonical = json.dumps(essence, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def build(self, *, body, extra_fields=None):
        essence = super().build(body=body, extra_fields=extra_fields)
        self.remove_annotations(essence, set(self.legacy.make_keys(self.LEGACY_KEY, body=body)))
        self.remove_empty_stanzas(essence)
        return essence

    def fetch(self, *, body):
        for full_key in self.make_keys(self.key, body=body):
            stored = body.metadata.annotations.get(full_key)
            if stored is not None:
                current = self.build(body=body)
                return current if self.digest(current) == stored.strip() else {}
        return self.legacy.fetch(body=body)

    def store(self, *, body, patch, essence) -> None:
        for full_key in self.make_keys(self.key, body=body):
            patch.metadata.annotations[full_key] = self.digest(essence)
        for full_key in self.legacy.make_keys(self.LEGACY_KEY, body=body):
            if full_key in body.metadata.annotations:
                patch.metadata.annotations[full_key] = None
        self._store_marker(prefix=self.prefix, patch=patch, body=body)


# The index functions are async only so that kopf calls them in its event loop: a plain function it runs in a thread
# of its executor, a hop per watch event that slowed a burst of 2,000 new WorkflowDefinitions by seconds.

@kopf.index(*PLANS)
async def plans_by_namespace(namespace, body, **_) -> dict:
    """The MigrationPlans in memory, for the definitions they hold and the plans they rival: kopf fills its
    indexes before any handler runs, so a plan that exists is never missed at startup."""
    return {namespace: dict(body)}


@kopf.index(*CLUSTERS)
async def clusters_by_name(namespace, name, body, **_) -> dict:
    return {(namespace, name): dict(body)}


@kopf.index(*WORKFLOWS)
async def workflow_claims(body, **_) -> dict:
    """Who declares each workflow version, so that a second resource declaring one waits instead of fighting the
    first (definitions.claim_of)."""
    return dict([claim]) if (claim := defs.claim_of("WorkflowDefinition", body)) else {}


@kopf.index(*TASKS)
async def task_claims(body, **_) -> dict:
    return dict([claim]) if (claim := defs.claim_of("TaskDefinition", body)) else {}


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, plans_by_namespace: kopf.Index,
                    clusters_by_name: kopf.Index, workflow_claims: kopf.Index, task_claims: kopf.Index,
                    **_) -> None:
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = HashDiffBaseStorage(prefix=PREFIX)
    settings.posting.level = logging.WARNING
    settings.peering.clusterwide = not SETTINGS.namespaces
    if SETTINGS.peering:
        settings.peering.name = SETTINGS.peering
        settings.peering.mandatory = True
        settings.peering.priority = SETTINGS.peering_priority
        settings.peering.lifetime = int(SETTINGS.peering_lifetime)
    else:
        settings.peering.standalone = True
    memo.runtime = Runtime(SETTINGS, Kube(settings, plan_index=plans_by_namespace, cluster_index=clusters_by_name,
                                          claim_indexes={"workflow": workflow_claims, "task": task_claims}))


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_) -> None:
    await memo.runtime.aclose()


def _too_deep(body: kopf.Body, memo: kopf.Memo) -> Outcome | None:
    """The outcome for an object read_json cut (its spec is only a note of where); None for any other."""
    where = (body.get("spec") or {}).get(defs.TOO_DEEP_KEY)
    return None if where is None else memo.runtime.too_deep(body, where)


def _measured(handler):
    """A handler counted and timed (metrics.reconciling), its log lines carrying its object; a delete handler that
    finished drops the object's series."""
    deleting = handler.__name__.endswith("_deleted")

    @functools.wraps(handler)
    async def measured(**kwargs):
        with metrics.reconciling(kwargs["body"]):
            result = await handler(**kwargs)
        if deleting:
            metrics.forget(kwargs["body"])
        return result
    return measured


def _deliver(outcome: Outcome | None, body: kopf.Body, patch: kopf.Patch, *, retry: bool = True) -> None:
    metrics.delivered(body, outcome)
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
@_measured
async def cluster_changed(body, patch, memo, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_cluster(body, due_only=False)
    _deliver(outcome, body, patch, retry=False)


@kopf.timer(*CLUSTERS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
@_measured
async def cluster_timer(body, patch, memo, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_cluster(body, due_only=True)
    _deliver(outcome, body, patch, retry=False)


@kopf.on.delete(*CLUSTERS, optional=True)  # optional: no finalizer, nothing to do in Conductor
@_measured
async def cluster_deleted(body, memo, **_) -> None:
    memo.runtime.forget_cluster(body)


# ---- WorkflowDefinition -------------------------------------------------------------------------

@kopf.on.resume(*WORKFLOWS)
@kopf.on.create(*WORKFLOWS)
@kopf.on.update(*WORKFLOWS, field="spec")
@_measured
async def workflow_changed(body, patch, memo, retry, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_workflow(body, due_only=False, attempt=retry)
    _deliver(outcome, body, patch)


@kopf.timer(*WORKFLOWS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
@_measured
async def workflow_timer(body, patch, memo, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_workflow(body, due_only=True)
    _deliver(outcome, body, patch, retry=False)


@kopf.on.delete(*WORKFLOWS)
@_measured
async def workflow_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.finalize_workflow(body, attempt=retry), body, patch)


# ---- TaskDefinition -----------------------------------------------------------------------------

@kopf.on.resume(*TASKS)
@kopf.on.create(*TASKS)
@kopf.on.update(*TASKS, field="spec")
@_measured
async def task_changed(body, patch, memo, retry, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_task(body, due_only=False, attempt=retry)
    _deliver(outcome, body, patch)


@kopf.timer(*TASKS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
@_measured
async def task_timer(body, patch, memo, **_) -> None:
    outcome = _too_deep(body, memo) or await memo.runtime.reconcile_task(body, due_only=True)
    _deliver(outcome, body, patch, retry=False)


@kopf.on.delete(*TASKS)
@_measured
async def task_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await memo.runtime.finalize_task(body, attempt=retry), body, patch)


# ---- MigrationPlan ------------------------------------------------------------------------------

@kopf.on.resume(*PLANS)
@kopf.on.create(*PLANS)
@kopf.on.update(*PLANS, field="spec")
@_measured
async def plan_changed(body, patch, memo, retry, **_) -> None:
    outcome = _too_deep(body, memo) or await reconcile_plan(memo.runtime, body, attempt=retry)
    _deliver(outcome, body, patch)


@kopf.timer(*PLANS, interval=SETTINGS.resync_interval, initial_delay=SETTINGS.resync_interval)
@_measured
async def plan_timer(body, patch, memo, **_) -> None:
    outcome = _too_deep(body, memo) or await reconcile_plan(memo.runtime, body)
    _deliver(outcome, body, patch, retry=False)


@kopf.on.delete(*PLANS)
@_measured
async def plan_deleted(body, patch, memo, retry, **_) -> None:
    _deliver(await finalize_plan(memo.runtime, body, attempt=retry), body, patch)
