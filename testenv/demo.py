"""The demo: the operator reconciling examples/ into a real Conductor, step by step."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import yaml

from testenv.operator import OperatorProcess
from testenv.servers import Environment
from testenv.tools import REPO_ROOT
from testenv.worker import Worker

EXAMPLES = REPO_ROOT / "examples"
NAMESPACE = "demo"
PLAN = "customer-onboarding-to-v2"


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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.kubectl("get", kind, name, "-n", NAMESPACE, "-o",
                               "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}", check=False)
            if out.strip() == "True":
                return True
            time.sleep(0.5)
        print(f"!! {kind}/{name} is not Ready after {timeout}s:\n"
              f"{self.kubectl('get', kind, name, '-n', NAMESPACE, '-o', 'yaml', check=False)}", flush=True)
        return False

    def wait_phase(self, plan: str, phases: tuple[str, ...], timeout: float) -> bool:
        """Wait until the MigrationPlan is in one of these phases, printing each phase it passes through."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            phase, message = self.kubectl("get", "migrationplan", plan, "-n", NAMESPACE, "-o",
                                          "jsonpath={.status.phase}|{.status.message}", check=False).partition("|")[::2]
            if phase != seen:
                print(f"  MigrationPlan {plan}: {phase or '(no status yet)'}: {message}", flush=True)
                seen = phase
            if phase in phases:
                return True
            time.sleep(0.5)
        print(f"!! MigrationPlan {plan} is not {' or '.join(phases)} after {timeout}s:\n"
              f"{self.kubectl('get', 'migrationplan', plan, '-n', NAMESPACE, '-o', 'yaml', check=False)}", flush=True)
        return False

    def wait_old_running(self, plan: str, timeout: float) -> bool:
        """Wait until the plan counts executions in flight on the old versions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if int(self.kubectl("get", "migrationplan", plan, "-n", NAMESPACE, "-o",
                                "jsonpath={.status.running.old}", check=False) or 0):
                return True
            time.sleep(0.5)
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

    def execution_version(self, execution_id: str) -> int:
        return httpx.get(f"{self.conductor_api}/workflow/{execution_id}",
                         params={"includeTasks": "false"}).json()["workflowVersion"]

    def show(self) -> None:
        print(self.kubectl("get", "conductorclusters,taskdefinitions,workflowdefinitions,migrationplans", "-n",
                           NAMESPACE), flush=True)


def _normalize(task_input: dict) -> dict:
    customer = task_input.get("customerId") or task_input.get("legacyCustomerId") or "unknown"
    return {"customerId": customer, "schemaUsed": "v2" if task_input.get("customerId") else "v1_legacy"}


def _risk(task_input: dict) -> dict:
    value = float(task_input.get("orderValue") or 0)
    return {"riskTier": "HIGH" if value >= 5000 else "MEDIUM" if value >= 1000 else "LOW"}


DEMO_SPEEDS = {"drainDetection": {"interval": "2s", "consecutiveZeroReadings": 3, "gracePeriod": "4s"},
               "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "5s"}}}
"""The demo's MigrationPlan counts every 2 s and retires 5 s after the drain, instead of the example's minutes."""


def run_demo(env: Environment, *, keep_running: bool) -> bool:
    demo = Demo(env)
    _say("Installing the CRDs")
    demo.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    demo.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    demo.kubectl("create", "namespace", NAMESPACE)

    _say("Starting the operator (log: operator.log in the work folder)")
    operator = OperatorProcess(env.control_plane.kubeconfig, env.dir / "operator.log").start()
    worker = Worker(env.conductor.url, {"normalize_customer_profile": _normalize, "assign_risk_tier": _risk},
                    delay=2.0, worker_id="demo-worker").start()
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


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass

