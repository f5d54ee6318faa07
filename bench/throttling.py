"""Throttling: a Conductor that answers 429 with Retry-After for a while, and many callers that must not all
come back at the same instant when it stops.

The benchmarks' proxy (harness.CountingProxy, on loopback, in a thread) stands in front of Conductor: it answers
the first N requests 429 with ``Retry-After``, then it forwards every request. N callers (each a reconcile of one
resource, all through one ConductorClient as the operator's resources of one ConductorCluster are) read a workflow
definition at once, so each is refused once; on Unavailable they wait as the operator's Runtime does
(``Settings.retry_delay(attempt, retry_after)``, reconcile/__init__.py ``unavailable``) before trying again; with
a short Retry-After (at most 2 s) the client retries inside the call itself instead. Two cases, each with its
baseline in the same run (the same waits without jitter):

  operator backoff   Retry-After 10 s (longer than the client waits itself): the Runtime's retry delay
  in-call retry      Retry-After 2 s: the client's own brief retry

It prints, per 100 ms at the peak: the 429s (the herd as the throttling formed it: the refusals themselves are
spread by the client's 32 connections and the proxy's speed); "one instant", the retries had every caller been
refused at the same instant (the waits they drew, side by side: without jitter all come back at once); the
retries falling due (what would reach Conductor with unlimited connections: without jitter the herd comes back as
it was formed); the requests reaching Conductor after the last refusal; and how long the retries were spread over.

    .venv/bin/python -m bench.throttling [--callers 1000] [--conductor URL] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
import uuid
from dataclasses import dataclass

from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import Unavailable
from conductor_operator.settings import Settings

from bench.counting import definition, with_conductor
from bench.harness import CountingProxy

BUCKET = 0.1


def peak(times: list[float], since: float) -> int:
    """The most of ``times`` (at or after ``since``) in one BUCKET-long window starting at any of them."""
    times = sorted(t for t in times if t >= since)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= BUCKET:
            first += 1
        most = max(most, last - first + 1)
    return most


@dataclass
class Outcome:
    herd_peak: int
    instant_peak: int
    due_peak: int
    arrival_peak: int
    spread: float
    refused: int
    answered: int
    seconds: float


def settings(jitter) -> Settings:
    return Settings(namespaces=(), default_cluster="default", resync_interval=15.0, retry_min=1.0, retry_max=60.0,
                    peering=None, peering_priority=0, peering_lifetime=60.0, liveness_endpoint=None, jitter=jitter)


async def burst(proxy: CountingProxy, name: str, callers: int, retry_after: float, jittered: bool) -> Outcome:
    """``callers`` reads of the definition through one client while the proxy throttles."""
    due: list[float] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the client's own in-call wait
        waits.append(seconds)
        await asyncio.sleep(seconds)
        due.append(time.monotonic())

    runtime = settings(random.random if jittered else (lambda: 0.0))
    client = ConductorClient(f"{proxy.url}/api/", timeout=60, sleep=sleep, jitter=random.random if jittered else
                             (lambda: 0.0))

    async def reconcile() -> None:
        attempt = 0
        while True:
            try:
                await client.get_workflow_def(name, 1)
                return
            except Unavailable as exc:  # as Runtime.unavailable: retried no sooner than Retry-After, with jitter
                waits.append(runtime.retry_delay(attempt, exc.retry_after))
                await asyncio.sleep(waits[-1])
                due.append(time.monotonic())
                attempt += 1

    async with client:
        began = time.monotonic()
        proxy.refuse_next(callers, 429, retry_after)
        await asyncio.gather(*(reconcile() for _ in range(callers)))
        took = time.monotonic() - began
    calls = proxy.calls_between(began)
    refusals = [at for at, _, _, status in calls if status == 429]
    arrivals = [at for at, _, _, status in calls if status != 429]
    end = max(refusals)
    spread = (max(due) - min(due)) if due else 0.0
    return Outcome(peak(refusals, 0), peak(waits, 0), peak(due, 0), peak(arrivals, end), spread, len(refusals),
                   len(arrivals), took)


async def run(url: str, callers: int, backoff: float = 10.0, in_call: float = 2.0) -> dict:
    """``backoff`` and ``in_call``: the Retry-After of each case, in seconds."""
    cases = (("operator backoff", backoff), ("in-call retry", in_call))
    name = f"bench_throttling_{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, Outcome]] = {}
    proxy: CountingProxy | None = None
    async with ConductorClient(f"{url}/api/", timeout=60) as direct:
        await direct.register_workflow_defs([definition(name, 1)])
        try:
            proxy = CountingProxy(url).start()
            for case, retry_after in cases:
                results[case] = {}
                for jittered in (False, True):
                    outcome = await burst(proxy, name, callers, retry_after, jittered)
                    assert outcome.answered == callers, f"{case}: {outcome.answered} of {callers} answered"
                    assert outcome.refused == callers, f"{case}: {outcome.refused} refusals for {callers}"
                    results[case]["jitter" if jittered else "baseline"] = outcome
        finally:
            if proxy is not None:
                proxy.stop()
            with contextlib.suppress(Exception):
                await direct.delete_workflow_def(name, 1)
    print(f"\n{callers} callers through one client, each refused once (429 with Retry-After), then forwarded to "
          f"Conductor. Peaks per 100 ms:")
    print(f"  {'':58s} {'429s':>6s} {'one instant':>12s} {'retries due':>12s} {'at Conductor':>13s} "
          f"{'retries spread over':>20s}")
    for case, retry_after in cases:
        base, now = results[case]["baseline"], results[case]["jitter"]
        for label, o in ((f"{case} (Retry-After {retry_after:g}s), no jitter (baseline)", base),
                         (f"{case} (Retry-After {retry_after:g}s), with jitter", now)):
            print(f"  {label:58s} {o.herd_peak:6d} {o.instant_peak:12d} {o.due_peak:12d} {o.arrival_peak:13d} "
                  f"{o.spread:19.2f}s")
        print(f"  {'':58s} peak retries due: {now.due_peak / callers:.3f} of the callers, "
              f"{now.due_peak / max(1, base.due_peak):.2f}x the baseline; refused at one instant: "
              f"{now.instant_peak / callers:.3f} of the callers, {now.instant_peak / max(1, base.instant_peak):.2f}x")
    return {case: {kind: vars(o) for kind, o in outcomes.items()} for case, outcomes in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throttling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--conductor", help="a Conductor OSS to use instead of starting one")
    parser.add_argument("--small", action="store_true",
                        help="a quick run for CI: 100 callers, Retry-After 3 s for the operator's backoff")
    args = parser.parse_args(argv)
    backoff = 10.0
    if args.small:
        args.callers, backoff = 100, 3.0
    with_conductor(args.conductor, "throttling", lambda url: run(url, args.callers, backoff))
    return 0


if __name__ == "__main__":
    sys.exit(main())


