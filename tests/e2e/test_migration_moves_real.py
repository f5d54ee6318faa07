"""Drain and upgrade waves run by the real operator against a real Conductor OSS and real workers.

The workflows here are: a SIMPLE step the test's worker runs (it counts, per execution, how often
it ran: a restart runs it again), then a WAIT task that holds the execution in flight until the test
completes it. The target appends a step, a safe change. Moves on OSS are terminate, then restart on
the latest definition, so "moved exactly once" reads as "the step ran exactly twice".
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from testenv.worker import Worker
from tests.e2e.conftest import events_for, wait_for
from tests.e2e.test_definitions_real import simple, workflow_spec
from tests.e2e.test_migration_real import Executions, status_of, wait_phase

pytestmark = pytest.mark.realenv

FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 2, "gracePeriod": "1s"}


class HeldFlow:
    """v1: step, hold (WAIT). v2: step, hold, finish. The worker counts the step's runs per execution."""

    def __init__(self, conductor_url: str):
        suffix = uuid.uuid4().hex[:8]
        self.api = f"{conductor_url}/api"
        self.workflow = f"held_{suffix}"
        self.step_type = f"step_{suffix}"
        self.finish_type = f"finish_{suffix}"
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.worker = Worker(conductor_url, {self.step_type: self._step, self.finish_type: lambda _: {"done": True}},
                             worker_id=f"worker-{suffix}", poll_interval=0.1)

    def _step(self, task_input: dict) -> dict:
        with self._lock:
            self.runs[task_input["execution"]] += 1
        return {"stepped": True}

    def _tasks(self, *extra: dict) -> list[dict]:
        return [simple("step", self.step_type, inputParameters={"execution": "${workflow.workflowId}"}),
                {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}, *extra]

    def v1(self) -> dict:
        return workflow_spec(self.workflow, 1, *self._tasks())

    def v2(self) -> dict:
        return {**workflow_spec(self.workflow, 2, *self._tasks(simple("finish", self.finish_type))),
                "activation": "ByMigrationPlan"}

    def prepare(self, resources, executions: Executions, count: int) -> list[str]:
        """v1 registered, ``count`` of its executions waiting at hold, v2 applied (and held for a plan)."""
        resources.create("WorkflowDefinition", "v1", self.v1())
        resources.wait_condition("WorkflowDefinition", "v1", "Ready")
        ids = self.start(executions, count)
        resources.create("WorkflowDefinition", "v2", self.v2())
        return ids

    def start(self, executions: Executions, count: int) -> list[str]:
        ids = [executions.start_with(self.workflow, 1, {}) for _ in range(count)]
        wait_for(lambda: all(self.runs[i] == 1 and self.at_hold(i) for i in ids), timeout=60,
                 what=f"{count} executions waiting at hold")
        return ids

    def start_sorting_before(self, executions: Executions, bound: str, count: int) -> list[str]:
        """Executions started now, until ``count`` of them have ids sorting before ``bound``: an order by id
        would take those before the (older) execution ``bound``."""
        ids: list[str] = []
        while sum(i < bound for i in ids) < count:
            assert len(ids) < 200, "uuids sort before a bound now and then"
            ids.append(executions.start_with(self.workflow, 1, {}))
        wait_for(lambda: all(self.runs[i] == 1 and self.at_hold(i) for i in ids), timeout=60,
                 what=f"{len(ids)} executions waiting at hold")
        return ids

    def execution(self, execution_id: str) -> dict:
        return httpx.get(f"{self.api}/workflow/{execution_id}", params={"includeTasks": "true"}).json()

    def started(self, execution_id: str) -> datetime:
        """When Conductor says it started (GET gives startTime, the same as createTime)."""
        return datetime.fromtimestamp(self.execution(execution_id)["startTime"] / 1000, UTC)

    def at_hold(self, execution_id: str) -> bool:
        tasks = self.execution(execution_id).get("tasks") or []
        return bool(tasks) and tasks[-1]["referenceTaskName"] == "hold" and tasks[-1]["status"] == "IN_PROGRESS"

    def release(self, execution_id: str) -> None:
        """Complete the WAIT task: the execution goes on (and ends)."""
        hold = next(t for t in self.execution(execution_id)["tasks"] if t["referenceTaskName"] == "hold"
                    and t["status"] == "IN_PROGRESS")
        httpx.post(f"{self.api}/tasks", json={"workflowInstanceId": execution_id, "taskId": hold["taskId"],
                                              "status": "COMPLETED", "outputData": {}}).raise_for_status()

    def plan(self, strategy: dict) -> dict:
        return {"workflowName": self.workflow, "from": {"allOlder": True},
                "to": {"workflowDefinitionRef": {"name": "v2"}}, "strategy": strategy,
                "gates": {"workersSeenWithin": "1m"}, "drainDetection": FAST_DRAIN}


def ledger(k8s, namespace: str, plan: str) -> dict[str, dict]:
    data = client.CoreV1Api(k8s).read_namespaced_config_map(f"{plan}-ledger", namespace).data or {}
    return {key: json.loads(value) for key, value in data.items()}


@pytest.fixture
def executions(conductor_url) -> Executions:
    return Executions(conductor_url)


def test_upgrade_waves_move_each_held_execution_once_on_oss(resources, cluster, executions, conductor_url, k8s,
                                                            namespace):
    flow = HeldFlow(conductor_url)
    with flow.worker:
        ids = flow.prepare(resources, executions, 8)
        resources.create("MigrationPlan", "waves", flow.plan({"upgradeWaves": {
            "workersIdempotent": True, "canary": {"count": 2}, "steps": [{"percent": 50}, {"percent": 100}],
            "healthGate": {"window": "2s", "maxFailurePercent": 20}}}))

        status = wait_phase(resources, "waves", "Draining", timeout=120)
        assert status["waves"]["moved"] == 8 and status["waves"]["failed"] == 0
        assert status["waves"]["state"] == "Done"
        wait_for(lambda: all(flow.at_hold(i) for i in ids), what="moved executions back at hold")
        assert {i: flow.execution(i)["workflowVersion"] for i in ids} == dict.fromkeys(ids, 2)
        assert {flow.runs[i] for i in ids} == {2}, f"the step ran once before and once after the move: {flow.runs}"
        entries = ledger(k8s, namespace, "waves")
        assert set(entries) == set(ids) and {e["state"] for e in entries.values()} == {"Moved"}
        assert sorted(e["wave"] for e in entries.values()) == [0, 0, 1, 1, 2, 2, 2, 2]

        for execution_id in ids:
            flow.release(execution_id)
        wait_phase(resources, "waves", "Completed", timeout=60)
        assert {executions.execution(i)["status"] for i in ids} == {"COMPLETED"}


def waves_state(resources, plan: str) -> str | None:
    return (status_of(resources, plan).get("waves") or {}).get("state")


def moved_in(entries: dict[str, dict], wave: int) -> set[str]:
    return {i for i, e in entries.items() if e["wave"] == wave}


def rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_the_canary_takes_the_oldest_executions_first_on_oss(resources, cluster, executions, conductor_url, k8s,
                                                             namespace):
    """Two executions started first, then younger ones, two of which have ids sorting before both older ones: a
    canary of two moves the two oldest (by the createTime bulk search gives), which an order by id would not."""
    flow = HeldFlow(conductor_url)
    with flow.worker:
        resources.create("WorkflowDefinition", "v1", flow.v1())
        resources.wait_condition("WorkflowDefinition", "v1", "Ready")
        oldest = flow.start(executions, 2)
        time.sleep(2)
        younger = flow.start_sorting_before(executions, min(oldest), 2)
        assert max(flow.started(i) for i in oldest) < min(flow.started(i) for i in younger)
        resources.create("WorkflowDefinition", "v2", flow.v2())
        resources.create("MigrationPlan", "waves", flow.plan({"upgradeWaves": {
            "workersIdempotent": True, "canary": {"count": 2}, "steps": [{"percent": 100}],
            "healthGate": {"window": "2s"}}}))

        status = wait_phase(resources, "waves", "Draining", timeout=120)
        entries = ledger(k8s, namespace, "waves")
        assert moved_in(entries, 0) == set(oldest), f"the canary took {moved_in(entries, 0)}"
        assert moved_in(entries, 1) == set(younger)
        assert status["waves"]["moved"] == len(oldest) + len(younger)


def test_a_canary_older_than_holds_while_none_is_that_old_and_takes_only_those_that_are_on_oss(
        resources, cluster, executions, conductor_url, k8s, namespace):
    """Two executions, then three more 30 s later. A canary of up to five executions an hour old finds none: it
    holds (it does not pass its gate with nothing moved, and the next wave does not start). Its olderThan is then
    set between the two groups' ages: it takes the two older executions only, and the next wave the rest."""
    flow = HeldFlow(conductor_url)
    with flow.worker:
        resources.create("WorkflowDefinition", "v1", flow.v1())
        resources.wait_condition("WorkflowDefinition", "v1", "Ready")
        older = flow.start(executions, 2)
        time.sleep(30)
        younger = flow.start(executions, 3)
        resources.create("WorkflowDefinition", "v2", flow.v2())
        resources.create("MigrationPlan", "waves", flow.plan({"upgradeWaves": {
            "workersIdempotent": True, "canary": {"count": 5, "selector": {"olderThan": "1h"}},
            "steps": [{"percent": 100}], "healthGate": {"window": "2s"}}}))

        held = wait_for(lambda: status_of(resources, "waves") if waves_state(resources, "waves") == "Held" else None,
                        timeout=120, what="the canary held")
        oldest = min(flow.started(i) for i in older)
        assert held["waves"]["message"] == (
            "canary selected nothing: its selector (olderThan 1h) admits none of the 5 execution(s) it could move; "
            f"the oldest of them is 1h old at {(oldest + timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}")
        assert held["waves"]["current"] == 0 and held["waves"]["moved"] == 0
        assert resources.condition("MigrationPlan", "waves", "Stalled")["reason"] == "WaveSelectedNothing"
        assert resources.condition("MigrationPlan", "waves", "Warning")["reason"] == "WaveSelectedNothing"
        time.sleep(5)  # the canary's health gate window twice over: a gate passed with nothing moved would show
        assert waves_state(resources, "waves") == "Held" and status_of(resources, "waves")["waves"]["moved"] == 0
        assert {flow.execution(i)["workflowVersion"] for i in [*older, *younger]} == {1}, "nothing moved"

        # Old enough: the two older executions, not the three started 30 s after them.
        age = int((datetime.now(UTC) - max(flow.started(i) for i in older)).total_seconds()) - 1
        assert age - int((datetime.now(UTC) - min(flow.started(i) for i in younger)).total_seconds()) >= 25
        resources.patch_spec("MigrationPlan", "waves",
                             {"strategy": {"upgradeWaves": {"canary": {"selector": {"olderThan": f"{age}s"}}}}})
        wait_phase(resources, "waves", "Draining", timeout=120)
        entries = ledger(k8s, namespace, "waves")
        assert moved_in(entries, 0) == set(older), f"the canary took {moved_in(entries, 0)}"
        assert moved_in(entries, 1) == set(younger)
        warned = [text for kind, reason, text in events_for(k8s, namespace, "waves") if reason == "WaveSelectedNothing"]
        assert len(warned) == 1 and "olderThan 1h" in warned[0], warned


def test_a_drain_estimates_its_end_from_the_ages_of_the_executions_on_oss(resources, cluster, executions,
                                                                          conductor_url):
    """The estimate assumes each execution runs at least as long as the oldest has so far: with one execution
    started 5 s before two others, the youngest ends no sooner than the oldest's age after its own start."""
    flow = HeldFlow(conductor_url)
    with flow.worker:
        resources.create("WorkflowDefinition", "v1", flow.v1())
        resources.wait_condition("WorkflowDefinition", "v1", "Ready")
        ids = flow.start(executions, 1)
        time.sleep(5)
        ids += flow.start(executions, 2)
        resources.create("WorkflowDefinition", "v2", flow.v2())
        resources.create("MigrationPlan", "drain", flow.plan({"drain": {"deadline": "10m"}}))

        def estimated() -> dict | None:
            status = status_of(resources, "drain")
            return status if (status.get("drain") or {}).get("estimatedEnd") and \
                (status.get("running") or {}).get("old") == 3 else None

        status = wait_for(estimated, timeout=60, what="an estimated end of the drain")
        starts = [flow.started(i) for i in ids]
        read_at = rfc3339(status["running"]["readAt"])
        expected = max(starts) + (read_at - min(starts))
        estimate = rfc3339(status["drain"]["estimatedEnd"])
        assert abs(estimate - expected) <= timedelta(seconds=2), (estimate, expected)
        assert estimate - read_at >= timedelta(seconds=4), "the youngest started 5 s after the oldest"
        assert f"estimated end {status['drain']['estimatedEnd']}" in status["message"]

        for execution_id in ids:
            flow.release(execution_id)
        wait_phase(resources, "drain", "Completed", timeout=90)


def test_a_failed_health_gate_rolls_back_on_oss(resources, cluster, executions, conductor_url, k8s, namespace):
    flow = HeldFlow(conductor_url)
    with flow.worker:
        ids = flow.prepare(resources, executions, 6)
        resources.create("MigrationPlan", "waves", flow.plan({"upgradeWaves": {
            "workersIdempotent": True, "canary": {"count": 2}, "steps": [{"percent": 100}],
            "healthGate": {"window": "1h", "maxFailurePercent": 20}, "onGateFailure": "Rollback"}}))

        watching = wait_for(lambda: status_of(resources, "waves") if (status_of(resources, "waves").get("waves")
                                                                      or {}).get("state") == "Watching" else None,
                            timeout=90, what="the canary watched")
        canary = sorted(ledger(k8s, namespace, "waves"))
        assert len(canary) == 2 and watching["waves"]["moved"] == 2
        failing, surviving = canary
        wait_for(lambda: flow.at_hold(surviving), what="the surviving canary at hold on v2")
        httpx.delete(f"{flow.api}/workflow/{failing}", params={"reason": "broke on v2"}).raise_for_status()

        status = wait_phase(resources, "waves", "RolledBack", timeout=90)
        assert status["rollback"] == {**status["rollback"], "fromVersion": 1, "version": 3}
        assert executions.versions(flow.workflow) == [1, 2, 3], "v2 stays registered; v3 is v1 again"
        republished = httpx.get(f"{flow.api}/metadata/workflow/{flow.workflow}", params={"version": 3}).json()
        assert [t["taskReferenceName"] for t in republished["tasks"]] == ["step", "hold"]
        assert flow.execution(surviving)["workflowVersion"] == 3
        wait_for(lambda: flow.runs[surviving] == 3, what="the step ran again after the move back")
        assert ledger(k8s, namespace, "waves")[surviving]["state"] == "RolledBack"
        others = [i for i in ids if i not in canary]
        assert {flow.execution(i)["workflowVersion"] for i in others} == {1}, "the rest never moved"
        assert {flow.runs[i] for i in others} == {1}
        assert executions.execution(executions.start_with(flow.workflow, None, {}))["workflowVersion"] == 3
        assert resources.condition("MigrationPlan", "waves", "Stalled")["reason"] == "RolledBack"

        # The team's next try, written as v3, finds v3 taken by the rollback and is told which version to use.
        resources.create("WorkflowDefinition", "v3", workflow_spec(flow.workflow, 3, simple("step", flow.step_type)))
        refused = resources.wait_condition("WorkflowDefinition", "v3", "Stalled", reason="InPlaceChangeRefused")
        assert f"v1's content, republished by MigrationPlan {namespace}/waves in a rollback" in refused["message"]
        assert "next free version" in refused["message"]


def test_drain_pauses_an_event_handler_and_a_schedule_and_resumes_them_after_the_cutover(resources, cluster, executions,
                                                                       conductor_url, namespace):
    flow = HeldFlow(conductor_url)
    handler = {"name": f"start_{flow.workflow}", "event": f"conductor:{flow.workflow}_in", "active": True,
               "actions": [{"action": "start_workflow", "start_workflow": {"name": flow.workflow, "input": {}}}]}
    httpx.post(f"{flow.api}/event", json=handler).raise_for_status()
    schedule = {"name": f"nightly_{flow.workflow}", "cronExpression": "0 0 3 * * ?",
                "startWorkflowRequest": {"name": flow.workflow, "input": {}}}
    httpx.post(f"{flow.api}/scheduler/schedules", json=schedule).raise_for_status()

    def handler_active() -> bool:
        return next(h for h in httpx.get(f"{flow.api}/event").json() if h["name"] == handler["name"])["active"]

    def schedule_paused() -> bool:
        found = httpx.get(f"{flow.api}/scheduler/schedules", params={"workflowName": flow.workflow}).json()
        return found[0]["paused"]

    try:
        with flow.worker:
            ids = flow.prepare(resources, executions, 3)
            resources.create("MigrationPlan", "drain", flow.plan({"drain": {"deadline": "10m"}}))

            draining = wait_phase(resources, "drain", "Draining", timeout=60)
            wait_for(lambda: not handler_active(), what="the event handler paused")
            status = wait_for(lambda: status_of(resources, "drain") if status_of(resources, "drain").get("triggers")
                              else None, what="the paused handler in status")
            assert status["triggers"] == [{"kind": "EventHandler", "name": handler["name"], "state": "Paused"},
                                          {"kind": "Schedule", "name": schedule["name"], "state": "Paused"}]
            assert schedule_paused()
            assert draining["drain"]["deadline"]
            wait_for(lambda: status_of(resources, "drain").get("running", {}).get("old") == 3, what="3 counted")
            assert executions.versions(flow.workflow) == [1], "the target waits for the drain"

            for execution_id in ids:
                flow.release(execution_id)
            done = wait_phase(resources, "drain", "Completed", timeout=90)
            assert executions.versions(flow.workflow) == [1, 2]
            assert handler_active(), "resumed after the cutover"
            assert not schedule_paused()
            assert done["triggers"] == [{"kind": "EventHandler", "name": handler["name"], "state": "Resumed"},
                                        {"kind": "Schedule", "name": schedule["name"], "state": "Resumed"}]
            assert {flow.runs[i] for i in ids} == {1}, "a drain moves nothing"
    finally:
        httpx.delete(f"{flow.api}/event/{handler['name']}")
        httpx.delete(f"{flow.api}/scheduler/schedules/{schedule['name']}")


def test_killing_the_operator_during_waves_never_moves_an_execution_twice(resources, cluster, executions,
                                                                        conductor_url, k8s, namespace, operator,
                                                                        kubeconfig, tmp_path):
    """SIGKILL the operator at random moments while it moves 24 executions in five waves, each watched by a
    check workflow, restart it each time: every execution is moved exactly once, the ledger agrees with
    Conductor, and each wave's check ran once."""
    flow = HeldFlow(conductor_url)
    check = f"check_{flow.workflow}"
    httpx.post(f"{flow.api}/metadata/workflow", json={
        "name": check, "version": 1, "schemaVersion": 2, "ownerEmail": "tests@example.com",
        "tasks": [{"name": flow.finish_type, "taskReferenceName": "probe", "type": "SIMPLE"}]}).raise_for_status()
    rng = random.Random()
    operator.stop()  # this test runs its own operator, to kill it
    killed = []
    victim = None
    try:
        with flow.worker:
            victim = OperatorProcess(kubeconfig, tmp_path / "victim.log").start()
            ids = flow.prepare(resources, executions, 24)
            resources.create("MigrationPlan", "waves", flow.plan({"upgradeWaves": {
                "workersIdempotent": True, "canary": {"count": 3},
                "steps": [{"percent": 25}, {"percent": 50}, {"percent": 75}, {"percent": 100}],
                "healthGate": {"window": "1s", "workflows": [{"name": check, "expectedOutput": {"done": True}}]}}}))
            while len(killed) < 10 and status_of(resources, "waves").get("phase") != "Draining":
                pause = rng.uniform(0.5, 4.0)
                time.sleep(pause)
                victim.kill()
                killed.append(round(pause, 2))
                victim = OperatorProcess(kubeconfig, tmp_path / "victim.log").start()
            status = wait_phase(resources, "waves", "Draining", timeout=180)
            settled = [text for _, reason, text in events_for(k8s, namespace, "waves") if reason == "MovesSettled"]
            print(f"killed the operator {len(killed)} time(s), after {killed} s of work each; moves left halfway "
                  f"and settled on restart: {settled or 'none this run'}")
            assert killed, "the operator was killed at least once"

            wait_for(lambda: all(flow.at_hold(i) for i in ids), timeout=60, what="every execution at hold")
            assert {flow.runs[i] for i in ids} == {2}, f"each moved exactly once: {flow.runs}"
            assert {flow.execution(i)["workflowVersion"] for i in ids} == {2}
            entries = ledger(k8s, namespace, "waves")
            assert set(entries) == set(ids), "the ledger names every moved execution"
            assert {e["state"] for e in entries.values()} == {"Moved"}, "and agrees with Conductor"
            assert status["waves"]["moved"] == 24
            for wave in range(5):
                correlation = f"migrationplan/{namespace}/waves/{check}/wave-{wave}/gen-1"
                started = httpx.post(f"{flow.api}/workflow/{check}/correlated", json=[correlation],
                                     params={"includeClosed": "true"}).json()[correlation]
                assert [e["status"] for e in started] == ["COMPLETED"], f"wave {wave}'s check ran once"
    finally:
        if victim:
            victim.stop()
        operator.start()


def test_deleting_a_draining_plan_resumes_the_handler_it_paused(resources, cluster, executions, conductor_url):
    """The plan's finalizer, through kopf: the handler is active again before the plan is gone."""
    flow = HeldFlow(conductor_url)
    handler = {"name": f"start_{flow.workflow}", "event": f"conductor:{flow.workflow}_in", "active": True,
               "actions": [{"action": "start_workflow", "start_workflow": {"name": flow.workflow, "input": {}}}]}
    httpx.post(f"{flow.api}/event", json=handler).raise_for_status()

    def handler_active() -> bool:
        return next(h for h in httpx.get(f"{flow.api}/event").json() if h["name"] == handler["name"])["active"]

    try:
        with flow.worker:
            flow.prepare(resources, executions, 1)
            resources.create("MigrationPlan", "drain", flow.plan({"drain": {"deadline": "10m"}}))
            wait_for(lambda: not handler_active(), timeout=60, what="the event handler paused")
            resources.delete("MigrationPlan", "drain")
            wait_for(lambda: resources.get("MigrationPlan", "drain") is None, timeout=30, what="the plan gone")
            assert handler_active(), "resumed before the finalizer let the plan go"
            assert executions.versions(flow.workflow) == [1], "nothing was cut over"
    finally:
        httpx.delete(f"{flow.api}/event/{handler['name']}")
