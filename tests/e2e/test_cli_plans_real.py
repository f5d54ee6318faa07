"""The MigrationPlan commands of kubectl-conductor against the real kube-apiserver (no operator running):
the status is written through the status subresource as the operator would, and the CLI runs in-process."""

from __future__ import annotations

import json

import pytest
from conductor_operator.cli.main import main
from kubernetes import client

from tests.e2e.conftest import GROUP, PLURALS, VERSION

pytestmark = pytest.mark.realenv

SPEC = {"workflowName": "orders", "from": {"versions": [1]}, "to": {"workflowDefinitionRef": {"name": "orders-v2"}},
        "strategy": {"upgradeWaves": {"canary": {"count": 2}, "steps": [{"percent": 100}]}}}
STATUS = {
    "observedGeneration": 1, "phase": "Moving", "message": "the canary is watched by the health gate",
    "verdict": {"level": "Safe", "findings": [], "fromVersions": [1], "toVersion": 2},
    "running": {"old": 15, "target": 5},
    "waves": {"current": 0, "count": 2, "state": "Watching", "total": 20, "moved": 5, "ineligible": 0, "failed": 0,
              "rolledBack": 0},
    "conditions": [{"type": "Ready", "status": "True", "reason": "Accepted", "message": "moving",
                    "lastTransitionTime": "2026-11-24T10:00:00Z"}],
}


@pytest.fixture(scope="module")
def no_operator(operator):
    """The status below is written as the operator would write it: the session's operator, left running by an
    earlier test, reconciles the plan and writes its own, which a loaded machine let it do before the CLI read it.
    So it is stopped for these tests."""
    operator.stop()
    try:
        yield
    finally:
        operator.start()


@pytest.fixture
def migration_plan(no_operator, crds, resources, k8s) -> str:
    resources.create("MigrationPlan", "orders-to-v2", SPEC)
    client.CustomObjectsApi(k8s).patch_namespaced_custom_object_status(
        GROUP, VERSION, resources.namespace, PLURALS["MigrationPlan"], "orders-to-v2", {"status": STATUS})
    return "orders-to-v2"


def run(capsys, kubeconfig, namespace, *argv):
    code = main([*argv, "-n", namespace, "--kubeconfig", str(kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_prints_what_the_status_holds(migration_plan, kubeconfig, namespace, capsys):
    code, out, err = run(capsys, kubeconfig, namespace, "status", migration_plan)
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0] == f"MigrationPlan {namespace}/orders-to-v2 (workflow orders, strategy upgradeWaves)"
    assert "Phase:    Moving" in lines
    assert "Running executions: old versions 15, target 5" in lines
    assert "Waves: the canary, then 1 wave, Watching" in lines
    assert "  moved  [#####...............]  25% (5/20)" in lines
    assert "  Ready  True    Accepted  moving" in lines


def test_status_as_json(migration_plan, kubeconfig, namespace, capsys):
    code, out, _ = run(capsys, kubeconfig, namespace, "status", migration_plan, "-o", "json")
    status = json.loads(out)
    assert code == 0
    assert (status["phase"], status["waves"], status["running"]) == ("Moving", STATUS["waves"], STATUS["running"])


def test_pause_sets_spec_paused(migration_plan, kubeconfig, namespace, resources, capsys):
    code, out, _ = run(capsys, kubeconfig, namespace, "pause", migration_plan)
    assert code == 0
    assert f"MigrationPlan {namespace}/orders-to-v2: spec.paused set to true." in out
    assert resources.get("MigrationPlan", migration_plan)["spec"]["paused"] is True


def test_promote_sets_the_request_token(migration_plan, kubeconfig, namespace, resources, capsys):
    code, out, _ = run(capsys, kubeconfig, namespace, "promote", migration_plan)
    spec = resources.get("MigrationPlan", migration_plan)["spec"]
    token = spec["requests"]["promote"]
    assert code == 0
    assert f"promote requested with token {token}." in out
    assert spec["workflowName"] == "orders" and "abort" not in spec["requests"]


def test_unknown_plan_exits_2(crds, kubeconfig, namespace, capsys):
    code, out, err = run(capsys, kubeconfig, namespace, "status", "absent")
    assert (code, out) == (2, "")
    assert err == f"kubectl-conductor: error: MigrationPlan {namespace}/absent not found\n"


def test_diff_reads_a_definition_from_a_config_map_on_the_cluster(crds, k8s, namespace, kubeconfig, tmp_path, capsys):
    """The README's layout for existing JSON files: the WorkflowDefinition names a ConfigMap in the cluster."""
    tasks = [{"name": ref, "taskReferenceName": ref, "type": "SIMPLE"} for ref in ("a", "b")]
    client.CoreV1Api(k8s).create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="orders-v2"),
        data={"workflow.json": json.dumps({"name": "orders", "version": 2, "tasks": tasks})}))
    old = tmp_path / "v1.json"
    old.write_text(json.dumps({"name": "orders", "version": 1, "tasks": tasks[:1]}))
    new = tmp_path / "v2.yaml"
    source = {"configMapKeyRef": {"name": "orders-v2", "key": "workflow.json"}}
    new.write_text(json.dumps({"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
                               "metadata": {"name": "orders-v2"},
                               "spec": {"name": "orders", "version": 2, "definitionFrom": source}}))

    code, out, err = run(capsys, kubeconfig, namespace, "diff", str(old), str(new))
    assert code == 2 and "--from-cluster" in err, "without the flag the cluster is not read"

    code, out, err = run(capsys, kubeconfig, namespace, "diff", str(old), str(new), "--from-cluster")
    assert (code, err) == (0, "")
    assert out.startswith("SAFE: orders v1 -> orders v2 (1 finding)")

    code, out, err = run(capsys, kubeconfig, "elsewhere", "diff", str(old), str(new), "--from-cluster")
    assert code == 2 and "ConfigMap elsewhere/orders-v2 not found on the cluster" in err
