"""The operator's logs from a real run: JSON lines (LOG_FORMAT=json) whose fields name the object, the plan and the
Conductor request; and no credential in any line, even at DEBUG.

The ConductorCluster carries an Orkes-style application key (a Secret with a key id and a key secret) against the
real Conductor OSS server: the operator reads the Secret and sends the key to /api/token (OSS answers 404), so the
values pass through the operator; none may reach the log.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from tests.e2e.conftest import Resources
from tests.e2e.test_definitions_real import simple, workflow_spec

pytestmark = pytest.mark.realenv


def test_json_logs_name_their_objects_and_never_hold_a_credential(crds, kubeconfig, testenv_dir, k8s, namespace,
                                                                  conductor_url, operator_stopped):
    key_id, key_secret = f"key-{secrets.token_hex(12)}", f"sec-{secrets.token_hex(24)}"
    client.CoreV1Api(k8s).create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="orkes-key"),
        data={"keyId": base64.b64encode(key_id.encode()).decode(),
              "keySecret": base64.b64encode(key_secret.encode()).decode()}))
    log = testenv_dir / f"operator-logs-{namespace}.log"
    operator = OperatorProcess(kubeconfig, log, LOG_FORMAT="json", LOG_LEVEL="DEBUG",
                               WATCH_NAMESPACES=namespace).start()
    try:
        resources = Resources(k8s, namespace)
        resources.create("ConductorCluster", "default", {"url": conductor_url,
                                                         "auth": {"secretRef": {"name": "orkes-key"}}})
        resources.wait_condition("ConductorCluster", "default", "Ready")
        name = f"logs_{secrets.token_hex(4)}"
        resources.create("WorkflowDefinition", "wf", workflow_spec(name, 1, simple("only", f"{name}_task")))
        resources.wait_condition("WorkflowDefinition", "wf", "Ready")
        resources.create("WorkflowDefinition", "wf-bad", {**workflow_spec(name, 2, simple("only", f"{name}_task")),
                                                          "clusterRef": {"name": "missing"}})
        resources.wait_condition("WorkflowDefinition", "wf-bad", "Stalled")
    finally:
        operator.stop()

    text = log.read_text(errors="replace")
    lines = text.splitlines()
    assert len(lines) > 20
    leaked = [line for line in lines if key_secret in line or key_id in line]
    assert not leaked, f"{len(leaked)} log line(s) hold the key id or secret, e.g. {leaked[0][:300]}"
    assert key_secret not in text and key_id not in text

    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line[:300]}")
    assert all("message" in r and "severity" in r for r in records)
    objects = {(r["object"].get("kind"), r["object"].get("name")) for r in records if isinstance(r.get("object"), dict)}
    assert ("ConductorCluster", "default") in objects and ("WorkflowDefinition", "wf") in objects, objects
    assert all(r["object"].get("namespace") == namespace for r in records if isinstance(r.get("object"), dict))
    requests = {r["conductor_request"] for r in records if r.get("conductor_request")}
    assert any(q.startswith("GET /metadata/workflow/names-and-versions") for q in requests), requests
    assert "POST /token 404" in requests, "the key was sent to /api/token (OSS answers 404)"
    assert not any(name in q for q in requests), "requests are logged by endpoint template, not by name"
