"""MigrationPlan (parallel strategy) run by the real operator against a real Conductor and real workers.

v1 executions stay in flight by being PAUSED (Conductor counts RUNNING and PAUSED as running):
the test resumes them when it wants the drain to progress, so every count it asserts is exact.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from kubernetes import client

from testenv.worker import Worker
from tests.e2e.conftest import Resources, events_for, wait_for
from tests.e2e.test_definitions_real import Conductor, simple, workflow_spec

pytestmark = pytest.mark.realenv

FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 3, "gracePeriod": "2s"}


class Executions(Conductor):
    def start_with(self, name: str, version: int | None, payload: dict) -> str:
        params = {"version": version} if version else {}
        response = httpx.post(f"{self.api}/workflow/{name}", params=params, json=payload)
        response.raise_for_status()
        return response.text

    def execution(self, execution_id: str) -> dict:
        return httpx.get(f"{self.api}/workflow/{execution_id}", params={"includeTasks": "false"}).json()

    def pause(self, execution_id: str) -> None:
        httpx.put(f"{self.api}/workflow/{execution_id}/pause").raise_for_status()

    def resume(self, execution_id: str) -> None:
        httpx.put(f"{self.api}/workflow/{execution_id}/resume").raise_for_status()

    def versions(self, name: str) -> list[int]:
        return sorted(d["version"] for d in httpx.get(f"{self.api}/metadata/workflow/{name}/versions").json())


@pytest.fixture
def executions(conductor_url) -> Executions:
    return Executions(conductor_url)


def status_of(resources, name: str) -> dict:
    return (resources.get("MigrationPlan", name) or {}).get("status") or {}


def wait_phase(resources, name: str, phase: str, timeout: float = 60) -> dict:
    try:
        return wait_for(lambda: status_of(resources, name) if status_of(resources, name).get("phase") == phase
                        else None, timeout, what=f"MigrationPlan {name} in phase {phase}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstatus now: {status_of(resources, name)}") from None


def running_of(resources, name: str) -> dict[int, int]:
    return {v["version"]: v["running"] for v in status_of(resources, name).get("versions") or []}


class Onboarding:
    """v1: normalize; v2 appends a risk step (a safe change) and returns the risk tier."""

    def __init__(self):
        suffix = uuid.uuid4().hex[:8]
        self.workflow = f"onboarding_{suffix}"
        self.normalize = f"normalize_{suffix}"
        self.risk = f"risk_{suffix}"

    def v1(self, **extra) -> dict:
        return workflow_spec(self.workflow, 1, simple("normalize", self.normalize), **extra)

    def v2(self, **spec_extra) -> dict:
        spec = workflow_spec(self.workflow, 2, simple("normalize", self.normalize),
                             simple("risk", self.risk, inputParameters={"value": "${workflow.input.value}"}))
        spec["definition"]["outputParameters"] = {"tier": "${risk.output.tier}"}
        return {**spec, **spec_extra}

    def paused_on_v1(self, resources, executions, count: int = 3) -> list[str]:
        """v1 registered (resource "v1") and ``count`` executions of it in flight, held PAUSED so that the test
        decides when they end; their ids."""
        resources.create("WorkflowDefinition", "v1", self.v1())
        resources.wait_condition("WorkflowDefinition", "v1", "Ready")
        in_flight = [executions.start_with(self.workflow, 1, {"value": 10}) for _ in range(count)]
        for execution_id in in_flight:
            executions.pause(execution_id)
        return in_flight

    def worker(self, conductor_url: str) -> Worker:
        return Worker(conductor_url, {
            self.normalize: lambda task_input: {"normalized": True},
            self.risk: lambda task_input: {"tier": "HIGH" if (task_input.get("value") or 0) >= 5000 else "LOW"},
        }, worker_id=f"worker-{self.workflow}")

    def plan(self, **extra) -> dict:
        spec = {"workflowName": self.workflow, "from": {"allOlder": True},
                "to": {"workflowDefinitionRef": {"name": "v2"}},
                "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "2s"}},
                "gates": {"workersSeenWithin": "1m",
                          "workflows": [{"name": self.workflow, "input": {"value": 7000},
                                         "expectedOutput": {"tier": "HIGH"}, "timeout": "1m"}]},
                "drainDetection": FAST_DRAIN}
        return {**spec, **extra}


def test_parallel_migration_end_to_end(resources, cluster, executions, conductor_url, k8s, namespace):
    flow = Onboarding()
    in_flight = flow.paused_on_v1(resources, executions)

    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    resources.wait_condition("WorkflowDefinition", "v2", "Reconciling", reason="AwaitingActivation")
    resources.create("MigrationPlan", "to-v2", flow.plan())

    # No worker polls the target's task types: the gates hold the plan and v2 stays unregistered.
    gating = wait_phase(resources, "to-v2", "Gating")
    workers_gate = next(g for g in gating["gates"] if g["name"] == "Workers")
    assert workers_gate["passed"] is False and flow.risk in workers_gate["message"]
    assert gating["verdict"]["level"] == "Caution"  # a new output: callers reading it see a new contract
    assert sorted(f["reason"] for f in gating["verdict"]["findings"]) == ["OutputMappingChanged", "TaskAppended"]
    wait_for(lambda: running_of(resources, "to-v2").get(1) == 3, what="3 executions counted on v1")
    assert status_of(resources, "to-v2")["running"]["old"] == 3
    assert executions.versions(flow.workflow) == [1], "the gates hold the cutover: v2 is not registered"
    assert resources.condition("MigrationPlan", "to-v2", "GatesPassed")["status"] == "False"

    with flow.worker(conductor_url):
        # Workers poll; the check workflow runs the (unregistered) target and completes as expected.
        draining = wait_phase(resources, "to-v2", "Draining", timeout=90)
        gate = next(g for g in draining["gates"] if g["name"] == flow.workflow)
        assert gate["passed"] is True
        checked = executions.execution(gate["executionId"])
        assert (checked["workflowVersion"], checked["output"]) == (2, {"tier": "HIGH"})
        assert executions.versions(flow.workflow) == [1, 2]
        resources.wait_condition("WorkflowDefinition", "v2", "Ready")
        ready = resources.wait_condition("MigrationPlan", "to-v2", "Ready")  # healthyWhen: Accepted
        assert ready["reason"] == "Draining"

        # Conductor's promise, checked: unpinned starts run the target, pinned ones their version.
        unpinned = executions.start_with(flow.workflow, None, {"value": 1})
        pinned = executions.start_with(flow.workflow, 1, {"value": 1})
        assert executions.execution(unpinned)["workflowVersion"] == 2
        assert executions.execution(pinned)["workflowVersion"] == 1
        wait_for(lambda: executions.execution(pinned)["status"] == "COMPLETED", what="the pinned v1 start completes")

        # v1 drains as its executions end; the counts follow, and v1 stays registered meanwhile.
        wait_for(lambda: running_of(resources, "to-v2").get(1) == 3, what="v1 still counted 3")
        executions.resume(in_flight[0])
        wait_for(lambda: running_of(resources, "to-v2").get(1) == 2, what="v1 counted 2 after one ended")
        assert status_of(resources, "to-v2")["phase"] == "Draining"
        assert 1 in executions.versions(flow.workflow), "never retired while executions run on it"
        for execution_id in in_flight[1:]:
            executions.resume(execution_id)
        completed = wait_phase(resources, "to-v2", "Completed", timeout=60)

    assert all(executions.execution(i)["status"] == "COMPLETED" for i in in_flight)
    assert completed["retiredVersions"] == [1]
    assert completed["running"]["old"] == 0
    assert completed["drain"]["drainedAt"] >= completed["drain"]["firstZeroAt"]
    assert executions.versions(flow.workflow) == [2]
    retired = resources.wait_condition("WorkflowDefinition", "v1", "Ready", reason="RetiredByMigrationPlan")
    assert "to-v2" in retired["message"]
    assert executions.versions(flow.workflow) == [2], "the retired version's resource does not register it again"
    reasons = [reason for _, reason, _ in events_for(k8s, namespace, "to-v2")]
    for expected in ("GateStarted", "CutoverStarted", "CutOver", "Drained", "Retired"):
        assert expected in reasons


def test_failed_gate_holds_the_cutover(resources, cluster, executions, conductor_url):
    flow = Onboarding()
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    plan = flow.plan()
    plan["gates"]["workflows"][0]["expectedOutput"] = {"tier": "LOW"}  # the target answers HIGH
    resources.create("MigrationPlan", "to-v2", plan)
    with flow.worker(conductor_url):
        failed = wait_phase(resources, "to-v2", "Failed", timeout=90)
        stalled = resources.wait_condition("MigrationPlan", "to-v2", "Stalled")
        assert "wanted 'LOW', got 'HIGH'" in stalled["message"]
        assert failed.get("cutoverAt") is None
        assert executions.versions(flow.workflow) == [1]
        resources.wait_condition("WorkflowDefinition", "v2", "Reconciling", reason="AwaitingActivation")

        # Fixing the spec starts the gates over.
        plan["gates"]["workflows"][0]["expectedOutput"] = {"tier": "HIGH"}
        resources.patch_spec("MigrationPlan", "to-v2", {"gates": plan["gates"]})
        wait_phase(resources, "to-v2", "Completed", timeout=90)  # no v1 execution runs: drained at once
    assert executions.versions(flow.workflow) == [2]


def test_dry_run_changes_nothing(resources, cluster, executions, conductor_url):
    flow = Onboarding()
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    running = executions.start_with(flow.workflow, 1, {"value": 1})
    executions.pause(running)
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", flow.plan(dryRun=True))
    with flow.worker(conductor_url):
        planned = wait_phase(resources, "to-v2", "DryRun")
        ready = resources.wait_condition("MigrationPlan", "to-v2", "Ready", reason="DryRun")
        assert "dry run" in ready["message"]
        actions = "\n".join(planned["plannedActions"])
        assert f"register {flow.workflow} v2" in actions and "retire v1" in actions
        assert "run check workflow" in actions
        wait_for(lambda: "1 execution(s) running now" in "\n".join(status_of(resources, "to-v2")["plannedActions"]),
                 what="the dry run counting the v1 execution")
    assert executions.versions(flow.workflow) == [1]
    assert not status_of(resources, "to-v2").get("cutoverAt")
    assert all(not g.get("executionId") for g in status_of(resources, "to-v2")["gates"]), "no check workflow ran"
    resources.wait_condition("WorkflowDefinition", "v2", "Reconciling", reason="AwaitingActivation")


def test_an_unpinned_sub_workflow_in_both_versions_is_a_standing_warning_beside_a_safe_verdict(resources, cluster):
    flow = Onboarding()
    child = {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": f"child_{flow.workflow}"}}
    resources.create("WorkflowDefinition", "v1",
                     workflow_spec(flow.workflow, 1, simple("normalize", flow.normalize), child))
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    resources.create("WorkflowDefinition", "v2", {
        **workflow_spec(flow.workflow, 2, simple("normalize", flow.normalize), child, simple("risk", flow.risk)),
        "activation": "ByMigrationPlan"})
    resources.create("MigrationPlan", "to-v2", flow.plan(dryRun=True, gates={"requireWorkers": False}))

    # v1 as Conductor holds it against the v2 manifest: only the append is the change.
    verdict = wait_phase(resources, "to-v2", "DryRun")["verdict"]
    assert verdict["level"] == "Safe"
    assert [(f["reason"], f["taskRef"]) for f in verdict["findings"]] == [("TaskAppended", "risk")]
    assert [(w["reason"], w["taskRef"]) for w in verdict["standingWarnings"]] == [("UnpinnedSubWorkflow", "child")]
    warning = resources.wait_condition("MigrationPlan", "to-v2", "Warning", reason="UnpinnedSubWorkflow")
    assert "v1: Task 'child' starts sub-workflow" in warning["message"]


def test_an_older_plan_in_another_namespace_on_the_same_conductor_holds_a_new_one(resources, cluster, k8s,
                                                                                  conductor_url):
    """ConductorClusters are namespaced: two teams' clusters naming one server are compared by its URL."""
    other = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(k8s)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        team_b = Resources(k8s, other)
        team_b.create("ConductorCluster", "default", {"url": f"{conductor_url}/api/"})  # the same server
        workflow = f"shared_{uuid.uuid4().hex[:8]}"
        plan = {"workflowName": workflow, "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                "strategy": {"parallel": {}}}
        team_b.create("MigrationPlan", "first", plan)
        wait_for(lambda: status_of(team_b, "first").get("phase") == "Pending", what="the first plan at work")
        time.sleep(1.1)  # creationTimestamp has whole seconds: a tie would go to the namespaces' names
        resources.create("MigrationPlan", "second", plan)
        stalled = resources.wait_condition("MigrationPlan", "second", "Stalled", reason="ConflictingPlan")
        assert f"MigrationPlan {other}/first is still migrating {workflow} on the same Conductor" in stalled["message"]

        team_b.delete("MigrationPlan", "first")
        waiting = resources.wait_condition("MigrationPlan", "second", "Reconciling", reason="TargetNotFound")
        assert "v2" in waiting["message"], "once the first is gone the second goes on (to wait for its target)"
    finally:
        core.delete_namespace(other)
