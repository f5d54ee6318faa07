"""Reads shared between reconciles, and locks per key (reconcile/sharing.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.reconcile.sharing import KeyedLocks, SharedReads


async def test_callers_of_one_key_take_turns_and_other_keys_do_not_wait():
    locks, order = KeyedLocks(), []

    async def hold(key, label, seconds):
        async with locks.hold(key):
            order.append(f"{label} in")
            await asyncio.sleep(seconds)
            order.append(f"{label} out")
    await asyncio.gather(hold("v1", "first", 0.05), hold("v1", "second", 0), hold("v2", "other", 0))
    assert order.index("second in") > order.index("first out")
    assert order.index("other out") < order.index("first out")
    assert len(locks) == 0, "a key nobody holds or waits for is not kept"


async def test_a_lock_given_up_while_waiting_or_failing_is_dropped_with_its_last_user():
    locks = KeyedLocks()
    entered = asyncio.Event()

    async def holder():
        async with locks.hold("v1"):
            entered.set()
            await asyncio.sleep(1)
    holding = asyncio.create_task(holder())
    await entered.wait()

    async def waiter():
        async with locks.hold("v1"):
            pass
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    holding.cancel()
    await asyncio.gather(holding, waiting, return_exceptions=True)
    with pytest.raises(RuntimeError):
        async with locks.hold("v1"):
            raise RuntimeError("the reconcile failed")
    assert len(locks) == 0


async def test_callers_that_come_while_a_read_is_under_way_share_it():
    now = datetime(2026, 11, 30, tzinfo=UTC)
    shared, reads = SharedReads(lambda: now, timedelta(seconds=30)), []

    async def read():
        reads.append(1)
        await asyncio.sleep(0.01)
        return {"v1": 3}
    answers = await asyncio.gather(*(shared.read("counts", 1, read) for _ in range(5)))
    assert reads == [1] and {value["v1"] for _, value in answers} == {3}
