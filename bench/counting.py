"""Counting: N running executions over three versions, counted per version as the operator counts them.

It registers v1, v2 and v3 of a workflow whose one SIMPLE task no worker polls, starts N executions spread
over the three versions (they stay RUNNING), then counts them per version with
``ConductorClient.running_counts_by_version`` (one read of the running ids, then bulk searches of at most 1000
ids each) through a client whose transport counts every call. It prints the median time of the rounds and the
calls of one count against the goal, 1 + ceil(N/1000) calls; and, as the floor measured in the same run, the
time of the one read of the running ids alone.

    .venv/bin/python -m bench.counting [--executions 10000] [--rounds 3] [--conductor URL] [--small]

Without --conductor it starts a Conductor OSS of its own (testenv), as bench/moving_step.py does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
from conductor_operator.conductor.client import ConductorClient

VERSIONS = (1, 2, 3)


# ---- shared by the client benchmarks (counting, moves, throttling) --------------------------------

class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, counting each request as ``METHOD /path`` with names and ids kept out (the path's
    first three segments after /api)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None):
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")[2:]  # "", "api", ...
        shape = "/".join(p if p in _LITERAL else "{}" for p in parts)
        self.calls[f"{request.method} /{shape}"] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> Counter[str]:
        calls, self.calls = self.calls, Counter()
        return calls


_LITERAL = frozenset({"metadata", "workflow", "running", "bulk", "search", "terminate", "restart", "version",
                      "versions", "token", "taskdefs", "event", "pause", "resume"})


def counted_client(url: str, **kwargs) -> tuple[ConductorClient, CountingTransport]:
    transport = CountingTransport()
    return ConductorClient(f"{url}/api/", transport=transport, **kwargs), transport


def definition(name: str, version: int) -> dict:
    return {"name": name, "version": version, "schemaVersion": 2, "ownerEmail": "bench@example.com",
            "tasks": [{"name": f"{name}_wait", "taskReferenceName": "wait", "type": "SIMPLE"}]}


async def start_executions(client: ConductorClient, name: str, versions: list[int], what: str = "") -> list[str]:
    """One execution per item of ``versions``, started concurrently (the client keeps 32 in flight)."""
    started, ids = time.monotonic(), []
    for first in range(0, len(versions), 1000):
        chunk = versions[first:first + 1000]
        ids += await asyncio.gather(*(client.start_workflow(name, version=v, input={"n": first + n})
                                      for n, v in enumerate(chunk)))
        print(f"  started {len(ids)}/{len(versions)} executions{what} ({time.monotonic() - started:.0f}s)",
              flush=True)
    return ids


async def remove(client: ConductorClient, name: str, ids: list[str]) -> None:
    """Terminate what was started and delete the workflow's definitions."""
    with contextlib.suppress(Exception):
        await client.bulk_terminate(ids, "benchmark done")
    for version in await client.workflow_versions(name):
        with contextlib.suppress(Exception):
            await client.delete_workflow_def(name, version)


def with_conductor(url: str | None, what: str, run: Callable[[str], Awaitable[object]]) -> None:
    """Run ``run(url)`` against the given Conductor, else against one started for the run (as moving_step)."""
    if url:
        asyncio.run(run(url.rstrip("/")))
        return
    from testenv.servers import ConductorServer
    from testenv.tools import ensure_tools

    with tempfile.TemporaryDirectory(prefix=f"bench-{what}-") as workdir:
        server = ConductorServer(ensure_tools(), Path(workdir))
        print("starting Conductor OSS ...", flush=True)
        server.start()
        try:
            asyncio.run(run(server.url))
        finally:
            server.stop()


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    began = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - began)


# ---- the benchmark -----------------------------------------------------------------------------

async def run(url: str, executions: int, rounds: int) -> dict:
    name = f"bench_counting_{uuid.uuid4().hex[:8]}"
    spread = [VERSIONS[n % len(VERSIONS)] for n in range(executions)]
    expected = dict(sorted(Counter(spread).items()))
    client, transport = counted_client(url, timeout=120)
    async with client:
        await client.register_workflow_defs([definition(name, v) for v in VERSIONS])
        ids: list[str] = []
        try:
            ids = await start_executions(client, name, spread)
            counting, floor, calls = [], [], []
            for _ in range(rounds):
                transport.reset()
                with timed() as took:
                    counts = await client.running_counts_by_version(name)
                counting += took
                calls.append(transport.reset())
                # What ends meanwhile (another test's worker, a timeout) is counted as ended: never more than started.
                assert counts.keys() == expected.keys() and all(0 < counts[v] <= expected[v] for v in counts), \
                    f"counted {counts}, started {expected}"
                with timed() as took:
                    running = await client.running_execution_ids(name)
                floor += took
                assert len(running) <= executions
        finally:
            await remove(client, name, ids)
    goal = 1 + math.ceil(executions / 1000)
    made = max(sum(c.values()) for c in calls)
    count_s, floor_s = statistics.median(counting), statistics.median(floor)
    shown = ", ".join(f"v{v}: {n}" for v, n in expected.items())
    print(f"\n{executions} running executions of 3 versions ({shown}); median of {rounds} count(s):")
    print(f"  counted per version:                {count_s:7.3f}s  {made:4d} calls  "
          f"(goal 1 + ceil({executions}/1000) = {goal}: {made / goal:.2f}x the goal)")
    print(f"  the running-ids read alone (floor): {floor_s:7.3f}s     1 call   "
          f"(the count takes {count_s / floor_s:.1f}x the floor)")
    print("  calls of one count: " + ", ".join(f"{k} x{v}" for k, v in sorted(calls[-1].items())))
    return {"executions": executions, "calls": made, "goal": goal, "seconds": count_s, "floor_seconds": floor_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counting", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conductor", help="a Conductor OSS to use instead of starting one")
    parser.add_argument("--small", action="store_true", help="a quick run for CI: 1,200 executions, 1 round")
    args = parser.parse_args(argv)
    if args.small:
        args.executions, args.rounds = 1200, 1
    with_conductor(args.conductor, "counting", lambda url: run(url, args.executions, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
