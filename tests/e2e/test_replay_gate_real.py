"""The replay gate (spec.gates.replay) run by the real operator against the real Conductor, on real histories:
executions of v1 run by a real worker (completed ones, and one held RUNNING in a branch no worker serves), then
replayed through the target with POST /workflow/test before the cutover.

- a compatible change (a task appended that reads what every old input has) passes, and the plan cuts over;
- a new task reading a field some old inputs lack fails the plan and names exactly those executions;
- a SWITCH that now routes on another field is reported as a path divergence.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from testenv.worker import Worker
from tests.e2e.conftest import wait_for
from tests.e2e.test_definitions_real import simple, workflow_spec
from tests.e2e.test_migration_real import status_of, wait_phase

pytestmark = pytest.mark.realenv

FAST_DRAIN = {"interval": "1s", "consecutiveZeroReadings": 2, "gracePeriod": "1s"}


class Shop:
    """v1: normalize, then a SWITCH on the input's kind: express -> fast, hold -> hold (no worker serves it: the
    execution stays RUNNING there), anything else -> slow."""

    def __init__(self, conductor_url: str):
        self.api = f"{conductor_url}/api"
        suffix = uuid.uuid4().hex[:8]
        self.workflow = f"replay_shop_{suffix}"
        self.types = {ref: f"{ref}_{suffix}" for ref in ("normalize", "fast", "slow", "hold", "audit", "notify")}

    def task(self, ref: str, **extra) -> dict:
        return simple(ref, self.types[ref], **extra)

    def route(self, on: str = "${workflow.input.kind}") -> dict:
        return {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
                "expression": "kind", "inputParameters": {"kind": on},
                "decisionCases": {"express": [self.task("fast")], "hold": [self.task("hold")]},
                "defaultCase": [self.task("slow")]}

    def version(self, number: int, *extra: dict, route: str = "${workflow.input.kind}", **spec_extra) -> dict:
        spec = workflow_spec(self.workflow, number,
                             self.task("normalize", inputParameters={"value": "${workflow.input.value}"}),
                             self.route(route), *extra)
        spec["definition"]["outputParameters"] = {"normalized": "${normalize.output.normalized}"}
        return {**spec, **spec_extra}

    def worker(self) -> Worker:
        done = {"normalized": True}
        return Worker(self.api.removesuffix("/api"), {self.types[r]: (lambda _: done) for r in
                                                      ("normalize", "fast", "slow", "audit", "notify")},
                      worker_id=f"worker-{self.workflow}")

    def start(self, payload: dict) -> str:
        response = httpx.post(f"{self.api}/workflow/{self.workflow}", params={"version": 1}, json=payload)
        response.raise_for_status()
        return response.text

    def status(self, execution_id: str) -> str:
        """COMPLETED, or for a running execution RUNNING@<its current tasks>."""
        execution = httpx.get(f"{self.api}/workflow/{execution_id}", params={"includeTasks": "true"}).json()
        if execution["status"] != "RUNNING":
            return execution["status"]
        current = sorted(t["referenceTaskName"] for t in execution["tasks"]
                         if t["status"] in ("SCHEDULED", "IN_PROGRESS"))
        return f"RUNNING@{','.join(current)}"

    def history(self) -> dict[str, dict]:
        """Five executions of v1: two express with an email, two standard without one (all completed), and one
        held RUNNING at hold (with an email)."""
        inputs = [{"value": 1, "kind": "express", "email": "a@example.com"},
                  {"value": 2, "kind": "express", "email": "b@example.com"},
                  {"value": 3, "kind": "standard"}, {"value": 4, "kind": "standard"},
                  {"value": 5, "kind": "hold", "email": "c@example.com"}]
        with self.worker():
            started = {self.start(payload): payload for payload in inputs}
            wait_for(lambda: all(self.status(i) == ("RUNNING@hold" if p["kind"] == "hold" else "COMPLETED")
                                 for i, p in started.items()), 60, what="the v1 history to complete")
        return started

    def plan(self, **replay) -> dict:
        return {"workflowName": self.workflow, "from": {"versions": [1]},
                "to": {"workflowDefinitionRef": {"name": "v2"}},
                "strategy": {"parallel": {}},
                "gates": {"requireWorkers": False, "replay": {"sample": 10, "within": "1h", **replay}},
                "drainDetection": FAST_DRAIN}

    def remove(self, ids) -> None:
        for execution_id in ids:
            httpx.delete(f"{self.api}/workflow/{execution_id}/remove", params={"archiveWorkflow": "false"})


@pytest.fixture
def shop(resources, cluster, conductor_url):
    shop = Shop(conductor_url)
    resources.create("WorkflowDefinition", "v1", shop.version(1))
    resources.wait_condition("WorkflowDefinition", "v1", "Ready")
    shop.started = shop.history()
    yield shop
    shop.remove(shop.started)


def replay_gate(status: dict) -> dict:
    found = [g for g in status.get("gates") or [] if g["name"] == "Replay"]
    assert found, f"no Replay gate in {status}"
    return found[0]


def no_test_executions_left(shop: Shop) -> None:
    """The replays were removed: only the five executions of the history remain, none at the target version."""
    found = httpx.get(f"{shop.api}/workflow/search", params={
        "query": f'workflowType="{shop.workflow}"', "freeText": "*", "size": "100"}).json()["results"]
    assert sorted(e["workflowId"] for e in found) == sorted(shop.started)


def test_a_compatible_change_passes_and_cuts_over(resources, shop):
    audit = shop.task("audit", inputParameters={"value": "${workflow.input.value}"})
    resources.create("WorkflowDefinition", "v2", shop.version(2, audit, activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", shop.plan())

    status = wait_for(lambda: (s := status_of(resources, "to-v2")).get("gatesPassedAt") and s, 90,
                      what="the gates to pass")
    gate = replay_gate(status)
    assert gate["passed"] is True and gate["reason"] == "ReplayPassed", gate
    replay = status["replay"]
    assert replay["sampled"] == 5 and replay["divergent"] == 0, replay
    assert gate["message"] == "0 of 5 replayed execution(s) diverged (0 allowed)"
    resources.wait_condition("WorkflowDefinition", "v2", "Ready", timeout=60)
    no_test_executions_left(shop)


def test_a_new_task_reading_a_field_old_inputs_lack_fails_naming_them(resources, shop):
    notify = shop.task("notify", inputParameters={"to": "${workflow.input.email}", "value": "${workflow.input.value}"})
    resources.create("WorkflowDefinition", "v2", shop.version(2, notify, activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", shop.plan())

    status = wait_phase(resources, "to-v2", "Failed", timeout=90)
    lacking = sorted(i for i, p in shop.started.items() if "email" not in p)
    divergent = status["replay"]["divergentExecutions"]
    assert sorted(d["executionId"] for d in divergent) == lacking, divergent
    assert all(d["reason"] == "old schema: new task notify reads workflow.input.email, which the execution's data "
                              "lacks" and d["version"] == 1 for d in divergent), divergent
    assert status["replay"]["sampled"] == 5 and status["replay"]["divergent"] == 2
    assert replay_gate(status)["reason"] == "GateFailed" and status.get("cutoverAt") is None
    assert resources.get("WorkflowDefinition", "v2")["status"].get("registered") in (None, False)
    no_test_executions_left(shop)


def test_a_branch_change_is_a_path_divergence(resources, shop):
    resources.create("WorkflowDefinition", "v2", shop.version(2, route="${workflow.input.tier}",
                                                              activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", shop.plan(maxDivergentPercent=50))

    status = wait_phase(resources, "to-v2", "Failed", timeout=90)
    reasons = {d["executionId"]: d["reason"] for d in status["replay"]["divergentExecutions"]}
    express = sorted(i for i, p in shop.started.items() if p["kind"] == "express")
    held = next(i for i, p in shop.started.items() if p["kind"] == "hold")
    assert sorted(reasons) == sorted([*express, held]), reasons  # the standard ones took the default before too
    for execution_id in express:
        assert reasons[execution_id] == "path: SWITCH route took case 'express', the replay takes 'defaultCase'"
    assert reasons[held].startswith("the execution runs at hold, but the replay ended COMPLETED")
    assert "path: SWITCH route took case 'hold', the replay takes 'defaultCase'" in reasons[held]
    assert status["replay"]["message"].startswith("3 of 5 replayed execution(s) diverged (50% allowed)")
    no_test_executions_left(shop)
