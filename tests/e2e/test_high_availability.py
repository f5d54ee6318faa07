"""Two replicas with kopf peering: one works, the other waits and takes over when the first dies."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.realenv


def test_one_active_replica_and_failover(resources, cluster, operator, peering_crds, k8s, kubeconfig, tmp_path):
    name = f"ha-{uuid.uuid4().hex[:6]}"
    client.CustomObjectsApi(k8s).create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", {
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}})
    operator.stop()  # the session's standalone operator would not take part in the election
    peering = {"PEERING_NAME": name, "PEERING_LIFETIME": "6s"}
    active = OperatorProcess(kubeconfig, tmp_path / "active.log", PEERING_PRIORITY="200", **peering).start()
    standby = OperatorProcess(kubeconfig, tmp_path / "standby.log", PEERING_PRIORITY="100", **peering).start()
    try:
        # Replicas start paused; each announces itself in the peering object's status, and only the
        # one with the highest priority among the live peers resumes.
        peers = lambda: (client.CustomObjectsApi(k8s).get_cluster_custom_object(  # noqa: E731
            "kopf.dev", "v1", "clusterkopfpeerings", name).get("status") or {})
        wait_for(lambda: len(peers()) == 2, timeout=60, what="both replicas in the peering object",
                 explain=lambda: f"active:\n{active.log_tail()}\nstandby:\n{standby.log_tail()}")
        assert sorted(p["priority"] for p in peers().values()) == [100, 200]
        workflow = f"ha_{uuid.uuid4().hex[:8]}"
        tasks = {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}
        resources.create("WorkflowDefinition", "first", {"name": workflow, "version": 1, "definition": tasks})
        resources.wait_condition("WorkflowDefinition", "first", "Ready")
        handled = "Handler 'workflow_changed' succeeded"
        assert handled in active.log_text()
        assert handled not in standby.log_text(), "only the active replica handles resources"

        active.kill()
        killed_at = time.monotonic()
        resources.create("WorkflowDefinition", "second", {"name": workflow, "version": 2, "definition": tasks})
        resources.wait_condition("WorkflowDefinition", "second", "Ready", timeout=60)
        failover = time.monotonic() - killed_at
        print(f"failover took {failover:.1f}s with a 6s peering lifetime")
        assert "Resuming operations" in standby.log_text()
        assert handled in standby.log_text()
    finally:
        active.kill()
        standby.stop()
        operator.start()
