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

    def apply_example(self, name: str) -> None:
        """Apply one file of examples/, pointing ConductorClusters at the local Conductor."""
        documents = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
        for document in documents:
            if document.get("kind") == "ConductorCluster":
                document["spec"]["url"] = self.env.conductor.url
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

    def wait_running_counts(self, names: tuple[str, ...], timeout: float = 15) -> int:
        """Wait until the operator reports executions in flight on each of these definitions; their total."""
        deadline = time.monotonic() + timeout
        counts = [0]
        while time.monotonic() < deadline and not all(counts):
            time.sleep(1)
            counts = [int(self.kubectl("get", "workflowdefinition", name, "-n", NAMESPACE, "-o",
                                       "jsonpath={.status.executions.running}", check=False) or 0)
                      for name in names]
        return sum(counts)

    def start_execution(self, workflow: str, version: int | None, payload: dict) -> str:
        params = {"version": version} if version else {}
        response = httpx.post(f"{self.conductor_api}/workflow/{workflow}", params=params, json=payload)
        response.raise_for_status()
        return response.text

    def execution_version(self, execution_id: str) -> int:
        return httpx.get(f"{self.conductor_api}/workflow/{execution_id}",
                         params={"includeTasks": "false"}).json()["workflowVersion"]

    def show(self) -> None:
        print(self.kubectl("get", "conductorclusters,taskdefinitions,workflowdefinitions", "-n", NAMESPACE),
              flush=True)


def _normalize(task_input: dict) -> dict:
    customer = task_input.get("customerId") or task_input.get("legacyCustomerId") or "unknown"
    return {"customerId": customer, "schemaUsed": "v2" if task_input.get("customerId") else "v1_legacy"}


def _risk(task_input: dict) -> dict:
    value = float(task_input.get("orderValue") or 0)
    return {"riskTier": "HIGH" if value >= 5000 else "MEDIUM" if value >= 1000 else "LOW"}


def run_demo(env: Environment, *, keep_running: bool) -> bool:
    demo = Demo(env)
    _say("Installing the CRDs")
    demo.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    demo.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    demo.kubectl("create", "namespace", NAMESPACE)

    _say("Starting the operator (log: operator.log in the work folder)")
    operator = OperatorProcess(env.control_plane.kubeconfig, env.dir / "operator.log").start()
    worker = Worker(env.conductor.url, {"normalize_customer_profile": _normalize, "assign_risk_tier": _risk},
                    delay=3.0, worker_id="demo-worker").start()
    ok = True
    try:
        _say("Applying the ConductorCluster, the task definitions and customer_onboarding v1")
        for name in ("conductorcluster.yaml", "taskdefinitions.yaml", "customer-onboarding-v1.yaml"):
            demo.apply_example(name)
        ok &= demo.wait_ready("conductorcluster", "default")
        ok &= demo.wait_ready("workflowdefinition", "customer-onboarding-v1")

        _say("Starting 3 executions pinned to v1 (the demo worker takes 3 s per task)")
        pinned = [demo.start_execution("customer_onboarding", 1, {"legacyCustomerId": f"c-{i}", "orderValue": 900})
                  for i in range(3)]

        _say("Shipping v2 while v1 executions are in flight: a new version, not an in-place change")
        demo.apply_example("customer-onboarding-v2.yaml")
        ok &= demo.wait_ready("workflowdefinition", "customer-onboarding-v2")
        unpinned = [demo.start_execution("customer_onboarding", None, {"customerId": f"n-{i}", "orderValue": 7000})
                    for i in range(2)]
        versions = {"pinned": [demo.execution_version(i) for i in pinned],
                    "unpinned": [demo.execution_version(i) for i in unpinned]}
        print(f"pinned starts ran on versions {versions['pinned']}, unpinned starts on {versions['unpinned']}")
        ok &= versions == {"pinned": [1, 1, 1], "unpinned": [2, 2]}

        _say("What the operator reports (RUNNING = executions in flight on that version)")
        in_flight = demo.wait_running_counts(("customer-onboarding-v1", "customer-onboarding-v2"))
        demo.show()
        ok &= in_flight > 0

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

        print(f"\nDemo {'succeeded' if ok else 'FAILED'}.", flush=True)
        if keep_running:
            kubectl = f"kubectl --kubeconfig={env.control_plane.kubeconfig} -n {NAMESPACE}"
            print(f"\nTry:\n  {kubectl} get wfd,ctd,ccl\n  {kubectl} describe wfd customer-onboarding-v2\n"
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

