"""The Conductor client against the real Conductor OSS server."""

from __future__ import annotations

import uuid

import httpx
import pytest
from conductor_operator.conductor.client import ConductorClient, Flavor
from conductor_operator.conductor.errors import NotFound, Rejected

pytestmark = pytest.mark.realenv


def definition(name: str, version: int, *refs: str) -> dict:
    return {"name": name, "version": version, "tasks": [
        {"name": f"{name}_{r}", "taskReferenceName": r, "type": "SIMPLE"} for r in refs]}


async def test_server_facts(conductor_url):
    async with ConductorClient(conductor_url) as client:
        assert await client.detect_flavor() is Flavor.OSS
        assert (await client.server_version()).startswith("3.")


async def test_definitions_round_trip_and_errors(conductor_url):
    name = f"client_{uuid.uuid4().hex[:8]}"
    async with ConductorClient(conductor_url) as client:
        await client.register_workflow_defs([definition(name, 1, "a"), definition(name, 2, "a", "b")])
        assert [t["taskReferenceName"] for t in (await client.get_workflow_def(name, 2))["tasks"]] == ["a", "b"]
        assert await client.workflow_versions(name) == [1, 2]
        with pytest.raises(Rejected, match="tasks: WorkflowTask list cannot be empty"):
            await client.register_workflow_defs([{"name": name, "version": 3, "tasks": []}])
        await client.delete_workflow_def(name, 1)
        assert await client.get_workflow_def(name, 1) is None
        with pytest.raises(NotFound):
            await client.delete_workflow_def(name, 1)
        await client.register_task_defs([{"name": f"{name}_a", "retryCount": 4}])
        assert (await client.get_task_def(f"{name}_a"))["retryCount"] == 4
        await client.delete_task_def(f"{name}_a")
        with pytest.raises(NotFound):
            await client.delete_task_def(f"{name}_a")


async def test_running_counts_per_version_and_inline_starts(conductor_url):
    name = f"counts_{uuid.uuid4().hex[:8]}"
    async with ConductorClient(conductor_url) as client:
        await client.register_workflow_defs([definition(name, 1, "a"), definition(name, 2, "a")])
        ids = [await client.start_workflow(name, version=1) for _ in range(2)]
        ids.append(await client.start_workflow(name))  # unpinned: the highest version
        # An unregistered definition runs as given: the way to try a target before registering it.
        inline = await client.start_workflow(name, workflow_def=definition(name, 9, "a", "z"))
        assert (await client.get_execution(inline))["workflowVersion"] == 9
        assert await client.running_counts_by_version(name) == {1: 2, 2: 1, 9: 1}
        await client.terminate(ids[0], "test")
        assert await client.running_counts_by_version(name) == {1: 1, 2: 1, 9: 1}


async def test_poll_data_shows_workers(conductor_url):
    task_type = f"polled_{uuid.uuid4().hex[:8]}"
    httpx.get(f"{conductor_url}/api/tasks/poll/{task_type}", params={"workerid": "w-1"})
    async with ConductorClient(conductor_url) as client:
        pollers = await client.poll_data(task_type)
    assert [p["workerId"] for p in pollers] == ["w-1"]
    assert pollers[0]["lastPollTime"] > 0
