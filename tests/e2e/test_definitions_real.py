"""WorkflowDefinition and TaskDefinition reconciled by the real operator into a real Conductor."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from kubernetes import client

from tests.e2e.conftest import events_for, wait_for

pytestmark = pytest.mark.realenv


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def simple(ref: str, name: str | None = None, **extra) -> dict:
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE", **extra}


class Conductor:
    def __init__(self, url: str):
        self.api = f"{url}/api"

    def workflow(self, name: str, version: int) -> dict | None:
        response = httpx.get(f"{self.api}/metadata/workflow/{name}", params={"version": version})
        return response.json() if response.status_code == 200 else None

    def put_workflow(self, definition: dict) -> None:
        httpx.put(f"{self.api}/metadata/workflow", json=[definition]).raise_for_status()

    def task(self, name: str) -> dict | None:
        response = httpx.get(f"{self.api}/metadata/taskdefs/{name}")
        return response.json() if response.status_code == 200 else None

    def start(self, name: str, version: int | None = None) -> str:
        params = {"version": version} if version else {}
        response = httpx.post(f"{self.api}/workflow/{name}", params=params, json={})
        response.raise_for_status()
        return response.text

    def terminate(self, execution_id: str) -> None:
        httpx.delete(f"{self.api}/workflow/{execution_id}", params={"reason": "test"}).raise_for_status()


@pytest.fixture
def conductor(conductor_url) -> Conductor:
    return Conductor(conductor_url)


def workflow_spec(name: str, version: int, *tasks: dict, **policy) -> dict:
    spec = {"name": name, "version": version, "definition": {"tasks": list(tasks)}}
    if policy:
        spec["policy"] = policy
    return spec


def refs(definition: dict) -> list[str]:
    return [t["taskReferenceName"] for t in definition["tasks"]]


def test_create_and_new_version(resources, cluster, conductor):
    name = unique("orders")
    task_name = unique("charge")
    resources.create("TaskDefinition", "charge", {"name": task_name, "definition": {
        "retryCount": 2, "responseTimeoutSeconds": 30, "timeoutSeconds": 60}})
    resources.create("WorkflowDefinition", "orders-v1", workflow_spec(name, 1, simple("charge", task_name)))
    resources.wait_condition("TaskDefinition", "charge", "Ready")
    ready = resources.wait_condition("WorkflowDefinition", "orders-v1", "Ready")
    assert ready["reason"] == "Registered"

    assert conductor.task(task_name)["retryCount"] == 2
    registered = conductor.workflow(name, 1)
    assert refs(registered) == ["charge"]
    status = resources.get("WorkflowDefinition", "orders-v1")["status"]
    assert status["registered"] is True
    assert status["contentHash"].startswith("sha256:")
    assert status["observedGeneration"] == 1
    assert {c["type"] for c in status["conditions"]} >= {"Ready", "Reconciling", "Stalled", "Registered", "Drifted"}

    resources.create("WorkflowDefinition", "orders-v2",
                     workflow_spec(name, 2, simple("charge", task_name), simple("notify")))
    resources.wait_condition("WorkflowDefinition", "orders-v2", "Ready")
    assert refs(conductor.workflow(name, 2)) == ["charge", "notify"]
    assert refs(conductor.workflow(name, 1)) == ["charge"], "v1 is untouched by v2"


def test_running_executions_are_counted_per_version(resources, cluster, conductor):
    name = unique("counted")
    resources.create("WorkflowDefinition", "v1", workflow_spec(name, 1, simple("wait_here")))
    resources.create("WorkflowDefinition", "v2", workflow_spec(name, 2, simple("wait_here"), simple("more")))
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    resources.wait_condition("WorkflowDefinition", "v2", "Ready")
    ids = [conductor.start(name, 1) for _ in range(3)] + [conductor.start(name)]  # unpinned: v2

    def running(resource):
        return ((resources.get("WorkflowDefinition", resource).get("status") or {}).get("executions") or {})

    wait_for(lambda: running("v1").get("running") == 3 and running("v2").get("running") == 1,
             timeout=30, what="3 running on v1 and 1 on v2")
    assert running("v1")["readAt"].endswith("Z")
    for execution_id in ids[:3]:
        conductor.terminate(execution_id)
    wait_for(lambda: running("v1").get("running") == 0, timeout=30, what="v1 drained to 0")


def test_in_place_change_is_refused_then_allowed(resources, cluster, conductor, k8s, namespace):
    name = unique("inplace")
    resources.create("WorkflowDefinition", "wf", workflow_spec(name, 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    first_hash = resources.get("WorkflowDefinition", "wf")["status"]["contentHash"]

    resources.patch_spec("WorkflowDefinition", "wf", {"definition": {"tasks": [simple("a"), simple("b")]}})
    stalled = resources.wait_condition("WorkflowDefinition", "wf", "Stalled", reason="InPlaceChangeRefused")
    assert "new version" in stalled["message"]
    assert resources.condition("WorkflowDefinition", "wf", "Ready")["status"] == "False"
    assert refs(conductor.workflow(name, 1)) == ["a"], "Conductor keeps the registered content"
    assert resources.get("WorkflowDefinition", "wf")["status"]["contentHash"] == first_hash
    assert any(reason == "InPlaceChangeRefused" for _, reason, _ in events_for(k8s, namespace, "wf"))

    resources.patch_spec("WorkflowDefinition", "wf", {"policy": {"inPlaceChange": "Allow"}})
    resources.wait_condition("WorkflowDefinition", "wf", "Ready", reason="InPlaceChangeApplied")
    assert refs(conductor.workflow(name, 1)) == ["a", "b"]
    assert resources.get("WorkflowDefinition", "wf")["status"]["contentHash"] != first_hash


def test_two_resources_declaring_one_version_in_one_apply_leave_it_to_the_first(
        resources, cluster, conductor, kubectl, namespace, k8s):
    name = unique("rivals")
    documents = [{"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
                  "metadata": {"name": f"claim-{ref}", "namespace": namespace},
                  "spec": workflow_spec(name, 1, simple(ref))} for ref in ("a", "b")]
    kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in documents))
    # Created in the same second: the name decides which came first.
    resources.wait_condition("WorkflowDefinition", "claim-a", "Ready", reason="Registered")
    waiting = resources.wait_condition("WorkflowDefinition", "claim-b", "Stalled", reason="DeclaredByAnotherResource")
    assert f"WorkflowDefinition {namespace}/claim-a" in waiting["message"]
    assert refs(conductor.workflow(name, 1)) == ["a"], "Conductor keeps the first's content"
    assert any(r == "DeclaredByAnotherResource" for _, r, _ in events_for(k8s, namespace, "claim-b"))
    assert resources.get("WorkflowDefinition", "claim-b")["status"]["registered"] is False


def test_a_task_definition_declared_twice_goes_to_the_second_once_the_first_is_deleted(
        resources, cluster, conductor):
    name = unique("twice")
    resources.create("TaskDefinition", "first", {"name": name, "definition": {"retryCount": 1},
                                                 "policy": {"onDelete": "Delete"}})
    resources.wait_condition("TaskDefinition", "first", "Ready")
    resources.create("TaskDefinition", "second", {"name": name, "definition": {"retryCount": 5}})
    resources.wait_condition("TaskDefinition", "second", "Stalled", reason="DeclaredByAnotherResource")
    assert conductor.task(name)["retryCount"] == 1

    resources.delete("TaskDefinition", "first")
    wait_for(lambda: resources.get("TaskDefinition", "first") is None, what="the first released")
    resources.wait_condition("TaskDefinition", "second", "Ready", reason="Updated", timeout=30)
    assert conductor.task(name)["retryCount"] == 5, "kept by the first's deletion (onDelete: Delete), then updated"


def test_drift_is_repaired_by_default(resources, cluster, conductor):
    name = unique("drift")
    # driftCheckInterval is a field of spec (under policy it was pruned, and the test passed only while every
    # resync read the definition back from Conductor).
    resources.create("WorkflowDefinition", "wf", {**workflow_spec(name, 1, simple("a")), "driftCheckInterval": "1s"})
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    conductor.put_workflow({"name": name, "version": 1, "tasks": [simple("a"), simple("sneaky")]})
    wait_for(lambda: refs(conductor.workflow(name, 1)) == ["a"], timeout=30, what="drift repaired in Conductor")
    # The status patch follows the repair in Conductor, so the condition is awaited, not read at once.
    wait_for(lambda: (resources.condition("WorkflowDefinition", "wf", "Ready") or {}).get("reason")
             in ("DriftRepaired", "InSync"), timeout=30, what="Ready to report the repair")


def test_drift_is_only_reported_when_asked(resources, cluster, conductor):
    name = unique("report")
    spec = workflow_spec(name, 1, simple("a"), onDrift="Report")
    spec["driftCheckInterval"] = "1s"
    resources.create("WorkflowDefinition", "wf", spec)
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    conductor.put_workflow({"name": name, "version": 1, "tasks": [simple("a"), simple("sneaky")]})
    drifted = resources.wait_condition("WorkflowDefinition", "wf", "Drifted", reason="DriftReported")
    assert "tasks" in drifted["message"]
    assert refs(conductor.workflow(name, 1)) == ["a", "sneaky"], "Report leaves Conductor alone"


def test_bad_definitions_stall_and_keep_the_previous_registration(resources, cluster, conductor):
    name = unique("bad")
    resources.create("WorkflowDefinition", "dup", workflow_spec(name, 1, simple("a"), simple("a", name="other")))
    stalled = resources.wait_condition("WorkflowDefinition", "dup", "Stalled", reason="InvalidDefinition")
    assert "'a' is used more than once" in stalled["message"]
    assert conductor.workflow(name, 1) is None

    # Conductor's own validation: a SUB_WORKFLOW task with no subWorkflowParam gets a 400.
    other = unique("rejected")
    resources.create("WorkflowDefinition", "rejected",
                     workflow_spec(other, 1, {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW"}))
    stalled = resources.wait_condition("WorkflowDefinition", "rejected", "Stalled", reason="RejectedByConductor")
    assert "Conductor refused" in stalled["message"]
    assert conductor.workflow(other, 1) is None


def test_definition_from_a_configmap(resources, cluster, conductor, k8s, namespace):
    name = unique("fromfile")
    document = {"name": name, "version": 4, "schemaVersion": 2, "tasks": [simple("x"), simple("y")]}
    client.CoreV1Api(k8s).create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="defs"), data={"wf.json": json.dumps(document), "broken.json": "{nope"}))
    resources.create("WorkflowDefinition", "fromfile", {
        "name": name, "version": 4, "definitionFrom": {"configMapKeyRef": {"name": "defs", "key": "wf.json"}}})
    resources.wait_condition("WorkflowDefinition", "fromfile", "Ready")
    assert refs(conductor.workflow(name, 4)) == ["x", "y"]

    resources.create("WorkflowDefinition", "broken", {
        "name": unique("broken"), "version": 1,
        "definitionFrom": {"configMapKeyRef": {"name": "defs", "key": "broken.json"}}})
    stalled = resources.wait_condition("WorkflowDefinition", "broken", "Stalled", reason="DefinitionSourceInvalid")
    assert "not valid JSON" in stalled["message"]


def test_delete_retains_by_default(resources, cluster, conductor):
    name = unique("retain")
    resources.create("WorkflowDefinition", "wf", workflow_spec(name, 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    resources.delete("WorkflowDefinition", "wf")
    wait_for(lambda: resources.get("WorkflowDefinition", "wf") is None, what="resource gone")
    assert conductor.workflow(name, 1) is not None


def test_delete_waits_for_running_executions(resources, cluster, conductor):
    name = unique("deleting")
    resources.create("WorkflowDefinition", "wf", workflow_spec(name, 1, simple("a"), onDelete="Delete"))
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    execution = conductor.start(name, 1)
    resources.delete("WorkflowDefinition", "wf")
    held = resources.wait_condition("WorkflowDefinition", "wf", "Ready", status="False", reason="DeletionBlocked")
    assert "1 execution(s)" in held["message"]
    assert conductor.workflow(name, 1) is not None

    conductor.terminate(execution)
    wait_for(lambda: resources.get("WorkflowDefinition", "wf") is None, timeout=40, what="resource gone")
    assert conductor.workflow(name, 1) is None


def test_task_definition_change_warns_about_running_executions(resources, cluster, conductor, k8s, namespace):
    task_name, workflow = unique("shared"), unique("user")
    resources.create("TaskDefinition", "shared", {"name": task_name, "definition": {"retryCount": 1}})
    resources.create("WorkflowDefinition", "user", workflow_spec(workflow, 1, simple("s", task_name)))
    resources.wait_condition("TaskDefinition", "shared", "Ready")
    resources.wait_condition("WorkflowDefinition", "user", "Ready")
    conductor.start(workflow, 1)

    resources.patch_spec("TaskDefinition", "shared", {"definition": {"retryCount": 5}})
    wait_for(lambda: (conductor.task(task_name) or {}).get("retryCount") == 5, what="task def updated")
    warnings = wait_for(lambda: [m for t, r, m in events_for(k8s, namespace, "shared")
                                 if r == "SharedTaskDefinitionChanged"], what="shared task warning")
    assert "1 running execution(s)" in warnings[0] and workflow in warnings[0]


def test_unpinned_sub_workflow_warns(resources, cluster):
    sub = {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW",
           "subWorkflowParam": {"name": unique("child")}}
    resources.create("WorkflowDefinition", "parent", workflow_spec(unique("parent"), 1, sub))
    warning = resources.wait_condition("WorkflowDefinition", "parent", "Warning", reason="UnpinnedSubWorkflow")
    assert "pin subWorkflowParam.version" in warning["message"]
    assert resources.condition("WorkflowDefinition", "parent", "Ready")["status"] == "True"


def test_missing_cluster_stalls_with_a_clear_message(resources, operator):
    resources.create("WorkflowDefinition", "lonely", workflow_spec(unique("lonely"), 1, simple("a")))
    stalled = resources.wait_condition("WorkflowDefinition", "lonely", "Stalled", reason="ClusterNotFound")
    assert "ConductorCluster" in stalled["message"] and "default" in stalled["message"]


def test_conductor_down_and_back(resources, operator, tools, tmp_path):
    """A Conductor of its own, stopped and started again: the status says so and recovers, no flapping."""
    from testenv.servers import ConductorServer

    server = ConductorServer(tools, tmp_path)
    server.start()
    try:
        resources.create("ConductorCluster", "flaky", {"url": server.url, "healthCheckInterval": "2s"})
        resources.wait_condition("ConductorCluster", "flaky", "Ready")
        name = unique("flaky")
        spec = workflow_spec(name, 1, simple("a"))
        spec.update(clusterRef={"name": "flaky"}, driftCheckInterval="1s")
        resources.create("WorkflowDefinition", "wf", spec)
        resources.wait_condition("WorkflowDefinition", "wf", "Ready")

        server.stop()
        reconciling = resources.wait_condition("WorkflowDefinition", "wf", "Reconciling",
                                               reason="ConductorUnavailable")
        assert "retrying" in reconciling["message"]
        assert resources.condition("WorkflowDefinition", "wf", "Ready")["status"] == "True", "last good status kept"
        assert resources.get("WorkflowDefinition", "wf")["status"]["registered"] is True
        resources.wait_condition("ConductorCluster", "flaky", "Ready", status="False", reason="Unreachable")

        # Meanwhile a change is made; it lands once Conductor is back.
        resources.create("WorkflowDefinition", "wf2", {**spec, "version": 2})
        server.start()
        resources.wait_condition("WorkflowDefinition", "wf", "Reconciling", status="False", timeout=60)
        resources.wait_condition("WorkflowDefinition", "wf2", "Ready", timeout=60)
        resources.wait_condition("ConductorCluster", "flaky", "Ready", timeout=60)
        assert Conductor(server.url).workflow(name, 2) is not None
    finally:
        server.stop()


def test_operator_restart_does_no_duplicate_work(resources, cluster, operator, k8s, namespace):
    name = unique("restart")
    resources.create("WorkflowDefinition", "wf", workflow_spec(name, 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", "wf", "Ready")
    before = resources.get("WorkflowDefinition", "wf")["status"]
    registered_events = [e for e in events_for(k8s, namespace, "wf") if e[1] == "Registered"]

    operator.kill()
    operator.start()
    resources.create("WorkflowDefinition", "after", workflow_spec(name, 2, simple("a")))
    resources.wait_condition("WorkflowDefinition", "after", "Ready")  # the new process is working
    after = resources.get("WorkflowDefinition", "wf")["status"]
    assert after["registeredAt"] == before["registeredAt"], "not registered again after the restart"
    assert after["contentHash"] == before["contentHash"]
    assert [e for e in events_for(k8s, namespace, "wf") if e[1] == "Registered"] == registered_events
