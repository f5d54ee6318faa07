"""Hostile ConductorClusters and names against the real API server, the real operator and the real Conductor.

A ConductorCluster URL is a request the operator makes for whoever may create one: the operator never shows what
a server that is not Conductor answered (a metadata service's credentials, an HTML page), refuses link-local and
metadata addresses, and the API server refuses credentials in the URL, a port out of range, a CA bundle that is not
PEM and names Conductor cannot take in a URL path. After each, the operator still serves a healthy
WorkflowDefinition and its log has no traceback.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import UnsafeName
from kubernetes import client

from tests.e2e.conftest import events_for, wait_for

pytestmark = pytest.mark.realenv

ACCESS_KEY = "ASIAEXAMPLE7Q3KEYID"
SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
METADATA_ANSWER = json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": ACCESS_KEY,
                              "SecretAccessKey": SECRET_KEY, "Token": SESSION_TOKEN})
HTML_PAGE = "<!doctype html><html><head><title>Welcome to the intranet</title></head><body>hello</body></html>"
WAIT = 90
"""Seconds to wait for the operator: generous, the machine running the tests may be busy."""
NEVER_SHOWN = (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, "Welcome to the intranet", "<html")


class LocalServer:
    """A small HTTP server on 127.0.0.1 answering every request with one body; records the paths asked for."""

    def __init__(self, body: str, content_type: str):
        self.paths: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                owner.paths.append(f"{self.command} {self.path}")
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 (the standard library's names)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def still_healthy(resources, conductor_url, operator) -> Iterator[None]:
    """After the test: the operator still serves a healthy WorkflowDefinition, and logged no traceback meanwhile."""
    start = len(operator.log_text())
    yield
    resources.create("ConductorCluster", "healthy", {"url": conductor_url})
    resources.wait_condition("ConductorCluster", "healthy", "Ready", timeout=WAIT)
    resources.create("WorkflowDefinition", "healthy", {
        "clusterRef": {"name": "healthy"}, "name": unique("healthy"), "version": 1,
        "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
    resources.wait_condition("WorkflowDefinition", "healthy", "Ready", timeout=WAIT)
    log = operator.log_text()[start:]
    assert "Traceback" not in log, log[-4000:]
    for secret in NEVER_SHOWN[:3]:
        assert secret not in log


def refused(resources, kind: str, name: str, spec: dict) -> str:
    """The API server's refusal of the object (its message); fails when it was accepted."""
    with pytest.raises(client.ApiException) as raised:
        resources.create(kind, name, spec)
    assert raised.value.status == 422, raised.value.body
    return json.loads(raised.value.body)["message"]


def shown(resources, k8s, namespace: str, name: str) -> str:
    """Everything the operator wrote about a ConductorCluster: its status and its events."""
    return json.dumps(resources.get("ConductorCluster", name).get("status")) + repr(events_for(k8s, namespace, name))


# ---- servers that are not Conductor ---------------------------------------------------------------

def test_a_metadata_like_endpoint_is_asked_once_and_never_echoed(resources, k8s, namespace, operator, still_healthy):
    with LocalServer(METADATA_ANSWER, "text/plain") as metadata:
        url = f"{metadata.url}/latest/meta-data/iam/security-credentials"
        resources.create("ConductorCluster", "imds", {"url": url})
        stalled = resources.wait_condition("ConductorCluster", "imds", "Stalled", reason="NotConductor", timeout=WAIT)
        assert "is not Conductor" in stalled["message"] and "not shown" in stalled["message"]
        wait_for(lambda: ("Warning", "NotConductor") in [e[:2] for e in events_for(k8s, namespace, "imds")],
                 what="a Warning event", timeout=WAIT)
        status = resources.get("ConductorCluster", "imds")["status"]
        assert "serverVersion" not in status and "flavor" not in status
        everything = shown(resources, k8s, namespace, "imds")
        for secret in NEVER_SHOWN:
            assert secret not in everything
        assert set(metadata.paths) == {"GET /latest/meta-data/iam/security-credentials/api/version"}, \
            "nothing but the identification is asked of a server that is not Conductor"

    message = refused(resources, "ConductorCluster", "imds-query",
                      {"url": f"{metadata.url}/latest/meta-data/iam/security-credentials/?x="})
    assert "leave out any ?query" in message


def test_link_local_metadata_addresses_are_refused_before_any_request(resources, k8s, namespace, operator,
                                                                      still_healthy):
    resources.create("ConductorCluster", "aws", {"url": "http://169.254.169.254/latest/meta-data/iam"})
    stalled = resources.wait_condition("ConductorCluster", "aws", "Stalled", reason="URLNotAllowed", timeout=WAIT)
    assert "169.254.169.254" in stalled["message"] and "CONDUCTOR_URL_ALLOW" in stalled["message"]
    wait_for(lambda: ("Warning", "URLNotAllowed") in [e[:2] for e in events_for(k8s, namespace, "aws")],
             what="a Warning event", timeout=WAIT)


def test_an_html_server_is_not_conductor(resources, k8s, namespace, operator, still_healthy):
    with LocalServer(HTML_PAGE, "text/html;charset=utf-8") as intranet:
        resources.create("ConductorCluster", "intranet", {"url": intranet.url})
        stalled = resources.wait_condition("ConductorCluster", "intranet", "Stalled", reason="NotConductor",
                                           timeout=WAIT)
        assert "text/html" in stalled["message"]
        ready = resources.condition("ConductorCluster", "intranet", "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "NotConductor")
        resources.create("WorkflowDefinition", "on-intranet", {
            "clusterRef": {"name": "intranet"}, "name": unique("intranet"), "version": 1,
            "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
        resources.wait_condition("WorkflowDefinition", "on-intranet", "Stalled", timeout=WAIT)
        definition = json.dumps(resources.get("WorkflowDefinition", "on-intranet")["status"])
        for text in (*NEVER_SHOWN, "Orkes"):
            assert text not in shown(resources, k8s, namespace, "intranet") and text not in definition
        assert all(path.endswith("/api/version") for path in intranet.paths), intranet.paths


# ---- URLs and CA bundles the API server refuses -----------------------------------------------------

def test_credentials_in_the_url_are_refused(resources, operator, still_healthy):
    message = refused(resources, "ConductorCluster", "creds", {"url": "http://admin:hunter2-secret@conductor:8080"})
    assert "must not hold a user or password" in message and "spec.auth.secretRef" in message
    assert resources.get("ConductorCluster", "creds") is None, "never stored (the refusal goes to its sender only)"


def test_a_port_out_of_range_is_refused(resources, operator, still_healthy):
    message = refused(resources, "ConductorCluster", "port", {"url": "http://conductor:99999"})
    assert "the port must be from 1 to 65535" in message


def test_a_ca_bundle_that_is_not_pem(resources, k8s, namespace, operator, still_healthy):
    message = refused(resources, "ConductorCluster", "tls", {"url": "https://conductor:8443",
                                                             "tls": {"caBundle": "not a certificate"}})
    assert "spec.tls.caBundle must hold the CA certificates in PEM form" in message

    corrupt = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    resources.create("ConductorCluster", "tls", {"url": "https://conductor:8443", "tls": {"caBundle": corrupt}})
    stalled = resources.wait_condition("ConductorCluster", "tls", "Stalled", reason="InvalidSpec", timeout=WAIT)
    assert "spec.tls.caBundle" in stalled["message"] and "PEM" in stalled["message"]
    wait_for(lambda: ("Warning", "InvalidSpec") in [e[:2] for e in events_for(k8s, namespace, "tls")],
             what="a Warning event", timeout=WAIT)


# ---- names Conductor cannot take in a URL path --------------------------------------------------------

HOSTILE_NAMES = ["..", ".", "a/b", "../x", "a?b", "a#b", "a\\b", "a\x00b", "a\nb", "a\tb", "a\x7fb"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_by_the_api_server(resources, operator, name):
    task = {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}
    for kind, spec in [("WorkflowDefinition", {"name": name, "version": 1, "definition": task}),
                       ("TaskDefinition", {"name": name, "definition": {}})]:
        message = refused(resources, kind, "hostile", spec)
        assert "spec.name" in message and ("must not hold" in message or "must not be . or .." in message)
    message = refused(resources, "MigrationPlan", "hostile", {
        "workflowName": name, "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "x"}},
        "strategy": {"parallel": {}}})
    assert "spec.workflowName" in message


def test_after_hostile_names_the_operator_serves_a_healthy_definition(resources, operator, still_healthy):
    for name in HOSTILE_NAMES[:3]:
        refused(resources, "WorkflowDefinition", "hostile", {
            "name": name, "version": 1,
            "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})


async def test_the_client_refuses_dot_segments_and_reaches_every_other_name(conductor_url):
    """On the real server: names with ?, #, ;, % and non-ASCII letters reach exactly their definition; a dot
    segment or a slash is refused before anything is sent."""
    async with ConductorClient(conductor_url, identify=True) as conductor:
        names = [unique(prefix) for prefix in ("a?b", "a#b", "a;b", "a%2e%2e", "é b")]
        await conductor.register_workflow_defs([{"name": name, "version": 1, "schemaVersion": 2, "tasks": [
            {"name": "t", "taskReferenceName": "t", "type": "SIMPLE"}]} for name in names])
        for name in names:
            assert (await conductor.get_workflow_def(name, 1))["name"] == name
            assert await conductor.workflow_versions(name) == [1]
        for name in ("..", ".", "a/b", "a\\b", "a\x00b"):
            with pytest.raises(UnsafeName):
                await conductor.delete_workflow_def(name, 1)
