"""Hostile definitions against the real API server and the real operator: every bad manifest gets a clear answer
(refused by the API server, or Stalled with a Warning event), nothing leaks, nothing loops, and the operator keeps
serving every other resource. After each case a healthy WorkflowDefinition is served within seconds and the
operator's log has no Traceback.

Objects nested thousands of levels deep are written and read with kubectl: Python's own JSON encoder and decoder
(the kubernetes client's) would exhaust the recursion limit on them, which is the failure under test.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.e2e.conftest import events_for, wait_for
from tests.e2e.test_definitions_real import Conductor, simple, unique, workflow_spec

pytestmark = pytest.mark.realenv

API_VERSION = "conductor-operator.io/v1alpha1"
HASH_KEY = "conductor-operator.io/last-handled-hash"
LEGACY_KEY = "conductor-operator.io/last-handled-configuration"


@pytest.fixture
def conductor(conductor_url) -> Conductor:
    return Conductor(conductor_url)


@pytest.fixture
def still_serving(resources, cluster, operator):
    """After the test: a new, healthy WorkflowDefinition is Ready within seconds, and no Traceback was logged."""
    start = len(operator.log_text())
    yield
    name = f"healthy-{uuid.uuid4().hex[:6]}"
    resources.create("WorkflowDefinition", name, workflow_spec(unique("healthy"), 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", name, "Ready", timeout=30)  # seconds, unless the machine is busy
    logged = operator.log_text()[start:]
    assert "Traceback" not in logged, logged[max(0, logged.find("Traceback") - 300):][:5000]
    assert "RecursionError" not in logged


def workflow_json(name: str, workflow: str, definition_json: str, version: int = 1) -> str:
    """A WorkflowDefinition manifest as JSON text, with the definition's JSON text spliced in as is."""
    head = {"apiVersion": API_VERSION, "kind": "WorkflowDefinition", "metadata": {"name": name},
            "spec": {"name": workflow, "version": version}}
    return json.dumps(head)[:-2] + ',"definition":' + definition_json + "}}"


def nested_parameters(levels: int) -> str:
    """A definition whose one task's inputParameters nest ``levels`` deep (free-form: the schema allows it)."""
    return ('{"tasks":[{"name":"a","taskReferenceName":"a","type":"SIMPLE","inputParameters":' + '{"a":' * levels
            + "1" + "}" * levels + "}]}")


def switch_in_switch(depth: int) -> dict:
    task: dict = simple("leaf")
    for level in range(depth):
        task = {"name": f"route{level}", "taskReferenceName": f"route{level}", "type": "SWITCH",
                "evaluatorType": "value-param", "expression": "x", "inputParameters": {"x": "a"},
                "decisionCases": {"a": [task]}}
    return task


def switch_in_switch_json(depth: int) -> str:
    """``switch_in_switch`` as JSON text, written without Python's recursive encoder."""
    text = json.dumps(simple("leaf"))
    for level in range(depth):
        switch = {"name": f"route{level}", "taskReferenceName": f"route{level}", "type": "SWITCH",
                  "evaluatorType": "value-param", "expression": "x", "inputParameters": {"x": "a"}}
        text = json.dumps(switch)[:-1] + ',"decisionCases":{"a":[' + text + "]}}"
    return '{"tasks":[' + text + "]}"


def kubectl_create(kubectl, namespace: str, manifest: str, check: bool = True):
    result = kubectl("create", "-n", namespace, "-f", "-", input=manifest, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def conditions_of(kubectl, namespace: str, name: str) -> dict[str, dict]:
    """The conditions of a WorkflowDefinition, read with kubectl (the object may be too deep for Python's JSON)."""
    text = kubectl("get", "wfd", name, "-n", namespace, "-o", "jsonpath={.status.conditions}", check=False).stdout
    return {c["type"]: c for c in json.loads(text or "[]")}


def wait_stalled(kubectl, namespace: str, name: str, reason: str, timeout: float = 30) -> dict:
    def stalled():
        found = conditions_of(kubectl, namespace, name).get("Stalled")
        return found if found and found["status"] == "True" and found["reason"] == reason else None

    return wait_for(stalled, timeout, what=f"{name} Stalled={reason}; conditions: "
                                           f"{conditions_of(kubectl, namespace, name)}")


def wait_event(k8s, namespace: str, name: str, reason: str) -> None:
    """A Warning event of that reason about the object (kopf posts events a moment after the status)."""
    wait_for(lambda: ("Warning", reason) in [(t, r) for t, r, _ in events_for(k8s, namespace, name)], 15,
             what=f"a Warning {reason} event about {name}")


def delete_and_wait(kubectl, namespace: str, name: str) -> None:
    """Delete, and see the operator release its finalizer."""
    kubectl("delete", "wfd", name, "-n", namespace, "--wait=false")
    wait_for(lambda: kubectl("get", "wfd", name, "-n", namespace, check=False).returncode != 0, 30,
             what=f"{name} gone (finalizer released)")


# ---- nesting -----------------------------------------------------------------------------------------------

def test_a_definition_nested_past_the_limit_is_refused_by_the_api_server(kubectl, namespace, still_serving):
    manifest = workflow_json("switch-400", unique("deep"), switch_in_switch_json(400))
    refused = kubectl_create(kubectl, namespace, manifest, check=False)
    assert refused.returncode != 0
    assert ("spec.definition.tasks[0]" + ".decisionCases.a[0]" * 4 + ".decisionCases.a: Too many: 1: must have at "
            "most 0 items") in refused.stderr


def test_an_object_thousands_of_levels_deep_is_reported_and_never_stops_the_operator(
        k8s, kubectl, namespace, resources, operator, still_serving):
    """The API server accepts free-form values nested up to 10,000 levels. kopf's watch decoding died on such an
    object (RecursionError), and so did a restarted operator's first listing, until the object was deleted."""
    deep = "deep-params"
    kubectl_create(kubectl, namespace, workflow_json(deep, unique("deep"), nested_parameters(9000)))
    stalled = wait_stalled(kubectl, namespace, deep, "NestedTooDeep")
    assert stalled["message"].startswith("spec.definition.tasks[0].inputParameters.a.a.a")
    assert "is nested deeper than the operator reads (100 JSON levels), so it ignores this spec: a definition may " \
           "nest at most 64 JSON levels, and tasks 4 levels; flatten it, or move nested tasks into a sub-workflow" \
           in stalled["message"]
    wait_event(k8s, namespace, deep, "NestedTooDeep")

    resources.create("WorkflowDefinition", "beside", workflow_spec(unique("beside"), 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", "beside", "Ready", timeout=15)

    operator.stop()  # a restarted operator lists it first thing
    operator.start()
    resources.create("WorkflowDefinition", "after-restart", workflow_spec(unique("after"), 1, simple("a")))
    resources.wait_condition("WorkflowDefinition", "after-restart", "Ready", timeout=20)
    assert conditions_of(kubectl, namespace, deep)["Stalled"]["reason"] == "NestedTooDeep"

    fixed = workflow_spec(unique("fixed"), 1, simple("a"))
    kubectl("patch", "wfd", deep, "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"definition": fixed["definition"]}}))
    wait_for(lambda: conditions_of(kubectl, namespace, deep).get("Ready", {}).get("status") == "True", 20,
             what="the fixed definition Ready")
    delete_and_wait(kubectl, namespace, deep)


def test_a_definition_past_the_operators_limits_is_stalled_naming_the_limit(
        k8s, kubectl, namespace, resources, conductor, still_serving):
    # Within what the operator reads (100 levels), past a definition's 64: inline, and from a ConfigMap.
    name = unique("params")
    kubectl_create(kubectl, namespace, workflow_json("params-80", name, nested_parameters(80)))
    stalled = wait_stalled(kubectl, namespace, "params-80", "NestedTooDeep")
    assert stalled["message"] == ("spec.definition nests 83 JSON levels deep; the limit is 64: flatten it, or move "
                                  "nested tasks into a sub-workflow")
    assert conductor.workflow(name, 1) is None

    # A ConfigMap's JSON never meets the CRD's schema: the operator applies the same limits to it.
    for key, text, message in [
            ("switch-200", switch_in_switch_json(200), "nests 603 JSON levels deep; the limit is 64"),
            ("switch-5", json.dumps({"tasks": [switch_in_switch(5)]}),
             "nests tasks 5 levels deep (a SWITCH, FORK_JOIN or DO_WHILE inside another); the limit is 4")]:
        kubectl("create", "configmap", key, "-n", namespace, f"--from-literal=workflow.json={text}")
        resources.create("WorkflowDefinition", key, {
            "name": unique("from-cm"), "version": 1,
            "definitionFrom": {"configMapKeyRef": {"name": key, "key": "workflow.json"}}})
        stalled = resources.wait_condition("WorkflowDefinition", key, "Stalled", reason="NestedTooDeep")
        assert stalled["message"] == f"the definition in ConfigMap {key} key workflow.json {message}: " + (
            "flatten it, or move nested tasks into a sub-workflow" if "JSON" in message
            else "move the inner tasks into a sub-workflow")
        wait_event(k8s, namespace, key, "NestedTooDeep")


# ---- size ----------------------------------------------------------------------------------------------------

def test_definitions_over_the_annotation_limit_are_registered_and_changed(
        kubectl, namespace, resources, conductor, still_serving):
    """kopf kept the last handled spec in an annotation, refused (422) past 256 KiB and retried forever; it keeps
    a hash now. Inline: 1.2 MB; from a ConfigMap: as large as one holds (1 MiB)."""
    name = unique("big")
    definition = {"description": "x" * 1_200_000, "tasks": [simple("a")]}
    resources.create("WorkflowDefinition", "big", {"name": name, "version": 1, "definition": definition})
    resources.wait_condition("WorkflowDefinition", "big", "Ready", reason="Registered", timeout=45)
    assert len(conductor.workflow(name, 1)["description"]) == 1_200_000
    annotations = resources.get("WorkflowDefinition", "big")["metadata"]["annotations"]
    assert annotations[HASH_KEY].startswith("sha256:") and LEGACY_KEY not in annotations

    resources.patch_spec("WorkflowDefinition", "big", {"policy": {"inPlaceChange": "Allow"},
                                                       "definition": {"description": "y" * 1_200_000}})
    resources.wait_condition("WorkflowDefinition", "big", "Ready", reason="InPlaceChangeApplied", timeout=45)
    assert conductor.workflow(name, 1)["description"][:3] == "yyy"

    from_cm = unique("big_cm")
    text = json.dumps({"description": "z" * (1024 * 1024 - 300), "tasks": [simple("a")]})
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big-cm"}, "data": {"workflow.json": text}}))
    source = {"configMapKeyRef": {"name": "big-cm", "key": "workflow.json"}}
    resources.create("WorkflowDefinition", "big-cm", {"name": from_cm, "version": 1, "definitionFrom": source})
    resources.wait_condition("WorkflowDefinition", "big-cm", "Ready", reason="Registered", timeout=45)
    assert len(conductor.workflow(from_cm, 1)["description"]) == 1024 * 1024 - 300


def test_an_object_with_the_old_diff_base_annotation_keeps_working(kubectl, namespace, resources, conductor,
                                                                   still_serving):
    name = unique("legacy")
    old_essence = {"spec": workflow_spec(name, 1, simple("old"))}
    manifest = {"apiVersion": API_VERSION, "kind": "WorkflowDefinition", "metadata": {
        "name": "legacy", "finalizers": ["conductor-operator.io/finalizer"],
        "annotations": {LEGACY_KEY: json.dumps(old_essence), "conductor-operator.io/kopf-managed": "yes"}},
        "spec": workflow_spec(name, 1, simple("new"))}
    kubectl_create(kubectl, namespace, json.dumps(manifest))
    ready = resources.wait_condition("WorkflowDefinition", "legacy", "Ready")
    assert ready["reason"] == "Registered"
    assert [t["taskReferenceName"] for t in conductor.workflow(name, 1)["tasks"]] == ["new"]

    def migrated():
        annotations = resources.get("WorkflowDefinition", "legacy")["metadata"].get("annotations") or {}
        return LEGACY_KEY not in annotations and HASH_KEY in annotations

    wait_for(migrated, 15, what="the old annotation replaced by the hash")


# ---- numbers -------------------------------------------------------------------------------------------------

def test_a_version_conductor_cannot_hold_is_refused(kubectl, namespace, still_serving):
    manifest = {"apiVersion": API_VERSION, "kind": "WorkflowDefinition", "metadata": {"name": "huge"},
                "spec": workflow_spec(unique("huge"), 2**31, simple("a"))}
    refused = kubectl_create(kubectl, namespace, json.dumps(manifest), check=False)
    assert "spec.version in body should be less than or equal to 2147483647" in refused.stderr


# ---- cycles of pinned sub-workflows --------------------------------------------------------------------------

def sub_workflow(ref: str, name: str, version: int) -> dict:
    return {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": name, "version": version}}


def test_cycles_of_pinned_sub_workflows_are_warned_about(k8s, resources, conductor, namespace, still_serving):
    itself = unique("itself")
    resources.create("WorkflowDefinition", "itself", workflow_spec(itself, 1, sub_workflow("again", itself, 1)))
    warning = resources.wait_condition("WorkflowDefinition", "itself", "Warning", reason="SubWorkflowCycle")
    assert warning["message"].startswith(f"pinned sub-workflows form a cycle ({itself} v1 -> {itself} v1): each "
                                         f"execution starts itself")
    assert resources.condition("WorkflowDefinition", "itself", "Ready")["status"] == "True", "a warning only"

    a, b = unique("a"), unique("b")
    resources.create("WorkflowDefinition", "a", workflow_spec(a, 1, sub_workflow("call_b", b, 1)))
    resources.wait_condition("WorkflowDefinition", "a", "Ready")
    resources.create("WorkflowDefinition", "b", workflow_spec(b, 1, sub_workflow("call_a", a, 1)))
    warning = resources.wait_condition("WorkflowDefinition", "b", "Warning", reason="SubWorkflowCycle")
    assert f"({b} v1 -> {a} v1 -> {b} v1)" in warning["message"]
    wait_event(k8s, namespace, "b", "SubWorkflowCycle")


# ---- a ConductorCluster edited while its resources reconcile ------------------------------------------------

def test_editing_a_conductor_cluster_while_its_resources_reconcile(resources, operator, still_serving):
    """Each edit replaces the cluster's client; reconciles still running on the old one must finish with it."""
    start = len(operator.log_text())
    names = [f"busy-{index}" for index in range(12)]
    for index, name in enumerate(names):
        resources.create("WorkflowDefinition", name, workflow_spec(unique("busy"), 1, simple("a"),
                                                                   *(simple(f"t{i}") for i in range(20))))
        resources.patch_spec("ConductorCluster", "default", {"timeouts": {"request": f"{20 + index}s"},
                                                             "healthCheckInterval": f"{30 + index}s"})
        time.sleep(0.05)
    for name in names:
        resources.wait_condition("WorkflowDefinition", name, "Ready", timeout=45)
    logged = operator.log_text()[start:]
    assert "client has been closed" not in logged
