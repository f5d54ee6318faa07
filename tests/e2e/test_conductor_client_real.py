"""The Conductor client against the real Conductor OSS server of the test environment.

Every name carries a uuid suffix, so tests never collide, and each test removes what it made.
Workflows here have SIMPLE tasks that no worker polls, so their executions stay RUNNING.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from conductor_operator.conductor.client import ConductorClient, Flavor
from conductor_operator.conductor.errors import Conflict, NotFound, Rejected, UnsupportedOperation
from conductor_operator.domain import waves

pytestmark = pytest.mark.realenv


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def definition(name: str, version: int, *refs: str) -> dict:
    return {"name": name, "version": version, "schemaVersion": 2, "ownerEmail": "tests@example.com",
            "tasks": [{"name": f"{name}_{ref}", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs]}


@pytest.fixture
async def client(conductor_url) -> AsyncIterator[ConductorClient]:
    async with ConductorClient(f"{conductor_url}/api/", timeout=10) as client:
        yield client


@pytest.fixture
async def workflow(client) -> AsyncIterator[str]:
    """A workflow name with v1 and v2 registered; its executions are terminated and its defs deleted after."""
    name = unique("client_wf")
    await client.register_workflow_defs([definition(name, 1, "a"), definition(name, 2, "a", "b")])
    yield name
    running = await client.running_execution_ids(name)
    if running:
        await client.bulk_terminate(running, "test cleanup")
    for version in await client.workflow_versions(name):
        await client.delete_workflow_def(name, version)


async def test_server_version_and_flavor(client):
    assert (await client.server_version()).startswith("3.")
    assert await client.detect_flavor() is Flavor.OSS
    with pytest.raises(UnsupportedOperation, match="Orkes only"):
        await client.upgrade("any-id", name="x", version=2)


async def test_workflow_definitions_round_trip(client):
    name = unique("client_defs")
    assert await client.get_workflow_def(name) is None
    assert await client.workflow_versions(name) == []
    await client.register_workflow_defs([definition(name, 1, "a"), definition(name, 2, "a", "b")])
    assert await client.workflow_versions(name) == [1, 2]
    listing = await client.registered_versions()
    assert listing[name] == {1, 2} and name + "_other" not in listing
    assert [t["taskReferenceName"] for t in (await client.get_workflow_def(name, 2))["tasks"]] == ["a", "b"]
    assert (await client.get_workflow_def(name))["version"] == 2, "no version: the highest"
    assert await client.get_workflow_def(name, 7) is None

    await client.delete_workflow_def(name, 1)
    assert await client.get_workflow_def(name, 1) is None
    assert await client.workflow_versions(name) == [2]
    assert (await client.registered_versions())[name] == {2}
    with pytest.raises(NotFound, match="No such workflow definition"):  # a 500 on the wire
        await client.delete_workflow_def(name, 1)
    await client.delete_workflow_def(name, 2)


async def test_bulk_register_with_a_bad_item_is_rejected_with_the_servers_message(client):
    good, bad = unique("client_good"), unique("client_bad")
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs([definition(good, 1, "a"), {"name": bad, "version": 1, "tasks": []}])
    assert raised.value.status == 400
    assert raised.value.validation_errors == [f"{bad} v1: tasks: WorkflowTask list cannot be empty"]
    assert raised.value.message.startswith("Validation failed: ")
    assert await client.get_workflow_def(good) is None, "one invalid item fails the whole request"

    with pytest.raises(Rejected, match="should be unique"):
        await client.register_workflow_defs([definition(bad, 1, "a", "a")])


async def test_task_definitions_round_trip(client):
    name = unique("client_task")
    assert await client.get_task_def(name) is None
    await client.register_task_defs([{"name": name, "ownerEmail": "tests@example.com", "retryCount": 4,
                                      "timeoutSeconds": 60, "responseTimeoutSeconds": 30}])
    assert (await client.get_task_def(name))["retryCount"] == 4
    await client.register_task_defs([{"name": name, "ownerEmail": "tests@example.com", "retryCount": 1,
                                      "timeoutSeconds": 60, "responseTimeoutSeconds": 30}])
    assert (await client.get_task_def(name))["retryCount"] == 1, "POST of a list is an upsert"
    with pytest.raises(Rejected, match="TaskDef name cannot be null or empty"):
        await client.register_task_defs([{"ownerEmail": "tests@example.com"}])
    await client.delete_task_def(name)
    assert await client.get_task_def(name) is None
    with pytest.raises(NotFound):  # a 500 on the wire
        await client.delete_task_def(name)


async def test_running_counts_by_version(client, workflow):
    pinned = [await client.start_workflow(workflow, version=1, correlation_id="pinned") for _ in range(3)]
    unpinned = [await client.start_workflow(workflow, input={"n": n}) for n in range(2)]
    assert {(await client.get_execution(i))["workflowVersion"] for i in unpinned} == {2}
    # A definition given inline runs as given, without registering it.
    inline = await client.start_workflow(workflow, workflow_def=definition(workflow, 9, "a", "z"))
    assert (await client.get_execution(inline))["workflowVersion"] == 9
    assert await client.workflow_versions(workflow) == [1, 2]

    assert sorted(await client.running_execution_ids(workflow)) == sorted([*pinned, *unpinned, inline])
    assert await client.running_counts_by_version(workflow) == {1: 3, 2: 2, 9: 1}

    await client.pause(pinned[0])  # PAUSED still counts as running
    assert await client.running_counts_by_version(workflow) == {1: 3, 2: 2, 9: 1}
    await client.terminate(pinned[1], "test")
    assert await client.running_counts_by_version(workflow) == {1: 2, 2: 2, 9: 1}

    executions, failed = await client.get_executions([*pinned, "no-such-id"])
    assert {e["workflowId"]: e["status"] for e in executions} == {
        pinned[0]: "PAUSED", pinned[1]: "TERMINATED", pinned[2]: "RUNNING"}
    assert failed == {"no-such-id": "No such workflow found by id: no-such-id"}


async def test_correlated_executions_include_ended_ones_and_take_a_slash_in_the_id(client, workflow):
    correlation = "migrationplan/ns/plan/check/wave-0/gen-3"  # the slashes are why the POST form is used
    first = await client.start_workflow(workflow, version=1, correlation_id=correlation)
    await client.terminate(first, "test")
    second = await client.start_workflow(workflow, version=2, correlation_id=correlation)
    await client.start_workflow(workflow, version=2, correlation_id=correlation + "-other")
    found = await client.correlated_executions(workflow, correlation)
    assert {e["workflowId"]: e["status"] for e in found} == {first: "TERMINATED", second: "RUNNING"}
    assert all(e["startTime"] > 0 for e in found)
    assert await client.correlated_executions(workflow, "nothing-started-with-this") == []


async def test_bulk_search_gives_create_time_and_no_start_time_and_started_at_reads_either(client, workflow):
    """The start of an execution, as each answer gives it: the operator reads running executions through bulk
    search, so their age comes from createTime there (waves.started_at)."""
    first = await client.start_workflow(workflow, version=1)
    await asyncio.sleep(1.2)
    second = await client.start_workflow(workflow, version=1, correlation_id=f"{workflow}-age")
    searched = {e["workflowId"]: e for e in (await client.get_executions([first, second], include_tasks=True))[0]}
    assert all("startTime" not in e and e["createTime"] > 0 for e in searched.values()), searched
    fetched = {i: await client.get_execution(i) for i in (first, second)}
    assert all(e["startTime"] == e["createTime"] == searched[i]["createTime"] for i, e in fetched.items())
    [correlated] = await client.correlated_executions(workflow, f"{workflow}-age")
    assert correlated["startTime"] == correlated["createTime"] == fetched[second]["startTime"]
    ages = {i: waves.started_at(e) for i, e in searched.items()}
    assert ages == {i: waves.started_at(e) for i, e in fetched.items()}
    assert timedelta(seconds=1) <= ages[second] - ages[first] < timedelta(seconds=10)


async def test_lifecycle_and_bulk_answers(client, workflow):
    ids = [await client.start_workflow(workflow, version=1) for _ in range(3)]

    await client.pause(ids[0])
    assert (await client.get_execution(ids[0]))["status"] == "PAUSED"
    await client.pause(ids[0])  # pausing a paused execution is fine
    await client.resume(ids[0])
    assert (await client.get_execution(ids[0]))["status"] == "RUNNING"
    with pytest.raises(Conflict, match="is not PAUSED"):  # a 500 on the wire
        await client.resume(ids[0])
    with pytest.raises(Conflict, match="not in terminal state"):
        await client.restart(ids[0], use_latest_definitions=True)

    await client.terminate(ids[0], "test")
    await client.terminate(ids[0], "test")  # terminating a terminated execution is a no-op
    assert (await client.get_execution(ids[0]))["status"] == "TERMINATED"

    result = await client.bulk_terminate([ids[1], ids[2], "no-such-id"], "test")
    assert sorted(result.succeeded) == sorted(ids[1:])
    assert result.failed == {"no-such-id": "No such workflow found by id: no-such-id"}
    assert await client.running_counts_by_version(workflow) == {}

    await client.restart(ids[0], use_latest_definitions=True)
    restarted = await client.get_execution(ids[0])
    assert (restarted["status"], restarted["workflowVersion"]) == ("RUNNING", 2), "restarted on the latest"
    result = await client.bulk_restart([ids[0], ids[1]], use_latest_definitions=False)
    assert result.succeeded == [ids[1]]
    assert "not in terminal state" in result.failed[ids[0]]
    assert await client.running_counts_by_version(workflow) == {1: 1, 2: 1}


async def test_not_found_and_conflict(client, workflow):
    with pytest.raises(NotFound, match="No such workflow found by id"):
        await client.get_execution("no-such-id")
    with pytest.raises(NotFound, match="No such workflow defined"):
        await client.start_workflow(workflow, version=42)
    with pytest.raises(NotFound):
        await client.pause("no-such-id")

    # Completing the only task completes the execution; terminating it then is a 409.
    workflow_id = await client.start_workflow(workflow, version=1)
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        task = (await http.get(f"/api/tasks/poll/{workflow}_a", params={"workerid": "test"})).json()
        assert task["workflowInstanceId"] == workflow_id
        answer = await http.post("/api/tasks", json={"taskId": task["taskId"], "workflowInstanceId": workflow_id,
                                                     "status": "COMPLETED", "outputData": {}})
        answer.raise_for_status()
    assert (await client.get_execution(workflow_id))["status"] == "COMPLETED"
    with pytest.raises(Conflict, match="Cannot terminate a COMPLETED workflow") as raised:
        await client.terminate(workflow_id, "test")
    assert raised.value.status == 409


async def test_poll_data_after_a_manual_poll(client):
    task_type = unique("client_polled")
    assert await client.poll_data(task_type) == []
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        (await http.get(f"/api/tasks/poll/{task_type}", params={"workerid": "worker-x"})).raise_for_status()
    pollers = await client.poll_data(task_type)
    assert [(p["queueName"], p["workerId"]) for p in pollers] == [(task_type, "worker-x")]
    assert pollers[0]["lastPollTime"] > 0


async def test_event_handler_create_deactivate_list(client, workflow):
    name = unique("client_handler")
    handler = {"name": name, "event": f"conductor:{workflow}:done", "active": True,
               "actions": [{"action": "start_workflow", "start_workflow": {"name": workflow, "version": 1}}]}
    await client.create_event_handler(handler)
    try:
        with pytest.raises(Conflict, match="already exists"):  # a 500 on the wire
            await client.create_event_handler(handler)
        await client.update_event_handler({**handler, "active": False})
        listed = [h for h in await client.event_handlers() if h["name"] == name]
        assert len(listed) == 1 and listed[0]["active"] is False
        with pytest.raises(NotFound, match="not found"):  # a 500 on the wire
            await client.update_event_handler({**handler, "name": unique("client_absent")})
    finally:
        await client.delete_event_handler(name)
    assert not [h for h in await client.event_handlers() if h["name"] == name]


async def test_schedules_pause_and_resume(client, workflow):
    name = unique("client_schedule")
    schedule = {"name": name, "cronExpression": "0 0 0 1 1 ? 2099",
                "startWorkflowRequest": {"name": workflow, "version": 1, "input": {}}}
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        (await http.post("/api/scheduler/schedules", json=schedule)).raise_for_status()
        try:
            assert [s["name"] for s in await client.schedules(workflow)] == [name]
            assert name in [s["name"] for s in await client.schedules()]
            await client.pause_schedule(name, reason="draining v1")
            paused = (await client.schedules(workflow))[0]
            assert (paused["paused"], paused["pausedReason"]) == (True, "draining v1")
            await client.resume_schedule(name)
            assert (await client.schedules(workflow))[0]["paused"] is False
            with pytest.raises(NotFound, match="not found"):
                await client.pause_schedule(unique("client_absent"))
        finally:
            (await http.delete(f"/api/scheduler/schedules/{name}")).raise_for_status()
    assert await client.schedules(workflow) == []
