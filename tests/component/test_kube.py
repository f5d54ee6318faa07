"""kube.Kube against a fake Kubernetes API server over HTTP, through kopf's API client and credential vault as
the operator runs it: what each read decodes, which failures become Missing or KubeError (and how fast), and how
a ledger's ConfigMap is written.

The same reads and writes against the real kube-apiserver: tests/e2e/test_ledger_real.py.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import kopf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain import definitions as defs
from conductor_operator.kube import SECRET_CACHE_SECONDS, Kube, KubeError, Missing
from conductor_operator.reconcile.moves import Ledger, LedgerUnavailable
from kopf._cogs.clients.auth import vault_var
from kopf._cogs.structs.credentials import Vault

CONFIG_MAPS = "/api/v1/namespaces/team/configmaps"
PLANS = "/apis/conductor-operator.io/v1alpha1/namespaces/team/migrationplans"
OWNER = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "MigrationPlan", "name": "p", "uid": "uid-1"}


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message,
            "code": code}


class FakeApiServer:
    """Objects kept as the JSON text the server answers, by path; a POST creates one, a PATCH merges its data.
    ``refusals`` answers a path with a status instead. Every request is recorded."""

    def __init__(self):
        self.objects: dict[str, str] = {}
        self.refusals: dict[str, tuple[int, dict]] = {}
        self.requests: list[tuple[str, str, str, dict | None]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, request.headers.get("Content-Type", ""), body))
        path = request.path
        if path in self.refusals:
            code, answer = self.refusals[path]
            return web.json_response(answer, status=code)
        if request.method == "POST":
            path = f"{path}/{body['metadata']['name']}"
            self.objects[path] = json.dumps(body)
            return web.json_response(body, status=201)
        if path not in self.objects:
            return web.json_response(status(404, "NotFound", f"{path.rsplit('/', 1)[-1]} not found"), status=404)
        if request.method == "PATCH":
            current = json.loads(self.objects[path])
            current["data"] = {**current.get("data", {}), **body["data"]}
            self.objects[path] = json.dumps(current)
        return web.Response(text=self.objects[path], content_type="application/json")

    def put(self, path: str, body: dict) -> None:
        self.objects[path] = json.dumps(body)


@pytest.fixture
async def api():
    fake = FakeApiServer()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", fake.handle)
    server = TestServer(app)
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
async def logged_in():
    """Sets kopf's vault to a login to a URL, as kopf sets it for every handler; answers the settings for Kube."""
    vaults = []

    def log_in(url: str) -> kopf.OperatorSettings:
        vaults.append(Vault({"fake": kopf.ConnectionInfo(server=url)}))
        vault_var.set(vaults[-1])
        return kopf.OperatorSettings()

    yield log_in
    for vault in vaults:
        await vault.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_operators_own_reads_cut_what_nests_too_deep(api, logged_in):
    deep = ('{"kind":"MigrationPlan","metadata":{"name":"p"},"spec":{"workflowName":"w","gates":{"workflows":'
            '[{"name":"c","input":' + '{"a":' * 3000 + "1" + "}" * 3000 + "}]}}}")
    api.objects[PLANS] = '{"kind":"MigrationPlanList","items":[' + deep + "]}"
    api.objects["/apis/conductor-operator.io/v1alpha1/namespaces/team/workflowdefinitions/w"] = deep
    kube = Kube(logged_in(api.url))

    (plan,) = await kube.migration_plans("team")
    assert plan["metadata"] == {"name": "p"}
    assert list(plan["spec"]) == [defs.TOO_DEEP_KEY]
    assert plan["spec"][defs.TOO_DEEP_KEY].startswith("spec.gates.workflows[0].input.a.a")
    assert list((await kube.workflow_definition("team", "w"))["spec"]) == [defs.TOO_DEEP_KEY]


async def test_reads_of_objects_and_lists(api, logged_in):
    api.put("/apis/conductor-operator.io/v1alpha1/namespaces/team/conductorclusters/default",
            {"metadata": {"name": "default"}, "spec": {"url": "http://conductor"}})
    api.put(PLANS, {"items": [{"metadata": {"name": "p"}}]})
    api.put("/apis/conductor-operator.io/v1alpha1/migrationplans", {"items": [{"metadata": {"name": "q"}}]})
    api.put(f"{CONFIG_MAPS}/settings", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    kube = Kube(logged_in(api.url))

    assert (await kube.conductor_cluster("team", "default"))["spec"] == {"url": "http://conductor"}
    assert await kube.watched_migration_plans(("team",)) == [{"metadata": {"name": "p"}}]
    assert await kube.watched_migration_plans(()) == [{"metadata": {"name": "q"}}]
    assert await kube.config_map_value("team", "settings", "a") == "1"
    assert await kube.config_map_data("team", "settings") == {"a": "1"}
    with pytest.raises(Missing, match="ConfigMap team/settings has no key 'b'"):
        await kube.config_map_value("team", "settings", "b")


async def test_a_404_is_missing_and_a_name_no_object_can_have_asks_nothing(api, logged_in):
    kube = Kube(logged_in(api.url))
    with pytest.raises(Missing, match="^WorkflowDefinition team/gone not found$"):
        await kube.workflow_definition("team", "gone")
    with pytest.raises(Missing, match="^Secret team/gone not found$"):
        await kube.secret_value("team", "gone", "key")
    assert await kube.config_map_data("team", "gone") == {}
    asked = len(api.requests)
    for name in ("", "..", "a/b", "Upper"):  # "" would be the path of the list
        with pytest.raises(Missing):
            await kube.config_map_value("team", name, "key")
        with pytest.raises(Missing):
            await kube.conductor_cluster("team", name)
    assert len(api.requests) == asked


async def test_a_refusal_is_a_kube_error_at_once_with_the_api_servers_reason(api, logged_in, caplog):
    forbidden = 'configmaps "settings" is forbidden: User "operator" cannot get resource "configmaps"'
    api.refusals[f"{CONFIG_MAPS}/settings"] = (403, status(403, "Forbidden", forbidden))
    api.refusals[f"{CONFIG_MAPS}/broken"] = (500, status(500, "InternalError", "etcd is down"))
    kube = Kube(logged_in(api.url))  # kopf's own default would retry for about a minute
    caplog.set_level(logging.DEBUG, logger="conductor_operator.kube")

    started = time.monotonic()
    with pytest.raises(KubeError) as refused:
        await kube.config_map_data("team", "settings")
    assert (refused.value.status, refused.value.reason) == (403, f"Forbidden: {forbidden}")
    with pytest.raises(KubeError) as failed:
        await kube.config_map_data("team", "broken")
    assert (failed.value.status, failed.value.reason) == (500, "Internal Server Error: etcd is down")
    assert time.monotonic() - started < 2
    assert len(api.requests) == 2, "asked once each, never again"
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [], \
        "the caller reports the refusal (a reconcile: in the status); kopf's own ERROR line is only DEBUG"
    assert any("escalating" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


async def test_an_unreachable_api_server_is_a_kube_error_without_a_status(logged_in, unused_tcp_port):
    kube = Kube(logged_in(f"http://127.0.0.1:{unused_tcp_port}"))
    started = time.monotonic()
    with pytest.raises(KubeError) as failed:
        await kube.secret_value("team", "orkes", "keyId")
    assert failed.value.status is None
    assert failed.value.reason.startswith("cannot reach the Kubernetes API server: Cannot connect to host 127.0.0.1")
    assert time.monotonic() - started < 2


async def test_merging_config_map_data_creates_it_owned_by_the_plan_then_patches_it(api, logged_in):
    kube = Kube(logged_in(api.url))
    await kube.merge_config_map_data("team", "p-ledger", {"a": "1"}, owner={**OWNER, "extra": "ignored"})
    await kube.merge_config_map_data("team", "p-ledger", {"b": "2"}, owner=OWNER)

    assert [(method, path) for method, path, _, _ in api.requests] == [
        ("PATCH", f"{CONFIG_MAPS}/p-ledger"), ("POST", CONFIG_MAPS), ("PATCH", f"{CONFIG_MAPS}/p-ledger")]
    created = api.requests[1][3]
    assert created["metadata"] == {"name": "p-ledger", "ownerReferences": [OWNER]}
    assert created["data"] == {"a": "1"}
    assert {content_type for method, _, content_type, _ in api.requests if method == "PATCH"} == {
        "application/merge-patch+json"}
    assert await kube.config_map_data("team", "p-ledger") == {"a": "1", "b": "2"}


async def test_merging_into_a_namespace_that_is_gone_is_a_kube_error_not_missing(api, logged_in):
    api.refusals[CONFIG_MAPS] = (404, status(404, "NotFound", 'namespaces "team" not found'))
    kube = Kube(logged_in(api.url))
    with pytest.raises(KubeError) as failed:
        await kube.merge_config_map_data("team", "p-ledger", {"a": "1"}, owner=OWNER)
    assert (failed.value.status, failed.value.reason) == (404, 'Not Found: namespaces "team" not found')


async def test_a_secret_is_read_again_only_after_the_cache_seconds(api, logged_in):
    secret = "/api/v1/namespaces/team/secrets/orkes"

    def put_secret(key_id: str) -> None:
        api.put(secret, {"metadata": {"name": "orkes"},
                         "data": {"keyId": base64.b64encode(key_id.encode()).decode(), "keySecret": "c2VjcmV0"}})

    put_secret("old")
    clock = Clock()
    kube = Kube(logged_in(api.url), clock=clock)
    assert await kube.secret_value("team", "orkes", "keyId") == "old"
    assert await kube.secret_value("team", "orkes", "keySecret") == "secret"
    put_secret("rotated")
    clock.now += SECRET_CACHE_SECONDS - 0.1
    assert await kube.secret_value("team", "orkes", "keyId") == "old"
    clock.now += 0.1
    assert await kube.secret_value("team", "orkes", "keyId") == "rotated"
    assert [path for _, path, _, _ in api.requests] == [secret, secret]
    with pytest.raises(Missing, match="Secret team/orkes has no key 'other'"):
        await kube.secret_value("team", "orkes", "other")


async def test_the_indexes_answer_without_the_api(api, logged_in):
    plans = {"team": [{"metadata": {"name": "p"}}], "other": [{"metadata": {"name": "q"}}]}
    clusters = {("team", "default"): [{"metadata": {"name": "default"}}]}
    kube = Kube(logged_in(api.url), plan_index=plans, cluster_index=clusters)
    assert await kube.migration_plans("team") == [{"metadata": {"name": "p"}}]
    assert len(await kube.watched_migration_plans(())) == 2
    assert (await kube.conductor_cluster("team", "default"))["metadata"]["name"] == "default"
    with pytest.raises(Missing, match="ConductorCluster team/nope not found"):
        await kube.conductor_cluster("team", "nope")
    assert api.requests == []


async def test_a_ledger_the_api_server_refuses_or_that_cannot_be_reached_is_unavailable_saying_why(api, logged_in,
                                                                                                  unused_tcp_port):
    plan = MigrationPlan.from_body({
        "metadata": {"name": "p", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"workflowName": "orders", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"parallel": {}}}})
    forbidden = 'configmaps "p-ledger" is forbidden: User "operator" cannot get resource "configmaps"'
    api.refusals[f"{CONFIG_MAPS}/p-ledger"] = (403, status(403, "Forbidden", forbidden))
    with pytest.raises(LedgerUnavailable) as refused:
        await Ledger(Kube(logged_in(api.url)), plan).load()
    assert str(refused.value) == f"cannot read ConfigMap p-ledger: Forbidden: {forbidden}"

    with pytest.raises(LedgerUnavailable, match="cannot write ConfigMap p-ledger: cannot reach the Kubernetes API"):
        await Ledger(Kube(logged_in(f"http://127.0.0.1:{unused_tcp_port}")), plan).record_triggers({"a": "Pausing"})
