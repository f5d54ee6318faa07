"""The Conductor client against httpx.MockTransport: URL handling, error mapping, bulk reads, Orkes auth.

Orkes-only behaviour (token auth, the upgrade endpoint) is tested against a fake that follows Orkes'
documented API: POST /api/token {keyId, keySecret} -> {token}, sent back as X-Authorization.
"""

from __future__ import annotations

import json

import httpx
import pytest
from conductor_operator.conductor.client import BULK_LIMIT, ConductorClient, Flavor
from conductor_operator.conductor.errors import (
    Conflict,
    NotFound,
    Rejected,
    Unauthorized,
    Unavailable,
    UnsupportedOperation,
)


def client_with(handler, **kwargs) -> ConductorClient:
    return ConductorClient("http://conductor:8080/api/", transport=httpx.MockTransport(handler), **kwargs)


async def test_base_url_with_or_without_api_suffix():
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, text="3.32.3")

    for url in ("http://c:8080", "http://c:8080/", "http://c:8080/api", "http://c:8080/api/"):
        async with ConductorClient(url, transport=httpx.MockTransport(handler)) as client:
            assert await client.server_version() == "3.32.3"
    assert set(seen) == {"http://c:8080/api/version"}


@pytest.mark.parametrize(("status", "error"), [
    (400, Rejected), (404, NotFound), (409, Conflict), (403, Unauthorized), (500, Unavailable), (503, Unavailable),
])
async def test_status_codes_map_to_the_error_tree(status, error):
    body = {"status": status, "message": "nope", "validationErrors": [
        {"path": "updateWorkflowDef.arg0[0].tasks[1]", "message": "subWorkflowParam field is required"}]}
    client = client_with(lambda request: httpx.Response(status, json=body))
    with pytest.raises(error) as raised:
        await client.register_workflow_defs([{"name": "x"}])
    assert raised.value.status == status
    assert "tasks[1]: subWorkflowParam field is required" in raised.value.message
    assert "updateWorkflowDef" not in raised.value.message


async def test_connection_failures_and_timeouts_are_unavailable():
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(Unavailable, match="ConnectError"):
        await client_with(refuse).server_version()

    def slow(request):
        raise httpx.ReadTimeout("too slow")

    with pytest.raises(Unavailable, match="timed out"):
        await client_with(slow).server_version()


async def test_bulk_registration_errors_are_read_from_a_200_answer():
    answer = {"bulkErrorResults": {"orders": "version 3 is invalid"}, "bulkSuccessfulResults": []}
    client = client_with(lambda request: httpx.Response(200, json=answer))
    with pytest.raises(Rejected, match="orders: version 3 is invalid"):
        await client.register_workflow_defs([{"name": "orders", "version": 3}])


async def test_missing_definitions_read_as_none():
    client = client_with(lambda request: httpx.Response(404, json={"message": "no such workflow"}))
    assert await client.get_workflow_def("x", 1) is None
    assert await client.get_task_def("x") is None
    with pytest.raises(NotFound):
        await client.delete_workflow_def("x", 1)


async def test_running_counts_fetch_in_batches_and_group_by_version():
    ids = [f"id-{i}" for i in range(BULK_LIMIT + 5)]
    batches = []

    def handler(request):
        if request.url.path == "/api/workflow/running/orders":
            return httpx.Response(200, json=ids)
        batch = json.loads(request.content)
        batches.append(len(batch))
        results = [{"workflowId": i, "workflowVersion": 1 if int(i[3:]) % 3 else 2,
                    "status": "COMPLETED" if i == "id-1" else "RUNNING"} for i in batch]
        return httpx.Response(200, json={"bulkSuccessfulResults": results, "bulkErrorResults": {}})

    counts = await client_with(handler).running_counts_by_version("orders")
    assert batches == [BULK_LIMIT, 5]
    assert counts == {1: 669, 2: 335}  # 1005 ids, a third on v2, id-1 finished meanwhile


def orkes(tokens: list[str], *, accept=lambda token: True):
    """A fake Orkes server: hands out tokens in order, checks X-Authorization on every other call."""
    calls = []

    def handler(request):
        calls.append((request.url.path, request.headers.get("X-Authorization")))
        if request.url.path == "/api/token":
            body = json.loads(request.content)
            if body["keySecret"] != "s3cr3t":
                return httpx.Response(401, json={"message": "INVALID_TOKEN"})
            return httpx.Response(200, json={"token": tokens.pop(0)})
        if not accept(request.headers.get("X-Authorization")):
            return httpx.Response(401, json={"message": "EXPIRED_TOKEN"})
        return httpx.Response(200, text="orkes-1.0")

    return handler, calls


async def test_orkes_token_is_fetched_sent_and_refreshed_after_45_minutes():
    now = [0.0]
    handler, calls = orkes(["t1", "t2"])
    client = client_with(handler, key_id="id", key_secret="s3cr3t", clock=lambda: now[0])
    await client.server_version()
    await client.server_version()
    now[0] = 46 * 60
    await client.server_version()
    assert calls == [("/api/token", None), ("/api/version", "t1"), ("/api/version", "t1"),
                     ("/api/token", None), ("/api/version", "t2")]


async def test_orkes_token_is_refreshed_once_on_401_then_unauthorized():
    handler, calls = orkes(["old", "new"], accept=lambda token: token == "new")
    client = client_with(handler, key_id="id", key_secret="s3cr3t")
    assert await client.server_version() == "orkes-1.0"
    assert [c[1] for c in calls if c[0] == "/api/version"] == ["old", "new"]

    handler, calls = orkes(["a", "b", "c"], accept=lambda token: False)
    with pytest.raises(Unauthorized):
        await client_with(handler, key_id="id", key_secret="s3cr3t").server_version()
    assert len([c for c in calls if c[0] == "/api/token"]) == 2, "one refresh, no loop"


async def test_a_bad_key_is_unauthorized_and_the_secret_never_shows():
    handler, _ = orkes(["t"])
    client = client_with(handler, key_id="id", key_secret="wrong-secret")
    with pytest.raises(Unauthorized) as raised:
        await client.server_version()
    assert "wrong-secret" not in str(raised.value) and "wrong-secret" not in repr(client)


async def test_flavor_detection_and_upgrade_refused_on_oss():
    oss = client_with(lambda request: httpx.Response(404, json={"message": "No static resource api/token."}))
    assert await oss.detect_flavor() is Flavor.OSS
    with pytest.raises(UnsupportedOperation, match="Orkes only"):
        await oss.upgrade("wf-1", name="orders", version=2)

    upgraded = []

    def orkes_server(request):
        if request.url.path == "/api/token":
            return httpx.Response(401, json={"message": "INVALID_TOKEN"})
        upgraded.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200)

    orkes_client = client_with(orkes_server)
    assert await orkes_client.detect_flavor() is Flavor.ORKES
    await orkes_client.upgrade("wf-1", name="orders", version=2, task_output={"a": {"x": 1}})
    assert upgraded == [("/api/workflow/wf-1/upgrade", {"name": "orders", "version": 2, "taskOutput": {"a": {"x": 1}},
                                                          "workflowInput": {}})]
