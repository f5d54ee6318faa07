"""Registrations gathered into bulk requests (reconcile/batching.py)."""

from __future__ import annotations

import asyncio

import pytest
from conductor_operator.conductor.errors import Rejected, Unavailable
from conductor_operator.reconcile.batching import Batcher


class Server:
    """Takes lists; refuses a whole list holding a definition named in ``bad``, as Conductor's bulk PUT does, naming
    the positions of the items at fault unless ``anonymous``."""

    def __init__(self, bad=(), down=False, anonymous=False):
        self.bad, self.down, self.anonymous = set(bad), down, anonymous
        self.requests: list[list[str]] = []
        self.registered: set[str] = set()

    async def send(self, items):
        self.requests.append([i["name"] for i in items])
        await asyncio.sleep(0)
        if self.down:
            raise Unavailable(None, "connection refused")
        if refused := [i["name"] for i in items if i["name"] in self.bad]:
            positions = () if self.anonymous else [n for n, i in enumerate(items) if i["name"] in self.bad]
            raise Rejected(400, f"invalid: {', '.join(refused)}", items=positions)
        self.registered |= {i["name"] for i in items}


async def submit_all(batcher, names):
    return await asyncio.gather(*(batcher.submit({"name": n}) for n in names), return_exceptions=True)


async def test_definitions_that_arrive_together_go_in_one_request():
    server = Server()
    results = await submit_all(Batcher(server.send), [f"w{i}" for i in range(40)])
    assert results == [None] * 40
    assert len(server.requests) == 1 and len(server.requests[0]) == 40


async def test_a_batch_is_at_most_the_limit_and_what_comes_while_one_is_sent_waits_for_the_next():
    server = Server()
    batcher = Batcher(server.send, limit=16)
    await submit_all(batcher, [f"w{i}" for i in range(40)])
    assert [len(r) for r in server.requests] == [16, 16, 8]
    assert len(server.registered) == 40


async def test_bad_definitions_the_server_names_fail_alone_each_with_its_own_answer():
    server = Server(bad={"w5", "w9"})
    names = [f"w{i}" for i in range(32)]
    results = await submit_all(Batcher(server.send), names)
    assert isinstance(results[5], Rejected) and results[5].message == "invalid: w5"
    assert isinstance(results[9], Rejected) and results[9].message == "invalid: w9"
    assert [r for i, r in enumerate(results) if i not in (5, 9)] == [None] * 30
    assert server.registered == set(names) - {"w5", "w9"}
    assert server.requests[1:] == [["w5"], ["w9"], [n for n in names if n not in ("w5", "w9")]]


async def test_when_the_server_names_no_item_a_refused_batch_is_halved_down_to_the_bad_one():
    server = Server(bad={"w5"}, anonymous=True)
    names = [f"w{i}" for i in range(32)]
    results = await submit_all(Batcher(server.send), names)
    assert isinstance(results[5], Rejected) and "w5" in results[5].message
    assert [r for i, r in enumerate(results) if i != 5] == [None] * 31
    assert server.registered == set(names) - {"w5"}
    assert len(server.requests) <= 1 + 2 * 5, "halved down to the bad one: a few requests, not one per definition"


async def test_an_unavailable_server_fails_every_item_of_the_batch_with_its_error():
    results = await submit_all(Batcher(Server(down=True).send), ["a", "b", "c"])
    assert all(isinstance(r, Unavailable) for r in results)


async def test_a_cancelled_submitter_leaves_the_others_and_its_item_is_still_sent():
    server = Server()
    batcher = Batcher(server.send, linger=0.05)
    first = asyncio.create_task(batcher.submit({"name": "a"}))
    second = asyncio.create_task(batcher.submit({"name": "b"}))
    await asyncio.sleep(0.01)
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert server.registered == {"a", "b"}


async def test_a_later_submission_starts_a_new_batch():
    server = Server()
    batcher = Batcher(server.send)
    await batcher.submit({"name": "a"})
    await batcher.submit({"name": "b"})
    assert server.requests == [["a"], ["b"]] and batcher.requests == 2


async def test_registrations_arriving_a_little_apart_share_a_batch_and_a_lone_one_waits_only_the_quiet_time():
    """As `kubectl apply` of many files creates them: one every 10 ms joins the batch until none came for the quiet
    time, or the linger since the first has passed."""
    server = Server()
    batcher = Batcher(server.send, quiet=0.05, linger=0.3)

    async def arriving(index: int):
        await asyncio.sleep(index * 0.01)
        await batcher.submit({"name": f"w{index}"})
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(arriving(i) for i in range(10)))
    assert server.requests == [[f"w{i}" for i in range(10)]]
    assert asyncio.get_running_loop().time() - started < 0.3, "sent once they stopped coming"
    started = asyncio.get_running_loop().time()
    await batcher.submit({"name": "alone"})
    assert asyncio.get_running_loop().time() - started < 0.2
