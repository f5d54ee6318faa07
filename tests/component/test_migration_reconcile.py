"""The MigrationPlan reconcile shell with an in-memory Conductor and Kubernetes.

Between two reconciles the tests do what kopf does: the outcome's status is written onto the
object as a JSON merge patch (RFC 7386: only the top-level keys that changed, nested objects
merged, null deletes), events are collected, and the clock moves on. Nothing else of the object
changes (the generation stays, as status writes do not bump it).
"""

from __future__ import annotations

import copy
import time

import pytest
from conductor_operator.conductor.errors import NotFound, Rejected, Unavailable
from conductor_operator.domain import migrations as plans
from conductor_operator.domain.conditions import format_time
from conductor_operator.reconcile.migration import reconcile_plan

from tests.component import test_reconcile as base
from tests.component.test_reconcile import SETTINGS, FakeConductor, conditions

# The shared fixtures: `runtime` builds its client from the `conductor` fixture overridden below.
clock = base.clock
runtime = base.runtime

NS = "ns"
PLAN = "order-to-v2"
TARGET = "order-v2"
GATE = {"name": "order", "input": {"customerId": "smoke-1"}, "expectedOutput": {"approved": True},
        "timeout": "5m"}
V1 = {"name": "order", "version": 1, "tasks": [{"name": "validate", "taskReferenceName": "validate",
                                                "type": "SIMPLE"}]}
V2_BODY = {"description": "v2 appends a charge step",
           "tasks": [{"name": "validate", "taskReferenceName": "validate", "type": "SIMPLE"},
                     {"name": "charge", "taskReferenceName": "charge", "type": "SIMPLE"}]}
V2 = {**V2_BODY, "name": "order", "version": 2}
"""What WorkflowDefinition order-v2 registers (and what a check workflow naming the workflow runs)."""


class MigrationConductor(FakeConductor):
    """FakeConductor plus what the plan shell calls: versions, poll data, executions."""

    def __init__(self):
        super().__init__()
        self.polls: dict[str, list[dict]] = {}
        self.executions: dict[str, dict] = {}
        self.start_attempts: list[dict] = []
        self.started: list[dict] = []
        self.terminated: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, int]] = []
        self.reject_start: str | None = None
        self.fail: dict[tuple, Exception] = {}
        """Calls that fail while set: ("start", name), ("terminate", id), ("delete", name, version),
        ("counts", name)."""
        self.definition_listings = 0
        self.handlers: dict[str, dict] = {}
        self.schedules_by_name: dict[str, dict] = {}

    def _fail(self, *call):
        if call in self.fail:
            raise self.fail[call]

    async def all_workflow_defs(self):
        self.definition_listings += 1
        return await super().all_workflow_defs()

    async def workflow_versions(self, name):
        self._check()
        return sorted(version for workflow, version in self.workflows if workflow == name)

    async def poll_data(self, task_type):
        self._check()
        return copy.deepcopy(self.polls.get(task_type, []))

    async def start_workflow(self, name, *, version=None, input=None, correlation_id=None, workflow_def=None):
        self._check()
        request = {"name": name, "version": version, "input": copy.deepcopy(input),
                   "correlation_id": correlation_id, "workflow_def": copy.deepcopy(workflow_def)}
        self.start_attempts.append(request)
        self._fail("start", name)
        if self.reject_start:
            raise Rejected(status=400, message=self.reject_start)
        if workflow_def is None and not any(w == name and version in (None, v) for w, v in self.workflows):
            raise NotFound(status=404, message=f"no workflow {name} v{version}")
        execution_id = f"exec-{len(self.started) + 1}"
        self.started.append(request)
        self.executions[execution_id] = {"workflowId": execution_id, "workflowName": name,
                                         "workflowVersion": version, "status": "RUNNING", "output": {},
                                         "correlationId": correlation_id, "startTime": int(time.time() * 1000)}
        return execution_id

    async def correlated_executions(self, name, correlation_id):
        self._check()
        return [copy.deepcopy(e) for e in self.executions.values()
                if e.get("workflowName") == name and e.get("correlationId") == correlation_id]

    async def get_execution(self, workflow_id, include_tasks=False):
        self._check()
        if workflow_id not in self.executions:
            raise NotFound(status=404, message=f"no execution {workflow_id}")
        return copy.deepcopy(self.executions[workflow_id])

    async def terminate(self, workflow_id, reason):
        self._check()
        self._fail("terminate", workflow_id)
        if workflow_id not in self.executions:
            raise NotFound(status=404, message=f"no execution {workflow_id}")
        self.terminated.append((workflow_id, reason))
        self.executions[workflow_id]["status"] = "TERMINATED"

    async def delete_workflow_def(self, name, version):
        self._fail("delete", name, version)
        await super().delete_workflow_def(name, version)
        self.deleted.append((name, version))

    async def running_executions(self, name, include_tasks=False):
        """As many running executions per version as ``running`` says, as bulk search answers (createTime, no
        startTime)."""
        self._check()
        self._fail("counts", name)
        return [{"workflowId": f"{name}-v{version}-{i}", "workflowName": name, "workflowVersion": version,
                 "status": "RUNNING", "createTime": 1_700_000_000_000}
                for version, count in sorted(self.running.get(name, {}).items()) for i in range(count)]

    async def event_handlers(self):
        return copy.deepcopy(list(self.handlers.values()))

    async def schedules(self, workflow_name=None):
        return [copy.deepcopy(s) for s in self.schedules_by_name.values()
                if s["startWorkflowRequest"]["name"] == workflow_name]

    async def existing_executions(self, ids, include_tasks=False):
        self._check()
        return [copy.deepcopy(self.executions[i]) for i in ids if i in self.executions]

    def workers_poll(self, now, *task_types):
        for task_type in task_types:
            self.polls[task_type] = [{"queueName": task_type, "workerId": "w-1",
                                      "lastPollTime": int(now.timestamp() * 1000)}]


@pytest.fixture
def conductor():
    fake = MigrationConductor()
    fake.workflows[("order", 1)] = copy.deepcopy(V1)
    fake.running["order"] = {1: 2}
    return fake


# ---- bodies and what kopf does with outcomes ------------------------------------------------------

def plan_body(*, generation=1, **spec_extra):
    spec = {"workflowName": "order", "from": {"allOlder": True},
            "to": {"workflowDefinitionRef": {"name": TARGET}},
            "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "1m"}},
            "gates": {"workersSeenWithin": "5m", "workflows": [copy.deepcopy(GATE)]},
            "drainDetection": {"interval": "30s", "consecutiveZeroReadings": 3, "gracePeriod": "90s"},
            **spec_extra}
    return {"metadata": {"name": PLAN, "namespace": NS, "uid": "uid-plan", "generation": generation},
            "spec": spec, "status": {}}


def definition_body(name, version, definition, *, uid, activation="ByMigrationPlan", status=None):
    return {"metadata": {"name": name, "namespace": NS, "uid": uid, "generation": 1},
            "spec": {"name": "order", "version": version, "definition": copy.deepcopy(definition),
                     "activation": activation},
            "status": status or {}}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def deliver(body, outcome):
    """As handlers._deliver and kopf: patch the top-level status keys that changed, as a merge patch."""
    if outcome is None or outcome.status is None:
        return
    current = body.get("status") or {}
    patch = {key: value for key, value in outcome.status.items() if current.get(key) != value}
    body["status"] = merge_patch(current, patch)


def message(outcome, type_="Ready"):
    return next(c["message"] for c in outcome.status["conditions"] if c["type"] == type_)


class Migration:
    """One plan and its target WorkflowDefinition, stored in the fake Kubernetes and reconciled in turn."""

    def __init__(self, runtime, conductor, clock, **spec_extra):
        self.runtime, self.conductor, self.clock = runtime, conductor, clock
        self.plan = plan_body(**spec_extra)
        self.target = definition_body(TARGET, 2, V2_BODY, uid="uid-v2")
        # The fake Kubernetes copies on every read: these very objects are what it holds.
        runtime.kube.workflow_definitions[(NS, TARGET)] = self.target
        runtime.kube.plans[NS] = [self.plan]
        self.events: list[str] = []

    @property
    def status(self) -> dict:
        return self.plan["status"]

    async def step(self, *, after: float = 30, attempt: int = 0):
        """Let ``after`` seconds pass, reconcile the plan, write its status."""
        self.clock.advance(after)
        outcome = await reconcile_plan(self.runtime, self.plan, attempt=attempt)
        deliver(self.plan, outcome)
        self.events += [event.reason for event in outcome.events]
        return outcome

    async def reconcile_target(self):
        outcome = await self.runtime.reconcile_workflow(self.target, due_only=False)
        deliver(self.target, outcome)
        return outcome

    async def to_draining(self):
        """Workers poll, the check workflow completes, the target registers: the plan drains v1."""
        self.conductor.workers_poll(self.clock(), "validate", "charge")
        await self.step(after=0)  # starts the check workflow
        execution_id = self.status["gates"][1]["executionId"]
        self.conductor.executions[execution_id].update(status="COMPLETED", output={"approved": True})
        await self.step()
        assert self.status["cutoverAt"], self.status.get("message")
        await self.reconcile_target()
        assert self.target["status"]["registered"] is True
        outcome = await self.step()
        assert self.status["phase"] == "Draining", self.status.get("message")
        return outcome


# ---- 1. a whole parallel migration ----------------------------------------------------------------

async def test_parallel_migration_gates_cuts_over_drains_and_retires(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    t0 = clock()

    # Workers missing: one of the two task types of v2 has none.
    conductor.workers_poll(clock(), "validate")
    outcome = await m.step(after=0)
    assert m.status["phase"] == "Gating"
    assert conditions(outcome)["GatesPassed"] == ("False", "WorkersMissing")
    assert conditions(outcome)["Ready"] == ("False", "GatesPending")
    assert conditions(outcome)["Reconciling"][0] == "True"
    assert "charge" in message(outcome, "GatesPassed") and "validate" not in message(outcome, "GatesPassed")
    assert conductor.start_attempts == [], "no check workflow while workers are missing"
    assert m.status["verdict"]["level"] == "Safe" and m.status["verdict"]["fromVersions"] == [1]
    assert m.status["running"] == {"old": 2, "target": 0, "readAt": format_time(t0)}
    assert "cutoverAt" not in m.status

    # Workers poll: the check workflow runs the target definition inline, unregistered.
    conductor.workers_poll(clock(), "validate", "charge")
    outcome = await m.step()
    assert conductor.started == [{"name": "order", "version": 2, "input": {"customerId": "smoke-1"},
                                  "correlation_id": f"migrationplan/{NS}/{PLAN}/order/gen-1", "workflow_def": V2}]
    assert ("order", 2) not in conductor.workflows, "running the gate must not register the target"
    gate = m.status["gates"][1]
    assert (gate["name"], gate["passed"], gate["executionId"]) == ("order", False, "exec-1")
    assert m.status["gates"][0]["passed"] is True
    assert m.status["phase"] == "Gating"
    assert "cutoverAt" not in m.status

    # Before the cutover the target WorkflowDefinition waits for the plan.
    held = await m.reconcile_target()
    assert conditions(held)["Registered"] == ("False", "AwaitingActivation")
    assert conditions(held)["Ready"] == ("False", "AwaitingActivation")
    assert held.status["registered"] is False
    assert ("order", 2) not in conductor.workflows and conductor.registrations == 0

    # Still running: no second start, no cutover.
    outcome = await m.step()
    assert len(conductor.start_attempts) == 1
    assert "cutoverAt" not in m.status and m.status["phase"] == "Gating"
    assert "exec-1 is RUNNING" in m.status["gates"][1]["message"]

    # Completed with the expected output (extra keys are fine): the gates pass, the cutover starts.
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True, "orderId": "o-1"})
    outcome = await m.step()
    assert m.status["cutoverAt"] == format_time(clock())
    assert m.status["gates"][1]["passed"] is True
    assert conditions(outcome)["GatesPassed"][0] == "True"
    assert m.status["phase"] == "CuttingOver"
    assert m.status["released"] == TARGET
    assert ("order", 2) not in conductor.workflows, "the plan releases the target; the WorkflowDefinition registers"

    # The plan (with cutoverAt, as FakeKube.plans now holds it) releases the target: v2 is registered.
    registered = await m.reconcile_target()
    assert conditions(registered)["Registered"] == ("True", "Registered")
    assert registered.status["registered"] is True
    assert conductor.workflows[("order", 2)] == V2

    # Registered: the plan drains v1, counting per version.
    conductor.running["order"] = {1: 2, 2: 1}
    outcome = await m.step()
    now = format_time(clock())
    assert m.status["phase"] == "Draining"
    assert conditions(outcome)["CutOver"] == ("True", "TargetRegistered")
    assert conditions(outcome)["Drained"][0] == "False"
    assert conditions(outcome)["Ready"][0] == "True", "healthyWhen Accepted: ready while draining"
    assert conditions(outcome)["Reconciling"][0] == "False", "and done as kstatus reads it"
    assert m.status["versions"] == [{"version": 1, "running": 2, "readAt": now},
                                    {"version": 2, "running": 1, "readAt": now}]
    assert m.status["running"] == {"old": 2, "target": 1, "readAt": now}
    assert m.status["drain"]["since"] == now
    assert conductor.definition_listings == 0, "definitions pinning an old version are read only while retiring"

    # v1 reads zero; three readings are not enough while the grace period (90s) has not passed.
    conductor.running["order"] = {1: 0, 2: 1}
    first_zero = None
    for readings in (1, 2, 3):
        outcome = await m.step()
        first_zero = first_zero or format_time(clock())
        assert m.status["phase"] == "Draining"
        assert m.status["drain"]["zeroReadings"] == readings
        assert m.status["drain"]["firstZeroAt"] == first_zero
        assert m.status["running"]["old"] == 0
        assert conditions(outcome)["Drained"][0] == "False"

    # 90s after the first zero: drained, retiring after retireAfter (1m).
    outcome = await m.step()
    drained_at = clock()
    assert m.status["phase"] == "Retiring"
    assert m.status["drain"]["drainedAt"] == format_time(drained_at)
    assert conditions(outcome)["Drained"] == ("True", "OldVersionsDrained")
    assert ("order", 1) in conductor.workflows

    outcome = await m.step()
    assert m.status["phase"] == "Retiring"
    assert ("order", 1) in conductor.workflows, "retireAfter has not passed"
    assert conductor.deleted == []

    outcome = await m.step()
    assert conductor.deleted == [("order", 1)]
    assert ("order", 1) not in conductor.workflows and ("order", 2) in conductor.workflows
    assert m.status["retiredVersions"] == [1]
    assert conductor.definition_listings > 0

    outcome = await m.step()
    assert m.status["phase"] == "Completed"
    assert conditions(outcome)["Ready"] == ("True", "Completed")
    assert conditions(outcome)["Reconciling"][0] == "False"
    assert m.status["retiredVersions"] == [1]
    assert "retired v1" in m.status["message"]
    assert conductor.deleted == [("order", 1)], "deleted once"

    expected = ["GateStarted", "CutoverStarted", "CutOver", "Drained", "Retired", "Completed"]
    posted = iter(m.events)
    assert all(reason in posted for reason in expected), f"{expected} in this order within {m.events}"

    # Settled: another reconcile changes nothing in Conductor and posts nothing.
    listings = conductor.definition_listings
    outcome = await m.step()
    assert m.status["phase"] == "Completed" and outcome.events == []
    assert conductor.workflows == {("order", 2): V2}
    assert conductor.definition_listings == listings


# ---- 2. retirement is guarded ---------------------------------------------------------------------

async def test_retirement_waits_for_pinning_definitions_and_goes_back_to_draining_on_a_pinned_start(
        runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.running["order"] = {}
    conductor.workflows[("parent", 3)] = {"name": "parent", "version": 3, "tasks": [
        {"name": "order", "taskReferenceName": "order_child", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "order", "version": 1}}]}
    for _ in range(4):
        await m.step()
    assert m.status["phase"] == "Retiring"
    await m.step()
    assert "retireAfter" in m.status["message"] and conductor.deleted == []

    # retireAfter passes: the pin holds v1 in Conductor, and status says why.
    for _ in range(3):
        outcome = await m.step()
        assert m.status["phase"] == "Retiring"
        assert ("order", 1) in conductor.workflows and conductor.deleted == []
        assert m.status.get("retiredVersions", []) == []
        assert m.status["message"] == "waiting to retire: v1 is pinned as a sub-workflow by parent v3"
        assert conditions(outcome)["Warning"] == ("True", "RetirementBlocked")
        assert conditions(outcome)["Ready"] == ("True", "Retiring")

    # A pinned caller starts v1 again: back to Draining, nothing deleted, the drain starts over.
    conductor.running["order"] = {1: 1}
    outcome = await m.step()
    assert m.status["phase"] == "Draining"
    assert conditions(outcome)["Drained"][0] == "False"
    assert m.status["running"]["old"] == 1
    assert ("order", 1) in conductor.workflows and conductor.deleted == []
    assert m.status["drain"]["zeroReadings"] == 0
    assert "drainedAt" not in m.status["drain"], "the object must not keep the drainedAt of the earlier drain"
    assert "firstZeroAt" not in m.status["drain"], "nor the first zero of the earlier run"

    # It ends: a new run of zero readings, which again needs the whole grace period.
    conductor.running["order"] = {}
    outcome = await m.step()
    assert m.status["drain"]["zeroReadings"] == 1
    assert m.status["drain"]["firstZeroAt"] == format_time(clock())
    assert conditions(outcome)["Drained"][0] == "False", "not drained again after one reading"
    await m.step()
    await m.step()
    assert m.status["phase"] == "Draining", "three readings 60s apart are within the 90s grace period"
    assert ("order", 1) in conductor.workflows

    # The referrer moves on: the drain completes and v1 is retired.
    conductor.workflows[("parent", 3)]["tasks"][0]["subWorkflowParam"]["version"] = 2
    for _ in range(4):
        await m.step()
    assert conductor.deleted == [("order", 1)]
    assert m.status["retiredVersions"] == [1]


async def test_a_schedule_pinned_to_the_old_version_is_a_warning_while_it_drains(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.schedules_by_name["nightly"] = {"name": "nightly", "paused": False,
                                              "startWorkflowRequest": {"name": "order", "version": 1}}
    conductor.handlers["orders-in"] = {"name": "orders-in", "active": True, "actions": [
        {"action": "start_workflow", "start_workflow": {"name": "order"}}]}  # unpinned: starts v2 now
    outcome = await m.step()
    assert m.status["phase"] == "Draining"
    assert conditions(outcome)["Warning"] == ("True", "TriggerPinsOldVersion")
    assert "Schedule/nightly starts v1 (pinned)" in message(outcome, "Warning")
    assert "orders-in" not in message(outcome, "Warning")

    conductor.schedules_by_name["nightly"]["paused"] = True  # paused: it starts nothing
    outcome = await m.step()
    assert conditions(outcome)["Warning"] == ("False", "NoWarnings")


# ---- 3. a retired version stays retired -----------------------------------------------------------

async def test_a_retired_version_is_not_registered_again(runtime, conductor, clock):
    del conductor.workflows[("order", 1)]
    v1 = definition_body("order-v1", 1, {"tasks": V1["tasks"]}, uid="uid-v1", activation="Immediate",
                         status={"registered": True, "contentHash": "sha256:0123456789abcdef0123456789abcdef",
                                 "observedGeneration": 1})
    plan = plan_body()
    plan["status"] = {"phase": "Completed", "cutoverAt": "2026-11-24T11:00:00Z", "retiredVersions": [1],
                      "verdict": {"level": "Safe", "fromVersions": [1], "toVersion": 2}}
    runtime.kube.plans[NS] = [plan]

    outcome = await runtime.reconcile_workflow(v1, due_only=False)
    assert ("order", 1) not in conductor.workflows and conductor.registrations == 0
    assert conditions(outcome)["Ready"] == ("True", "RetiredByMigrationPlan")
    assert conditions(outcome)["Registered"] == ("False", "RetiredByMigrationPlan")
    assert outcome.status["registered"] is False
    assert PLAN in message(outcome)

    # Without the plan's record the same object would register v1 again: the hold is what stops it.
    runtime.kube.plans[NS] = []
    clock.advance(60)
    again = await runtime.reconcile_workflow(v1, due_only=False)
    assert ("order", 1) in conductor.workflows
    assert again.status["registered"] is True


async def test_a_version_deleted_by_a_retiring_plan_killed_before_recording_it_is_not_registered_again(
        runtime, conductor, clock):
    """The plan deletes v1, then the operator dies before status.retiredVersions says so."""
    del conductor.workflows[("order", 1)]
    v1 = definition_body("order-v1", 1, {"tasks": V1["tasks"]}, uid="uid-v1", activation="Immediate",
                         status={"registered": True, "contentHash": "sha256:0123456789abcdef0123456789abcdef",
                                 "observedGeneration": 1})
    plan = plan_body()
    plan["status"] = {"phase": "Retiring", "cutoverAt": "2026-11-24T11:00:00Z",
                      "verdict": {"level": "Safe", "fromVersions": [1], "toVersion": 2}}
    runtime.kube.plans[NS] = [plan]

    outcome = await runtime.reconcile_workflow(v1, due_only=False)
    assert ("order", 1) not in conductor.workflows and conductor.registrations == 0
    assert conditions(outcome)["Ready"] == ("True", "RetiredByMigrationPlan")

    plan["status"]["phase"] = "Draining"  # a pinned start sent the plan back: no longer retiring
    clock.advance(60)
    await runtime.reconcile_workflow(v1, due_only=False)
    assert ("order", 1) in conductor.workflows, "a version the plan is not retiring is repaired"


# ---- 4. dry run -------------------------------------------------------------------------------------

async def test_dry_run_changes_nothing_and_lists_the_plan(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock, dryRun=True)
    conductor.workers_poll(clock(), "validate", "charge")
    for after in (0, 30):
        outcome = await m.step(after=after)
        assert m.status["phase"] == "DryRun"
        assert conditions(outcome)["Ready"] == ("True", "DryRun")
        assert conditions(outcome)["Stalled"][0] == "False"
    planned = m.status["plannedActions"]
    assert any("run check workflow order (the target definition)" in action for action in planned), planned
    assert any("register order v2" in action for action in planned), planned
    assert any("drain" in action and "v1" in action and "2 execution(s)" in action for action in planned), planned
    assert any(action.startswith("retire v1") for action in planned), planned
    assert "cutoverAt" not in m.status
    assert conductor.start_attempts == [] and conductor.deleted == [] and conductor.registrations == 0

    held = await m.reconcile_target()
    assert conditions(held)["Registered"] == ("False", "AwaitingActivation"), "a dry run releases nothing"
    assert ("order", 2) not in conductor.workflows and conductor.registrations == 0
    assert set(conductor.workflows) == {("order", 1)}


# ---- 5. Conductor unavailable while draining --------------------------------------------------------

async def test_conductor_unavailable_while_draining_keeps_the_phase_and_restarts_the_zero_run(
        runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.running["order"] = {}
    await m.step()
    await m.step()
    assert m.status["drain"]["zeroReadings"] == 2
    ready_before = conditions(await m.step(after=0))["Ready"]  # counts are not due: nothing moves
    assert m.status["drain"]["zeroReadings"] == 2

    conductor.down = True
    outcome = await m.step(attempt=2)
    assert outcome.status["phase"] == "Draining"
    assert conditions(outcome)["Reconciling"] == ("True", "ConductorUnavailable")
    assert conditions(outcome)["Stalled"][0] == "False"
    assert conditions(outcome)["Ready"] == ready_before, "the last known readiness is kept"
    assert outcome.retry_after == SETTINGS.retry_delay(2)
    assert outcome.status["drain"]["zeroReadings"] == 0
    assert m.status["drain"]["zeroReadings"] == 0
    assert "firstZeroAt" not in m.status["drain"]
    assert m.status["drain"]["since"], "the rest of the drain record stays"
    assert ("order", 1) in conductor.workflows

    conductor.down = False
    await m.step()
    assert m.status["phase"] == "Draining"
    assert m.status["drain"]["zeroReadings"] == 1
    assert m.status["drain"]["firstZeroAt"] == format_time(clock()), "a new run of zeros starts now"


# ---- 6. user errors ---------------------------------------------------------------------------------

async def test_a_missing_cluster_stalls(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock, clusterRef={"name": "elsewhere"})
    outcome = await m.step(after=0)
    assert conditions(outcome)["Stalled"] == ("True", "ClusterNotFound")
    assert conditions(outcome)["Ready"][0] == "False"
    assert "elsewhere" in message(outcome, "Stalled")
    assert outcome.retry_after is None
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "ClusterNotFound")]
    assert conductor.start_attempts == []


async def test_a_missing_target_is_pending(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    del runtime.kube.workflow_definitions[(NS, TARGET)]
    outcome = await m.step(after=0)
    assert m.status["phase"] == "Pending"
    assert conditions(outcome)["Ready"] == ("False", "TargetNotFound")
    assert conditions(outcome)["Reconciling"] == ("True", "TargetNotFound")
    assert conditions(outcome)["Stalled"][0] == "False"
    assert TARGET in m.status["message"]
    assert conductor.start_attempts == []


async def test_an_invalid_plan_stalls(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock,
                  strategy={"parallel": {}, "drain": {"deadline": "1h"}})
    outcome = await m.step(after=0)
    assert conditions(outcome)["Stalled"] == ("True", "InvalidSpec")
    assert conditions(outcome)["Ready"][0] == "False"
    assert "set exactly one of spec.strategy.parallel" in message(outcome, "Stalled")
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "InvalidSpec")]
    assert conductor.start_attempts == []


# ---- 7. a check workflow Conductor refuses ----------------------------------------------------------

async def test_a_refused_check_workflow_fails_the_plan(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    conductor.reject_start = "workflowDef.tasks[1]: taskDefinition charge is not registered"

    outcome = await m.step(after=0)
    assert len(conductor.start_attempts) == 1 and conductor.started == []
    assert m.status["phase"] == "Failed"
    gate = m.status["gates"][1]
    assert (gate["passed"], gate["reason"]) == (False, "GateFailed")
    assert "charge is not registered" in gate["message"]
    assert conditions(outcome)["Stalled"][0] == "True", "Failed is final until the spec changes: Stalled"
    assert conditions(outcome)["Reconciling"][0] == "False"
    assert conditions(outcome)["Ready"][0] == "False"
    assert any(e.type == "Warning" for e in outcome.events), "the refusal is posted as a warning"

    # Not retried: the plan stays failed, stalled, and starts nothing more.
    conductor.reject_start = None
    outcome = await m.step()
    assert m.status["phase"] == "Failed"
    assert conditions(outcome)["Stalled"] == ("True", "GateFailed")
    assert len(conductor.start_attempts) == 1
    assert "cutoverAt" not in m.status
    held = await m.reconcile_target()
    assert conditions(held)["Registered"] == ("False", "AwaitingActivation")


# ---- 8. what restarts the gates in the shell --------------------------------------------------------

def respec(m: Migration, **spec_changes):
    """A spec change as the API server makes it: the spec replaced, the generation bumped."""
    m.plan["spec"].update(copy.deepcopy(spec_changes))
    m.plan["metadata"]["generation"] += 1


async def test_pausing_keeps_a_running_check_workflow_and_a_changed_expected_output_runs_it_again(
        runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    await m.step(after=0)
    assert m.status["gates"][1]["executionId"] == "exec-1"
    checked = m.status["gatesCheckedSpec"]

    respec(m, paused=True)
    outcome = await m.step()
    assert m.status["message"] == "held in Gating by spec.paused; nothing moves until it is false"
    assert conditions(outcome)["Ready"] == ("False", "Paused")
    respec(m, paused=False, healthyWhen="Completed")
    await m.step()
    assert len(conductor.start_attempts) == 1 and conductor.terminated == []
    assert m.status["gates"][1]["executionId"] == "exec-1" and m.status["gatesCheckedSpec"] == checked

    respec(m, gates={"workersSeenWithin": "5m",
                           "workflows": [{**GATE, "expectedOutput": {"approved": True, "currency": "EUR"}}]})
    outcome = await m.step()
    assert [execution for execution, _ in conductor.terminated] == ["exec-1"]
    assert "spec changed" in conductor.terminated[0][1]
    assert len(conductor.started) == 2 and m.status["gates"][1]["executionId"] == "exec-2"
    assert m.status["gatesCheckedSpec"] != checked
    assert m.status["phase"] == "Gating" and "cutoverAt" not in m.status

    # exec-1's output would have passed the old expectation; only exec-2 counts now
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True})
    conductor.executions["exec-2"].update(status="COMPLETED", output={"approved": True, "currency": "EUR"})
    await m.step()
    assert m.status["cutoverAt"] == format_time(clock()) and m.status["released"] == TARGET


# ---- 9. each action on its own ----------------------------------------------------------------------

async def test_a_check_workflow_that_cannot_be_started_now_keeps_the_others_and_is_started_later(
        runtime, conductor, clock):
    conductor.workflows[("smoke", 1)] = {"name": "smoke", "version": 1, "tasks": []}
    m = Migration(runtime, conductor, clock,
                  gates={"workersSeenWithin": "5m", "workflows": [{"name": "smoke"}, copy.deepcopy(GATE)]})
    conductor.workers_poll(clock(), "validate", "charge")
    conductor.fail[("start", "smoke")] = Unavailable(status=503, message="smoke queue unavailable")

    outcome = await m.step(after=0, attempt=1)
    gates = {g["name"]: g for g in m.status["gates"]}
    assert gates["order"]["executionId"] == "exec-1", "the check that started is recorded"
    assert "executionId" not in gates["smoke"] and not gates["smoke"]["passed"]
    assert gates["smoke"]["reason"] == "GateRunning", "not a failed gate: it is started again"
    assert m.status["phase"] == "Gating"
    assert m.status["message"].endswith("; failed: StartGate smoke: smoke queue unavailable")
    assert outcome.retry_after == SETTINGS.retry_delay(1)
    assert "smoke queue unavailable" in outcome.message
    assert "GateStarted" in m.events

    del conductor.fail[("start", "smoke")]
    outcome = await m.step()
    assert [(s["name"], s["correlation_id"].split("/")[3]) for s in conductor.started] == [
        ("order", "order"), ("smoke", "smoke")], "order is not started twice"
    assert {g["name"]: g.get("executionId") for g in m.status["gates"]} == {
        "Workers": None, "smoke": "exec-2", "order": "exec-1"}
    assert outcome.retry_after is None and "; failed:" not in m.status["message"]


async def test_a_version_that_cannot_be_deleted_now_is_retried_while_the_others_are_retired(
        runtime, conductor, clock):
    conductor.workflows[("order", 2)] = {**copy.deepcopy(V1), "version": 2}
    m = Migration(runtime, conductor, clock)
    m.target["spec"]["version"] = 3  # order-v3 over v1 and v2
    await m.to_draining()
    assert m.status["verdict"]["fromVersions"] == [1, 2]
    conductor.running["order"] = {}
    for _ in range(4):
        await m.step()
    assert m.status["phase"] == "Retiring"
    await m.step()
    assert conductor.deleted == []

    conductor.fail[("delete", "order", 1)] = Unavailable(status=None, message="connection reset")
    outcome = await m.step(attempt=0)
    assert conductor.deleted == [("order", 2)]
    assert m.status["retiredVersions"] == [2], "the deletion that succeeded is recorded"
    assert m.status["phase"] == "Retiring"
    assert m.status["message"] == "retiring v1, v2 from Conductor; failed: Retire 1: connection reset"
    assert outcome.retry_after == SETTINGS.retry_delay(0)
    assert [e.message for e in outcome.events if e.reason == "Retired"] == [
        "retired workflow order v2 from Conductor"]

    del conductor.fail[("delete", "order", 1)]
    await m.step()
    assert conductor.deleted == [("order", 2), ("order", 1)]
    assert m.status["retiredVersions"] == [1, 2]
    outcome = await m.step()
    assert m.status["phase"] == "Completed"
    assert m.status["message"] == f"order runs on v3; retired v1, v2; final counts as of {format_time(clock())}"
    assert conditions(outcome)["Ready"] == ("True", "Completed")


async def test_an_unknown_count_while_retiring_retires_nothing(runtime, conductor, clock):
    """The real client raises Unavailable when Conductor could not load some running executions."""
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.running["order"] = {}
    for _ in range(5):
        await m.step()
    assert m.status["phase"] == "Retiring" and conductor.deleted == []
    conductor.fail[("counts", "order")] = Unavailable(status=None, message="could not read 1 running execution")
    for attempt in range(3):
        outcome = await m.step(attempt=attempt)
        assert conditions(outcome)["Reconciling"] == ("True", "ConductorUnavailable")
        assert outcome.retry_after == SETTINGS.retry_delay(attempt)
        assert m.status["phase"] == "Retiring" and conductor.deleted == []
    del conductor.fail[("counts", "order")]
    await m.step()
    assert conductor.deleted == [("order", 1)]


# ---- 10. a timer with a body from before the last status write --------------------------------------

def deliver_onto(obj, handled, outcome):
    """As kopf does: the patch is computed against the body the handler was given and applied to the object."""
    current = handled.get("status") or {}
    patch = {key: value for key, value in outcome.status.items() if current.get(key) != value}
    obj["status"] = merge_patch(obj.get("status") or {}, patch)


async def test_a_timer_with_a_stale_body_plans_from_the_status_the_last_reconcile_wrote(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    stale = copy.deepcopy(m.plan)  # the body both handlers hold: kopf has not applied the first status yet

    first = await reconcile_plan(runtime, copy.deepcopy(stale))
    assert len(conductor.start_attempts) == 1
    clock.advance(1)
    second = await reconcile_plan(runtime, copy.deepcopy(stale))
    assert len(conductor.start_attempts) == 1, "the check workflow is started only once"
    assert second.status["gates"][1]["executionId"] == "exec-1"
    assert second.status["gates"][1]["startedAt"] == first.status["gates"][1]["startedAt"]
    assert second.events == []

    deliver_onto(m.plan, stale, first)
    deliver_onto(m.plan, stale, second)
    assert m.status["gates"][1]["executionId"] == "exec-1"

    # once the body shows what was written, it is planned from as it is
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True})
    await m.step()
    assert m.status["cutoverAt"] == format_time(clock()) and len(conductor.start_attempts) == 1


async def test_a_status_changed_since_the_last_write_is_planned_from_as_it_is(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    await m.step(after=0)
    assert m.status["gates"][1]["executionId"] == "exec-1"
    m.plan["status"] = {**m.status, "gates": []}  # edited by someone else: the object is the truth
    await m.step()
    # The status says no check started; Conductor has one under its correlationId, which is taken up.
    assert len(conductor.start_attempts) == 1 and m.status["gates"][1]["executionId"] == "exec-1"
    assert "adopted" in m.status["gates"][1]["message"]


async def test_a_check_a_step_started_without_writing_status_is_adopted_not_started_again(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    await reconcile_plan(runtime, m.plan)  # the check starts, then the operator dies before writing the status
    runtime._recorded.clear()  # and with it what the process remembered of that step
    assert len(conductor.started) == 1 and m.status == {}

    await m.step()
    assert len(conductor.start_attempts) == 1, "not started a second time"
    assert m.status["gates"][1]["executionId"] == "exec-1" and "adopted" in m.status["gates"][1]["message"]
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True})
    await m.step()
    assert m.status["gates"][1]["passed"] is True and m.status["cutoverAt"] == format_time(clock())


async def test_a_plan_created_again_under_its_name_runs_its_own_check(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    await m.step(after=0)
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True}, startTime=0)
    # Deleted and applied again from Git: the same name and generation, a new object created after that check.
    m.plan.update(metadata={**m.plan["metadata"], "uid": "uid-plan-2", "creationTimestamp": format_time(clock())},
                  status={})
    await m.step()
    assert [s["correlation_id"] for s in conductor.started] == [f"migrationplan/{NS}/{PLAN}/order/gen-1"] * 2
    assert m.status["gates"][1]["executionId"] == "exec-2", "the predecessor's check is not taken for this one's"


# ---- 11. plans work on their own cluster --------------------------------------------------------------

def released_plan(*, cluster=None, retired=()):
    plan = plan_body(**({"clusterRef": {"name": cluster}} if cluster else {}))
    plan["status"] = {"phase": "Draining", "cutoverAt": "2026-11-24T11:00:00Z", "released": TARGET,
                      "retiredVersions": list(retired),
                      "verdict": {"level": "Safe", "fromVersions": [1], "toVersion": 2}}
    return plan


@pytest.mark.parametrize(("plan_cluster", "definition_cluster", "released"), [
    ("staging", None, False),
    (None, "staging", False),
    (None, None, True),
    ("default", None, True),
    (None, "default", True),
    ("staging", "staging", True),
])
async def test_a_plan_on_another_cluster_does_not_release_a_workflow_definition(
        runtime, conductor, clock, plan_cluster, definition_cluster, released):
    runtime.kube.clusters[(NS, "staging")] = {"metadata": {"name": "staging", "namespace": NS},
                                              "spec": {"url": "http://staging:8080"}}
    runtime.kube.plans[NS] = [released_plan(cluster=plan_cluster)]
    target = definition_body(TARGET, 2, V2_BODY, uid="uid-v2")
    if definition_cluster:
        target["spec"]["clusterRef"] = {"name": definition_cluster}
    outcome = await runtime.reconcile_workflow(target, due_only=False)
    if released:
        assert conditions(outcome)["Registered"] == ("True", "Registered")
        assert conductor.workflows[("order", 2)] == V2
    else:
        assert conditions(outcome)["Registered"] == ("False", "AwaitingActivation")
        assert ("order", 2) not in conductor.workflows and conductor.registrations == 0


async def test_a_version_retired_on_another_cluster_is_registered_here(runtime, conductor, clock):
    del conductor.workflows[("order", 1)]
    runtime.kube.plans[NS] = [released_plan(cluster="staging", retired=[1])]
    v1 = definition_body("order-v1", 1, {"tasks": V1["tasks"]}, uid="uid-v1", activation="Immediate")
    outcome = await runtime.reconcile_workflow(v1, due_only=False)
    assert conditions(outcome)["Registered"] == ("True", "Registered")
    assert ("order", 1) in conductor.workflows


@pytest.mark.parametrize(("other_url", "conflicts"), [
    ("http://conductor:8080", True),
    ("http://Conductor:8080/api/", True),  # another spelling of the same server
    ("http://staging:8080", False),
])
async def test_an_older_plan_in_another_namespace_on_the_same_conductor_holds_this_one(
        runtime, conductor, clock, other_url, conflicts):
    older = plan_body()
    older["metadata"].update(namespace="team-b", name="first", uid="uid-first",
                             creationTimestamp="2026-11-24T10:00:00Z")
    older["status"] = {"phase": "Draining"}
    runtime.kube.plans["team-b"] = [older]
    runtime.kube.clusters[("team-b", "default")] = {"metadata": {"name": "default", "namespace": "team-b"},
                                                    "spec": {"url": other_url}}
    m = Migration(runtime, conductor, clock)
    m.plan["metadata"]["creationTimestamp"] = "2026-11-24T11:00:00Z"
    conductor.workers_poll(clock(), "validate", "charge")
    outcome = await m.step(after=0)
    if conflicts:
        assert conditions(outcome)["Stalled"] == ("True", "ConflictingPlan")
        assert "MigrationPlan team-b/first is still migrating order on the same Conductor" in m.status["message"]
        assert conductor.started == [], "it waits before its gates"
    else:
        assert conditions(outcome)["Stalled"][0] == "False" and len(conductor.started) == 1


# ---- 12. after the cutover the plan follows the released target ---------------------------------------

async def test_a_target_that_is_not_in_sync_is_not_cut_over_to(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    conductor.workers_poll(clock(), "validate", "charge")
    await m.step(after=0)
    conductor.executions["exec-1"].update(status="COMPLETED", output={"approved": True})
    await m.step()
    await m.reconcile_target()
    ready = next(c for c in m.target["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "False"  # registered once, out of sync now (drift, a refused update)
    await m.step()
    assert m.status["phase"] == "CuttingOver"
    ready["status"] = "True"
    await m.step()
    assert m.status["phase"] == "Draining"


async def test_spec_to_changed_after_the_cutover_releases_nothing_new_and_drains_the_released_version(
        runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    v3 = definition_body("order-v3", 3, V2_BODY, uid="uid-v3")
    runtime.kube.workflow_definitions[(NS, "order-v3")] = v3
    respec(m, to={"workflowDefinitionRef": {"name": "order-v3"}})
    outcome = await m.step()
    assert m.status["phase"] == "Draining" and m.status["released"] == TARGET
    assert m.status["verdict"]["toVersion"] == 2
    assert "spec.to names order-v3, but the plan released order-v2" in message(outcome, "Warning")

    held = await runtime.reconcile_workflow(v3, due_only=False)
    assert conditions(held)["Registered"] == ("False", "AwaitingActivation"), "the plan released order-v2 only"
    assert ("order", 3) not in conductor.workflows
    assert await m.reconcile_target() is None, "the released target, unchanged, is not read again"
    assert {c["type"]: (c["status"], c["reason"]) for c in m.target["status"]["conditions"]}["Registered"] == (
        "True", "Registered")

    conductor.running["order"] = {2: 1}
    for _ in range(5):
        await m.step()
    assert m.status["phase"] == "Retiring" and m.status["running"] == {
        "old": 0, "target": 1, "readAt": format_time(clock())}


async def test_spec_to_changed_after_the_cutover_warns_of_the_change_not_of_a_gone_target(
        runtime, conductor, clock):
    """order-v2 still exists: the Warning must say spec.to changed, not that the released target is gone."""
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    runtime.kube.workflow_definitions[(NS, "order-v3")] = definition_body("order-v3", 3, V2_BODY, uid="uid-v3")
    respec(m, to={"workflowDefinitionRef": {"name": "order-v3"}})
    outcome = await m.step()
    assert conditions(outcome)["Warning"] == ("True", "TargetChangedAfterCutover")
    assert "is gone" not in message(outcome, "Warning"), message(outcome, "Warning")


async def test_a_released_target_deleted_after_the_cutover_is_a_warning_and_the_plan_drains_and_retires(
        runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    await m.to_draining()
    del runtime.kube.workflow_definitions[(NS, TARGET)]  # v2 stays in Conductor (policy Retain)
    conductor.running["order"] = {}
    outcome = await m.step()
    assert m.status["phase"] == "Draining", "not Pending: the plan cut over already"
    assert conditions(outcome)["Warning"] == ("True", "TargetGone")
    assert f"WorkflowDefinition {TARGET} is gone" in message(outcome, "Warning")
    for _ in range(8):
        await m.step()
    assert m.status["drain"].get("zeroReadings", 0) >= 3, f"the drain is counted: {m.status.get('message')}"
    assert conductor.deleted == [("order", 1)] and m.status["phase"] == "Completed"


# ---- 13. check names are unique -----------------------------------------------------------------------

async def test_check_workflows_with_the_same_name_are_an_invalid_spec(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock, gates={"workflows": [copy.deepcopy(GATE), {"name": "order"}]})
    outcome = await m.step(after=0)
    assert conditions(outcome)["Stalled"] == ("True", "InvalidSpec")
    assert "repeated: order" in message(outcome, "Stalled")
    assert conductor.start_attempts == []


# ---- 14. a plan that ended ----------------------------------------------------------------------------

class Calls:
    """What it wraps, recording every method called on it."""

    def __init__(self, inner):
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if callable(value):
            self.calls.append(name)
        return value


async def completed(m: Migration) -> dict:
    """Drain v1 (nothing runs on it) and retire it: the plan completes, and ends on a last count."""
    await m.to_draining()
    m.conductor.running["order"] = {2: 2}
    for _ in range(8):
        await m.step()
        if m.status.get("endedAt"):
            break
    assert m.status["phase"] == "Completed" and m.status["retiredVersions"] == [1], m.status.get("message")
    return copy.deepcopy(m.status)


async def test_a_plan_that_ended_reads_nothing_at_resync_and_keeps_its_record(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    ended = await completed(m)
    assert ended["endedAt"] == ended["running"]["readAt"] == ended["versions"][0]["readAt"]
    assert ended["running"] == {"old": 0, "target": 2, "readAt": ended["endedAt"]}
    assert ended["message"] == f"order runs on v2; retired v1; final counts as of {ended['endedAt']}"

    counted = Calls(conductor)
    runtime._clients.clear()
    runtime._client_factory = lambda *a, **k: counted
    runtime.kube = kube = Calls(runtime.kube)
    conductor.workflows[("order", 3)] = {**V2, "version": 3}  # the next release, by a WorkflowDefinition of its own
    conductor.running["order"] = {2: 1, 3: 40}
    for _ in range(3):
        outcome = await m.step(after=600)  # the timer, at every resync
        assert outcome.status is None and outcome.events == []
    assert counted.calls == [], "a plan that ended calls Conductor no more"
    assert kube.calls == [], "nor Kubernetes"
    assert m.status == ended
    warning = next(c for c in m.status["conditions"] if c["type"] == "Warning")
    assert (warning["status"], warning["reason"]) == ("False", "NoWarnings"), "v3 is not its business"


async def test_a_plan_that_ended_woken_by_a_change_of_its_spec_keeps_its_record(runtime, conductor, clock):
    m = Migration(runtime, conductor, clock)
    ended = await completed(m)
    conductor.workflows[("order", 3)] = {**V2, "version": 3}
    conductor.running["order"] = {2: 1, 3: 40}
    respec(m, healthyWhen="Completed")
    outcome = await m.step()
    assert conditions(outcome)["Warning"] == ("False", "NoWarnings"), "v3 registered since is not its business"
    assert conditions(outcome)["Ready"] == ("True", "Completed")
    assert {k: v for k, v in m.status.items() if k not in ("conditions", "observedGeneration")} == \
        {k: v for k, v in ended.items() if k not in ("conditions", "observedGeneration")}
    assert outcome.events == []
    again = await m.step()
    assert again.status is None, "at rest again"


async def test_a_status_the_phase_table_cannot_move_from_stalls_with_a_warning(runtime, conductor, clock):
    """A phase this operator never writes in that state (a status edited by hand, or left by another version):
    the plan stalls and says so, instead of failing its reconcile with a traceback."""
    m = Migration(runtime, conductor, clock)
    m.plan["status"] = {"phase": "Moving"}  # moving executions, and never cut over
    outcome = await m.step()
    stalled = next(c for c in outcome.status["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "UnlistedTransition")
    assert "Moving" in stalled["message"] and "recreate the plan" in stalled["message"]
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "UnlistedTransition")]
    assert m.status["phase"] == "Moving", "the recorded status is kept as it was"


@pytest.mark.parametrize("phase", [*(p.value for p in plans.Phase), "PhaseOfALaterRelease"])
async def test_any_phase_written_by_hand_with_nothing_else_gets_an_answer_not_a_traceback(runtime, conductor, clock,
                                                                                          phase):
    m = Migration(runtime, conductor, clock)
    m.plan["status"] = {"phase": phase}
    outcome = await m.step()
    assert outcome.status["conditions"], "reconciled to conditions, whatever they say"
