"""One read of a thing serves every reconcile that needs it at about the same time.

A thousand WorkflowDefinitions of a few hundred workflows ask, each at its own tick, how many executions of their
workflow run; twenty new versions of five workflows, applied together, each ask which versions are registered.
SharedReads answers them from a value read at most ``max_age`` seconds ago, and callers that come while the read
is under way wait for it instead of sending their own. Values too old to serve anyone are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Any


class SharedReads:
    def __init__(self, clock: Callable[[], datetime], keep: timedelta):
        self._clock = clock
        self._keep = keep
        self._values: dict[Hashable, tuple[datetime, Any]] = {}
        self._reading: dict[Hashable, asyncio.Future] = {}
        self._swept_at: datetime | None = None

    async def read(self, key: Hashable, max_age: float, read: Callable[[], Awaitable[Any]]) -> tuple[datetime, Any]:
        """(when it was read, the value): a value at most ``max_age`` seconds old, else the read under way, else a
        new read. A caller cancelled while waiting leaves the read to the others."""
        cached = self._values.get(key)
        if cached and (self._clock() - cached[0]).total_seconds() < max_age:
            return cached
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key, read))
            self._reading[key] = reading
            reading.add_done_callback(lambda done: (self._reading.pop(key, None),
                                                    done.cancelled() or done.exception()))
        return await asyncio.shield(reading)

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> tuple[datetime, Any]:
        at = self._clock()
        return self.remember(key, await read(), at)

    def remember(self, key: Hashable, value: Any, at: datetime) -> tuple[datetime, Any]:
        """Keep a value read elsewhere (a plan's step reads running executions anyway)."""
        self._values[key] = (at, value)
        if self._swept_at is None or at - self._swept_at >= self._keep / 2:
            self._swept_at = at
            self._values = {k: v for k, v in self._values.items() if at - v[0] < self._keep}
        return self._values.get(key, (at, value))

    def kept(self, key: Hashable) -> tuple[datetime, Any] | None:
        """(when, the value) kept for ``key``, however old (until swept); None when nothing is kept."""
        return self._values.get(key)

    def __len__(self) -> int:
        return len(self._values)


class KeyedLocks:
    """One lock per key, kept only while someone holds it or waits for it (keys come and go with resources)."""

    def __init__(self):
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
