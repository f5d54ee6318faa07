"""Registration: N WorkflowDefinitions applied at once, from the end of `kubectl apply` to all Ready.

N definitions (N/4 workflows x 4 versions, each a realistic definition of five tasks) are applied with one
`kubectl apply -f` of a multi-document file, as a team applying its folder of manifests does, with the real
operator (its default settings) registering them into Conductor through a counting proxy. Baselines, in the
same run, against the same Conductor, through the same proxy, with other workflow names:

  naive loop   one POST /api/metadata/workflow per definition, sequential (httpx): what CI jobs do today
  bulk PUT     one PUT /api/metadata/workflow with all N: the fastest Conductor itself allows

It prints the operator's time (from the end of kubectl apply, and from its start), its ratio to the naive loop
(goal <= 1.0x), Conductor calls per definition from the start of the apply to all Ready (goal <= 1.1) by path,
and the operator's peak RSS. With --changes M it then measures M single changes with the N present (see
one_change.py), on the same resources.

With --slow-conductor S every request the operator makes waits S seconds at the proxy (the baselines do not): what
a burst costs in time and memory when Conductor answers slowly.

    .venv/bin/python -m bench.registration [--definitions 500 2000] [--changes 20] [--slow-conductor S] [--small]
                                           [--trace DIR] [--testenv STATE]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench.harness import (
    DEFAULT_SETTINGS,
    Bench,
    RssSampler,
    add_testenv_argument,
    describe_settings,
    format_calls,
    format_latencies,
    machine,
    servers,
    write_trace,
)

VERSIONS_PER_WORKFLOW = 4


def workflow_def(name: str, version: int) -> dict:
    """A Conductor WorkflowDef as teams write them: SIMPLE tasks, a SWITCH, inputs and outputs (about 2 KB)."""
    def simple(ref: str, **extra) -> dict:
        return {"name": f"{name}_{ref}", "taskReferenceName": ref, "type": "SIMPLE",
                "inputParameters": {"orderId": "${workflow.input.orderId}", "step": ref}, **extra}

    return {
        "name": name, "version": version, "schemaVersion": 2, "ownerEmail": "platform-team@example.com",
        "description": f"Order handling for {name}, release {version}: validate, reserve, charge, notify.",
        "inputParameters": ["orderId", "customerId", "amount"],
        "timeoutSeconds": 3600, "timeoutPolicy": "TIME_OUT_WF", "restartable": True,
        "tasks": [
            simple("validate"),
            simple("reserve", optional=False),
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
             "expression": "kind", "inputParameters": {"kind": "${validate.output.kind}"},
             "decisionCases": {"express": [simple("express")]}, "defaultCase": [simple("standard")]},
            simple("charge", inputParameters={"amount": "${workflow.input.amount}",
                                              "customerId": "${workflow.input.customerId}"}),
            simple("notify"),
        ],
        "outputParameters": {"charged": "${charge.output.charged}", "release": version},
    }


def workflow_spec(name: str, version: int, **extra) -> dict:
    body = {k: v for k, v in workflow_def(name, version).items() if k not in ("name", "version")}
    return {"name": name, "version": version, "definition": body, **extra}


def identities(prefix: str, count: int, versions: int = VERSIONS_PER_WORKFLOW) -> list[tuple[str, int]]:
    """``count`` (workflow, version) pairs: count/versions workflows, each with versions 1..versions."""
    workflows = -(-count // versions)
    return [(f"{prefix}_{w:04d}", v) for w in range(workflows) for v in range(1, versions + 1)][:count]


def resource_name(name: str, version: int) -> str:
    return f"{name.replace('_', '-')}-v{version}"


def naive_loop(api: str, definitions: list[dict]) -> float:
    with httpx.Client(base_url=api, timeout=120) as conductor:
        began = time.monotonic()
        for definition in definitions:
            conductor.post("/metadata/workflow", json=definition).raise_for_status()
        return time.monotonic() - began


def bulk_put(api: str, definitions: list[dict]) -> float:
    with httpx.Client(base_url=api, timeout=600) as conductor:
        began = time.monotonic()
        conductor.put("/metadata/workflow", json=definitions).raise_for_status()
        return time.monotonic() - began


def register_with_operator(bench: Bench, pairs: list[tuple[str, int]], *, server_side: bool = False,
                           timeout: float | None = None) -> dict:
    """Apply a WorkflowDefinition for each pair in one kubectl apply and wait for all Ready; the figures."""
    operator = bench.operator
    sampler = RssSampler(operator)
    before = bench.proxy.snapshot()
    manifests = [bench.manifest("WorkflowDefinition", resource_name(n, v), workflow_spec(n, v)) for n, v in pairs]
    began = time.monotonic()
    apply_seconds = bench.apply_file(manifests, server_side=server_side)
    applied = began + apply_seconds
    bench.workflows.update(pairs)
    done = bench.wait_ready("WorkflowDefinition", len(pairs), timeout=timeout or max(600.0, 1.5 * len(pairs)),
                            interval=0.5 if len(pairs) <= 500 else 1.0, on_poll=sampler)
    calls = bench.proxy.since(before)
    sampler()
    return {"apply": apply_seconds, "after_apply": max(0.0, done - applied), "from_start": done - began,
            "calls": calls, "began": began, "timed_calls": bench.proxy.calls_between(began, done),
            "peak_rss": max(sampler.peak, operator.peak_rss()), "rss": operator.rss()}


def run(bench: Bench, count: int, *, server_side: bool = False, changes: int = 0, slow: float = 0.0) -> dict:
    """The registration benchmark on a Bench whose operator is running; prints the figures and returns them."""
    run_id = uuid.uuid4().hex[:6]
    workflows = -(-count // VERSIONS_PER_WORKFLOW)
    print(f"\nRegistration: {count} WorkflowDefinitions ({workflows} workflows x {VERSIONS_PER_WORKFLOW} versions), "
          f"one `kubectl apply{' --server-side' if server_side else ''} -f` of a {count}-document file", flush=True)
    print(f"  operator settings: {describe_settings(bench.operator.settings)}; machine: {machine()}", flush=True)

    api = f"{bench.proxy.url}/api"
    naive_defs = [workflow_def(n, v) for n, v in identities(f"bench_naive_{run_id}", count)]
    bulk_defs = [workflow_def(n, v) for n, v in identities(f"bench_bulk_{run_id}", count)]
    naive = naive_loop(api, naive_defs)
    bench.workflows.update((d["name"], d["version"]) for d in naive_defs)
    bulk = bulk_put(api, bulk_defs)
    bench.workflows.update((d["name"], d["version"]) for d in bulk_defs)

    pairs = identities(f"bench_reg_{run_id}", count)
    if slow:
        print(f"  Conductor slowed down: every request of the operator waits {slow:g}s at the proxy", flush=True)
    bench.proxy.delay = slow
    try:
        got = register_with_operator(bench, pairs, server_side=server_side)
    finally:
        bench.proxy.delay = 0.0
    calls = got["calls"]
    per_definition = sum(calls.values()) / count
    ratio = got["after_apply"] / naive if naive else float("inf")
    print(f"  kubectl apply of the {count} documents took           {got['apply']:8.2f}s")
    print(f"  baseline: naive CI loop ({count} sequential POSTs)      {naive:8.2f}s")
    print(f"  baseline: one bulk PUT of all {count}                   {bulk:8.2f}s")
    print(f"  operator: end of kubectl apply to all Ready           {got['after_apply']:8.2f}s   "
          f"ratio to the naive loop {ratio:.2f}x (goal <= 1.0x), to the bulk PUT {got['after_apply'] / bulk:.2f}x")
    print(f"  operator: start of kubectl apply to all Ready         {got['from_start']:8.2f}s")
    print(f"  Conductor calls per definition, apply to all Ready    {per_definition:8.2f}    (goal <= 1.1; "
          f"{sum(calls.values())} calls), by path:")
    print(format_calls(calls, per=count, unit=" /def"))
    print("  Conductor's latency, slowest first:")
    print(format_latencies(got["timed_calls"]))
    print(f"  operator RSS: peak {got['peak_rss']:.0f} MiB, at the end {got['rss']:.0f} MiB", flush=True)
    figures = {"definitions": count, "naive": naive, "bulk": bulk, **got, "calls_per_definition": per_definition,
               "ratio": ratio}
    if changes:
        from bench import one_change

        one_change.measure(bench, pairs, changes)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.registration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--definitions", type=int, nargs="+", default=[500, 2000],
                        help="how many WorkflowDefinitions; each count is a run of its own (default 500 2000)")
    parser.add_argument("--changes", type=int, default=0, help="then measure this many single changes (one_change)")
    parser.add_argument("--server-side", action="store_true", help="kubectl apply --server-side")
    parser.add_argument("--small", action="store_true", help="a quick run for CI: 20 definitions, 5 changes")
    parser.add_argument("--trace", metavar="DIR", type=Path,
                        help="write each run's Conductor calls (when, latency, status, path) and keep the operator's "
                             "log in DIR")
    parser.add_argument("--slow-conductor", metavar="SECONDS", type=float, default=0.0,
                        help="delay every Conductor request the operator makes by this much (a slow Conductor)")
    add_testenv_argument(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.definitions, args.changes = [20], min(args.changes or 5, 5)
    with servers(args.testenv) as found:
        for count in args.definitions:
            with Bench(found, "registration") as bench:
                bench.start_operator(DEFAULT_SETTINGS)
                figures = run(bench, count, server_side=args.server_side, changes=args.changes,
                              slow=args.slow_conductor)
                if args.trace:
                    args.trace.mkdir(parents=True, exist_ok=True)
                    write_trace(args.trace / f"calls-{count}.txt", figures["timed_calls"], figures["began"])
                    shutil.copy(bench.operator.log_path, args.trace / f"operator-{count}.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
