"""Proof that the test environment is made of real servers, not fakes."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from kubernetes import client, watch

from testenv.tools import read_versions

pytestmark = pytest.mark.realenv

GROUP = "smoke.conductor-operator.io"


def test_kube_apiserver_is_the_real_one_we_built(k8s):
    version = client.VersionApi(k8s).get_code()
    assert version.git_version == read_versions()["KUBERNETES_VERSION"]
    assert version.platform.startswith("linux/")


def test_rbac_is_enforced(k8s):
    """An unauthenticated request is refused: the server runs with authn and RBAC on."""
    host = k8s.configuration.host
    response = httpx.get(f"{host}/api/v1/namespaces", verify=False)
    assert response.status_code in (401, 403)


def _smoke_crd(plural: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"plural": plural, "singular": plural[:-1], "kind": "Smoke" + plural[:-1].title()},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                }}},
            }],
        },
    }


def _wait_established(k8s, name: str, timeout: float = 30) -> None:
    ext = client.ApiextensionsV1Api(k8s)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conditions = ext.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {name} not established in {timeout}s")


def test_crd_custom_resource_watch_and_status_subresource(k8s, namespace):
    plural = f"smoke{uuid.uuid4().hex[:6]}s"
    kind = "Smoke" + plural[:-1].title()
    crd = _smoke_crd(plural)
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(crd)
    _wait_established(k8s, crd["metadata"]["name"])
    custom = client.CustomObjectsApi(k8s)

    seen: list[tuple[str, dict]] = []
    started = threading.Event()

    def watch_objects():
        stream = watch.Watch()
        started.set()
        for event in stream.stream(custom.list_namespaced_custom_object, GROUP, "v1", namespace, plural,
                                   timeout_seconds=20):
            seen.append((event["type"], event["object"]))
            if event["object"].get("status", {}).get("phase") == "Ready":
                stream.stop()

    watcher = threading.Thread(target=watch_objects, daemon=True)
    watcher.start()
    started.wait(5)

    body = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "one"}, "spec": {"size": 3}}
    created = custom.create_namespaced_custom_object(GROUP, "v1", namespace, plural, body)
    assert created["metadata"]["generation"] == 1

    # Schema validation is done by the real server.
    bad = {**body, "metadata": {"name": "bad"}, "spec": {"size": 0}}
    with pytest.raises(client.ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, "v1", namespace, plural, bad)
    assert refused.value.status == 422
    assert "spec.size" in refused.value.body

    # The status subresource changes status without bumping the generation.
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, plural, "one", {"status": {"phase": "Ready"}})
    assert patched["status"] == {"phase": "Ready"}
    assert patched["metadata"]["generation"] == 1

    watcher.join(25)
    assert [kind for kind, _ in seen][:1] == ["ADDED"]
    assert seen[-1][0] == "MODIFIED" and seen[-1][1]["status"]["phase"] == "Ready"


def test_conductor_is_the_real_server(conductor_url):
    version = httpx.get(f"{conductor_url}/api/version").text.strip()
    assert version == read_versions()["CONDUCTOR_VERSION"]


def test_conductor_registers_starts_and_reads_back(conductor_url):
    api = f"{conductor_url}/api"
    name = f"smoke_{uuid.uuid4().hex[:8]}"
    definition = {"name": name, "version": 1, "schemaVersion": 2, "ownerEmail": "smoke@example.com",
                  "tasks": [{"name": "smoke_task", "taskReferenceName": "first", "type": "SIMPLE"}]}
    registered = httpx.put(f"{api}/metadata/workflow", json=[definition])
    assert registered.status_code == 200
    assert registered.json()["bulkErrorResults"] == {}

    execution_id = httpx.post(f"{api}/workflow/{name}", params={"version": 1}, json={"who": "smoke"}).text
    execution = httpx.get(f"{api}/workflow/{execution_id}", params={"includeTasks": "true"}).json()
    assert execution["workflowName"] == name
    assert execution["workflowVersion"] == 1
    assert execution["status"] == "RUNNING"
    assert execution["input"] == {"who": "smoke"}
    assert [t["referenceTaskName"] for t in execution["tasks"]] == ["first"]

    httpx.delete(f"{api}/workflow/{execution_id}", params={"reason": "smoke test done"})
    assert httpx.get(f"{api}/workflow/{execution_id}").json()["status"] == "TERMINATED"
