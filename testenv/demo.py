"""The demo: the operator reconciling examples/ into a real Conductor, step by step: v1, then v2 with a
parallel MigrationPlan, then v3 with upgrade waves moving executions already in flight.

It must finish on a loaded machine too: its calls to Conductor have generous timeouts and are tried
again on transient failures, and whatever breaks ends it with one line, ``Demo FAILED: <why>``, and a
non-zero exit (the traceback goes to .testenv/demo-failure.log), never a raw traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import TypeVar

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
REPLAY_PLAN = "customer-onboarding-to-v4"
FAILURE_LOG = REPO_ROOT / ".testenv" / "demo-failure.log"

HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Generous: a Conductor on a loaded machine can take many seconds to answer."""
ATTEMPTS = 5
RETRY_WAIT = 1.0
"""Seconds before the second try of a call to Conductor, doubled before each next one (1+2+4+8 s in all)."""
TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})

T = TypeVar("T")


class DemoError(Exception):
    """A step of the demo could not be done; the message says why."""


class _Transient(Exception):
    """A call that may succeed when tried again: no answer, or a "not now" answer."""


def _retrying(what: str, attempt: Callable[[int], T]) -> T:
    """``attempt(n)`` for n = 0, 1, ... until it returns, waiting longer each time it fails transiently."""
    for n in range(ATTEMPTS):
        if n:
            time.sleep(RETRY_WAIT * 2 ** (n - 1))
        try:
            return attempt(n)
        except _Transient as exc:
            last = str(exc)
    raise DemoError(f"{what}: Conductor did not answer after {ATTEMPTS} tries ({last})")


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


class Demo:
    def __init__(self, env: Environment):
        self.env = env
        self.conductor_api = f"{env.conductor.url}/api"
        self.http = httpx.Client(base_url=self.conductor_api, timeout=HTTP_TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One try: the answer, _Transient when trying again may help, DemoError when it will not."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.status_code in TRANSIENT:
            raise _Transient(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.is_error:
            raise DemoError(f"{method} {self.conductor_api}{path}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A call to Conductor's API that is harmless to repeat, tried again on transient failures."""
        return _retrying(f"{method} {self.conductor_api}{path}", lambda _: self._send(method, path, **kwargs))

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
        answer = self.call("GET", f"/metadata/workflow/{workflow}/versions").json()
        return sorted(d["version"] for d in answer)

    def start_execution(self, workflow: str, version: int | None, payload: dict) -> str:
        """Start one execution. A start is not harmless to repeat (a lost answer may hide a started
        execution), so each try after the first looks for it by its correlationId first."""
        correlation_id = f"demo-{uuid.uuid4().hex}"
        params = {"correlationId": correlation_id, **({"version": version} if version else {})}

        def attempt(n: int) -> str:
            if n and (started := self.started_with(workflow, correlation_id)):
                return started
            return self._send("POST", f"/workflow/{workflow}", params=params, json=payload).text

        return _retrying(f"starting {workflow}", attempt)

    def started_with(self, workflow: str, correlation_id: str) -> str | None:
        """The id of the execution of ``workflow`` started with this correlationId, if there is one."""
        answer = self._send("POST", f"/workflow/{workflow}/correlated", json=[correlation_id],
                            params={"includeClosed": "true", "includeTasks": "false"}).json()
        return next((e["workflowId"] for e in answer.get(correlation_id) or []), None)

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
        return self.call("GET", f"/workflow/{execution_id}", params={"includeTasks": str(tasks).lower()}).json()

    def execution_version(self, execution_id: str) -> int:
        return self.execution(execution_id)["workflowVersion"]

    def crds_established(self) -> bool:
        """Whether every CRD in crds/ is Established. (kubectl wait fails outright on a CRD so new that its
        status has no conditions yet.)"""
        names = {yaml.safe_load(path.read_text())["metadata"]["name"] for path in (REPO_ROOT / "crds").glob("*.yaml")}
        listed = json.loads(self.kubectl("get", "crd", "-o", "json"))["items"]
        established = {crd["metadata"]["name"] for crd in listed
                       if any(c.get("type") == "Established" and c.get("status") == "True"
                              for c in (crd.get("status") or {}).get("conditions") or [])}
        return names <= established

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


class Checks:
    """What the demo expects to see; the final line names each one it did not."""

    def __init__(self):
        self.missed: list[str] = []

    def expect(self, passed: bool, what: str) -> bool:
        if not passed:
            self.missed.append(what)
            print(f"!! expected: {what}", flush=True)
        return passed

    def verdict(self) -> str:
        if not self.missed:
            return "Demo succeeded."
        return f"Demo FAILED: {len(self.missed)} check(s) did not pass: {'; '.join(self.missed)}."


def run_demo(env: Environment, *, keep_running: bool) -> bool:
    """Run the demo; True when every check passed. Whatever breaks, it ends with one line saying why."""
    checks = Checks()
    try:
        _run(env, checks, keep_running=keep_running)
    except KeyboardInterrupt:
        print("\nDemo interrupted.", flush=True)
        return False
    except Exception as exc:  # the demo's last word is one line, whatever broke
        print(f"\nDemo FAILED: {_why(exc)}{_saved_traceback()}", flush=True)
        return False
    if not keep_running:  # else said before waiting
        print(f"\n{checks.verdict()}", flush=True)
    return not checks.missed


def _why(exc: Exception, limit: int = 1500) -> str:
    if isinstance(exc, (DemoError, RuntimeError)) and str(exc):
        why = str(exc)
    else:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return why if len(why) <= limit else f"{why[:limit]}... ({len(why) - limit} more characters)"


def _saved_traceback() -> str:
    try:
        FAILURE_LOG.parent.mkdir(exist_ok=True)
        FAILURE_LOG.write_text(traceback.format_exc())
    except OSError:
        return ""
    return f" (traceback in {FAILURE_LOG})"


def _run(env: Environment, checks: Checks, *, keep_running: bool) -> None:
    demo = Demo(env)
    expect = checks.expect
    _say("Installing the CRDs")
    demo.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    if not _poll(demo.crds_established, 60):
        raise RuntimeError("the operator's CRDs were not Established within 60s")
    demo.kubectl("create", "namespace", NAMESPACE)

    _say("Starting the operator (log: operator.log in the work folder)")
    operator = OperatorProcess(env.control_plane.kubeconfig, env.dir / "operator.log").start()
    worker = _worker(env).start()
    try:
        _say("Applying the ConductorCluster, the task definitions and customer_onboarding v1")
        for name in ("conductorcluster.yaml", "taskdefinitions.yaml", "customer-onboarding-v1.yaml"):
            demo.apply_example(name)
        expect(demo.wait_ready("conductorcluster", "default"), "the ConductorCluster is Ready")
        expect(demo.wait_ready("workflowdefinition", "customer-onboarding-v1"), "v1 is Ready")

        _say("Trying to change v1 in place: the operator refuses and says why")
        demo.kubectl("patch", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "--type=json", "-p",
                     json.dumps([{"op": "add", "path": "/spec/definition/description", "value": "edited in place"}]))
        time.sleep(3)
        message = demo.kubectl("get", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "-o",
                               "jsonpath={.status.conditions[?(@.type==\"Stalled\")].message}")
        print(message, flush=True)
        expect("Create a new version" in message, "the in-place change of v1 is refused")
        demo.kubectl("patch", "workflowdefinition", "customer-onboarding-v1", "-n", NAMESPACE, "--type=json", "-p",
                     json.dumps([{"op": "remove", "path": "/spec/definition/description"}]))
        expect(demo.wait_ready("workflowdefinition", "customer-onboarding-v1"), "v1 is Ready again")

        _say("Starting 3 executions pinned to v1 (the demo worker takes 2 s per task)")
        pinned = [demo.start_execution("customer_onboarding", 1, {"legacyCustomerId": f"c-{i}", "orderValue": 900})
                  for i in range(3)]

        _say("Shipping v2 with a MigrationPlan while v1 executions are in flight (examples/migrationplan-parallel"
             f".yaml, faster for the demo: {json.dumps(DEMO_SPEEDS)})")
        demo.apply_example("customer-onboarding-v2.yaml")
        demo.apply_example("migrationplan-parallel.yaml", overrides=DEMO_SPEEDS)
        print(demo.kubectl("get", "workflowdefinition", "customer-onboarding-v2", "-n", NAMESPACE, "-o",
                           "jsonpath={.status.conditions[?(@.type==\"Registered\")].message}"), flush=True)
        expect(demo.wait_phase(PLAN, ("Draining", "Retiring", "Completed"), timeout=120), f"{PLAN} cuts over")
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
        expect(versions == {"pinned": [1] * 5, "unpinned": [2, 2]}, "pinned starts run v1, unpinned ones v2")

        _say("What the operator reports while v1 drains (OLD / NEW = executions in flight on each side)")
        expect(demo.wait_old_running(PLAN, timeout=15), "the plan counts v1 executions in flight")
        demo.show()

        _say("v1 drains, then the plan retires it from Conductor")
        expect(demo.wait_phase(PLAN, ("Completed",), timeout=180), f"{PLAN} completes")
        demo.show()
        registered = demo.registered_versions("customer_onboarding")
        print(f"versions registered in Conductor now: {registered}", flush=True)
        expect(registered == [2], "only v2 is left in Conductor")

        waiting = _waves_act(demo, worker, checks)
        worker = _worker(env).start()
        expect(demo.wait_executions(waiting, "COMPLETED", timeout=120), "the moved executions complete")
        finished = [demo.execution(i, tasks=True) for i in waiting]
        notified = sorted(t["outputData"].get("notified") for e in finished for t in e["tasks"]
                          if t["referenceTaskName"] == "notify_customer")
        print(f"moved executions completed on versions {[e['workflowVersion'] for e in finished]}; "
              f"notify_customer ran for {notified}", flush=True)
        expect(notified == [f"w-{i}" for i in range(6)], "notify_customer ran for every moved execution")
        expect(demo.wait_phase(WAVES_PLAN, ("Completed",), timeout=60), f"{WAVES_PLAN} completes")
        _replay_act(demo, checks)

        if keep_running:
            print(f"\n{checks.verdict()}", flush=True)
            kubectl = f"kubectl --kubeconfig={env.control_plane.kubeconfig} -n {NAMESPACE}"
            print(f"\nTry:\n  {kubectl} get wfd,ctd,ccl,mp\n  {kubectl} describe mp {PLAN}\n"
                  f"  curl {env.conductor.url}/api/metadata/workflow/customer_onboarding?version=2\n"
                  "The operator and the worker keep running; press Ctrl-C to stop everything.", flush=True)
            _wait_forever()
    finally:
        worker.stop()
        operator.stop()
        demo.close()


def _waves_act(demo: Demo, worker: Worker, checks: Checks) -> list[str]:
    """v2 executions wait at their first task (the worker is stopped); a waves plan moves them to v3."""
    _say("Moving executions already in flight to v3 in waves (examples/migrationplan-waves.yaml, faster for the "
         f"demo: {json.dumps(DEMO_WAVES['strategy'])})")
    worker.stop()
    waiting = [demo.start_execution("customer_onboarding", None, {"customerId": f"w-{i}", "orderValue": 300})
               for i in range(6)]
    versions = [demo.execution_version(i) for i in waiting]
    print(f"the worker is stopped: {len(waiting)} executions wait at their first task on versions {versions}")
    checks.expect(versions == [2] * 6, "new starts run v2")
    demo.apply_example("customer-onboarding-v3.yaml")
    demo.apply_example("migrationplan-waves.yaml", overrides=DEMO_WAVES)
    checks.expect(demo.wait_phase(WAVES_PLAN, ("Draining", "Completed"), timeout=120), f"{WAVES_PLAN} moves them")
    _say(f"kubectl conductor status {WAVES_PLAN}")
    print(demo.plugin("status", WAVES_PLAN), flush=True)
    versions = [demo.execution_version(i) for i in waiting]
    print(f"the waiting executions now run on versions {versions}", flush=True)
    checks.expect(versions == [3] * 6, "the waiting executions run v3")
    _say("The worker comes back: the moved executions finish on v3, notification step included")
    return waiting


def _replay_act(demo: Demo, checks: Checks) -> None:
    """v4 reads a field no caller sent so far: the replay gate runs the v3 executions through it and fails the plan
    before v4 is registered, naming them."""
    _say("Shipping v4, whose welcome email reads workflow.input.email, a field no caller sends yet: the replay gate "
         "runs recent v3 executions through v4 on the server before anything is registered "
         "(examples/migrationplan-replay.yaml)")
    demo.apply_example("customer-onboarding-v4.yaml")
    demo.apply_example("migrationplan-replay.yaml", overrides={"drainDetection": DEMO_SPEEDS["drainDetection"]})
    checks.expect(demo.wait_phase(REPLAY_PLAN, ("Failed",), timeout=120), f"{REPLAY_PLAN} fails its replay gate")
    listing = ('jsonpath={.status.replay.message}{"\\n"}'
               '{range .status.replay.divergentExecutions[*]}{.executionId}: {.reason}{"\\n"}{end}')
    found = demo.kubectl("get", "migrationplan", REPLAY_PLAN, "-n", NAMESPACE, "-o", listing, check=False)
    print(found, flush=True)
    checks.expect("old schema: new task welcome_email reads workflow.input.email" in found,
                  "the replay gate names the executions whose data lacks workflow.input.email")
    checks.expect(4 not in demo.registered_versions("customer_onboarding"), "v4 is not registered")


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass

