"""Moving running executions: upgrade waves, rollback, drain with paused triggers, and crashes anywhere.

The fake Conductor here keeps real execution records and follows what the real server does, as
checked against Conductor OSS 3.32.3 (docs/conductor-facts.md): terminate writes its reason into
``reasonForIncompletion``; restart with useLatestDefinitions takes only a terminal execution, runs it
from its first task on the highest version and clears the reason. Its ``upgrade`` follows Orkes'
documented behaviour (Orkes only, never run here against a real Orkes server): the execution keeps
running from its current task on the new version, and the new version's tasks before it are SKIPPED
with the outputs the request gives.

Crash tests raise ``Crash`` (not an Exception, so nothing in the operator catches it) at one call
that changes something, before or after the change takes effect, as a SIGKILL would. The status
of that reconcile is then lost, as kopf would never write it, and the next one runs on a new
Runtime, as a restarted operator would.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter

import pytest
from conductor_operator.conductor.client import BulkResult, Flavor
from conductor_operator.conductor.errors import Conflict, NotFound, Unavailable
from conductor_operator.domain.conditions import format_time
from conductor_operator.reconcile import Runtime
from conductor_operator.reconcile.migration import finalize_plan, reconcile_plan
from conductor_operator.reconcile.moves import Ledger, ledger_name, shard_name

from tests.component import test_reconcile as base
from tests.component.test_migration_reconcile import NS, V1, Migration, MigrationConductor, deliver
from tests.component.test_reconcile import SETTINGS, FakeKube, conditions

clock = base.clock
LEDGER = "order-to-v2-ledger"
FIRST_START = 1_764_000_000_000
WAVES = {"workersIdempotent": True, "canary": {"count": 2}, "steps": [{"percent": 50}, {"percent": 100}],
         "healthGate": {"window": "1m", "maxFailurePercent": 20}}
NO_GATES = {"requireWorkers": False}


class Crash(BaseException):
    """The operator dies here."""


class MovesConductor(MigrationConductor):
    """Executions with tasks, bulk terminate and restart, Orkes' upgrade, pausing and resuming triggers."""

    def __init__(self):
        super().__init__()
        self.flavor = Flavor.OSS
        self.restarts: Counter[str] = Counter()
        self.upgrades: Counter[str] = Counter()
        self.crash_at: int | None = None
        self.crash_after_effect = False
        self.changes = 0

    # -- crash injection --
    def change(self, effect):
        """Count a call that changes something; crash before or after its effect when it is the chosen one."""
        self.changes += 1
        crash = self.changes == self.crash_at
        if crash and not self.crash_after_effect:
            raise Crash(f"before change {self.changes}")
        result = effect()
        if crash:
            raise Crash(f"after change {self.changes}")
        return result

    # -- executions --
    def add(self, execution_id, version=1, *, task="validate", status="RUNNING", correlation=None, age=0):
        """``age``: milliseconds after FIRST_START it started. Running executions are read through bulk search,
        which on Conductor OSS 3.32.3 gives createTime and no startTime."""
        self.executions[execution_id] = {
            "workflowId": execution_id, "workflowName": "order", "workflowVersion": version, "status": status,
            "createTime": FIRST_START + age, "correlationId": correlation,
            "tasks": [{"referenceTaskName": task, "status": "IN_PROGRESS", "outputData": {}}]}

    def _view(self, execution, include_tasks):
        shown = copy.deepcopy(execution)
        if not include_tasks:
            shown.pop("tasks", None)
        return shown

    async def detect_flavor(self):
        return self.flavor

    async def running_executions(self, name, include_tasks=False):
        self._check()
        return [self._view(e, include_tasks) for e in self.executions.values()
                if e["workflowName"] == name and e["status"] in ("RUNNING", "PAUSED")]

    async def existing_executions(self, ids, include_tasks=False):
        self._check()
        return [self._view(self.executions[i], include_tasks) for i in ids if i in self.executions]

    def _highest(self, name):
        return max(v for w, v in self.workflows if w == name)

    def _restart_one(self, execution_id):
        execution = self.executions[execution_id]
        if execution["status"] in ("RUNNING", "PAUSED"):
            return f"{execution_id} is not in terminal state, unable to restart."
        definition = self.workflows[("order", self._highest("order"))]
        execution.update(workflowVersion=definition["version"], status="RUNNING", reasonForIncompletion=None,
                         tasks=[{"referenceTaskName": definition["tasks"][0]["taskReferenceName"],
                                 "status": "SCHEDULED", "outputData": {}}])
        self.restarts[execution_id] += 1
        return None

    async def bulk_terminate(self, ids, reason):
        self._check()

        def effect():
            result = BulkResult()
            for execution_id in ids:
                execution = self.executions.get(execution_id)
                if execution is None or execution["status"] in ("COMPLETED", "FAILED"):
                    result.failed[execution_id] = "cannot terminate"
                    continue
                if execution["status"] != "TERMINATED":
                    execution.update(status="TERMINATED", reasonForIncompletion=reason)
                result.succeeded.append(execution_id)
            return result
        return self.change(effect)

    async def bulk_restart(self, ids, use_latest_definitions):
        self._check()
        assert use_latest_definitions

        def effect():
            result = BulkResult()
            for execution_id in ids:
                refused = self._restart_one(execution_id)
                if refused:
                    result.failed[execution_id] = refused
                else:
                    result.succeeded.append(execution_id)
            return result
        return self.change(effect)

    async def restart(self, workflow_id, use_latest_definitions):
        self._check()

        def effect():
            if refused := self._restart_one(workflow_id):
                raise Conflict(status=409, message=refused)
        self.change(effect)

    async def upgrade(self, workflow_id, *, name, version, task_output=None, workflow_input=None):
        """Orkes' documented behaviour: continue from the current task on ``version``; the tasks of that
        version before it are SKIPPED, their outputs taken from ``task_output``."""
        self._check()
        if self.flavor is not Flavor.ORKES:
            raise AssertionError("the upgrade endpoint exists on Orkes only")

        def effect():
            execution = self.executions.get(workflow_id)
            if execution is None:
                raise NotFound(status=404, message="no such execution")
            if execution["status"] not in ("RUNNING", "PAUSED"):
                raise Conflict(status=409, message="only a running execution can be upgraded")
            current = execution["tasks"][-1]
            refs = [t["taskReferenceName"] for t in self.workflows[(name, version)]["tasks"]]
            before = refs[:refs.index(current["referenceTaskName"])]
            execution["tasks"] = [{"referenceTaskName": ref, "status": "SKIPPED",
                                   "outputData": copy.deepcopy((task_output or {}).get(ref, {}))} for ref in before]
            execution["tasks"].append(current)
            execution["workflowVersion"] = version
            self.upgrades[workflow_id] += 1
        self.change(effect)

    async def register_workflow_defs(self, definitions):
        self.change(lambda: None)
        await super().register_workflow_defs(definitions)

    # -- triggers (read in MigrationConductor) --
    async def update_event_handler(self, handler):
        if handler["name"] not in self.handlers:
            raise NotFound(status=404, message="no such handler")
        self.change(lambda: self.handlers.__setitem__(handler["name"], copy.deepcopy(handler)))

    async def pause_schedule(self, name, reason=None):
        self.change(lambda: self.schedules_by_name[name].update(paused=True))

    async def resume_schedule(self, name):
        self.change(lambda: self.schedules_by_name[name].update(paused=False))

    def finish(self, execution_id, status="COMPLETED"):
        self.executions[execution_id]["status"] = status


class CrashingKube(FakeKube):
    def __init__(self, conductor: MovesConductor):
        super().__init__()
        self.conductor = conductor

    async def merge_config_map_data(self, namespace, name, data, *, owner):
        self.conductor.change(lambda: None)
        await super().merge_config_map_data(namespace, name, data, owner=owner)


@pytest.fixture
def conductor():
    fake = MovesConductor()
    fake.workflows[("order", 1)] = copy.deepcopy(V1)
    for i in range(10):
        fake.add(f"e{i:02d}", age=i * 1000)
    return fake


@pytest.fixture
def runtime(conductor, clock):
    return Runtime(SETTINGS, CrashingKube(conductor), clock=clock, client_factory=lambda *a, **k: conductor)


def waves_migration(runtime, conductor, clock, **waves):
    return Migration(runtime, conductor, clock, strategy={"upgradeWaves": {**WAVES, **waves}}, gates=NO_GATES)


async def cut_over(m: Migration):
    """Gates pass, the target registers, the plan starts moving."""
    await m.step(after=0)
    assert m.status.get("cutoverAt"), m.status.get("message")
    await m.reconcile_target()
    await m.step(after=1)
    assert m.status["phase"] == "Moving", m.status.get("message")


def ledger(runtime) -> dict[str, dict]:
    data = dict(runtime.kube.config_maps.get((NS, LEDGER), {}))
    data.pop("triggers", None)
    return {key: json.loads(value) for key, value in data.items()}


def on_version(conductor, version) -> set[str]:
    return {i for i, e in conductor.executions.items() if e["workflowVersion"] == version}


async def run_until(m: Migration, phase: str, *, after: float = 20, steps: int = 60):
    for _ in range(steps):
        if m.status.get("phase") == phase:
            return
        await m.step(after=after)
    raise AssertionError(f"not {phase} after {steps} steps: {m.status.get('phase')}: {m.status.get('message')}")


# ---- waves on Conductor OSS -----------------------------------------------------------------------

async def test_waves_move_the_canary_then_each_step_oldest_first_and_each_execution_once(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    assert ("order", 2) in conductor.workflows

    await m.step(after=1)  # the canary: two executions, the oldest
    assert on_version(conductor, 2) == {"e00", "e01"}
    assert m.status["waves"]["current"] == 0 and m.status["waves"]["state"] == "Moving"
    entries = ledger(runtime)
    assert set(entries) == {"e00", "e01"}
    assert {e["state"] for e in entries.values()} == {"Moved"}
    assert all(e["mover"] == "TerminateRestart" and e["wave"] == 0 for e in entries.values())
    assert runtime.kube.config_map_owners[(NS, LEDGER)]["uid"] == "uid-plan"

    await m.step(after=1)
    assert m.status["waves"]["state"] == "Watching" and m.status["waves"]["moved"] == 2
    await m.step(after=30)
    assert m.status["waves"]["state"] == "Watching", "the window is a minute"
    assert len(on_version(conductor, 2)) == 2

    await m.step(after=31)  # the canary passed: step 1 takes the moved share to 50% of 10
    assert m.status["waves"]["current"] == 1
    assert on_version(conductor, 2) == {"e00", "e01", "e02", "e03", "e04"}

    await run_until(m, "Draining")
    assert on_version(conductor, 2) == set(conductor.executions), "every eligible execution moved"
    assert set(conductor.restarts.values()) == {1}, "each restarted exactly once"
    assert {e["wave"] for e in ledger(runtime).values()} == {0, 1, 2}
    assert m.status["waves"] == {**m.status["waves"], "state": "Done", "moved": 10, "failed": 0, "ineligible": 0}
    assert m.status["ledger"] == LEDGER

    for execution_id in conductor.executions:
        conductor.finish(execution_id)
    for _ in range(6):
        await m.step(after=60)
    assert m.status["phase"] == "Completed", m.status.get("message")
    ready = next(c for c in m.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Completed")
    assert "WavePassed" in m.events and "Move" in m.events


async def test_an_execution_on_a_task_the_target_lacks_is_listed_and_never_moved(runtime, conductor, clock):
    conductor.add("gone-task", task="legacy_step", age=-5000)  # the oldest, so the canary would pick it
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    await run_until(m, "Draining")
    assert conductor.executions["gone-task"]["workflowVersion"] == 1
    assert "gone-task" not in ledger(runtime) and conductor.restarts["gone-task"] == 0
    assert m.status["waves"]["moved"] == 10
    assert m.status["waves"]["ineligible"] == 1
    assert m.status["waves"]["ineligibleExecutions"] == [
        "gone-task: its current task legacy_step is not in the target"]


async def test_the_canary_takes_the_oldest_by_create_time_not_the_first_by_id(runtime, conductor, clock):
    conductor.add("zz-oldest", age=-10_000)  # last by id, first by age (bulk search gives its createTime only)
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    await m.step(after=1)
    assert on_version(conductor, 2) == {"zz-oldest", "e00"}
    assert {i: e["wave"] for i, e in ledger(runtime).items()} == {"zz-oldest": 0, "e00": 0}


async def test_a_canary_whose_selector_admits_nothing_holds_until_a_promote_skips_it(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock, canary={"count": 2, "selector": {"correlationIdPattern": "^vip-"}})
    await cut_over(m)
    outcome = await m.step(after=1)
    assert on_version(conductor, 2) == set() and ledger(runtime) == {}
    waves = m.status["waves"]
    assert (waves["current"], waves["state"], waves["total"]) == (0, "Held", 10)
    assert waves["message"] == ("canary selected nothing: its selector (correlationIdPattern ^vip-) admits none of "
                                "the 10 execution(s) it could move")
    assert conditions(outcome)["Stalled"] == ("True", "WaveSelectedNothing")
    assert conditions(outcome)["Warning"] == ("True", "WaveSelectedNothing")
    assert m.status["message"].startswith(waves["message"] + "; held:")
    assert m.events.count("WaveSelectedNothing") == 1
    for _ in range(3):
        await m.step(after=120)
    assert on_version(conductor, 2) == set(), "no wave moves while the canary selected nothing"
    assert m.status["waves"]["state"] == "Held" and m.status["waves"]["current"] == 0
    assert m.events.count("WaveSelectedNothing") == 1, "said once"

    m.plan["spec"]["requests"] = {"promote": "go-1"}
    await m.step(after=1)
    assert m.status["handledRequests"]["promote"]["result"] == ("wave 0: skipped, as it selected nothing; the next "
                                                                "wave starts")
    assert m.status["waves"]["current"] == 1
    assert on_version(conductor, 2) == {"e00", "e01", "e02", "e03", "e04"}, "step 1: 50%, oldest first"
    await run_until(m, "Draining")
    assert {e["wave"] for e in ledger(runtime).values()} == {1, 2}


async def test_a_canary_whose_selector_admits_one_later_goes_on_by_itself(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock, canary={"count": 2, "selector": {"correlationIdPattern": "^vip-"}})
    await cut_over(m)
    await m.step(after=1)
    assert m.status["waves"]["state"] == "Held"
    conductor.add("vip-1", age=50_000, correlation="vip-1")  # a pinned caller started one the selector admits
    await m.step(after=60)
    assert on_version(conductor, 2) == {"vip-1"}
    assert m.status["waves"]["state"] == "Moving" and m.status["waves"]["current"] == 0
    outcome = await m.step(after=1)
    assert m.status["waves"]["state"] == "Watching", "the canary moved what it could: its gate judges that"
    assert conditions(outcome)["Warning"][1] != "WaveSelectedNothing"


async def test_the_workers_must_be_declared_idempotent_for_terminate_and_restart(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock, workersIdempotent=False)
    outcome = await m.step(after=0)
    assert m.status["phase"] == "Validating"
    assert conditions(outcome)["Stalled"] == ("True", "WorkersNotIdempotent")
    assert "cutoverAt" not in m.status and conductor.restarts == Counter()


# ---- health gates: pause, promote, rollback --------------------------------------------------------

async def test_a_failed_health_gate_holds_until_promoted(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    await m.step(after=1)
    conductor.finish("e00", "FAILED")  # one of the two canaries fails: 50% > 20%
    outcome = await m.step(after=1)
    assert m.status["waves"]["state"] == "GateFailed"
    assert conditions(outcome)["Stalled"] == ("True", "HealthGateFailed")
    assert "1 of 2" in m.status["waves"]["message"]
    for _ in range(3):
        await m.step(after=120)
    assert len(on_version(conductor, 2)) == 2, "nothing moves while the gate is failed"

    m.plan["spec"]["requests"] = {"promote": "go-1"}
    await m.step(after=1)
    assert m.status["handledRequests"]["promote"]["token"] == "go-1"
    assert "went on past its failed health gate" in m.status["handledRequests"]["promote"]["result"]
    assert len(on_version(conductor, 2)) == 5, "step 1 moved right after the promote"
    await m.step(after=1)
    await m.step(after=1)
    assert len(on_version(conductor, 2)) == 5, "the same token is not acted on twice"


async def test_a_failed_gate_with_rollback_republishes_v1_and_moves_back_only_what_runs(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock, onGateFailure="Rollback",
                        canary={"count": 3})
    await cut_over(m)
    await m.step(after=1)
    moved = on_version(conductor, 2)
    assert moved == {"e00", "e01", "e02"}
    conductor.finish("e00", "FAILED")
    conductor.finish("e01", "COMPLETED")  # ended on the target: nothing to move back
    await run_until(m, "RolledBack", after=1)

    assert conductor.workflows[("order", 3)]["tasks"] == V1["tasks"], "v1's content is the newest version"
    assert "republished v1" in conductor.workflows[("order", 3)]["description"]
    assert ("order", 2) in conductor.workflows, "the target stays for what runs on it"
    assert conductor.executions["e02"]["workflowVersion"] == 3 and conductor.restarts["e02"] == 2
    assert conductor.executions["e01"]["workflowVersion"] == 2 and conductor.restarts["e01"] == 1
    entries = ledger(runtime)
    assert entries["e02"]["state"] == "RolledBack" and entries["e02"]["back_version"] == 3
    assert entries["e01"]["state"] == "Moved"
    assert m.status["rollback"]["version"] == 3 and m.status["rollback"]["fromVersion"] == 1
    assert m.status["waves"]["rolledBack"] == 1
    assert sorted(i for i, e in conductor.executions.items() if e["workflowVersion"] == 1) == \
        [f"e{i:02d}" for i in range(3, 10)], "the rest never moved"
    for _ in range(3):
        await m.step(after=60)
    assert m.status["phase"] == "RolledBack" and conductor.workflows.get(("order", 4)) is None


async def test_abort_stops_the_waves_where_they_are(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    await m.step(after=1)
    m.plan["spec"]["requests"] = {"abort": "stop-1"}
    outcome = await m.step(after=1)
    assert m.status["phase"] == "Aborted"
    assert conditions(outcome)["Stalled"] == ("True", "Aborted")
    for _ in range(3):
        await m.step(after=120)
    assert on_version(conductor, 2) == {"e00", "e01"}


# ---- the Orkes mover (against the fake's rendering of Orkes' documented upgrade) ------------------------

async def test_orkes_upgrade_continues_from_the_current_task_with_the_plans_outputs(runtime, conductor, clock):
    conductor.flavor = Flavor.ORKES
    conductor.workflows[("order", 1)]["tasks"].insert(0, {"name": "intake", "taskReferenceName": "intake",
                                                          "type": "SIMPLE"})
    m = Migration(runtime, conductor, clock, gates=NO_GATES, strategy={"upgradeWaves": {
        "canary": {"percent": 20}, "steps": [{"percent": 100}], "healthGate": {"window": "10s"},
        "taskOutput": {"intake": {"accepted": True}}}})
    m.target["spec"]["definition"]["tasks"].insert(0, {"name": "intake", "taskReferenceName": "intake",
                                                       "type": "SIMPLE"})
    await cut_over(m)
    await run_until(m, "Draining")
    assert conductor.restarts == Counter(), "no task runs again"
    assert set(conductor.upgrades.values()) == {1} and len(conductor.upgrades) == 10
    execution = conductor.executions["e03"]
    assert execution["workflowVersion"] == 2 and execution["status"] == "RUNNING"
    assert execution["tasks"] == [
        {"referenceTaskName": "intake", "status": "SKIPPED", "outputData": {"accepted": True}},
        {"referenceTaskName": "validate", "status": "IN_PROGRESS", "outputData": {}}]
    assert {e["mover"] for e in ledger(runtime).values()} == {"OrkesUpgrade"}


# ---- drain: triggers paused while the old version drains, resumed after --------------------------------

def drain_migration(runtime, conductor, clock, **drain):
    conductor.handlers["orders-in"] = {"name": "orders-in", "event": "kafka:orders", "active": True,
                                       "actions": [{"action": "start_workflow",
                                                    "start_workflow": {"name": "order"}}]}
    conductor.handlers["audit"] = {"name": "audit", "event": "kafka:orders", "active": True,
                                   "actions": [{"action": "start_workflow", "start_workflow": {"name": "audit"}}]}
    conductor.schedules_by_name["nightly"] = {"name": "nightly", "paused": False,
                                              "startWorkflowRequest": {"name": "order", "version": 1}}
    return Migration(runtime, conductor, clock, gates=NO_GATES,
                     strategy={"drain": {"deadline": "1h", **drain}},
                     drainDetection={"interval": "10s", "consecutiveZeroReadings": 2, "gracePeriod": "10s"})


async def test_drain_pauses_what_starts_the_workflow_registers_after_the_drain_then_resumes(
        runtime, conductor, clock):
    m = drain_migration(runtime, conductor, clock)
    await m.step(after=0)
    assert m.status["phase"] == "Draining" and "cutoverAt" not in m.status
    assert conductor.handlers["orders-in"]["active"] is False
    assert conductor.handlers["audit"]["active"] is True, "a handler starting another workflow is left alone"
    assert conductor.schedules_by_name["nightly"]["paused"] is True
    assert m.status["triggers"] == [{"kind": "EventHandler", "name": "orders-in", "state": "Paused"},
                                    {"kind": "Schedule", "name": "nightly", "state": "Paused"}]
    assert m.status["drain"]["deadline"] and m.status["drain"]["estimatedEnd"]
    assert m.events.count("TriggerPinsOldVersion") == 1, "the schedule pins v1: it would keep starting it"

    await m.reconcile_target()
    assert ("order", 2) not in conductor.workflows, "the target waits for the drain"
    for execution_id in conductor.executions:
        conductor.finish(execution_id)
    for _ in range(4):
        await m.step(after=10)
    assert m.status.get("cutoverAt"), m.status.get("message")
    assert conductor.handlers["orders-in"]["active"] is False, "held until the target is registered"

    await m.reconcile_target()
    outcome = await m.step(after=1)
    assert m.status["phase"] == "Completed", m.status.get("message")
    assert conditions(outcome)["Ready"] == ("True", "Completed")
    assert conductor.handlers["orders-in"]["active"] is True
    assert conductor.schedules_by_name["nightly"]["paused"] is False
    assert {t["state"] for t in m.status["triggers"]} == {"Resumed"}
    assert conductor.restarts == Counter(), "a drain moves nothing"


async def test_a_drain_that_fails_at_its_deadline_resumes_the_triggers(runtime, conductor, clock):
    m = drain_migration(runtime, conductor, clock, onDeadline="Fail")
    await m.step(after=0)
    assert conductor.handlers["orders-in"]["active"] is False
    outcome = await m.step(after=3601)
    assert m.status["phase"] == "Failed"
    assert conditions(outcome)["Stalled"] == ("True", "DrainDeadlinePassed")
    assert conductor.handlers["orders-in"]["active"] is True
    assert conductor.schedules_by_name["nightly"]["paused"] is False
    assert ("order", 2) not in conductor.workflows


async def test_a_failed_drain_ends_only_once_its_triggers_are_resumed(runtime, conductor, clock):
    m = drain_migration(runtime, conductor, clock, onDeadline="Fail")
    await m.step(after=0)

    async def refused(name):
        raise Unavailable(status=None, message="connection reset")

    conductor.resume_schedule = refused
    await m.step(after=3601)
    assert m.status["phase"] == "Failed" and "endedAt" not in m.status
    assert conductor.schedules_by_name["nightly"]["paused"] is True
    del conductor.resume_schedule
    for _ in range(2):
        await m.step(after=15)
    assert conductor.schedules_by_name["nightly"]["paused"] is False
    assert m.status["endedAt"] == format_time(clock())
    assert (await m.step(after=15)).status is None, "at rest"


async def test_a_drain_past_its_deadline_moves_what_remains(runtime, conductor, clock):
    m = drain_migration(runtime, conductor, clock, onDeadline="MoveRemaining", workersIdempotent=True)
    await m.step(after=0)
    conductor.finish("e00")
    await m.step(after=3601)
    assert m.status.get("cutoverAt")
    await m.reconcile_target()
    await run_until(m, "Draining", after=5)
    assert on_version(conductor, 2) == {f"e{i:02d}" for i in range(1, 10)}
    assert conductor.executions["e00"]["workflowVersion"] == 1
    assert conductor.handlers["orders-in"]["active"] is True


async def test_deleting_a_draining_plan_resumes_its_triggers(runtime, conductor, clock):
    m = drain_migration(runtime, conductor, clock)
    await m.step(after=0)
    assert conductor.handlers["orders-in"]["active"] is False
    outcome = await finalize_plan(runtime, m.plan)
    assert outcome.retry_after is None
    assert conductor.handlers["orders-in"]["active"] is True
    assert conductor.schedules_by_name["nightly"]["paused"] is False
    assert [e.reason for e in outcome.events] == ["TriggersResumed"]
    again = await finalize_plan(runtime, m.plan)
    assert again.events == [], "nothing left to resume"


# ---- crashes at any point of the waves ------------------------------------------------------------------

async def crash_run(seed: int, clock, *, crash: bool = True, changes: int | None = None
                    ) -> tuple[MovesConductor, FakeKube, dict, int]:
    """A whole waves plan where the operator dies once at a random change (of the first ``changes``), then
    restarts, up to four times."""
    rng = random.Random(seed)
    conductor = MovesConductor()
    conductor.workflows[("order", 1)] = copy.deepcopy(V1)
    for i in range(12):
        conductor.add(f"e{i:02d}", age=i * 1000)
    kube = CrashingKube(conductor)

    def new_runtime():
        return Runtime(SETTINGS, kube, clock=clock, client_factory=lambda *a, **k: conductor)

    m = Migration(new_runtime(), conductor, clock, gates=NO_GATES, strategy={"upgradeWaves": {
        **WAVES, "canary": {"count": 3}, "steps": [{"percent": 40}, {"percent": 70}, {"percent": 100}],
        "healthGate": {"window": "5s"}}})
    conductor.crash_at = rng.randint(1, changes or CHANGES_IN_A_RUN)
    conductor.crash_after_effect = rng.random() < 0.5
    if not crash:
        conductor.crash_at = None
    crashes = await step_through_crashes(m, conductor, clock, new_runtime, rng, crash=crash, rounds=80,
                                         until=("Draining",), spacing=12)
    return conductor, kube, m.status, crashes


async def step_through_crashes(m: Migration, conductor: MovesConductor, clock, new_runtime, rng: random.Random, *,
                               crash: bool, rounds: int, until: tuple[str, ...], spacing: int,
                               after_step=lambda: None) -> int:
    """Step the plan (6 s apart) until it reaches a phase of ``until``, for at most ``rounds`` steps. At each Crash
    the operator restarts (a new Runtime: the crashed reconcile's status is lost) and, up to four crashes, the next
    one falls within ``spacing`` changes; ``after_step`` runs after every step, crashed or not. The crashes."""
    crashes = 0
    for _ in range(rounds):
        if m.status.get("phase") in until:
            break
        clock.advance(6)
        try:
            if m.status.get("cutoverAt") and not m.target.get("status", {}).get("registered"):
                await m.reconcile_target()
            outcome = await reconcile_plan(m.runtime, m.plan)
        except Crash:
            crashes += 1
            m.runtime = new_runtime()
            conductor.crash_at = conductor.changes + rng.randint(1, spacing) if crash and crashes < 4 else None
            conductor.crash_after_effect = rng.random() < 0.5
            continue
        finally:
            after_step()
        deliver(m.plan, outcome)
    return crashes


CHANGES_IN_A_RUN = 20
"""Changes a crash-free run makes: four waves of four (intents, terminate, restart, confirmations), registering
the target, and three points of the dashboard's history (one per drainDetection interval); the first crash falls
on one of them."""


async def test_a_crash_free_run_makes_the_changes_the_crash_tests_pick_from(clock):
    conductor, _, status, crashes = await crash_run(-1, clock, crash=False)
    assert (crashes, status["phase"], conductor.changes) == (0, "Draining", CHANGES_IN_A_RUN)


@pytest.mark.parametrize("seed", range(40))
async def test_crashes_anywhere_in_the_waves_move_every_execution_exactly_once(seed, clock):
    conductor, kube, status, crashes = await crash_run(seed, clock)
    assert crashes >= 1, "the run crashed at least once"
    assert status.get("phase") == "Draining", status.get("message")
    assert set(conductor.restarts) == set(conductor.executions), "every execution moved"
    assert set(conductor.restarts.values()) == {1}, f"restarts: {conductor.restarts}"
    assert all(e["workflowVersion"] == 2 and e["status"] == "RUNNING" for e in conductor.executions.values())
    entries = ledger_entries(kube)
    assert set(entries) == set(conductor.executions), "the ledger names every moved execution"
    assert {e["state"] for e in entries.values()} == {"Moved"}, "and agrees with Conductor"
    assert status["waves"]["moved"] == 12


def ledger_entries(kube: FakeKube) -> dict[str, dict]:
    """Every entry of the plan's ledger over all its ConfigMaps; each execution is in exactly one."""
    entries: dict[str, dict] = {}
    maps = [data for (namespace, name), data in kube.config_maps.items()
            if namespace == NS and name.startswith(LEDGER)]
    for data in maps:
        for key, value in data.items():
            if key not in ("triggers", "shards"):
                assert key not in entries, f"{key} is in two shards"
                entries[key] = json.loads(value)
    return entries


SHARDED_CHANGES = 35
"""Changes a crash-free run makes with a ledger of 300 bytes a ConfigMap (two entries each): the 20 above, five
shard openings, and a write for each further shard a batch of entries spans."""


async def test_a_crash_free_run_over_a_sharded_ledger_makes_the_changes_its_crash_tests_pick_from(clock, monkeypatch):
    monkeypatch.setattr(Ledger, "shard_budget", 300)
    conductor, kube, status, crashes = await crash_run(-1, clock, crash=False)
    assert (crashes, status["phase"], conductor.changes) == (0, "Draining", SHARDED_CHANGES)
    shards = sorted(name for namespace, name in kube.config_maps if name.startswith(LEDGER))
    assert shards == [LEDGER, *(f"{LEDGER}-{i}" for i in range(1, 6))]
    assert kube.config_maps[(NS, LEDGER)]["shards"] == "5"
    assert all(sum(len(k) + len(v) for k, v in kube.config_maps[(NS, name)].items()) <= 300 for name in shards)
    assert set(ledger_entries(kube)) == set(conductor.executions)


@pytest.mark.parametrize("seed", range(20))
async def test_crashes_with_the_ledger_over_several_config_maps_move_every_execution_exactly_once(
        seed, clock, monkeypatch):
    """A crash between counting a new shard and writing to it leaves an empty shard that the next step fills."""
    monkeypatch.setattr(Ledger, "shard_budget", 300)
    conductor, kube, status, crashes = await crash_run(1000 + seed, clock, changes=SHARDED_CHANGES)
    assert crashes >= 1 and status.get("phase") == "Draining", status.get("message")
    assert set(conductor.restarts.values()) == {1} and set(conductor.restarts) == set(conductor.executions)
    entries = ledger_entries(kube)
    assert set(entries) == set(conductor.executions) and {e["state"] for e in entries.values()} == {"Moved"}


async def test_check_workflows_run_after_each_wave_and_hold_it_until_they_pass(runtime, conductor, clock):
    conductor.workflows[("smoke", 1)] = {"name": "smoke", "version": 1, "tasks": []}
    m = waves_migration(runtime, conductor, clock, healthGate={
        "window": "1m", "maxFailurePercent": 20,
        "workflows": [{"name": "smoke", "input": {"probe": True}, "expectedOutput": {"ok": True}}]})
    await cut_over(m)
    await m.step(after=1)  # the canary moves
    await m.step(after=1)  # watching: the check starts
    smoke = [s for s in conductor.started if s["name"] == "smoke"]
    assert len(smoke) == 1 and smoke[0]["correlation_id"] == "migrationplan/ns/order-to-v2/smoke/wave-0/gen-1"
    assert smoke[0]["workflow_def"] is None, "after a wave the check runs what is registered"
    first = m.status["waves"]["gates"][0]["executionId"]

    await m.step(after=120)
    assert m.status["waves"]["state"] == "Watching", "the window has passed, the check has not"
    assert "check workflow(s) smoke running" in m.status["message"]
    conductor.executions[first].update(status="COMPLETED", output={"ok": True})
    await m.step(after=1)
    assert m.status["waves"]["current"] == 1 and len(on_version(conductor, 2)) == 5

    await m.step(after=1)  # step 1 watched: its own run of the check
    second = m.status["waves"]["gates"][0]["executionId"]
    assert second != first and len([s for s in conductor.started if s["name"] == "smoke"]) == 2
    conductor.executions[second].update(status="FAILED", reasonForIncompletion="smoke broke")
    outcome = await m.step(after=1)
    assert m.status["waves"]["state"] == "GateFailed"
    assert conditions(outcome)["Stalled"] == ("True", "HealthGateFailed")
    assert "check smoke: execution" in m.status["message"] and "smoke broke" in m.status["message"]
    assert len(on_version(conductor, 2)) == 5, "nothing more moves"


async def test_a_ledger_edited_by_hand_stops_the_plan_with_a_message_not_a_stack_trace(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    await m.step(after=1)
    runtime.kube.config_maps[(NS, LEDGER)]["e00"] = "not json"
    outcome = await m.step(after=1)
    assert outcome.retry_after is not None
    assert "ConfigMap order-to-v2-ledger holds something that is not a ledger entry" in outcome.message
    assert len(on_version(conductor, 2)) == 2, "nothing moves without a readable ledger"


async def test_an_orkes_rollback_upgrades_moved_executions_back_to_their_own_version(runtime, conductor, clock):
    conductor.flavor = Flavor.ORKES
    m = Migration(runtime, conductor, clock, gates=NO_GATES, strategy={"upgradeWaves": {
        "canary": {"count": 2}, "healthGate": {"window": "1h", "maxFailurePercent": 20},
        "onGateFailure": "Rollback"}})
    await cut_over(m)
    await m.step(after=1)
    assert on_version(conductor, 2) == {"e00", "e01"}
    conductor.finish("e00", "FAILED")
    await run_until(m, "RolledBack", after=1)
    assert conductor.executions["e01"]["workflowVersion"] == 1, "back on its own version, from where it was"
    assert conductor.upgrades["e01"] == 2 and conductor.restarts == Counter(), "no task ran again"
    assert ledger(runtime)["e01"]["state"] == "RolledBack" and ledger(runtime)["e01"]["back_version"] == 1
    assert conductor.workflows[("order", 3)]["tasks"] == V1["tasks"], "new unpinned starts run v1's content"


async def test_no_restart_lands_on_a_version_registered_above_the_target(runtime, conductor, clock):
    m = waves_migration(runtime, conductor, clock)
    await cut_over(m)
    conductor.workflows[("order", 3)] = {**copy.deepcopy(V1), "version": 3}
    outcome = await m.step(after=1)
    assert conditions(outcome)["Stalled"] == ("True", "TargetNotHighestVersion")
    assert conductor.restarts == Counter() and ledger(runtime) == {}
    del conductor.workflows[("order", 3)]
    await m.step(after=1)
    assert on_version(conductor, 2) == {"e00", "e01"}, "the canary moves once v2 is the highest again"


def test_shard_names_stay_valid_and_distinct_for_the_longest_plan_names():
    for plan in ("p", "a" * 246, "a" * 253, "b" * 253):
        names = [shard_name(ledger_name(plan), i) for i in range(12)]
        assert all(len(n) <= 253 for n in names) and len(set(names)) == 12
    assert shard_name(ledger_name("a" * 253), 3) != shard_name(ledger_name("a" * 252 + "b"), 3)
    assert shard_name("orders-ledger", 0) == "orders-ledger" and shard_name("orders-ledger", 2) == "orders-ledger-2"
