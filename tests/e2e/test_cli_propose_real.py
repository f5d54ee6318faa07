"""`kubectl conductor plan --from-cluster` against the real Conductor and kube-apiserver: it reads the running
executions and triggers of the namespace's ConductorCluster, the API server accepts the MigrationPlan it prints, and
the real operator runs that plan."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import yaml
from conductor_operator.cli.main import main

from testenv.worker import Worker
from tests.e2e.conftest import wait_for
from tests.e2e.test_definitions_real import simple, workflow_spec
from tests.e2e.test_migration_real import Executions, status_of, wait_phase

pytestmark = pytest.mark.realenv

HTTP_TIMEOUT = 30  # the shared machine is slow at times
FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 3, "gracePeriod": "2s"}


class Flow:
    """v1 runs one task; v2 appends one (Safe) or inserts one before it (Caution)."""

    def __init__(self, conductor_url: str):
        suffix = uuid.uuid4().hex[:8]
        self.api = f"{conductor_url}/api"
        self.workflow = f"propose_{suffix}"
        self.first, self.added = f"first_{suffix}", f"added_{suffix}"
        self.worker = Worker(conductor_url, {self.first: lambda task_input: {"ok": True},
                                             self.added: lambda task_input: {"ok": True}},
                             worker_id=f"worker-{self.workflow}")

    def manifest(self, version: int, *tasks: dict) -> dict:
        spec = workflow_spec(self.workflow, version, *tasks)
        if version > 1:
            spec["activation"] = "ByMigrationPlan"
        return {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
                "metadata": {"name": f"v{version}"}, "spec": spec}

    def v1(self) -> dict:
        return self.manifest(1, simple("first", self.first))

    def v2(self, inserted: bool = False) -> dict:
        added = simple("added", self.added)
        tasks = [added, simple("first", self.first)] if inserted else [simple("first", self.first), added]
        return self.manifest(2, *tasks)


def in_flight(resources, executions: Executions, flow: Flow, tmp_path, count: int, *, inserted: bool = False):
    """v1 registered by the operator with ``count`` executions held PAUSED; both manifests written to files."""
    v1, v2 = flow.v1(), flow.v2(inserted)
    resources.create("WorkflowDefinition", "v1", v1["spec"])
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    ids = [executions.start_with(flow.workflow, 1, {}) for _ in range(count)]
    for execution_id in ids:
        executions.pause(execution_id)
    (tmp_path / "v1.yaml").write_text(yaml.safe_dump(v1))
    (tmp_path / "v2.yaml").write_text(yaml.safe_dump(v2))
    resources.create("WorkflowDefinition", "v2", v2["spec"])
    return ids, str(tmp_path / "v1.yaml"), str(tmp_path / "v2.yaml")


def plan(capsys, kubeconfig, namespace, *argv) -> tuple[int, str, str]:
    code = main(["plan", *argv, "--from-cluster", "-n", namespace, "--kubeconfig", str(kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_safe_change_proposes_parallel_and_the_operator_runs_it(resources, cluster, conductor_url, kubeconfig,
                                                                  namespace, kubectl, tmp_path, capsys):
    flow, executions = Flow(conductor_url), Executions(conductor_url)
    ids, old, new = in_flight(resources, executions, flow, tmp_path, 2)

    code, out, err = plan(capsys, kubeconfig, namespace, old, new)
    assert (code, err) == (0, "")
    assert f"# Running executions and triggers read from {conductor_url}." in out
    assert "# - ShortRunsDrainSoon: 2 executions of v1 run, the oldest for" in out
    assert "# - NoTriggers: no active event handler or schedule starts" in out
    manifest = yaml.safe_load(out)
    assert manifest["spec"]["strategy"] == {"parallel": {"retireOldVersions": True, "retireAfter": "1h"}}
    assert manifest["metadata"] == {"name": f"{flow.workflow.replace('_', '-')}-to-v2", "namespace": namespace}
    name = manifest["metadata"]["name"]

    applied = kubectl("apply", "-f", "-", input=out)  # the API server validates it against the CRD
    assert f"migrationplan.conductor-operator.io/{name} created" in applied.stdout

    with flow.worker:
        draining = wait_phase(resources, name, "Draining", timeout=90)
        assert draining["verdict"]["level"] == "Safe"
        assert executions.versions(flow.workflow) == [1, 2], "cut over: v2 registered by the plan"
        wait_for(lambda: status_of(resources, name).get("running", {}).get("old") == 2, what="2 counted on v1")

        resources.patch_spec("MigrationPlan", name, {"drainDetection": FAST_DRAIN})  # the test does not wait 5m
        for execution_id in ids:
            executions.resume(execution_id)
        retiring = wait_phase(resources, name, "Retiring", timeout=60)
    assert retiring["drain"]["drainedAt"]
    assert resources.condition("MigrationPlan", name, "Drained")["status"] == "True"
    resources.delete("MigrationPlan", name)  # v1 is not retired an hour from now


def test_a_caution_change_drains_with_the_triggers_paused(resources, cluster, conductor_url, kubeconfig, namespace,
                                                          kubectl, tmp_path, capsys):
    flow, executions = Flow(conductor_url), Executions(conductor_url)
    handler = {"name": f"start_{flow.workflow}", "event": f"conductor:{flow.workflow}_in", "active": True,
               "actions": [{"action": "start_workflow", "start_workflow": {"name": flow.workflow, "input": {}}}]}
    httpx.post(f"{flow.api}/event", json=handler, timeout=HTTP_TIMEOUT).raise_for_status()

    def handler_active() -> bool:
        handlers = httpx.get(f"{flow.api}/event", timeout=HTTP_TIMEOUT).json()
        return next(h for h in handlers if h["name"] == handler["name"])["active"]

    try:
        ids, old, new = in_flight(resources, executions, flow, tmp_path, 3, inserted=True)
        code, out, err = plan(capsys, kubeconfig, namespace, old, new, "-o", "json")
        proposal = json.loads(out)
        assert (code, err) == (0, "")
        assert (proposal["verdict"], proposal["strategy"]) == ("Caution", "drain")
        assert proposal["manifest"]["spec"]["strategy"]["drain"] == {"deadline": "15m", "onDeadline": "Wait",
                                                                     "pauseTriggers": True}
        rules = [r["rule"] for r in proposal["reasons"]]
        assert rules[:3] == ["CautionDrains", "DeadlineFromAges", "WaitAtDeadline"]
        assert f"EventHandler {handler['name']}" in proposal["reasons"][3]["why"]
        assert proposal["observed"]["running"][0]["count"] == 3
        assert proposal["observed"]["triggers"] == [{"kind": "EventHandler", "name": handler["name"],
                                                     "pinnedVersion": None}]
        assert "kubectl conductor status" in proposal["runbook"]

        # Applied with a fast drain detection added (the default counts zero for 5m): set from the start, since a
        # change of the spec mid-drain starts the gates over.
        name = proposal["manifest"]["metadata"]["name"]
        manifest = {**proposal["manifest"], "spec": {**proposal["manifest"]["spec"], "drainDetection": FAST_DRAIN}}
        kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
        with flow.worker:
            draining = wait_phase(resources, name, "Draining", timeout=90)
            assert draining["drain"]["deadline"]
            wait_for(lambda: not handler_active(), what="the event handler paused by the plan")
            assert executions.versions(flow.workflow) == [1], "the drain holds the cutover"

            for execution_id in ids:
                executions.resume(execution_id)
            wait_phase(resources, name, "Completed", timeout=120)
        assert executions.versions(flow.workflow) == [1, 2]
        assert handler_active(), "resumed after the cutover"
    finally:
        httpx.delete(f"{flow.api}/event/{handler['name']}", timeout=HTTP_TIMEOUT)


def test_without_a_conductor_cluster_the_error_is_one_line(crds, conductor_url, kubeconfig, namespace, tmp_path,
                                                           capsys):
    flow = Flow(conductor_url)
    (tmp_path / "v1.yaml").write_text(yaml.safe_dump(flow.v1()))
    (tmp_path / "v2.yaml").write_text(yaml.safe_dump(flow.v2()))
    code, out, err = plan(capsys, kubeconfig, namespace, str(tmp_path / "v1.yaml"), str(tmp_path / "v2.yaml"))
    assert (code, out) == (2, "")
    assert err == (f"kubectl-conductor: error: ConductorCluster {namespace}/default not found: the plan needs the "
                   f"ConductorCluster of its namespace (NEW's spec.clusterRef, else \"default\"); pass -n NAMESPACE\n")
