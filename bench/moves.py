"""Moves: N executions moved to a new version by upgrade waves on Conductor OSS (terminate, then restart on the
latest definition), through the plan's own mover.

It registers v1 and v2 of a workflow whose one SIMPLE task no worker polls and starts 2 x N executions on v1 (they
stay RUNNING). The waves (10%, 30%, 60% of N by default) then move:

  baseline  N of them with the bare bulk calls, wave by wave: POST /workflow/bulk/terminate, then
            POST /workflow/bulk/restart?useLatestDefinitions=true, at most 1000 ids a call: the minimal calls
  mover     the other N with ``reconcile.moves.Mover.carry_out`` (intent in the ledger, the calls, confirmation),
            the ledger kept in memory as in bench/moving_step.py, so only Conductor is measured

Each wave of the baseline runs right before the same wave of the mover, so both see the server in one state.

and prints moves per second of each, and the Conductor calls the mover made against the minimal bulk calls
(ceil(n/1000) terminates and as many restarts per wave of n; goal <= 1.2x). Every execution is checked to run v2.

    .venv/bin/python -m bench.moves [--executions 1000] [--waves 10 30 60] [--conductor URL] [--small]
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime

from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.waves import TERMINATE_RESTART, Move, MoveState
from conductor_operator.reconcile.moves import Ledger, Mover

from bench.counting import counted_client, remove, start_executions, timed, with_conductor
from bench.moving_step import MemoryKube


def definition(name: str, version: int) -> dict:
    refs = ["a"] if version == 1 else ["a", "b"]
    return {"name": name, "version": version, "schemaVersion": 2, "ownerEmail": "bench@example.com",
            "tasks": [{"name": f"{name}_{ref}", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs]}


def plan(name: str, now: datetime) -> MigrationPlan:
    return MigrationPlan.from_body({
        "metadata": {"name": "bench-moves", "namespace": "bench", "uid": f"uid-{name}", "generation": 1},
        "spec": {"workflowName": name, "from": {"versions": [1]}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"upgradeWaves": {"workersIdempotent": True}}},
        "status": {"phase": "Moving", "cutoverAt": format_time(now), "gatesPassedAt": format_time(now),
                   "verdict": {"level": "Safe", "fromVersions": [1], "toVersion": 2}}})


def wave_sizes(total: int, percents: list[float]) -> list[int]:
    """Wave sizes of ``total`` by percent, the last one taking what is left."""
    sizes, left = [], total
    for percent in percents[:-1]:
        size = min(left, round(total * percent / sum(percents)))
        sizes.append(size)
        left -= size
    return [*sizes, left]


def waves_of(ids: list[str], sizes: list[int]) -> list[list[str]]:
    out, first = [], 0
    for size in sizes:
        out.append(ids[first:first + size])
        first += size
    return out


async def run(url: str, executions: int, percents: list[float]) -> dict:
    name = f"bench_moves_{uuid.uuid4().hex[:8]}"
    sizes = wave_sizes(executions, percents)
    minimal = sum(2 * math.ceil(size / 1000) for size in sizes if size)
    client, transport = counted_client(url, timeout=300)
    async with client:
        await client.register_workflow_defs([definition(name, 1), definition(name, 2)])
        ids: list[str] = []
        try:
            ids = await start_executions(client, name, [1] * (2 * executions))
            bare, moved = ids[:executions], ids[executions:]

            now = datetime.now(UTC)
            the_plan = plan(name, now)
            ledger = Ledger(MemoryKube(), the_plan)
            done: list[Move] = []
            baseline_s, mover_s = [0.0], [0.0]
            baseline_calls, mover_calls = Counter(), Counter()
            transport.reset()
            for number, (wave, mover_wave) in enumerate(zip(waves_of(bare, sizes), waves_of(moved, sizes),
                                                            strict=True), start=1):
                # each wave's baseline right before the mover's, so both see the server in the same state
                with timed() as took:
                    terminated = await client.bulk_terminate(wave, "benchmark: baseline wave")
                    restarted = await client.bulk_restart(terminated.succeeded, use_latest_definitions=True)
                    assert len(restarted.succeeded) == len(wave), (terminated.failed, restarted.failed)
                baseline_s[0] += took[0]
                baseline_calls += transport.reset()
                intents = [Move(i, 1, 2, number, MoveState.INTENT, TERMINATE_RESTART, format_time(now))
                           for i in mover_wave]
                with timed() as took:
                    done += await Mover(client, the_plan, TERMINATE_RESTART, now).carry_out(ledger, intents)
                mover_s[0] += took[0]
                mover_calls += transport.reset()
            assert [m.state for m in done] == [MoveState.MOVED] * executions, "every move confirmed"
            counts = await client.running_counts_by_version(name)
            assert counts == {2: 2 * executions}, f"running per version after the waves: {counts}"
        finally:
            await remove(client, name, ids)
    made, floor = sum(mover_calls.values()), sum(baseline_calls.values())
    base_rate, rate = executions / baseline_s[0], executions / mover_s[0]
    print(f"\n{executions} executions moved v1 -> v2 on Conductor OSS (terminate + restart on the latest) in "
          f"{len(sizes)} waves of {', '.join(map(str, sizes))}:")
    print(f"  bare bulk calls (baseline): {baseline_s[0]:7.2f}s  {base_rate:7.0f} moves/s  {floor:3d} calls")
    print(f"  the plan's mover:           {mover_s[0]:7.2f}s  {rate:7.0f} moves/s  {made:3d} calls  "
          f"({rate / base_rate:.2f}x the baseline's rate; {made / minimal:.2f}x the minimal {minimal} bulk calls, "
          f"goal <= 1.2x)")
    print("  calls of the mover: " + ", ".join(f"{k} x{v}" for k, v in sorted(mover_calls.items())))
    return {"executions": executions, "waves": sizes, "calls": made, "minimal": minimal, "baseline_calls": floor,
            "moves_per_second": rate, "baseline_moves_per_second": base_rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.moves", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--waves", type=float, nargs="+", default=[10, 30, 60],
                        help="the waves' shares of the executions, in percent (default 10 30 60)")
    parser.add_argument("--conductor", help="a Conductor OSS to use instead of starting one")
    parser.add_argument("--small", action="store_true", help="a quick run for CI: 60 executions")
    args = parser.parse_args(argv)
    if args.small:
        args.executions = 60
    with_conductor(args.conductor, "moves", lambda url: run(url, args.executions, args.waves))
    return 0


if __name__ == "__main__":
    sys.exit(main())
