"""The operator process as its container runs it: a uid with no passwd entry, and the pod's name as identity."""

from __future__ import annotations

import base64
import os
import pwd
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from testenv.operator import OperatorProcess
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.realenv

IMAGE_UID = 65532
"""The uid the Dockerfile and the chart run the operator as; no user database entry exists for it."""


def readable_kubeconfig(kubeconfig: Path, folder: Path) -> Path:
    """The kubeconfig with its certificate files inlined, readable by any uid (as a mounted token is in a pod)."""
    config = yaml.safe_load(kubeconfig.read_text())
    inline = {"certificate-authority": "certificate-authority-data", "client-certificate": "client-certificate-data",
              "client-key": "client-key-data"}
    for entry in config["clusters"] + config["users"]:
        section = entry.get("cluster") or entry.get("user")
        for path_key, data_key in inline.items():
            if path_key in section:
                section[data_key] = base64.b64encode(Path(section.pop(path_key)).read_bytes()).decode()
    folder.chmod(0o755)
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)
    return path


def test_the_operator_runs_as_a_uid_without_a_user_and_names_itself_by_its_pod(
        resources, cluster, operator, peering_crds, k8s, kubeconfig):
    with pytest.raises(KeyError):
        pwd.getpwuid(IMAGE_UID)  # the point of the test: this machine has no user for the image's uid
    assert os.geteuid() == 0, "the tests run as root here, which may start a process as another uid"
    peering = f"identity-{uuid.uuid4().hex[:6]}"
    client.CustomObjectsApi(k8s).create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", {
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": peering}})
    operator.stop()  # one operator at a time on the test namespace
    with tempfile.TemporaryDirectory(prefix="operator-uid-") as folder:
        log = Path(folder) / "operator.log"
        no_user = {"HOME": "/nonexistent", "USER": "", "LOGNAME": "", "LNAME": "", "USERNAME": ""}
        image_like = OperatorProcess(readable_kubeconfig(kubeconfig, Path(folder)), log, uid=IMAGE_UID,
                                     PEERING_NAME=peering, POD_NAME="conductor-operator-5f7c9-abcde", **no_user)
        try:
            image_like.start()
            peers = lambda: (client.CustomObjectsApi(k8s).get_cluster_custom_object(  # noqa: E731
                "kopf.dev", "v1", "clusterkopfpeerings", peering).get("status") or {})
            assert list(wait_for(peers, timeout=60, what="the operator in the peering object",
                                 explain=image_like.log_tail)) == \
                ["conductor-operator-5f7c9-abcde"]
            workflow = f"uid_{uuid.uuid4().hex[:8]}"
            resources.create("WorkflowDefinition", "as-image", {"name": workflow, "version": 1, "definition": {
                "tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
            resources.wait_condition("WorkflowDefinition", "as-image", "Ready")
            assert "Handler 'workflow_changed' succeeded" in image_like.log_text()
            assert "Traceback" not in image_like.log_text()
        finally:
            image_like.stop()
            operator.start()
