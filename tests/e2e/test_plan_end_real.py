"""After a MigrationPlan ends, run by the real operator against a real Conductor: the plan keeps the record of
its end whatever is registered later, and a version it retired that runs again (a plain restart of one of its
ended executions) is a Warning on that version's WorkflowDefinition."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import events_for, wait_for
from tests.e2e.test_definitions_real import simple, workflow_spec
from tests.e2e.test_migration_real import FAST_DRAIN, Executions, Onboarding, status_of, wait_phase

pytestmark = pytest.mark.realenv


@pytest.fixture
def executions(conductor_url) -> Executions:
    return Executions(conductor_url)


def retire_v1(resources, executions: Executions, flow: Onboarding) -> tuple[dict, str]:
    """v1 registered and one of its executions ended (terminated), then a parallel plan to v2 that retires v1:
    the status of the plan once it ended, and the id of the ended v1 execution."""
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    ended = executions.start_with(flow.workflow, 1, {"value": 1})  # no worker: it waits at its first task
    executions.terminate(ended)
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", flow.plan(gates={"requireWorkers": False}, drainDetection=FAST_DRAIN,
                                                         strategy={"parallel": {"retireOldVersions": True,
                                                                                "retireAfter": "1s"}}))
    wait_phase(resources, "to-v2", "Completed", timeout=90)
    status = wait_for(lambda: status_of(resources, "to-v2") if status_of(resources, "to-v2").get("endedAt") else None,
                      what="the plan ended")
    assert status["retiredVersions"] == [1] and executions.versions(flow.workflow) == [2]
    return status, ended


def test_a_plan_that_ended_keeps_its_record_when_the_next_version_registers(resources, cluster, executions):
    flow = Onboarding()
    ended, _ = retire_v1(resources, executions, flow)
    assert ended["running"]["readAt"] == ended["endedAt"], "its counts are as of its end"
    assert {v["readAt"] for v in ended["versions"]} == {ended["endedAt"]}
    assert ended["message"].endswith(f"final counts as of {ended['endedAt']}")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in ended["conditions"]}
    assert conditions["Ready"] == ("True", "Completed") and conditions["Warning"] == ("False", "NoWarnings")

    # The next normal release: v3, registered on apply, and executions started on it.
    resources.create("WorkflowDefinition", "v3", workflow_spec(flow.workflow, 3, simple("normalize", flow.normalize)))
    resources.wait_condition("WorkflowDefinition", "v3", "Ready")
    assert executions.versions(flow.workflow) == [2, 3]
    started = [executions.start_with(flow.workflow, None, {"value": 1}) for _ in range(2)]
    assert {executions.execution(i)["workflowVersion"] for i in started} == {3}
    time.sleep(8)  # four resyncs of the test operator
    assert status_of(resources, "to-v2") == ended, "the plan that ended is not the next release's business"
    for execution_id in started:
        executions.terminate(execution_id)


def test_a_retired_version_running_again_after_a_restart_is_a_warning(resources, cluster, executions, k8s,
                                                                      namespace, conductor_url):
    flow = Onboarding()
    ended, execution_id = retire_v1(resources, executions, flow)
    retired = resources.wait_condition("WorkflowDefinition", "v1", "Ready", reason="RetiredByMigrationPlan")
    assert "to-v2" in retired["message"]
    assert resources.condition("WorkflowDefinition", "v1", "Warning")["status"] == "False"

    # Pinned callers of a retired version are refused.
    pinned = httpx.post(f"{conductor_url}/api/workflow/{flow.workflow}", params={"version": 1}, json={})
    assert pinned.status_code == 404, pinned.text

    # A plain restart brings the ended execution back to RUNNING, on v1, which Conductor no longer lists.
    httpx.post(f"{conductor_url}/api/workflow/{execution_id}/restart").raise_for_status()
    running = executions.execution(execution_id)
    assert (running["status"], running["workflowVersion"]) == ("RUNNING", 1)
    assert executions.versions(flow.workflow) == [2]

    warning = resources.wait_condition("WorkflowDefinition", "v1", "Warning", reason="RetiredVersionRunning")
    assert f"executions of workflow {flow.workflow} v1 run again although MigrationPlan to-v2 retired it" in \
        warning["message"]
    body = resources.get("WorkflowDefinition", "v1")
    assert body["status"]["executions"]["running"] == 1
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "RetiredByMigrationPlan"), "still retired"
    assert [m for t, r, m in events_for(k8s, namespace, "v1") if (t, r) == ("Warning", "RetiredVersionRunning")] \
        == [warning["message"]]
    assert executions.versions(flow.workflow) == [2], "the retired version is not registered again"
    assert status_of(resources, "to-v2") == ended

    executions.terminate(execution_id)
    resources.wait_condition("WorkflowDefinition", "v1", "Warning", status="False")
