"""Registrations that arrive together, sent to Conductor together.

Applying 500 WorkflowDefinitions at once starts 500 reconciles within a few seconds; each one that has
something to register hands its definition to the Batcher of its Conductor client, which sends what has
gathered in one bulk request (``PUT /api/metadata/workflow`` takes a list and upserts each item), one
request at a time: a batch goes once no registration joined it for QUIET_SECONDS, or LINGER_SECONDS after it
began. Conductor refuses a whole list for one invalid item (400, nothing stored) and names the
position of every item at fault: those are sent again one by one, each to get its own answer, and the rest
together. When the answer names no item, the batch is split in halves, down to the definitions at fault. Either
way one bad definition fails alone, with its own message, and its neighbours register.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from conductor_operator.conductor.errors import Rejected

QUIET_SECONDS = 0.1
"""A batch is sent once no registration has joined it for this long: `kubectl apply` of many files creates them
one after another, tens of milliseconds apart, and each becomes a reconcile as it arrives."""
LINGER_SECONDS = 0.5
"""However busy, the first registration of a batch waits no longer than this."""
BATCH_LIMIT = 250
"""At most this many definitions in one request (a few hundred KiB of JSON)."""


class Batcher:
    """Gathers items for ``send`` (which takes a list) and resolves each submitter with its own outcome."""

    def __init__(self, send: Callable[[list[dict]], Awaitable[None]], *, quiet: float = QUIET_SECONDS,
                 linger: float = LINGER_SECONDS, limit: int = BATCH_LIMIT,
                 clock: Callable[[], float] = time.monotonic):
        self._send = send
        self._quiet = quiet
        self._linger = linger
        self._clock = clock
        self._last_joined = 0.0
        self._limit = limit
        self._waiting: list[tuple[dict, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None
        self.requests = 0
        """Requests sent so far (for tests and benchmarks)."""

    async def submit(self, item: dict) -> None:
        """Send ``item`` with whatever else is waiting; raises what Conductor answered for it. A submitter that is
        cancelled does not take the item back: it is sent with the others (registration is an idempotent upsert)."""
        outcome = asyncio.get_running_loop().create_future()
        outcome.add_done_callback(_retrieved)
        self._waiting.append((item, outcome))
        self._last_joined = self._clock()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._drain())
        await asyncio.shield(outcome)

    async def _drain(self) -> None:
        deadline = self._clock() + self._linger
        while len(self._waiting) < self._limit:
            wait = min(self._last_joined + self._quiet, deadline) - self._clock()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        while self._waiting:
            batch, self._waiting = self._waiting[:self._limit], self._waiting[self._limit:]
            await self._deliver(batch)

    async def _deliver(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        self.requests += 1
        try:
            await self._send([item for item, _ in batch])
        except Rejected as exc:
            if len(batch) == 1:
                _settle(batch, exc)
                return
            named = {i for i in exc.items if 0 <= i < len(batch)}
            if named:
                for index in sorted(named):
                    await self._deliver([batch[index]])
                rest = [entry for index, entry in enumerate(batch) if index not in named]
                if rest:
                    await self._deliver(rest)
                return
            middle = len(batch) // 2
            await self._deliver(batch[:middle])
            await self._deliver(batch[middle:])
        except BaseException as exc:  # unavailable, cancelled: every item of the batch shares the fate
            _settle(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            _settle(batch, None)


def _settle(batch: list[tuple[dict, asyncio.Future]], error: BaseException | None) -> None:
    for _, outcome in batch:
        if outcome.done():
            continue
        if error is None:
            outcome.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            outcome.cancel()
        else:
            outcome.set_exception(error)


def _retrieved(outcome: asyncio.Future) -> None:
    """Mark an outcome's error as seen: its submitter may have been cancelled and never look."""
    if not outcome.cancelled():
        outcome.exception()
