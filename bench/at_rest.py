"""At rest: what the operator costs when nothing changes, with 1,000 WorkflowDefinitions and 10 MigrationPlans.

The set (each a realistic definition, as in registration.py), all in one namespace:

  240 workflows x 4 versions       960 WorkflowDefinitions; 24 of the workflows (one in ten) have running
                                   executions (2 on v4, 1 on v1) of a SIMPLE task no worker polls, so they stay
                                   RUNNING
  10 workflows x 4 versions        40 WorkflowDefinitions, v4 of each "ByMigrationPlan", and a MigrationPlan per
                                   workflow (parallel strategy, from all older versions to v4, retiring them):
                                   5 Completed (nothing ran on the old versions: they drained at once) and 5
                                   Draining (2 executions on v1 each hold them there)

It is set up by the operator with fast timers (testenv's FAST_SETTINGS, the resync 2 s per 100 definitions: the
plans move through their phases in seconds), which is then stopped; the operator measured is started afresh with
its DEFAULT settings (RESYNC_INTERVAL=15s, drift checks every 5m, the CRD default), resumes every object, and is
left to settle. Over a window (5 min by default: one drift check interval, so each resource's drift check falls in
it once) it prints Conductor calls per minute by path, the operator's CPU seconds per minute, and its RSS (goal
< 150 MiB).

Baseline, the ideal: one running-ids read per resync interval for each distinct workflow with something to watch
(a registered version), shared by every version's resource and every plan of it, a bulk read of the executions
of each workflow that has some running, and one definition read per resource per drift check interval; plans
that ended read nothing.

With --profile-memory the operator is then started again, under tracemalloc (bench/_traced_operator.py), on the
same set: once it has resumed everything and settled, the top allocation sites are printed (by package, line and
call stack), and what the operator's imports alone cost a fresh Python.

    .venv/bin/python -m bench.at_rest [--workflows 250] [--plans 10] [--window 300] [--profile-memory] [--small]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter

import httpx

from bench.harness import (
    DEFAULT_SETTINGS,
    Bench,
    add_testenv_argument,
    describe_settings,
    dump_traced,
    format_calls,
    machine,
    ready,
    servers,
)
from bench.registration import VERSIONS_PER_WORKFLOW, resource_name, workflow_spec
from testenv.operator import FAST_SETTINGS
from testenv.tools import REPO_ROOT

DRIFT_CHECK_SECONDS = 300.0
"""spec.driftCheckInterval's default (5m)."""
FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 3, "gracePeriod": "2s"}


def phase(body: dict) -> str | None:
    return (body.get("status") or {}).get("phase")


class AtRest:
    def __init__(self, bench: Bench, workflows: int, plans: int, running_every: int = 10):
        self.bench = bench
        run_id = uuid.uuid4().hex[:6]
        self.plain = [f"bench_rest_{run_id}_{w:04d}" for w in range(workflows - plans)]
        self.migrating = [f"bench_plan_{run_id}_{p:02d}" for p in range(plans)]
        self.completing = self.migrating[:(plans + 1) // 2]
        self.draining = self.migrating[(plans + 1) // 2:]
        self.with_running = self.plain[::running_every]

    def definitions(self) -> list[dict]:
        manifests = []
        for name in self.plain + self.migrating:
            for version in range(1, VERSIONS_PER_WORKFLOW + 1):
                held = name in self.migrating and version == VERSIONS_PER_WORKFLOW
                spec = workflow_spec(name, version, **({"activation": "ByMigrationPlan"} if held else {}))
                manifests.append(self.bench.manifest("WorkflowDefinition", resource_name(name, version), spec))
                self.bench.workflows.add((name, version))
        return manifests

    def plan_spec(self, name: str) -> dict:
        drain = FAST_DRAIN if name in self.completing else {}
        return {"workflowName": name, "from": {"allOlder": True},
                "to": {"workflowDefinitionRef": {"name": resource_name(name, VERSIONS_PER_WORKFLOW)}},
                "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "1s"}},
                "gates": {"requireWorkers": False}, **({"drainDetection": drain} if drain else {})}

    def start_executions(self) -> int:
        """Executions that stay RUNNING (no worker polls their first task), started on Conductor directly."""
        wanted = [(name, VERSIONS_PER_WORKFLOW) for name in self.with_running for _ in range(2)]
        wanted += [(name, 1) for name in self.with_running]
        wanted += [(name, 1) for name in self.draining for _ in range(2)]
        with httpx.Client(base_url=self.bench.conductor_api, timeout=60) as conductor:
            for name, version in wanted:
                started = conductor.post(f"/workflow/{name}", params={"version": version}, json={"orderId": "o-1"})
                started.raise_for_status()
                self.bench.executions.append(started.text.strip())
        return len(wanted)

    def set_up(self, timeout: float) -> None:
        bench = self.bench
        manifests = self.definitions()
        held = len(self.migrating)
        print(f"  setting up: {len(manifests)} WorkflowDefinitions ...", flush=True)
        bench.apply_file(manifests)
        bench.wait_ready("WorkflowDefinition", len(manifests) - held, timeout=timeout)
        started = self.start_executions()
        print(f"  setting up: {started} executions started; {len(self.migrating)} MigrationPlans ...", flush=True)
        for name in self.migrating:
            bench.create("MigrationPlan", name.replace("_", "-"), self.plan_spec(name))
        expected = {name.replace("_", "-"): "Completed" for name in self.completing}
        expected.update({name.replace("_", "-"): "Draining" for name in self.draining})
        bench.wait_ready("MigrationPlan", len(expected), timeout=timeout,
                         check=lambda body: phase(body) == expected.get(body["metadata"]["name"]))
        bench.wait_ready("WorkflowDefinition", len(manifests), timeout=timeout)


def ideal_per_minute(workflows: int, running: int, resources: int, resync: float) -> tuple[float, str]:
    per_interval = 60.0 / resync
    figure = (workflows + running) * per_interval + resources * 60.0 / DRIFT_CHECK_SECONDS
    how = (f"{workflows} running-ids reads + {running} bulk execution reads (workflows with running executions) "
           f"per {resync:g}s, + {resources} definition reads per {DRIFT_CHECK_SECONDS:g}s drift check interval")
    return figure, how


IMPORT_STEPS = [
    ("python itself", ""),
    ("+ asyncio, ssl, json, logging", "import asyncio, ssl, json, logging"),
    ("+ aiohttp", "import aiohttp"),
    ("+ httpx", "import httpx"),
    ("+ pydantic", "import pydantic"),
    ("+ kubernetes (the sync client: client, config)", "from kubernetes import client, config"),
    ("+ kopf (which imports kubernetes itself when it is installed)", "import kopf"),
    ("+ the operator (conductor_operator.handlers, and all it imports)", "import conductor_operator.handlers"),
]


def import_costs() -> list[tuple[str, float]]:
    """The RSS of a fresh Python after each step of imports (cumulative), each in a process of its own."""
    costs, code = [], []
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "operator")}
    for label, statement in IMPORT_STEPS:
        code.append(statement)
        script = "\n".join(filter(None, code)) + "\nimport pathlib\nprint([l.split()[1] for l in " \
                 "pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS:')][0])"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd="/")
        costs.append((label, int(done.stdout.strip() or 0) / 1024))
    return costs


def resume(bench: Bench, rest: AtRest, settle: float, dump=None):
    """Start the operator to measure (traced: under tracemalloc, dumping to ``dump``), wait until it resumed every
    object, and let it settle."""
    operator = bench.start_operator(DEFAULT_SETTINGS, traced=dump)
    total = len(rest.plain + rest.migrating) * VERSIONS_PER_WORKFLOW
    resumed = total + len(rest.migrating) + 1  # and the ConductorCluster
    began = time.monotonic()
    print(f"  the operator (pid {operator.pid}, {describe_settings(operator.settings)}"
          f"{', under tracemalloc' if dump else ''}) is resuming {resumed} objects ...", flush=True)
    deadline = began + max(300.0, total * (3.0 if dump else 0.6))
    while operator.log_count("Resuming is processed") < resumed and time.monotonic() < deadline:
        time.sleep(2)
    print(f"  {operator.log_count('Resuming is processed')}/{resumed} resumed in {time.monotonic() - began:.0f}s; "
          f"settling {settle:.0f}s ...", flush=True)
    time.sleep(settle)
    return operator


def measure(bench: Bench, rest: AtRest, window: float, settle: float) -> dict:
    operator = resume(bench, rest, settle)
    total = len(rest.plain + rest.migrating) * VERSIONS_PER_WORKFLOW
    plans = bench.items("MigrationPlan")
    phases = Counter(phase(p) for p in plans)
    not_ready = [d["metadata"]["name"] for d in bench.items("WorkflowDefinition") if not ready(d)]
    print(f"  measuring for {window:.0f}s (machine: {machine()}) ...", flush=True)
    before, cpu_before, began = bench.proxy.snapshot(), operator.cpu(), time.monotonic()
    samples = []
    while time.monotonic() - began < window:
        time.sleep(min(5.0, max(0.0, window - (time.monotonic() - began))))
        samples.append(operator.rss())
    elapsed = time.monotonic() - began
    calls, cpu = bench.proxy.since(before), operator.cpu() - cpu_before
    minutes = elapsed / 60
    per_minute = sum(calls.values()) / minutes
    resync = float(DEFAULT_SETTINGS["RESYNC_INTERVAL"].removesuffix("s"))
    workflows = len(rest.plain) + len(rest.migrating)
    running = len(rest.with_running) + len(rest.draining)
    ideal, how = ideal_per_minute(workflows, running, total, resync)
    rss_end, rss_peak = samples[-1], max(samples)

    print(f"\nAt rest: {total} WorkflowDefinitions ({workflows} workflows x {VERSIONS_PER_WORKFLOW} versions; "
          f"{len(rest.with_running) + len(rest.draining)} workflows with running executions) and {len(plans)} "
          f"MigrationPlans ({', '.join(f'{n} {p}' for p, n in sorted(phases.items(), key=str))}); "
          f"{len(not_ready)} definitions not Ready")
    print(f"  operator settings: {describe_settings(operator.settings)}; window {elapsed:.0f}s; machine: {machine()}")
    print(f"  Conductor calls per minute                 {per_minute:10.1f}   by path:")
    print(format_calls(calls, per=minutes, unit=" /min"))
    print(f"  baseline, the ideal                        {ideal:10.1f}   ({how})")
    print(f"  ratio to the ideal                         {per_minute / ideal:10.2f}x")
    print(f"  operator CPU seconds per minute            {cpu / minutes:10.2f}")
    print(f"  operator RSS with {total} definitions and {len(plans)} plans: {rss_end:.0f} MiB at the end of the "
          f"window, {rss_peak:.0f} MiB the largest sampled, {operator.peak_rss():.0f} MiB peak since start "
          f"(goal < 150 MiB)", flush=True)
    return {"definitions": total, "plans": len(plans), "phases": dict(phases), "calls_per_minute": per_minute,
            "ideal_per_minute": ideal, "ratio": per_minute / ideal, "cpu_per_minute": cpu / minutes,
            "rss": rss_end, "rss_peak": rss_peak, "not_ready": len(not_ready), "calls": calls}


def profile_memory(bench: Bench, rest: AtRest, settle: float) -> str:
    """The operator started again under tracemalloc, on the same set: what holds its memory once it has resumed
    everything and settled; and what its imports alone cost."""
    bench.stop_operator()
    dump = bench.log_dir / f"tracemalloc-{bench.namespace}.txt"
    print("\nWhat holds the operator's memory: the operator again, under tracemalloc (10 frames) ...", flush=True)
    operator = resume(bench, rest, settle, dump)
    rss = operator.rss()
    text = dump_traced(operator, dump)
    print(f"  (RSS under tracemalloc {rss:.0f} MiB, tracemalloc's own bookkeeping included; written to {dump})")
    print("\n".join(f"    {line}" for line in text.splitlines() if line != "-- end --"), flush=True)
    print("\n  RSS of a fresh Python importing what the operator imports (cumulative, each step in a process of "
          "its own):")
    previous = 0.0
    for label, mib in import_costs():
        print(f"    {mib:7.1f} MiB  ({mib - previous:+6.1f})  {label}")
        previous = mib
    sys.stdout.flush()
    return text


def run(found, workflows: int, plans: int, window: float, settle: float, profile: bool) -> dict:
    with Bench(found, "at-rest") as bench:
        rest = AtRest(bench, workflows, plans, running_every=10 if workflows >= 50 else 2)
        # Fast timers drive the plans through their phases (one a tick), but a 2 s resync of 1,000 definitions
        # is more than two cores serve: the setup's resync grows with the set.
        setup = {**FAST_SETTINGS, "RESYNC_INTERVAL": f"{max(2, workflows * VERSIONS_PER_WORKFLOW // 100)}s"}
        print(f"\nAt rest: setting up with the operator at {describe_settings(setup)} (machine: {machine()})",
              flush=True)
        bench.start_operator(setup)
        rest.set_up(timeout=max(600.0, workflows * VERSIONS_PER_WORKFLOW * 0.6))
        bench.stop_operator()
        figures = measure(bench, rest, window, settle)
        if profile:
            figures["tracemalloc"] = profile_memory(bench, rest, settle)
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.at_rest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=250, help=f"workflow names, each with "
                                                                    f"{VERSIONS_PER_WORKFLOW} versions (250: 1,000)")
    parser.add_argument("--plans", type=int, default=10, help="MigrationPlans, half Completed, half Draining")
    parser.add_argument("--window", type=float, default=DRIFT_CHECK_SECONDS, help="seconds measured (default 300)")
    parser.add_argument("--settle", type=float, default=45.0, help="seconds left to settle after the operator "
                                                                   "resumed everything (default 45)")
    parser.add_argument("--profile-memory", action="store_true", help="run the operator under tracemalloc and "
                                                                      "print what holds its memory")
    parser.add_argument("--small", action="store_true", help="a quick run for CI: 5 workflows (20 definitions), "
                                                             "2 plans, a 30 s window")
    add_testenv_argument(parser)
    args = parser.parse_args(argv)
    if args.small:
        args.workflows, args.plans, args.window, args.settle = 5, 2, 30.0, 10.0
    if args.plans >= args.workflows or args.plans < 0:
        parser.error("--plans must be fewer than --workflows")
    with servers(args.testenv) as found:
        run(found, args.workflows, args.plans, args.window, args.settle, args.profile_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
