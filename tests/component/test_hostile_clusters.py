"""ConductorClusters the CRD refuses (stored before its rules, or applied without them) and servers that are not
Conductor, through the reconcile shell and the real client: each ends Stalled with a message naming the field and
the fix, one Warning event, no exception; no answer of the server and no credential reaches status or events.

The same against the real API server and operator: tests/e2e/test_hostile_clusters_real.py.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.domain.addresses import UrlAllowlist
from conductor_operator.reconcile import Runtime

from tests.component import test_reconcile as base
from tests.component.test_reconcile import conditions
from tests.unit.test_client_hostile_servers import Server

clock = base.clock
SECRET = "ASIAEXAMPLEKEYID-wJalrXUtnFEMIK7MDENG"


def cluster_body(spec: dict, status: dict | None = None) -> dict:
    return {"metadata": {"name": "default", "namespace": "ns", "uid": "uid-cluster", "generation": 1},
            "spec": spec, "status": status or {}}


def runtime_with(server: Server | None, clock, settings=base.SETTINGS) -> tuple[Runtime, list]:
    """A Runtime whose clients are real ConductorClients answering from ``server`` (none: refuse to build one)."""
    built: list = []

    def factory(url, **kwargs):
        built.append((url, kwargs))
        if server is None:
            raise AssertionError("no client may be built")
        return ConductorClient(url, transport=httpx.MockTransport(server), **kwargs)

    kube = base.FakeKube()
    return Runtime(settings, kube, clock=clock, client_factory=factory), built


def everything(outcome) -> str:
    return repr(outcome.status) + repr([(e.type, e.reason, e.message) for e in outcome.events]) + outcome.message


async def check_stalls_once(runtime, body, reason: str, clock) -> object:
    """Reconciled three times: Stalled for ``reason`` each time, one Warning event in all, no exception."""
    posted = []
    outcome = None
    for _ in range(3):
        outcome = await runtime.reconcile_cluster(body, due_only=False)
        body = {**body, "status": outcome.status}
        posted += [(e.type, e.reason) for e in outcome.events]
        clock.advance(60)
    assert conditions(outcome)["Stalled"] == ("True", reason)
    assert conditions(outcome)["Ready"] == ("False", reason)
    assert posted == [("Warning", reason)], "a stall is said once, as a Warning"
    assert outcome.retry_after is None
    return outcome


@pytest.mark.parametrize(("url", "names"), [
    ("http://conductor:99999", "port must be from 1 to 65535"),
    ("http://admin:hunter2-password@conductor:8080", "must not hold a user or password"),
    ("http://conductor:8080/?x=", "leave out any ?query"),
])
async def test_a_url_the_crd_refuses_stalls_without_a_client(clock, url, names):
    runtime, built = runtime_with(None, clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": url}), "InvalidSpec", clock)
    message = outcome.status["conditions"][0]["message"]
    assert "spec.url" in message and names in message
    assert "hunter2" not in everything(outcome)
    assert built == []


async def test_a_ca_bundle_that_is_not_pem_stalls(clock):
    runtime, built = runtime_with(None, clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": "https://conductor", "tls": {"caBundle": "hello"}}),
                                      "InvalidSpec", clock)
    assert "spec.tls.caBundle" in outcome.status["conditions"][0]["message"]

    corrupt = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    runtime, built = runtime_with(None, clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": "https://conductor", "tls": {"caBundle": corrupt}}),
                                      "InvalidSpec", clock)
    message = outcome.status["conditions"][0]["message"]
    assert "spec.tls.caBundle" in message and "PEM" in message
    assert built == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/iam/security-credentials",
                                 "http://[fe80::1]:8080", "http://metadata.google.internal"])
async def test_metadata_addresses_are_refused_before_any_request(clock, url):
    runtime, built = runtime_with(None, clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": url}), "URLNotAllowed", clock)
    assert "CONDUCTOR_URL_ALLOW" in outcome.status["conditions"][0]["message"]
    assert built == []


async def test_an_allowlist_refuses_other_hosts(clock):
    settings = dataclasses.replace(base.SETTINGS, url_allow=UrlAllowlist.parse("*.svc.cluster.local"))
    runtime, built = runtime_with(None, clock, settings)
    outcome = await check_stalls_once(runtime, cluster_body({"url": "http://conductor.example.com"}),
                                      "URLNotAllowed", clock)
    assert "*.svc.cluster.local" in outcome.status["conditions"][0]["message"]


@pytest.mark.parametrize("answer", [
    lambda r: httpx.Response(200, text=f"<html><body>Welcome {SECRET}</body></html>",
                             headers={"content-type": "text/html"}),
    lambda r: httpx.Response(200, json={"AccessKeyId": SECRET, "Code": "Success"}),
    lambda r: httpx.Response(404, text=f"<html>Not Found {SECRET}</html>"),
])
async def test_a_server_that_is_not_conductor_is_not_conductor(clock, answer):
    server = Server(answer)
    runtime, _ = runtime_with(server, clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": "http://not-conductor:8080"}), "NotConductor",
                                      clock)
    assert "is not Conductor" in outcome.status["conditions"][0]["message"]
    assert "serverVersion" not in outcome.status and "flavor" not in outcome.status
    assert SECRET not in everything(outcome)
    assert set(server.requests) == {"GET /api/version"}

    # A WorkflowDefinition on that cluster stalls too, and nothing else is ever sent there.
    runtime.kube.clusters[("ns", "default")]["spec"] = {"url": "http://not-conductor:8080"}
    definition = await runtime.reconcile_workflow(base.workflow_body("a"), due_only=False)
    assert conditions(definition)["Stalled"][0] == "True"
    assert SECRET not in everything(definition)
    assert set(server.requests) == {"GET /api/version"}


async def test_a_cluster_that_stops_being_conductor_forgets_its_version(clock):
    state = {"conductor": True}

    def answer(request):
        if state["conductor"] and request.url.path == "/api/version":
            return httpx.Response(200, text="3.32.3")
        if state["conductor"]:
            return httpx.Response(404, json={"status": 404, "message": "No static resource api/token."})
        return httpx.Response(200, text="<html>parked domain</html>", headers={"content-type": "text/html"})

    runtime, _ = runtime_with(Server(answer), clock)
    body = cluster_body({"url": "http://conductor:8080"})
    ready = await runtime.reconcile_cluster(body, due_only=False)
    assert conditions(ready)["Ready"] == ("True", "Reachable")
    assert (ready.status["serverVersion"], ready.status["flavor"]) == ("3.32.3", "OSS")
    state["conductor"] = False
    gone = await runtime.reconcile_cluster({**body, "status": ready.status}, due_only=False)
    assert conditions(gone)["Stalled"] == ("True", "NotConductor")
    assert "serverVersion" not in gone.status
    assert [(e.type, e.reason) for e in gone.events] == [("Warning", "NotConductor")]


async def test_a_host_the_http_client_cannot_encode_stalls_instead_of_raising(clock):
    runtime, built = runtime_with(Server(lambda r: httpx.Response(200, text="3.32.3")), clock)
    outcome = await check_stalls_once(runtime, cluster_body({"url": "http://xn--zz:8080"}), "InvalidSpec", clock)
    assert "spec.url" in outcome.status["conditions"][0]["message"]
    assert "Invalid A-label" in outcome.status["conditions"][0]["message"]
