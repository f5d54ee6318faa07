"""What one step of a moving MigrationPlan reads from Conductor, with thousands of executions in flight.

It starts a Conductor OSS of its own (or uses --conductor URL) and starts N executions of a workflow whose
one SIMPLE task no worker polls, so they stay RUNNING on v1. Half of them are recorded as moved in an
in-memory ledger. Then it times the plan shell's observation for two states of a wave:

  about to move   reads the running executions, the moved ones that no longer run, and the old executions
                  with their tasks (to judge which may move): the baseline, the heaviest step
  watched         reads the running executions and the moved ones that no longer run

and prints the median of each over the rounds, and their ratio.

    .venv/bin/python -m bench.moving_step [--executions 2000] [--rounds 5] [--conductor URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conductor_operator.api.migration import MigrationPlan
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.waves import TERMINATE_RESTART, Move, MoveState
from conductor_operator.reconcile.migration import observe_plan
from conductor_operator.reconcile.moves import Ledger

WORKFLOW = "bench_moving_step"


class MemoryKube:
    """The two ConfigMap calls the ledger makes, kept in memory: the benchmark measures Conductor reads."""

    def __init__(self):
        self.maps: dict[str, dict[str, str]] = {}

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.maps.get(name, {}))

    async def merge_config_map_data(self, namespace: str, name: str, data: dict[str, str], *, owner: dict) -> None:
        self.maps.setdefault(name, {}).update(data)


def plan(wave_state: str, now: datetime) -> MigrationPlan:
    return MigrationPlan.from_body({
        "metadata": {"name": "bench", "namespace": "bench", "uid": "uid-bench", "generation": 1},
        "spec": {"workflowName": WORKFLOW, "from": {"versions": [1]}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"upgradeWaves": {"workersIdempotent": True}}},
        "status": {"phase": "Moving", "cutoverAt": format_time(now), "gatesPassedAt": format_time(now),
                   "verdict": {"level": "Safe", "fromVersions": [1], "toVersion": 2},
                   "waves": {"current": 1, "count": 3, "state": wave_state,
                             "until": format_time(now + timedelta(minutes=5))}}})


def definition(version: int, *refs: str) -> dict:
    return {"name": WORKFLOW, "version": version, "schemaVersion": 2, "ownerEmail": "bench@example.com",
            "tasks": [{"name": f"{WORKFLOW}_{ref}", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs]}


async def start_executions(client: ConductorClient, count: int) -> list[str]:
    await client.register_workflow_defs([definition(1, "a"), definition(2, "a", "b")])
    limit = asyncio.Semaphore(8)

    async def start(n: int) -> str:
        async with limit:
            return await client.start_workflow(WORKFLOW, version=1, input={"n": n, "note": "x" * 200})

    started = time.monotonic()
    ids = []
    for first in range(0, count, 500):
        ids += await asyncio.gather(*(start(n) for n in range(first, min(count, first + 500))))
        print(f"  started {len(ids)}/{count} executions ({time.monotonic() - started:.0f}s)", flush=True)
    return ids


async def time_observation(client: ConductorClient, wave_state: str, ledger: Ledger, rounds: int) -> list[float]:
    now = datetime.now(UTC)
    seconds = []
    for _ in range(rounds):
        began = time.perf_counter()
        observed = await observe_plan(client, plan(wave_state, now), None, now, ledger, "OSS")
        seconds.append(time.perf_counter() - began)
    reads_old = observed.candidates is not None
    assert reads_old is (wave_state == "Moving"), f"{wave_state}: the old executions were read: {reads_old}"
    return seconds


async def run(url: str, executions: int, rounds: int) -> None:
    async with ConductorClient(f"{url}/api/", timeout=120) as client:
        ids = await start_executions(client, executions)
        try:
            ledger = Ledger(MemoryKube(), plan("Moving", datetime.now(UTC)))
            at = format_time(datetime.now(UTC))
            await ledger.record(Move(i, 1, 2, 0, MoveState.MOVED, TERMINATE_RESTART, at) for i in ids[::2])
            moving = await time_observation(client, "Moving", ledger, rounds)
            watching = await time_observation(client, "Watching", ledger, rounds)
        finally:
            await client.bulk_terminate(ids, "benchmark done")
    base, now = statistics.median(moving), statistics.median(watching)
    print(f"\n{executions} executions in flight, {len(ids[::2])} of them in the ledger as moved; "
          f"median of {rounds} steps:")
    print(f"  a wave about to move (baseline): {base:6.2f}s")
    print(f"  a wave being watched:            {now:6.2f}s   ({now / base:.2f} of the baseline)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.moving_step", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conductor", help="a Conductor OSS to use instead of starting one")
    args = parser.parse_args(argv)
    if args.conductor:
        asyncio.run(run(args.conductor.rstrip("/"), args.executions, args.rounds))
        return 0
    from testenv.servers import ConductorServer
    from testenv.tools import ensure_tools

    with tempfile.TemporaryDirectory(prefix="bench-moving-step-") as workdir:
        server = ConductorServer(ensure_tools(), Path(workdir))
        print("starting Conductor OSS ...", flush=True)
        server.start()
        try:
            asyncio.run(run(server.url, args.executions, args.rounds))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
