"""The demo: the operator reconciling examples/ into a real Conductor, step by step: v1, then v2 with a
parallel MigrationPlan, then v3 with upgrade waves moving executions already in flight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import yaml

from testenv.operator import OperatorProcess
from testenv.servers import Environment
from testenv.tools import REPO_ROOT
from testenv.worker import Worker

EXAMPLES = REPO_ROOT / "examples"
NAMESPACE = "demo"
PLAN = "customer-onboarding-to-v2"
WAVES_PLAN = "customer-onboarding-waves"


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


class Demo:
    def __init__(self, env: Environment):
        self.env = env
        self.conductor_api = f"{env.conductor.url}/api"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = subprocess.run([str(self.env.tools.kubectl), f"--kubeconfig={self.env.control_plane.kubeconfig}",
                                 *args], input=input, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def apply_example(self, name: str, overrides: dict | None = None) -> None:
        """Apply one file of examples/, pointing ConductorClusters at the local Conductor; ``overrides``
        replace keys of each document's spec."""
        documents = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
        for document in documents:
            if document.get("kind") == "ConductorCluster":
                document["spec"]["url"] = self.env.conductor.url
            document["spec"].update(overrides or {})
        self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump_all(documents))
        print(f"applied examples/{name}", flush=True)

    def wait_ready(self, kind: str, name: str, timeout: float = 60) -> bool:
        if _poll(lambda: self.kubectl("get", kind, name, "-n", NAMESPACE, "-o",
                                      "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                                      check=False).strip() == "True", timeout):
            return True
        print(f"!! {kind}/{name} is not Ready after {timeout}s:\n"
              f"{self.kubectl('get', kind, name, '-n', NAMESPACE, '-o', 'yaml', check=False)}", flush=True)
        return False

    def wait_phase(self, plan: str, phases: tuple[str, ...], timeout: float) -> bool:
        """Wait until the MigrationPlan is in one of these phases, printing each phase it passes through."""
        seen = []

        def reached() -> bool:
            phase, wave, message = (self.kubectl(
                "get", "migrationplan", plan, "-n", NAMESPACE, "-o",
                "jsonpath={.status.phase}|{.status.waves.current} {.status.waves.state}|{.status.message}",
                check=False).split("|", 2) + ["", ""])[:3]
            if [(phase, wave)] != seen[-1:]:  # each phase, and each wave's state while executions move
                print(f"  MigrationPlan {plan}: {phase or '(no status yet)'}: {message}", flush=True)
                seen.append((phase, wave))
            return phase in phases

        if _poll(reached, timeout):
            return True
        print(f"!! MigrationPlan {plan} is not {' or '.join(phases)} after {timeout}s:\n"
              f"{self.kubectl('get', 'migrationplan', plan, '-n', NAMESPACE, '-o', 'yaml', check=False)}", flush=True)
        return False

    def wait_old_running(self, plan: str, timeout: float) -> bool:
        """Wait until the plan counts executions in flight on the old versions."""
        if _poll(lambda: int(self.kubectl("get", "migrationplan", plan, "-n", NAMESPACE, "-o",
                                          "jsonpath={.status.running.old}", check=False) or 0) > 0, timeout):
            return True
        print(f"!! MigrationPlan {plan} never counted an execution on the old versions", flush=True)
        return False

    def registered_versions(self, workflow: str) -> list[int]:
        answer = httpx.get(f"{self.conductor_api}/metadata/workflow/{workflow}/versions").json()
        return sorted(d["version"] for d in answer)

    def start_execution(self, workflow: str, version: int | None, payload: dict) -> str:
        params = {"version": version} if version else {}
        response = httpx.post(f"{self.conductor_api}/workflow/{workflow}", params=params, json=payload)
        response.raise_for_status()
        return response.text

    def plugin(self, *args: str) -> str:
        """kubectl-conductor, as `kubectl conductor` runs it."""
        result = subprocess.run([sys.executable, "-m", "conductor_operator.cli.main", *args, "-n", NAMESPACE,
                                 f"--kubeconfig={self.env.control_plane.kubeconfig}"], capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "operator")})
        return result.stdout + result.stderr

    def wait_executions(self, ids: list[str], status: str, timeout: float) -> bool:
        if _poll(lambda: all(self.execution(i)["status"] == status for i in ids), timeout):
            return True
        print(f"!! not every execution is {status} after {timeout}s", flush=True)
        return False

    def execution(self, execution_id: str, tasks: bool = False) -> dict:
        return httpx.get(f"{self.conductor_api}/workflow/{execution_id}",
                         params={"includeTasks": str(tasks).lower()}).json()

    def execution_version(self, execution_id: str) -> int:
        return self.execution(execution_id)["workflowVersion"]

    def show(self) -> None:
        print(self.kubectl("get", "conductorclusters,taskdefinitions,workflowdefinitions,migrationplans", "-n",
                           NAMESPACE), flush=True)


def _poll(check: Callable[[], bool], timeout: float) -> bool:
    """Ask ``check`` every half second until it says yes (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def _normalize(task_input: dict) -> dict:
    customer = task_input.get("customerId") or task_input.get("legacyCustomerId") or "unknown"
    return {"customerId": customer, "schemaUsed": "v2" if task_input.get("customerId") else "v1_legacy"}


def _risk(task_input: dict) -> dict:
    value = float(task_input.get("orderValue") or 0)
    return {"riskTier": "HIGH" if value >= 5000 else "MEDIUM" if value >= 1000 else "LOW"}


def _notify(task_input: dict) -> dict:
    return {"notified": task_input.get("customerId")}


def _worker(env: Environment) -> Worker:
    return Worker(env.conductor.url, {"normalize_customer_profile": _normalize, "assign_risk_tier": _risk,
                                      "notify_customer": _notify}, delay=2.0, worker_id="demo-worker")


DEMO_SPEEDS = {"drainDetection": {"interval": "2s", "consecutiveZeroReadings": 3, "gracePeriod": "4s"},
               "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "5s"}}}
"""The demo's MigrationPlan counts every 2 s and retires 5 s after the drain, instead of the example's minutes."""

DEMO_WAVES = {"drainDetection": DEMO_SPEEDS["drainDetection"],
              "strategy": {"upgradeWaves": {"workersIdempotent": True,
                                            "canary": {"count": 2, "selector": {"currentTask": "normalize_customer"}},
                                            "steps": [{"percent": 50, "pause": "4s"}, {"percent": 100}],
                                            "healthGate": {"window": "4s", "maxFailurePercent": 10}}}}
"""The waves of examples/migrationplan-waves.yaml with seconds instead of minutes."""


def run_demo(env: Environment, *, keep_running: bool) -> bool:
    demo = Demo(env)
    _say("Installing the CRDs")
    demo.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    demo.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    demo.kubectl("create", "namespace", NAMESPACE)

    _say("Starting the operator (log: operator.log in the work folder)")
    operator = OperatorProcess(env.control_plane.kubeconfig, env.dir / "operator.log").start()
    worker = _worker(env).start()
    ok = True
    try:
        _say("Applying the ConductorCluster, the task definitions and customer_onboarding v1")
        for name in ("conductorcluster.yaml", "taskdefinitions.yaml", "customer-onboarding-v1.yaml"):
            demo.apply_example(name)
        ok &= demo.wait_ready("conductorcluster", "default")
        ok &= demo.wait_ready("workflowdefinition", "customer-onboarding-v1")

        _say("Trying to change v1 in place: the operator refuses and says why")
        demo.kubectl("patch", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "--type=json", "-p",
                     json.dumps([{"op": "add", "path": "/spec/definition/description", "value": "edited in place"}]))
        time.sleep(3)
        message = demo.kubectl("get", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "-o",
                               "jsonpath={.status.conditions[?(@.type==\"Stalled\")].message}")
        print(message, flush=True)
        ok &= "Create a new version" in message
        demo.kubectl("patch", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "--type=json", "-p",
                     json.dumps([{"op": "remove", "path": "/spec/definition/description"}]))
        ok &= demo.wait_ready("workflowdefinition", "customer-onboarding-v1")

        _say("Starting 3 executions pinned to v1 (the demo worker takes 2 s per task)")
        pinned = [demo.start_execution("customer_onboarding", 1, {"legacyCustomerId": f"c-{i}", "orderValue": 900})
                  for i in range(3)]

        _say("Shipping v2 with a MigrationPlan while v1 executions are in flight (examples/migrationplan-parallel"
             f".yaml, faster for the demo: {json.dumps(DEMO_SPEEDS)})")
        demo.apply_example("customer-onboarding-v2.yaml")
        demo.apply_example("migrationplan-parallel.yaml", overrides=DEMO_SPEEDS)
        print(demo.kubectl("get", "workflowdefinition", "customer-onboarding-v2", "-n", NAMESPACE, "-o",
                           "jsonpath={.status.conditions[?(@.type==\"Registered\")].message}"), flush=True)
        ok &= demo.wait_phase(PLAN, ("Draining", "Retiring", "Completed"), timeout=120)
        print(demo.kubectl("get", "migrationplan", PLAN, "-n", NAMESPACE, "-o",
                           "jsonpath={range .status.gates[*]}gate {.name}: {.message}{\"\\n\"}{end}"), flush=True)
        _say("Cut over: unpinned starts now run v2, pinned callers keep starting v1")
        pinned += [demo.start_execution("customer_onboarding", 1, {"legacyCustomerId": f"p-{i}", "orderValue": 900})
                   for i in range(2)]
        unpinned = [demo.start_execution("customer_onboarding", None, {"customerId": f"n-{i}", "orderValue": 7000})
                    for i in range(2)]
        versions = {"pinned": [demo.execution_version(i) for i in pinned],
                    "unpinned": [demo.execution_version(i) for i in unpinned]}
        print(f"pinned starts ran on versions {versions['pinned']}, unpinned starts on {versions['unpinned']}")
        ok &= versions == {"pinned": [1] * 5, "unpinned": [2, 2]}

        _say("What the operator reports while v1 drains (OLD / NEW = executions in flight on each side)")
        ok &= demo.wait_old_running(PLAN, timeout=15)
        demo.show()

        _say("v1 drains, then the plan retires it from Conductor")
        ok &= demo.wait_phase(PLAN, ("Completed",), timeout=180)
        demo.show()
        registered = demo.registered_versions("customer_onboarding")
        print(f"versions registered in Conductor now: {registered}", flush=True)
        ok &= registered == [2]

        moved, waiting = _waves_act(demo, worker)
        ok &= moved
        worker = _worker(env).start()
        ok &= demo.wait_executions(waiting, "COMPLETED", timeout=120)
        finished = [demo.execution(i, tasks=True) for i in waiting]
        notified = sorted(t["outputData"].get("notified") for e in finished for t in e["tasks"]
                          if t["referenceTaskName"] == "notify_customer")
        print(f"moved executions completed on versions {[e['workflowVersion'] for e in finished]}; "
              f"notify_customer ran for {notified}", flush=True)
        ok &= notified == [f"w-{i}" for i in range(6)]
        ok &= demo.wait_phase(WAVES_PLAN, ("Completed",), timeout=60)

        print(f"\nDemo {'succeeded' if ok else 'FAILED'}.", flush=True)
        if keep_running:
            kubectl = f"kubectl --kubeconfig={env.control_plane.kubeconfig} -n {NAMESPACE}"
            print(f"\nTry:\n  {kubectl} get wfd,ctd,ccl,mp\n  {kubectl} describe mp {PLAN}\n"
                  f"  curl {env.conductor.url}/api/metadata/workflow/customer_onboarding?version=2\n"
                  "The operator and the worker keep running; press Ctrl-C to stop everything.", flush=True)
            _wait_forever()
        return bool(ok)
    finally:
        worker.stop()
        operator.stop()


def _waves_act(demo: Demo, worker: Worker) -> tuple[bool, list[str]]:
    """v2 executions wait at their first task (the worker is stopped); a waves plan moves them to v3."""
    _say("Moving executions already in flight to v3 in waves (examples/migrationplan-waves.yaml, faster for the "
         f"demo: {json.dumps(DEMO_WAVES['strategy'])})")
    worker.stop()
    waiting = [demo.start_execution("customer_onboarding", None, {"customerId": f"w-{i}", "orderValue": 300})
               for i in range(6)]
    versions = [demo.execution_version(i) for i in waiting]
    print(f"the worker is stopped: {len(waiting)} executions wait at their first task on versions {versions}")
    ok = versions == [2] * 6
    demo.apply_example("customer-onboarding-v3.yaml")
    demo.apply_example("migrationplan-waves.yaml", overrides=DEMO_WAVES)
    ok &= demo.wait_phase(WAVES_PLAN, ("Draining", "Completed"), timeout=120)
    _say(f"kubectl conductor status {WAVES_PLAN}")
    print(demo.plugin("status", WAVES_PLAN), flush=True)
    versions = [demo.execution_version(i) for i in waiting]
    print(f"the waiting executions now run on versions {versions}", flush=True)
    ok &= versions == [3] * 6
    _say("The worker comes back: the moved executions finish on v3, notification step included")
    return bool(ok), waiting


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass

