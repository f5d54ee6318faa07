"""spec.recoverFailed run by the real operator against a real Conductor OSS and a real worker: executions of v1
that FAILED are restarted on v2 after the cutover (the blog's ``restart --use-latest``), counted in
status.recovery apart from moves, and an operator killed at random moments while it restarts them never restarts
one twice.

The workflow: one SIMPLE task, ``charge``, whose input names the definition's mode. The worker fails it in v1's
mode ("strict") and completes it in v2's ("lenient"), counting its runs per execution: a failed v1 execution ran
it once; restarted once on v2 it ran twice, and completed. A second restart would show as a third run.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from testenv.worker import Worker
from tests.e2e.conftest import events_for, wait_for
from tests.e2e.test_definitions_real import simple, workflow_spec
from tests.e2e.test_migration_real import status_of, wait_phase

pytestmark = pytest.mark.realenv

FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 2, "gracePeriod": "1s"}


class FlakyFlow:
    """v1 fails at charge (strict); v2 completes (lenient). The worker counts charge's runs per execution."""

    def __init__(self, conductor_url: str):
        suffix = uuid.uuid4().hex[:8]
        self.api = f"{conductor_url}/api"
        self.workflow = f"flaky_{suffix}"
        self.charge_type = f"charge_{suffix}"
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()
        httpx.post(f"{self.api}/metadata/taskdefs", json=[{
            "name": self.charge_type, "retryCount": 0, "timeoutSeconds": 120, "responseTimeoutSeconds": 60,
            "ownerEmail": "tests@example.com"}]).raise_for_status()
        self.worker = Worker(conductor_url, {self.charge_type: self._charge}, worker_id=f"worker-{suffix}",
                             poll_interval=0.1)

    def _charge(self, task_input: dict) -> dict:
        with self._lock:
            self.runs[task_input["execution"]] += 1
        if task_input.get("mode") == "strict":
            raise RuntimeError("the old schema: card token missing")
        return {"charged": True}

    def _version(self, version: int, mode: str) -> dict:
        return workflow_spec(self.workflow, version, simple("charge", self.charge_type, inputParameters={
            "execution": "${workflow.workflowId}", "mode": mode}))

    def v1(self) -> dict:
        return self._version(1, "strict")

    def v2(self) -> dict:
        return {**self._version(2, "lenient"), "activation": "ByMigrationPlan"}

    def start_failing(self, count: int, prefix: str = "order") -> list[str]:
        ids = []
        for n in range(count):
            response = httpx.post(f"{self.api}/workflow", json={"name": self.workflow, "version": 1, "input": {},
                                                                 "correlationId": f"{prefix}-{n}"})
            response.raise_for_status()
            ids.append(response.text)
        wait_for(lambda: all(self.execution(i)["status"] == "FAILED" for i in ids), timeout=60,
                 what=f"{count} v1 executions failed")
        return ids

    def execution(self, execution_id: str) -> dict:
        return httpx.get(f"{self.api}/workflow/{execution_id}", params={"includeTasks": "false"}).json()

    def plan(self, **recover) -> dict:
        return {"workflowName": self.workflow, "from": {"allOlder": True},
                "to": {"workflowDefinitionRef": {"name": "v2"}}, "strategy": {"parallel": {}},
                "gates": {"workersSeenWithin": "1m"}, "drainDetection": FAST_DRAIN,
                "recoverFailed": {"within": "1h", "workersIdempotent": True, **recover}}


def ledger(k8s, namespace: str, plan: str) -> dict[str, dict]:
    data = client.CoreV1Api(k8s).read_namespaced_config_map(f"{plan}-ledger", namespace).data or {}
    return {key: json.loads(value) for key, value in data.items()}


def test_failed_v1_executions_are_restarted_on_v2_after_the_cutover_on_oss(resources, cluster, conductor_url, k8s,
                                                                           namespace):
    flow = FlakyFlow(conductor_url)
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    terminated = httpx.post(f"{flow.api}/workflow", json={"name": flow.workflow, "version": 1, "input": {},
                                                          "correlationId": "order-99"}).text
    httpx.delete(f"{flow.api}/workflow/{terminated}", params={"reason": "by hand"}).raise_for_status()
    with flow.worker:
        failed = flow.start_failing(5)
        others = flow.start_failing(1, prefix="refund")  # the selector leaves it alone
        resources.create("WorkflowDefinition", "v2", flow.v2())
        resources.create("MigrationPlan", "recover", flow.plan(
            selector={"correlationIdPattern": "^order-[0-9]+$"}, canary={"count": 2},
            steps=[{"percent": 100}], healthGate={"window": "2s", "maxFailurePercent": 20}))

        status = wait_phase(resources, "recover", "Completed", timeout=180)
        recovery = status["recovery"]
        assert (recovery["found"], recovery["restarted"], recovery["failed"], recovery["state"]) == (5, 5, 0, "Done")
        assert status.get("waves") is None, "restarts are not moves"
        wait_for(lambda: all(flow.execution(i)["status"] == "COMPLETED" for i in failed), timeout=60,
                 what="the restarted executions completed on v2")
        assert {flow.execution(i)["workflowVersion"] for i in failed} == {2}
        assert {flow.runs[i] for i in failed} == {2}, f"failed once on v1, ran once on v2: {flow.runs}"
        assert flow.execution(others[0])["status"] == "FAILED" and flow.runs[others[0]] == 1
        assert flow.execution(terminated)["status"] == "TERMINATED", "TERMINATED is not asked for"

        entries = ledger(k8s, namespace, "recover")
        assert set(entries) == set(failed)
        assert {(e["mover"], e["state"], e["from_version"], e["to_version"]) for e in entries.values()} == \
            {("Restart", "Moved", 1, 2)}
        assert sorted(e["wave"] for e in entries.values()) == [0, 0, 1, 1, 1]
        reasons = [reason for _, reason, _ in events_for(k8s, namespace, "recover")]
        assert "Restarted" in reasons and "Recovered" in reasons


def test_recovery_without_idempotent_workers_is_refused(resources, cluster, conductor_url):
    flow = FlakyFlow(conductor_url)
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    resources.create("WorkflowDefinition", "v2", flow.v2())
    plan = flow.plan(workersIdempotent=False)
    plan["gates"] = {"requireWorkers": False}
    resources.create("MigrationPlan", "recover", plan)
    stalled = wait_for(lambda: (c := resources.condition("MigrationPlan", "recover", "Stalled")) and
                       c["status"] == "True" and c, what="the plan stalled")
    assert stalled["reason"] == "WorkersNotIdempotent"
    assert "spec.recoverFailed.workersIdempotent: true" in stalled["message"]
    assert status_of(resources, "recover")["phase"] == "Validating"


def test_killing_the_operator_while_it_recovers_never_restarts_an_execution_twice(
        resources, cluster, conductor_url, k8s, namespace, operator, kubeconfig, tmp_path):
    """SIGKILL the operator at random moments while it restarts 16 failed executions in four waves, restart it
    each time: every execution is restarted exactly once (charge ran twice), and the ledger agrees."""
    flow = FlakyFlow(conductor_url)
    rng = random.Random()
    operator.stop()  # this test runs its own operator, to kill it
    killed: list[float] = []
    victim = None
    try:
        with flow.worker:
            victim = OperatorProcess(kubeconfig, tmp_path / "victim.log").start()
            resources.create("WorkflowDefinition", "v1", flow.v1())
            resources.wait_condition("WorkflowDefinition", "v1", "Ready", timeout=60)
            ids = flow.start_failing(16)
            resources.create("WorkflowDefinition", "v2", flow.v2())
            resources.create("MigrationPlan", "recover", flow.plan(
                canary={"count": 2}, steps=[{"percent": 40}, {"percent": 70}, {"percent": 100}],
                healthGate={"window": "1s", "maxFailurePercent": 20}))
            while len(killed) < 10 and status_of(resources, "recover").get("phase") not in ("Draining", "Completed"):
                pause = rng.uniform(0.3, 3.0)
                time.sleep(pause)
                victim.kill()
                killed.append(round(pause, 2))
                victim = OperatorProcess(kubeconfig, tmp_path / "victim.log").start()
            status = wait_phase(resources, "recover", "Completed", timeout=420)  # an intent may wait 2 minutes
            settled = [text for _, reason, text in events_for(k8s, namespace, "recover") if reason == "RestartsSettled"]
            print(f"killed the operator {len(killed)} time(s), after {killed} s of work each; restarts left halfway "
                  f"and settled on restart: {settled or 'none this run'}")
            assert killed, "the operator was killed at least once"
            entries = ledger(k8s, namespace, "recover")
            odd = {i: e for i, e in entries.items() if e["state"] != "Moved"}
            assert not odd, f"ledger entries not Moved (another operator of an older version settles entries it " \
                            f"does not know as moves: 'ended before it was moved'): {odd}"

            wait_for(lambda: all(flow.execution(i)["status"] == "COMPLETED" for i in ids), timeout=60,
                     what="every restarted execution completed")
            log = (tmp_path / "victim.log").read_text(errors="replace")
            sent = log.count("/api/workflow/bulk/restart?") + log.count("/restart?useLatestDefinitions")
            assert {flow.runs[i] for i in ids} == {2}, (
                f"each restarted exactly once: {flow.runs}; this test's operators sent {sent} restart request(s) "
                f"(more restarts than that came from another operator watching the cluster: the ledger has one "
                f"writer per plan, as kopf peering gives in production)")
            assert {flow.execution(i)["workflowVersion"] for i in ids} == {2}
            entries = ledger(k8s, namespace, "recover")
            assert set(entries) == set(ids), "the ledger names every restarted execution"
            assert {e["state"] for e in entries.values()} == {"Moved"}, "and agrees with Conductor"
            assert status["recovery"]["restarted"] == 16 and status["recovery"]["failed"] == 0
    finally:
        if victim:
            victim.stop()
        operator.start()
