"""One change with N WorkflowDefinitions present: how long from its apply to Ready, M times.

With N definitions present and Ready (applied and registered as in registration.py, by the real operator at its
default settings), it applies one change at a time, M times: the change teams make every day, a new version of
one workflow released (a new WorkflowDefinition for version v+1 of a workflow present), created through the
API server as `kubectl apply` creates it, a pause of 0.5-2 s between changes so they land at different points
of the resync timers. It times each from the API server's answer to Ready (read from a watch of that one
object), and prints p50, p99 and the largest (goal: p99 under 1 s on an idle machine), and the Conductor calls
the changes made.

    .venv/bin/python -m bench.one_change [--definitions 500 2000] [--changes 30] [--small] [--testenv STATE]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid

from kubernetes import watch

from bench.harness import (
    DEFAULT_SETTINGS,
    GROUP,
    PLURALS,
    VERSION,
    Bench,
    add_testenv_argument,
    describe_settings,
    format_calls,
    machine,
    median,
    percentile,
    ready,
    servers,
)
from bench.registration import VERSIONS_PER_WORKFLOW, identities, register_with_operator, resource_name, workflow_spec


def wait_one_ready(bench: Bench, name: str, resource_version: str, timeout: float = 120) -> float:
    """The monotonic time a watch of the one object first shows it Ready for its generation."""
    stream = watch.Watch()
    try:
        for event in stream.stream(bench.custom.list_namespaced_custom_object, GROUP, VERSION, bench.namespace,
                                   PLURALS["WorkflowDefinition"], field_selector=f"metadata.name={name}",
                                   resource_version=resource_version, timeout_seconds=int(timeout)):
            if ready(event["object"]):
                return time.monotonic()
    finally:
        stream.stop()
    raise TimeoutError(f"WorkflowDefinition {name} not Ready within {timeout:.0f}s")


def measure(bench: Bench, present: list[tuple[str, int]], changes: int, *, seed: int = 13) -> dict:
    """M single changes (a new version of a workflow present), one at a time; prints and returns the figures."""
    rng = random.Random(seed)
    latest: dict[str, int] = {}
    for name, version in present:
        latest[name] = max(latest.get(name, 0), version)
    names = sorted(latest)
    rng.shuffle(names)
    print(f"\nOne change at a time with {len(present)} WorkflowDefinitions present: {changes} times a new version "
          f"of one workflow (a new WorkflowDefinition), apply to Ready", flush=True)
    print(f"  operator settings: {describe_settings(bench.operator.settings)}; machine: {machine()}", flush=True)
    before = bench.proxy.snapshot()
    seconds = []
    for i in range(changes):
        name = names[i % len(names)]
        version = latest[name] = latest[name] + 1
        time.sleep(rng.uniform(0.5, 2.0))
        created = bench.create("WorkflowDefinition", resource_name(name, version), workflow_spec(name, version))
        applied = time.monotonic()
        bench.workflows.add((name, version))
        seconds.append(wait_one_ready(bench, created["metadata"]["name"], created["metadata"]["resourceVersion"])
                       - applied)
    calls = bench.proxy.since(before)
    p50, p99 = median(seconds), percentile(seconds, 0.99)
    print(f"  apply to Ready: p50 {p50:.2f}s, p99 {p99:.2f}s (goal < 1 s idle), largest {max(seconds):.2f}s, "
          f"smallest {min(seconds):.2f}s over {changes} changes")
    print(f"  Conductor calls while changing ({sum(calls.values())} in all, with the resyncs of the {len(present)} "
          f"present), by path:")
    print(format_calls(calls, indent="    "), flush=True)
    return {"present": len(present), "changes": changes, "p50": p50, "p99": p99, "max": max(seconds),
            "calls": calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.one_change", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--definitions", type=int, nargs="+", default=[500, 2000],
                        help="how many WorkflowDefinitions present; each count is a run of its own")
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="a quick run for CI: 20 definitions, 5 changes")
    add_testenv_argument(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.definitions, args.changes = [20], 5
    with servers(args.testenv) as found:
        for count in args.definitions:
            with Bench(found, "one-change") as bench:
                bench.start_operator(DEFAULT_SETTINGS)
                present = identities(f"bench_one_{uuid.uuid4().hex[:6]}", count, VERSIONS_PER_WORKFLOW)
                print(f"\nsetting up: {count} WorkflowDefinitions applied and registered ...", flush=True)
                register_with_operator(bench, present)
                measure(bench, present, args.changes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
