"""Events posted by the real operator, read back as core/v1 Events of each object: every action taken is
posted each time it is taken; a state (a stall on bad input, a missing cluster, an unreachable server) once,
however often the resource is re-checked."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import events_for, wait_for
from tests.e2e.test_definitions_real import simple, unique, workflow_spec
from tests.e2e.test_migration_moves_real import HeldFlow
from tests.e2e.test_migration_real import Executions, wait_phase

pytestmark = pytest.mark.realenv

RESYNCS = 8  # seconds: four resyncs of the test operator (RESYNC_INTERVAL 2s)


def posted(k8s, namespace: str, name: str, reason: str, type_: str | None = None) -> list[str]:
    return [message for kind, why, message in events_for(k8s, namespace, name)
            if why == reason and (type_ is None or kind == type_)]


def handler(flow: HeldFlow, name: str) -> dict:
    return {"name": name, "event": f"conductor:{name}_in", "active": True,
            "actions": [{"action": "start_workflow", "start_workflow": {"name": flow.workflow, "input": {}}}]}


def test_a_trigger_found_while_draining_is_paused_and_its_event_posted(resources, cluster, conductor_url, k8s,
                                                                       namespace):
    """The step that pauses a newly found trigger changes no condition of the plan: its event is posted all the
    same."""
    flow = HeldFlow(conductor_url)
    executions = Executions(conductor_url)
    first, late = handler(flow, f"first_{flow.workflow}"), handler(flow, f"late_{flow.workflow}")

    def active(name: str) -> bool:
        return next(h for h in httpx.get(f"{flow.api}/event").json() if h["name"] == name)["active"]

    httpx.post(f"{flow.api}/event", json=first).raise_for_status()
    ids: list[str] = []
    try:
        with flow.worker:
            ids = flow.prepare(resources, executions, 1)
            plan = flow.plan({"drain": {"deadline": "10m"}})
            plan["drainDetection"] = {**plan["drainDetection"], "interval": "1h"}  # counted once: nothing changes
            resources.create("MigrationPlan", "drain", plan)
            wait_phase(resources, "drain", "Draining", timeout=60)
            wait_for(lambda: not active(first["name"]), what="the first handler paused")
            wait_for(lambda: posted(k8s, namespace, "drain", "TriggersPaused"), what="its TriggersPaused event")
            time.sleep(RESYNCS / 2)
            before = resources.get("MigrationPlan", "drain")["status"]["conditions"]

            httpx.post(f"{flow.api}/event", json=late).raise_for_status()
            wait_for(lambda: not active(late["name"]), what="the handler created while draining paused")
            messages = wait_for(lambda: [m for m in posted(k8s, namespace, "drain", "TriggersPaused")
                                         if late["name"] in m], what="the event of pausing it")
            assert messages == [f"paused EventHandler/{late['name']} while the old versions drain"]
            assert resources.get("MigrationPlan", "drain")["status"]["conditions"] == before, \
                "no condition changed: the event is posted for the action alone"
            assert len(posted(k8s, namespace, "drain", "TriggersPaused")) == 2, "each pause posted once"

            resources.delete("MigrationPlan", "drain")  # its finalizer resumes both
            wait_for(lambda: resources.get("MigrationPlan", "drain") is None, what="the plan gone")
            assert active(first["name"]) and active(late["name"])
    finally:
        for trigger in (first, late):
            httpx.delete(f"{flow.api}/event/{trigger['name']}")
        for execution_id in ids:
            executions.terminate(execution_id)


def test_a_definition_stalled_on_bad_input_and_rechecked_at_every_resync_warns_once(resources, cluster, k8s,
                                                                                     namespace):
    name = unique("stalled")
    spec = workflow_spec(name, 1, simple("a"), simple("a"))  # a taskReferenceName used twice
    resources.create("WorkflowDefinition", "stalled", {**spec, "driftCheckInterval": "1s"})
    stalled = resources.wait_condition("WorkflowDefinition", "stalled", "Stalled", reason="InvalidDefinition")
    checked = resources.get("WorkflowDefinition", "stalled")["status"]["lastDriftCheckAt"]
    time.sleep(RESYNCS)
    assert resources.get("WorkflowDefinition", "stalled")["status"]["lastDriftCheckAt"] > checked, "re-checked"
    assert posted(k8s, namespace, "stalled", "InvalidDefinition") == [stalled["message"]]


def test_a_plan_stalled_on_a_missing_cluster_warns_once(resources, operator, k8s, namespace):
    resources.create("MigrationPlan", "lost", {
        "workflowName": unique("lost"), "clusterRef": {"name": "nowhere"}, "from": {"allOlder": True},
        "to": {"workflowDefinitionRef": {"name": "v2"}}, "strategy": {"parallel": {}}})
    resources.wait_condition("MigrationPlan", "lost", "Stalled", reason="ClusterNotFound")
    time.sleep(RESYNCS)
    assert len(posted(k8s, namespace, "lost", "ClusterNotFound", "Warning")) == 1


def test_an_unreachable_cluster_warns_once(resources, operator, k8s, namespace):
    resources.create("ConductorCluster", "closed", {"url": "http://127.0.0.1:9/", "healthCheckInterval": "1s",
                                                    "timeouts": {"connect": "1s", "request": "2s"}})
    resources.wait_condition("ConductorCluster", "closed", "Reconciling", reason="Unreachable")
    checked = resources.get("ConductorCluster", "closed")["status"]["lastCheckedAt"]
    time.sleep(RESYNCS)
    assert resources.get("ConductorCluster", "closed")["status"]["lastCheckedAt"] > checked, "re-checked"
    assert len(posted(k8s, namespace, "closed", "Unreachable", "Warning")) == 1
