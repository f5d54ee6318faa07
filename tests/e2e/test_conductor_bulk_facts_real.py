"""What Conductor's bulk ``PUT /api/metadata/workflow`` answers, checked on the real server: the facts a batcher of
registrations relies on (docs/conductor-facts.md, "Bulk registration").

- An invalid item fails the whole list (400) and nothing of it is stored, the valid items included; every invalid
  item is named by its position, which the client gives as ``Rejected.items``.
- A body the server cannot read is a 500 naming no item; the client raises Rejected (not Unavailable: sending it
  again cannot help).
- Some dubious definitions are taken as they are (an unknown task type, a sub-workflow that does not exist).
- A list of 2,000 is taken in one request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import Rejected

pytestmark = pytest.mark.realenv


def definition(name: str, *refs: str, version: int = 1) -> dict:
    return {"name": name, "version": version, "schemaVersion": 2, "ownerEmail": "tests@example.com",
            "tasks": [{"name": f"{name}_{ref}", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs or ("a",)]}


class Names:
    """Unique workflow names for one test; every version of each is deleted after it."""

    def __init__(self, client: ConductorClient):
        self.client = client
        self.made: list[str] = []

    def __call__(self, prefix: str, count: int = 1) -> list[str]:
        tag = uuid.uuid4().hex[:10]
        names = [f"bulkfacts_{prefix}_{tag}_{i}" for i in range(count)]
        self.made += names
        return names

    async def registered(self, name: str) -> bool:
        return await self.client.get_workflow_def(name, 1) is not None

    async def clean(self) -> None:
        limit = asyncio.Semaphore(8)

        async def remove(name: str) -> None:
            async with limit:
                for version in await self.client.workflow_versions(name):
                    await self.client.delete_workflow_def(name, version)

        await asyncio.gather(*(remove(name) for name in self.made))


@pytest.fixture
async def client(conductor_url) -> AsyncIterator[ConductorClient]:
    async with ConductorClient(f"{conductor_url}/api/", timeout=60) as client:
        yield client


@pytest.fixture
async def names(client) -> AsyncIterator[Names]:
    made = Names(client)
    yield made
    await made.clean()


def without_task_name(name: str) -> dict:
    bad = definition(name)
    del bad["tasks"][0]["name"]
    return bad


INVALID = {  # what makes the item invalid -> (the item, the message Conductor gives)
    "no tasks": (lambda n: {**definition(n), "tasks": []}, "WorkflowTask list cannot be empty"),
    "a task without a name": (without_task_name, "WorkflowTask name cannot be empty or null"),
    "a duplicate taskReferenceName": (lambda n: definition(n, "a", "a"), "should be unique across tasks"),
    "a sub-workflow without subWorkflowParam": (
        lambda n: {**definition(n), "tasks": [{"name": "s", "taskReferenceName": "s", "type": "SUB_WORKFLOW"}]},
        "subWorkflowParam field is required"),
    "an input naming an unknown task": (
        lambda n: {**definition(n), "tasks": [{"name": f"{n}_a", "taskReferenceName": "a", "type": "SIMPLE",
                                               "inputParameters": {"x": "${nosuch.output.y}"}}]},
        "taskReferenceName: nosuch for given task"),
    "schemaVersion 1": (lambda n: {**definition(n), "schemaVersion": 1}, "schemaVersion: 2 is only supported"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
async def test_one_invalid_item_fails_the_whole_list_and_is_named(client, names, case):
    first, bad, last = names(case.replace(" ", "")[:12], 3)
    make, message = INVALID[case]
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs([definition(first), make(bad), definition(last)])
    assert raised.value.status == 400
    assert raised.value.items == (1,), "the invalid item's position in the list"
    assert any(e.startswith(f"{bad} v1") and message in e for e in raised.value.validation_errors), \
        raised.value.validation_errors
    assert [await names.registered(n) for n in (first, bad, last)] == [False, False, False], \
        "nothing of the list is stored, its valid items included"

    await client.register_workflow_defs([definition(first), definition(last)])  # the others, sent again
    assert [await names.registered(n) for n in (first, last)] == [True, True]


async def test_every_invalid_item_is_named_not_only_the_first(client, names):
    listed = names("several", 6)
    defs = [definition(n) for n in listed]
    defs[1]["tasks"] = []
    defs[4] = definition(listed[4], "a", "a")
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs(defs)
    assert raised.value.items == (1, 4)


async def test_a_body_the_server_cannot_read_is_a_500_naming_no_item(conductor_url, client, names):
    first, bad = names("unreadable", 2)
    defs = [definition(first), {**definition(bad), "timeoutPolicy": "NOT_A_POLICY"}]
    async with httpx.AsyncClient(base_url=f"{conductor_url}/api", timeout=60) as raw:
        answer = await raw.put("/metadata/workflow", json=defs)
    assert answer.status_code == 500
    assert answer.json()["retryable"] is False
    assert answer.json()["message"].startswith("JSON parse error")
    assert "validationErrors" not in answer.json()

    with pytest.raises(Rejected, match="JSON parse error") as raised:
        await client.register_workflow_defs(defs)
    assert (raised.value.status, raised.value.items) == (500, ())
    assert not await names.registered(first)


async def test_dubious_definitions_are_taken_as_they_are(client, names):
    unknown_type, missing_sub, twice = names("dubious", 3)
    defs = [{**definition(unknown_type), "tasks": [{"name": "x", "taskReferenceName": "x", "type": "NO_SUCH_TYPE"}]},
            {**definition(missing_sub), "tasks": [{"name": "s", "taskReferenceName": "s", "type": "SUB_WORKFLOW",
                                                   "subWorkflowParam": {"name": f"{missing_sub}_none", "version": 1}}]},
            definition(twice, "a"), definition(twice, "a", "b")]
    await client.register_workflow_defs(defs)
    assert all([await names.registered(n) for n in (unknown_type, missing_sub, twice)])
    stored = await client.get_workflow_def(twice, 1)
    assert [t["taskReferenceName"] for t in stored["tasks"]] == ["a", "b"], "the same name+version twice: the last"


async def test_a_list_of_2000_is_taken_in_one_request(conductor_url, names):
    listed = names("many", 2000)
    async with httpx.AsyncClient(base_url=f"{conductor_url}/api", timeout=120) as raw:
        answer = await raw.put("/metadata/workflow", json=[definition(n) for n in listed])
    assert answer.status_code == 200
    assert answer.json() == {"bulkErrorResults": {}, "bulkSuccessfulResults": listed}
