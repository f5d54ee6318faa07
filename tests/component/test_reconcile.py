"""The reconcile shell with an in-memory Conductor and Kubernetes: fast checks of the I/O choreography.

The same behaviour is proven against the real servers in tests/e2e/test_definitions_real.py.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conductor_operator.api.definitions import WorkflowDefinition
from conductor_operator.conductor.client import ConductorClient, Flavor
from conductor_operator.conductor.errors import NotFound, Rejected, Unavailable
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.definitions import claim_of
from conductor_operator.kube import Missing
from conductor_operator.reconcile import Runtime
from conductor_operator.settings import Settings

SETTINGS = Settings(namespaces=(), default_cluster="default", resync_interval=15, retry_min=5, retry_max=300,
                    peering=None, peering_priority=0, peering_lifetime=60)


class FakeConductor:
    base_url = "http://conductor:8080"  # the server root of FakeKube's default ConductorCluster

    def __init__(self):
        self.workflows: dict[tuple[str, int], dict] = {}
        self.tasks: dict[str, dict] = {}
        self.running: dict[str, dict[int, int]] = {}
        self.down = False
        self.reject: str | None = None
        self.registrations = 0
        self.count_reads = 0
        self.version_reads = 0

    def _check(self):
        if self.down:
            raise Unavailable(status=None, message="connection refused")

    async def server_version(self):
        self._check()
        return "3.32.3"

    async def detect_flavor(self):
        return Flavor.OSS

    async def get_workflow_def(self, name, version=None):
        self._check()
        found = self.workflows.get((name, version))
        return copy.deepcopy({**found, "updateTime": 1}) if found else None

    async def register_workflow_defs(self, definitions):
        self._check()
        if self.reject:
            raise Rejected(status=400, message=self.reject)
        for definition in definitions:
            self.workflows[(definition["name"], definition["version"])] = copy.deepcopy(definition)
        self.registrations += 1

    async def delete_workflow_def(self, name, version):
        self._check()
        if (name, version) not in self.workflows:
            raise NotFound(status=404, message="no such workflow")
        del self.workflows[(name, version)]

    async def all_workflow_defs(self):
        self._check()
        return [copy.deepcopy(d) for d in self.workflows.values()]

    async def registered_versions(self):
        self._check()
        self.version_reads += 1
        listing: dict[str, set[int]] = {}
        for name, version in self.workflows:
            listing.setdefault(name, set()).add(version)
        return {name: frozenset(versions) for name, versions in listing.items()}

    async def running_counts_by_version(self, name):
        self._check()
        self.count_reads += 1
        return dict(self.running.get(name, {}))

    async def get_task_def(self, name):
        self._check()
        return copy.deepcopy(self.tasks.get(name))

    async def register_task_defs(self, definitions):
        self._check()
        for definition in definitions:
            self.tasks[definition["name"]] = copy.deepcopy(definition)

    async def delete_task_def(self, name):
        self._check()
        self.tasks.pop(name, None)

    async def aclose(self):
        pass


class FakeKube:
    def __init__(self):
        self.clusters = {("ns", "default"): {"metadata": {"name": "default", "namespace": "ns"},
                                             "spec": {"url": "http://conductor:8080"}}}
        self.config_maps: dict[tuple[str, str], dict[str, str]] = {}
        self.config_map_owners: dict[tuple[str, str], dict] = {}
        self.workflow_definitions: dict[tuple[str, str], dict] = {}
        self.plans: dict[str, list[dict]] = {}
        self.claims: dict[tuple, list] = {}  # as the operator's claim indexes hold them

    def declare(self, kind, *bodies):
        """Index these bodies as the operator does, as declaring their Conductor definitions."""
        for body in bodies:
            key, claimant = claim_of(kind, body)
            self.claims.setdefault(key, []).append(claimant)

    async def definition_claimants(self, key):
        return list(self.claims.get(key, []))

    async def workflow_definition(self, namespace, name):
        try:
            return copy.deepcopy(self.workflow_definitions[(namespace, name)])
        except KeyError:
            raise Missing(f"WorkflowDefinition {namespace}/{name} not found") from None

    async def migration_plans(self, namespace):
        return copy.deepcopy(self.plans.get(namespace, []))

    async def watched_migration_plans(self, namespaces):
        return [plan for namespace in (namespaces or list(self.plans))
                for plan in await self.migration_plans(namespace)]

    async def conductor_cluster(self, namespace, name):
        try:
            return self.clusters[(namespace, name)]
        except KeyError:
            raise Missing(f"ConductorCluster {namespace}/{name} not found") from None

    async def secret_value(self, namespace, name, key):
        raise Missing(f"Secret {namespace}/{name} not found")

    async def config_map_value(self, namespace, name, key):
        try:
            return self.config_maps[(namespace, name)][key]
        except KeyError:
            raise Missing(f"ConfigMap {namespace}/{name} not found") from None

    async def config_map_data(self, namespace, name):
        return dict(self.config_maps.get((namespace, name), {}))

    async def merge_config_map_data(self, namespace, name, data, *, owner):
        self.config_maps.setdefault((namespace, name), {}).update(data)
        self.config_map_owners[(namespace, name)] = owner


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def conductor():
    return FakeConductor()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def runtime(conductor, clock):
    return Runtime(SETTINGS, FakeKube(), clock=clock, client_factory=lambda *a, **k: conductor)


def workflow_body(*refs, generation=1, status=None, **spec_extra):
    return {"metadata": {"name": "wf", "namespace": "ns", "uid": "uid-1", "generation": generation},
            "spec": {"name": "order", "version": 1,
                     "definition": {"tasks": [{"name": r, "taskReferenceName": r, "type": "SIMPLE"} for r in refs]},
                     **spec_extra},
            "status": status or {}}


def counted_definition_reads(conductor) -> list[tuple[str, int | None]]:
    """The (name, version) of each definition read the fake Conductor answers from now on."""
    reads = []
    original = conductor.get_workflow_def

    async def get(name, version=None):
        reads.append((name, version))
        return await original(name, version)
    conductor.get_workflow_def = get
    return reads


def conditions(outcome):
    """The conditions of an Outcome, or of a body's status, as type -> (status, reason)."""
    status = outcome["status"] if isinstance(outcome, dict) else outcome.status
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


async def test_registers_then_settles_without_repeating_events(runtime, conductor, clock):
    body = workflow_body("a")
    first = await runtime.reconcile_workflow(body, due_only=False)
    assert conductor.workflows[("order", 1)]["tasks"][0]["taskReferenceName"] == "a"
    assert conditions(first)["Ready"] == ("True", "Registered")
    assert [e.reason for e in first.events] == ["Registered"]
    assert first.retry_after is None

    clock.advance(360)  # the drift check interval (5m, stretched by up to a fifth per resource): read again
    body["status"] = first.status
    second = await runtime.reconcile_workflow(body, due_only=True)
    assert conductor.registrations == 1, "nothing registered twice"
    assert conditions(second)["Ready"] == ("True", "InSync")
    assert second.status["conditions"][0]["lastTransitionTime"] == first.status["conditions"][0]["lastTransitionTime"]


async def test_unavailable_keeps_last_good_status_and_backs_off(runtime, conductor, clock):
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    conductor.down = True
    clock.advance(600)
    outcome = await runtime.reconcile_workflow(body, due_only=False, attempt=3)
    assert conditions(outcome)["Ready"][0] == "True"
    assert conditions(outcome)["Reconciling"] == ("True", "ConductorUnavailable")
    assert outcome.status["registered"] is True
    assert outcome.retry_after == SETTINGS.retry_delay(3) == 40
    assert outcome.events == []


class ThrottlingGateway:
    """A gateway in front of Conductor, seen through the real client: 429 with Retry-After for ``throttle``
    ("GET" reads, "PUT" registrations), else a Conductor without the definition that accepts it."""

    def __init__(self, throttle: str, retry_after: str):
        self.throttle = throttle
        self.retry_after = retry_after
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/version":  # the operator's clients identify the server first
            return httpx.Response(200, text="3.32.3")
        if request.method == self.throttle:
            return httpx.Response(429, text="<html><h1>429 Too Many Requests</h1></html>",
                                  headers={"Retry-After": self.retry_after})
        if request.method == "GET":
            return httpx.Response(404, json={"status": 404, "message": "No such workflow found by name: order"})
        return httpx.Response(200, json={"bulkSuccessfulResults": [], "bulkErrorResults": {}})


@pytest.mark.parametrize("throttle", ["GET", "PUT"])
@pytest.mark.parametrize("jitter", [0.0, 0.99])
async def test_a_throttled_conductor_is_reconciling_not_stalled_and_waits_as_asked(clock, throttle, jitter):
    gateway = ThrottlingGateway(throttle, retry_after="90")
    settings = dataclasses.replace(SETTINGS, jitter=lambda: jitter)
    runtime = Runtime(settings, FakeKube(), clock=clock, client_factory=lambda url, **kw: ConductorClient(
        url, transport=httpx.MockTransport(gateway), **kw))
    try:
        outcome = await runtime.reconcile_workflow(workflow_body("a"), due_only=False)
    finally:
        await runtime.aclose()
    assert conditions(outcome)["Reconciling"] == ("True", "ConductorUnavailable")
    assert conditions(outcome)["Stalled"][0] == "False"
    assert "Retry-After 90s" in outcome.message and "429 Too Many Requests" in outcome.message
    assert 90 <= outcome.retry_after <= 90 * 1.5, "never sooner than asked, at most half again later"
    assert outcome.events == [], "not the user's fault: no Warning"
    # A new resource's first read is of the registered versions.
    assert gateway.requests.count(f"{throttle} /api/metadata/workflow" + ("/names-and-versions" if throttle == "GET"
                                                                          else "")) == 1


async def test_the_timer_waits_out_retry_after_too(clock):
    gateway = ThrottlingGateway("GET", retry_after="90")
    runtime = Runtime(SETTINGS, FakeKube(), clock=clock, client_factory=lambda url, **kw: ConductorClient(
        url, transport=httpx.MockTransport(gateway), **kw))
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    clock.advance(SETTINGS.resync_interval)
    assert await runtime.reconcile_workflow(body, due_only=True) is None, "a timer tick does not ask sooner"
    clock.advance(90 - SETTINGS.resync_interval)
    gateway.throttle = None
    outcome = await runtime.reconcile_workflow(body, due_only=True)
    await runtime.aclose()
    assert conditions(outcome)["Ready"] == ("True", "Registered")
    assert conditions(outcome)["Reconciling"][0] == "False"


async def test_retry_delays_are_jittered_and_honour_retry_after():
    draws = iter([0.0, 0.5, 0.999])
    settings = dataclasses.replace(SETTINGS, jitter=lambda: next(draws))
    assert [settings.retry_delay(0) for _ in range(3)] == [5, 6.25, pytest.approx(7.4975)]
    assert SETTINGS.retry_delay(0, retry_after=3) == 5, "a shorter Retry-After leaves the backoff as it is"
    assert SETTINGS.retry_delay(0, retry_after=120) == 120
    assert SETTINGS.retry_delay(10, retry_after=120) == 300, "the backoff is longer"
    assert SETTINGS.retry_delay(0, retry_after=86_400) == 900, "a wild Retry-After is capped at 15 minutes"


async def test_rejection_is_stalled_once_not_retried_hot(runtime, conductor, clock):
    conductor.reject = "tasks[0]: subWorkflowParam field is required"
    body = workflow_body("a")
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "RejectedByConductor")
    assert outcome.retry_after is None
    assert [e.reason for e in outcome.events] == ["RejectedByConductor"]
    body["status"] = outcome.status
    clock.advance(SETTINGS.resync_interval)
    assert await runtime.reconcile_workflow(body, due_only=True) is None, "a stalled resource waits for its interval"
    clock.advance(600)
    again = await runtime.reconcile_workflow(body, due_only=True)
    assert again is not None and again.events == [], "the same warning is not posted twice"


async def test_a_4xx_on_read_stalls_with_a_warning_and_is_read_again_only_at_the_drift_interval(runtime, conductor,
                                                                                                   clock):
    """A registered definition (it has a running count, which the timer refreshes every resync) whose read Conductor
    then refuses: the refusal is the user's to fix, so the timer does not ask again at every tick."""
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    reads = 0

    async def refuse(name, version=None):
        nonlocal reads
        reads += 1
        raise Rejected(status=403, message="no access to workflow order")
    conductor.get_workflow_def = refuse
    clock.advance(360)  # the drift check (5m, stretched by up to a fifth): the ticks before it only count
    stalled = await runtime.reconcile_workflow(body, due_only=True)
    assert conditions(stalled)["Stalled"] == ("True", "RejectedByConductor")
    assert [(e.type, e.reason) for e in stalled.events] == [("Warning", "RejectedByConductor")]
    body["status"] = stalled.status
    for _ in range(10):
        clock.advance(SETTINGS.resync_interval)
        assert await runtime.reconcile_workflow(body, due_only=True) is None
    assert reads == 1
    clock.advance(300)  # the default driftCheckInterval, 5m, since the refusal
    again = await runtime.reconcile_workflow(body, due_only=True)
    assert reads == 2 and again.events == [], "looked again once, and the same warning is not posted twice"


async def test_timer_refreshes_counts_between_drift_checks(runtime, conductor, clock):
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    assert "executions" not in body["status"], "a version registered where none was is counted at the next tick"
    assert conductor.count_reads == 0
    conductor.running["order"] = {1: 4, 2: 7}
    clock.advance(1)
    outcome = await runtime.reconcile_workflow(body, due_only=True)
    assert outcome.status["executions"] == {"running": 4, "readAt": "2026-11-24T12:00:01Z"}
    assert set(outcome.status) == set(body["status"]) | {"executions"}, "a count-only tick changes only the count"
    body["status"] = outcome.status
    conductor.running["order"] = {1: 5}
    clock.advance(1)
    assert await runtime.reconcile_workflow(body, due_only=True) is None, "the count read a second ago serves"
    assert conductor.count_reads == 1
    clock.advance(SETTINGS.resync_interval)
    outcome = await runtime.reconcile_workflow(body, due_only=True)
    assert outcome.status["executions"] == {"running": 5, "readAt": "2026-11-24T12:00:17Z"}
    body["status"] = outcome.status
    clock.advance(SETTINGS.resync_interval)
    assert await runtime.reconcile_workflow(body, due_only=True) is None, "an unchanged count is not written again"
    assert conductor.count_reads == 3


async def test_every_version_of_a_workflow_shares_one_count_read_per_resync_interval(runtime, conductor, clock):
    bodies = []
    for version in (1, 2, 3):
        body = workflow_body("a", version=version)
        body["metadata"].update(name=f"order-v{version}", uid=f"uid-{version}")
        body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
        bodies.append(body)
    conductor.running["order"] = {1: 2, 2: 1}
    for _ in range(4):
        clock.advance(SETTINGS.resync_interval)
        for body in bodies:
            if outcome := await runtime.reconcile_workflow(body, due_only=True):
                body["status"] = outcome.status
    assert [b["status"]["executions"]["running"] for b in bodies] == [2, 1, 0]
    assert conductor.count_reads == 4, "one read per interval, shared by the three resources"


async def test_a_change_handler_with_nothing_changed_reads_nothing(runtime, conductor, clock):
    """An operator restart resumes every resource: one registered, unchanged and checked within the drift check
    interval costs no request."""
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    reads = counted_definition_reads(conductor)
    clock.advance(60)
    assert await runtime.reconcile_workflow(body, due_only=False) is None
    assert reads == []
    body["metadata"]["generation"] += 1  # a spec change that keeps the content (a clusterRef, a policy)
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert reads == [("order", 1)] and conditions(outcome)["Ready"] == ("True", "InSync")


async def test_missing_cluster_and_configmap_are_user_errors(runtime):
    body = workflow_body("a", clusterRef={"name": "elsewhere"})
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "ClusterNotFound")

    body = workflow_body()
    body["spec"].pop("definition")
    body["spec"]["definitionFrom"] = {"configMapKeyRef": {"name": "defs", "key": "wf.json"}}
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "DefinitionSourceInvalid")
    assert "ConfigMap ns/defs not found" in outcome.status["conditions"][0]["message"]


async def test_configmap_naming_another_version_is_refused(runtime, conductor):
    runtime.kube.config_maps[("ns", "defs")] = {"wf.json": '{"name": "order", "version": 9, "tasks": []}'}
    body = workflow_body()
    body["spec"].pop("definition")
    body["spec"]["definitionFrom"] = {"configMapKeyRef": {"name": "defs", "key": "wf.json"}}
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert "version 9 but spec.version is 1" in outcome.status["conditions"][0]["message"]
    assert conductor.workflows == {}


async def test_delete_policy_waits_for_running_then_deletes(runtime, conductor):
    body = workflow_body("a", policy={"onDelete": "Delete"})
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    conductor.running["order"] = {1: 2}
    held = await runtime.finalize_workflow(body)
    assert held.retry_after is not None and "2 execution(s)" in held.message
    assert ("order", 1) in conductor.workflows

    conductor.running["order"] = {1: 0}
    conductor.workflows[("parent", 3)] = {"name": "parent", "version": 3, "tasks": [
        {"name": "c", "taskReferenceName": "c", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "order",
                                                                                            "version": 1}}]}
    held = await runtime.finalize_workflow(body, attempt=1)
    assert "parent v3" in held.message

    del conductor.workflows[("parent", 3)]
    done = await runtime.finalize_workflow(body, attempt=2)
    assert done.retry_after is None
    assert ("order", 1) not in conductor.workflows


async def test_retain_releases_without_touching_conductor(runtime, conductor):
    body = workflow_body("a")
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    outcome = await runtime.finalize_workflow(body)
    assert outcome.retry_after is None
    assert ("order", 1) in conductor.workflows


class RecordingFactory:
    def __init__(self, conductor):
        self.conductor = conductor
        self.calls = []

    def __call__(self, url, **kwargs):
        self.calls.append((url, kwargs))
        return self.conductor


async def test_orkes_key_comes_from_the_secret_and_clients_are_reused(conductor, clock):
    kube = FakeKube()
    secrets = {("ns", "orkes"): {"keyId": "id-1", "keySecret": "s3cr3t"}}

    async def secret_value(namespace, name, key):
        try:
            return secrets[(namespace, name)][key]
        except KeyError:
            raise Missing(f"Secret {namespace}/{name} has no key {key!r}") from None

    kube.secret_value = secret_value
    kube.clusters[("ns", "default")]["spec"] = {
        "url": "https://orkes.example", "flavor": "Orkes", "auth": {"secretRef": {"name": "orkes"}},
        "timeouts": {"connect": "2s", "request": "10s"}, "tls": {"insecureSkipVerify": True}}
    factory = RecordingFactory(conductor)
    runtime = Runtime(SETTINGS, kube, clock=clock, client_factory=factory)

    outcome = await runtime.reconcile_workflow(workflow_body("a"), due_only=False)
    # Each later reconcile is of a changed spec (a new generation): an unchanged one would not need the client.
    await runtime.reconcile_workflow(workflow_body("a", generation=2, status=outcome.status), due_only=False)
    assert len(factory.calls) == 1, "one client per cluster while nothing about it changes"
    url, kwargs = factory.calls[0]
    assert url == "https://orkes.example"
    assert (kwargs["key_id"], kwargs["key_secret"], kwargs["verify"]) == ("id-1", "s3cr3t", False)
    assert (kwargs["timeout"], kwargs["connect_timeout"]) == (10, 2)
    assert "s3cr3t" not in repr(outcome.status), "the secret never reaches status"

    secrets[("ns", "orkes")]["keySecret"] = "rotated"
    await runtime.reconcile_workflow(workflow_body("a", generation=3, status=outcome.status), due_only=False)
    assert len(factory.calls) == 2 and factory.calls[1][1]["key_secret"] == "rotated", "a rotated key is picked up"

    del secrets[("ns", "orkes")]
    broken = await runtime.reconcile_workflow(workflow_body("a", generation=4, status=outcome.status), due_only=False)
    assert broken.status["conditions"][0]["reason"] == "AuthenticationFailed"
    assert "Secret ns/orkes" in broken.status["conditions"][0]["message"]


async def test_a_body_the_models_refuse_stalls_and_deletion_falls_back_to_retain(runtime, conductor):
    body = workflow_body("a", policy={"onDelete": "Delete"})
    body["spec"]["definitionFrom"] = {"configMapKeyRef": {"name": "defs", "key": "wf.json"}}  # both sources
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "InvalidSpec")
    assert "exactly one of" in outcome.status["conditions"][0]["message"]
    assert conductor.workflows == {}
    released = await runtime.finalize_workflow(body)
    assert released.retry_after is None, "an unreadable body never holds its finalizer"


async def test_definitions_applied_together_register_in_one_request(runtime, conductor):
    bodies = []
    for index in range(20):
        body = workflow_body("a", name=f"order{index}")
        body["metadata"].update(name=f"wf{index}", uid=f"uid-{index}")
        bodies.append(body)
    outcomes = await asyncio.gather(*(runtime.reconcile_workflow(b, due_only=False) for b in bodies))
    assert [conditions(o)["Ready"] for o in outcomes] == [("True", "Registered")] * 20
    assert conductor.registrations == 1 and len(conductor.workflows) == 20


async def test_what_the_runtime_keeps_for_an_object_goes_with_it(runtime, conductor):
    """Locks, retry times, recorded statuses and clients are dropped when their object is deleted: an operator that
    sees thousands of resources come and go does not grow."""
    body = workflow_body("a", policy={"onDelete": "Retain"})
    body["status"] = (await runtime.reconcile_workflow(body, due_only=False)).status
    runtime.record_status("uid-1", {}, body["status"])
    assert runtime._locks and runtime._recorded and runtime._clients
    await runtime.finalize_workflow(body)
    assert not runtime._locks and not runtime._recorded and not runtime._retry_at
    cluster = runtime.kube.clusters[("ns", "default")]
    runtime.forget_cluster({**cluster, "metadata": {**cluster["metadata"], "uid": "uid-cluster"}})
    assert not runtime._clients


async def test_a_timer_holding_the_body_from_before_a_registration_does_not_judge_it_again(runtime, conductor, clock):
    """kopf writes a handler's status after it returns: a tick that fired meanwhile sees no status at all."""
    body = workflow_body("a")
    registered = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(registered)["Ready"] == ("True", "Registered")
    clock.advance(1)
    assert await runtime.reconcile_workflow(body, due_only=True) is None, "not read again, not called Adopted"
    clock.advance(SETTINGS.resync_interval)
    stale = await runtime.reconcile_workflow(body, due_only=True)
    assert conditions(stale)["Ready"] == ("True", "Adopted"), "a body that stays without status is judged anew"


async def test_new_versions_applied_together_read_the_registered_versions_once_and_no_definition(runtime, conductor):
    reads = counted_definition_reads(conductor)
    bodies = []
    for version in (1, 2, 3, 4):
        body = workflow_body("a", version=version)
        body["metadata"].update(name=f"order-v{version}", uid=f"uid-{version}")
        bodies.append(body)
    outcomes = await asyncio.gather(*(runtime.reconcile_workflow(b, due_only=False) for b in bodies))
    assert [conditions(o)["Ready"] for o in outcomes] == [("True", "Registered")] * 4
    assert conductor.version_reads == 1 and reads == [], "absent versions need no read of their own"
    assert conductor.registrations == 1


async def test_new_versions_of_many_workflows_applied_together_share_one_read(runtime, conductor):
    """Conductor OSS reads every definition to answer one workflow's versions: one listing serves them all."""
    bodies = []
    for workflow in ("a", "b", "c"):
        for version in (1, 2):
            body = workflow_body("a", version=version)
            body["spec"]["name"] = f"order_{workflow}"
            body["metadata"].update(name=f"order-{workflow}-v{version}", uid=f"uid-{workflow}-{version}")
            bodies.append(body)
    outcomes = await asyncio.gather(*(runtime.reconcile_workflow(b, due_only=False) for b in bodies))
    assert [conditions(o)["Ready"] for o in outcomes] == [("True", "Registered")] * 6
    assert conductor.version_reads == 1
    assert {key for key in conductor.workflows} == {(f"order_{w}", v) for w in "abc" for v in (1, 2)}


async def test_a_version_registered_moments_ago_is_no_longer_absent_for_the_next_resource(runtime, conductor):
    """The shared listing was read before the first resource registered order v1: a second resource claiming
    order v1 with other content, reconciled right after, finds it registered (and is refused), never overwrites it."""
    first = workflow_body("a")
    assert conditions(await runtime.reconcile_workflow(first, due_only=False))["Ready"] == ("True", "Registered")
    rival = workflow_body("b")
    rival["metadata"].update(name="rival", uid="uid-rival")
    outcome = await runtime.reconcile_workflow(rival, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "InPlaceChangeRefused")
    assert [t["taskReferenceName"] for t in conductor.workflows[("order", 1)]["tasks"]] == ["a"]
    assert conductor.registrations == 1 and conductor.version_reads == 1


async def test_two_resources_claiming_one_version_together_leave_one_registered_and_refuse_the_other(
        runtime, conductor):
    """Applied in one batch, both read the shared listing before either registered: the claim on the version
    makes the second wait for the first's registration, find it, and be refused, never overwrite it."""
    first, rival = workflow_body("a"), workflow_body("b")
    rival["metadata"].update(name="rival", uid="uid-rival")
    outcomes = await asyncio.gather(*(runtime.reconcile_workflow(b, due_only=False) for b in (first, rival)))
    ready = [conditions(o)["Ready"] for o in outcomes]
    assert sorted(ready) == [("False", "InPlaceChangeRefused"), ("True", "Registered")]
    winner = ("a", "b")[ready.index(("True", "Registered"))]
    assert [t["taskReferenceName"] for t in conductor.workflows[("order", 1)]["tasks"]] == [winner]
    assert conductor.registrations == 1 and conductor.version_reads == 1


async def test_a_version_registered_through_another_namespace_is_not_absent_for_its_rival(conductor, clock):
    """Two namespaces, two ConductorClusters, one Conductor: each namespace has its own client and listing, and a
    version registered through one is still found by a resource of the other that read its listing before."""
    clients = []

    def client_factory(*args, **kwargs):
        client = copy.copy(conductor)  # another client of the same server: its own object, the same server state
        clients.append(client)
        return client
    kube = FakeKube()
    kube.clusters[("other", "default")] = {"metadata": {"name": "default", "namespace": "other"},
                                           "spec": {"url": "http://conductor:8080"}}
    runtime = Runtime(SETTINGS, kube, clock=clock, client_factory=client_factory)
    first, rival = workflow_body("a"), workflow_body("b")
    rival["metadata"].update(name="rival", namespace="other", uid="uid-rival")
    await runtime._absent(await runtime.client_for("other", None), "order", 1)  # the rival's listing, read first
    assert conditions(await runtime.reconcile_workflow(first, due_only=False))["Ready"] == ("True", "Registered")
    outcome = await runtime.reconcile_workflow(rival, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "InPlaceChangeRefused")
    assert len({id(c) for c in clients}) == 2
    assert [t["taskReferenceName"] for t in conductor.workflows[("order", 1)]["tasks"]] == ["a"]


def declaring(body, name, uid, created, namespace="ns"):
    """``body`` as another resource, created at ``created`` (an RFC 3339 time)."""
    body["metadata"].update(name=name, uid=uid, namespace=namespace, creationTimestamp=created)
    return body


def task_body(name="retry", retries=1, **metadata):
    return {"metadata": {"name": "task", "namespace": "ns", "uid": "uid-task", "generation": 1, **metadata},
            "spec": {"name": name, "definition": {"retryCount": retries}}, "status": {}}


async def test_the_resource_declaring_a_version_second_waits_for_the_first_and_takes_over_when_it_goes(
        runtime, conductor, clock):
    first = declaring(workflow_body("a"), "first", "uid-first", "2026-11-24T11:00:00Z")
    second = declaring(workflow_body("b"), "second", "uid-second", "2026-11-24T11:30:00Z")
    runtime.kube.declare("WorkflowDefinition", first, second)
    first["status"] = (await runtime.reconcile_workflow(first, due_only=False)).status
    waiting = await runtime.reconcile_workflow(second, due_only=False)
    stalled = next(c for c in waiting.status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "DeclaredByAnotherResource"
    assert "WorkflowDefinition ns/first" in stalled["message"] and "workflow order v1" in stalled["message"]
    assert waiting.status["registered"] is False and "contentHash" not in waiting.status
    assert [(e.type, e.reason) for e in waiting.events] == [("Warning", "DeclaredByAnotherResource")]
    assert conductor.registrations == 1, "the second never registers"
    assert [t["taskReferenceName"] for t in conductor.workflows[("order", 1)]["tasks"]] == ["a"]
    assert (await runtime.reconcile_workflow(first, due_only=False)) is None, "the owner is not disturbed"

    second["status"] = waiting.status
    runtime.kube.claims[("workflow", "order", 1)] = [c for c in runtime.kube.claims[("workflow", "order", 1)]
                                                     if c.uid != "uid-first"]  # the first is deleted (Retain)
    clock.advance(SETTINGS.resync_interval)
    took_over = await runtime.reconcile_workflow(second, due_only=True)
    assert conditions(took_over)["Stalled"] == ("True", "InPlaceChangeRefused"), \
        "at the next tick, on its own: v1 still holds the first's content, which the second may not change"


async def test_a_second_resource_with_the_same_content_waits_too_and_its_deletion_leaves_the_version(
        runtime, conductor):
    first = declaring(workflow_body("a", policy={"onDelete": "Delete"}), "first", "uid-first", "2026-11-24T11:00:00Z")
    second = declaring(workflow_body("a", policy={"onDelete": "Delete"}), "second", "uid-second",
                       "2026-11-24T11:00:00Z")  # the same second: the names decide
    runtime.kube.declare("WorkflowDefinition", second, first)
    first["status"] = (await runtime.reconcile_workflow(first, due_only=False)).status
    waiting = await runtime.reconcile_workflow(second, due_only=False)
    assert conditions(waiting)["Stalled"] == ("True", "DeclaredByAnotherResource"), "not Adopted beside the owner"
    second["status"] = {**waiting.status, "registered": True}  # as a resource adopted it before claims existed
    released = await runtime.finalize_workflow(second)
    assert released.status is None and "WorkflowDefinition ns/first declares it too" in released.events[0].message
    assert ("order", 1) in conductor.workflows, "the owner's version stays"
    kept = await runtime.finalize_workflow(first)
    assert "WorkflowDefinition ns/second declares it too" in kept.events[0].message, \
        "while another resource declares it, the owner's deletion leaves it too"
    assert ("order", 1) in conductor.workflows


async def test_two_task_definitions_of_one_name_do_not_overwrite_each_other(runtime, conductor, clock):
    first = task_body(retries=1, name="retry", uid="uid-first", creationTimestamp="2026-11-24T11:00:00Z")
    first["metadata"]["name"] = "first"
    second = task_body(retries=5, uid="uid-second", creationTimestamp="2026-11-24T11:30:00Z")
    second["metadata"]["name"] = "second"
    runtime.kube.declare("TaskDefinition", first, second)

    async def reconcile(body, due_only):
        if outcome := await runtime.reconcile_task(body, due_only=due_only):
            body["status"] = outcome.status
    await reconcile(first, due_only=False)
    await reconcile(second, due_only=False)
    for _ in range(3):  # drift checks of both, which used to take turns re-registering their own content
        clock.advance(400)
        await reconcile(first, due_only=True)
        await reconcile(second, due_only=True)
    assert conditions(second)["Stalled"] == ("True", "DeclaredByAnotherResource")
    assert conditions(first)["Ready"] == ("True", "InSync")
    assert conductor.tasks["retry"]["retryCount"] == 1


async def test_resources_declaring_one_name_on_two_conductor_servers_do_not_meet(runtime, conductor):
    runtime.kube.clusters[("elsewhere", "default")] = {"metadata": {"name": "default", "namespace": "elsewhere"},
                                                       "spec": {"url": "http://another-conductor:8080"}}
    other = declaring(workflow_body("b"), "other", "uid-other", "2026-11-24T10:00:00Z", namespace="elsewhere")
    mine = declaring(workflow_body("a"), "mine", "uid-mine", "2026-11-24T11:00:00Z")
    runtime.kube.declare("WorkflowDefinition", other, mine)
    assert conditions(await runtime.reconcile_workflow(mine, due_only=False))["Ready"] == ("True", "Registered")


async def test_a_version_already_registered_is_read_before_anything_is_decided(runtime, conductor):
    conductor.workflows[("order", 1)] = {"name": "order", "version": 1, "tasks": [
        {"name": "b", "taskReferenceName": "b", "type": "SIMPLE"}]}
    outcome = await runtime.reconcile_workflow(workflow_body("a"), due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "InPlaceChangeRefused")
    assert conductor.registrations == 0


async def test_the_timer_leaves_a_resource_never_reconciled_to_its_change_handler(runtime, conductor, clock):
    """kopf runs the create (or resume) handler of every object, late under a burst: the timer does not do it too."""
    body = workflow_body("a")
    for _ in range(10):
        clock.advance(SETTINGS.resync_interval)
        assert await runtime.reconcile_workflow(body, due_only=True) is None
    assert conductor.registrations == 0 and conductor.version_reads == 0
    registered = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(registered)["Ready"] == ("True", "Registered")


def test_drift_checks_of_definitions_applied_together_spread_over_a_fifth_of_the_interval(runtime, clock):
    checked = format_time(clock())
    due_after = []
    for index in range(200):
        body = workflow_body("a")
        body["metadata"]["uid"] = f"uid-{index}"
        resource = WorkflowDefinition.from_body(body)
        seconds = next(s for s in range(300, 400) if runtime._drift_check_due(
            resource, {"lastDriftCheckAt": checked}, clock() + timedelta(seconds=s)))
        due_after.append(seconds)
    assert min(due_after) >= 300 and max(due_after) <= 361
    assert len(set(due_after)) > 40, "spread, not all at the same tick"
