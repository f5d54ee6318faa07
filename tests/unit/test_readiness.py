"""Readiness: ready once kopf has listed every served kind in every watched namespace, or while standing by."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import kopf
import pytest
from conductor_operator import readiness
from conductor_operator.readiness import Readiness
from kopf._cogs.clients import watching

from testenv.servers import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Paused:
    """kopf's ToggleSet, as far as readiness reads it."""

    def __init__(self, on: bool = False) -> None:
        self.on = on

    def is_on(self) -> bool:
        return self.on


def resource(plural: str, group: str = "conductor-operator.io") -> kopf.Resource:
    return kopf.Resource(group, "v1", plural, namespaced=True)


@pytest.fixture
def kopf_streams(monkeypatch):
    """kopf's watch function replaced by one the test drives: each stream yields what its queue is given."""
    queues: dict[tuple[str, str | None], asyncio.Queue] = {}

    async def infinite_watch(*, settings, resource, namespace, operator_paused=None):
        queue = queues.setdefault((resource.plural, namespace), asyncio.Queue())
        while True:
            yield await queue.get()

    monkeypatch.setattr(watching, "infinite_watch", infinite_watch)
    return queues


class Streams:
    """Runs wrapped streams as kopf's watchers would, consuming every event."""

    def __init__(self, queues) -> None:
        self.queues = queues
        self.tasks: list[asyncio.Task] = []

    async def open(self, plural: str, namespace: str | None = None, group: str = "conductor-operator.io",
                   paused: Paused | None = None) -> asyncio.Task:
        async def consume():
            async for _ in watching.infinite_watch(settings=None, resource=resource(plural, group),
                                                   namespace=namespace, operator_paused=paused):
                pass

        task = asyncio.create_task(consume())
        self.tasks.append(task)
        await asyncio.sleep(0.01)
        return task

    async def send(self, plural: str, event, namespace: str | None = None) -> None:
        await self.queues[(plural, namespace)].put(event)
        await asyncio.sleep(0.01)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def streams(kopf_streams):
    driver = Streams(kopf_streams)
    yield driver
    await driver.close()


async def test_not_ready_until_every_served_kind_is_listed(streams):
    state = Readiness()
    readiness.install(state)
    assert state.state() == (False, {"ready": False, "state": "listing", "waitingFor": [
        f"{plural} in all namespaces" for plural in readiness.SERVED]})

    for plural in readiness.SERVED:
        await streams.open(plural)
    await streams.open("customresourcedefinitions", group="apiextensions.k8s.io")
    for plural in readiness.SERVED[:3]:
        await streams.send(plural, {"type": None, "object": {"metadata": {"name": "x"}}})
        await streams.send(plural, watching.Bookmark.LISTED)
    await streams.send("customresourcedefinitions", watching.Bookmark.LISTED)
    assert state.state() == (False, {"ready": False, "state": "listing",
                                     "waitingFor": ["migrationplans in all namespaces"]})

    await streams.send("migrationplans", watching.Bookmark.LISTED)  # an empty listing counts as listed
    assert state.state() == (True, {"ready": True, "state": "watching"})


async def test_watched_namespaces_are_each_listed(streams):
    state = Readiness(namespaces=("team-a", "team-b"))
    readiness.install(state)
    for plural in readiness.SERVED:
        await streams.open(plural, "team-a")
        await streams.send(plural, watching.Bookmark.LISTED, "team-a")
    ready, answer = state.state()
    assert not ready and answer["waitingFor"] == [f"{plural} in team-b" for plural in readiness.SERVED]


async def test_a_stream_that_ends_is_no_longer_listed(streams):
    state = Readiness()
    readiness.install(state)
    tasks = {plural: await streams.open(plural) for plural in readiness.SERVED}
    for plural in readiness.SERVED:
        await streams.send(plural, watching.Bookmark.LISTED)
    assert state.state()[0]
    tasks["taskdefinitions"].cancel()  # kopf stops a watcher when the CRD goes away
    await asyncio.sleep(0.01)
    assert state.state()[1]["waitingFor"] == ["taskdefinitions in all namespaces"]


async def test_a_replica_paused_by_peering_is_ready_only_after_kopf_read_the_peers(streams):
    clock, paused = Clock(), Paused(on=True)  # kopf starts paused when peering is mandatory
    state = Readiness(clock=clock)
    readiness.install(state)
    for plural in readiness.SERVED:
        await streams.open(plural, paused=paused)
    await streams.open("clusterkopfpeerings", group="kopf.dev", paused=paused)
    assert not state.state()[0], "paused before kopf has read the peering object: not known to be a standby"

    await streams.send("clusterkopfpeerings", watching.Bookmark.LISTED)
    assert not state.state()[0], "kopf may be about to resume this replica"
    clock.now += readiness.STANDBY_SETTLE
    assert state.state() == (True, {"ready": True, "state": "standing by for a peer (kopf peering)"})

    paused.on = False  # the peer went away: this replica works, and is ready once it has listed
    assert not state.state()[0]
    for plural in readiness.SERVED:
        await streams.send(plural, watching.Bookmark.LISTED)
    assert state.state() == (True, {"ready": True, "state": "watching"})


def test_installing_twice_wraps_kopf_once(kopf_streams):
    original = watching.infinite_watch
    readiness.install(Readiness())
    readiness.install(Readiness())
    assert watching.infinite_watch.__wrapped__ is original


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("off", None), (" OFF ", None),
    ("http://0.0.0.0:8081/readyz", "http://0.0.0.0:8081/readyz"),
])
def test_endpoint_from_env(monkeypatch, value, expected):
    monkeypatch.delenv("READINESS_ENDPOINT", raising=False)
    if value is not None:
        monkeypatch.setenv("READINESS_ENDPOINT", value)
    assert readiness.endpoint_from_env() == expected


@pytest.mark.parametrize("value", ["https://0.0.0.0:8081/readyz", "http://0.0.0.0/readyz", "8081"])
def test_a_bad_endpoint_stops_the_operator_with_its_name(value):
    with pytest.raises(SystemExit, match="READINESS_ENDPOINT"):
        readiness.endpoint_from_env(value)


async def test_the_endpoint_answers_503_until_ready_then_200(streams):
    state = Readiness()
    readiness.install(state)
    port = free_port()
    runner = await readiness.serve(state, f"http://127.0.0.1:{port}/readyz")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 503
                assert (await response.json())["waitingFor"]
            for plural in readiness.SERVED:
                await streams.open(plural)
                await streams.send(plural, watching.Bookmark.LISTED)
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert (response.status, await response.json()) == (200, {"ready": True, "state": "watching"})
    finally:
        await runner.cleanup()
