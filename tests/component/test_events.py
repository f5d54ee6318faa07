"""Which events a reconcile posts: every action taken, each time; a state (a stall, a hold, bad input, a
warning that stands) once, when the conditions change, however often the resource is re-checked.

The same is read from the real operator's core/v1 Events in tests/e2e/test_events_real.py.
"""

from __future__ import annotations

import copy

from conductor_operator.reconcile.migration import reconcile_plan

from tests.component import test_migration_moves as moves
from tests.component import test_migration_reconcile as plans
from tests.component import test_reconcile as base
from tests.component.test_reconcile import conditions

# The fixtures of the MigrationPlan component tests: a Conductor holding order v1 with two running executions.
clock = base.clock
conductor = plans.conductor
runtime = base.runtime


def cluster_body(url="http://conductor:8080", status=None):
    return {"metadata": {"name": "default", "namespace": "ns", "uid": "uid-cluster", "generation": 1},
            "spec": {"url": url}, "status": status or {}}


def reasons(outcome):
    return [(e.type, e.reason) for e in outcome.events]


def kept(outcome):
    """The conditions as a status write keeps them (the time of the last change aside)."""
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in outcome.status["conditions"]]


# ---- a state is said once ---------------------------------------------------------------------------

async def test_a_definition_stalled_on_bad_input_says_so_once_however_often_it_is_checked(clock):
    conductor = base.FakeConductor()
    runtime = base.Runtime(base.SETTINGS, base.FakeKube(), clock=clock, client_factory=lambda *a, **k: conductor)
    body = base.workflow_body("a", "a")  # a taskReferenceName used twice
    posted = []
    for _ in range(4):
        outcome = await runtime.reconcile_workflow(body, due_only=False)
        body["status"] = outcome.status
        posted += reasons(outcome)
        clock.advance(15)
    assert conditions(outcome)["Stalled"] == ("True", "InvalidDefinition")
    assert posted == [("Warning", "InvalidDefinition")]
    assert conductor.registrations == 0


async def test_a_cluster_says_once_that_it_is_unreachable_and_once_that_it_is_back(clock):
    conductor = base.FakeConductor()
    runtime = base.Runtime(base.SETTINGS, base.FakeKube(), clock=clock, client_factory=lambda *a, **k: conductor)
    body = cluster_body()
    posted = []
    for down in (False, True, True, True, False, False):
        conductor.down = down
        outcome = await runtime.reconcile_cluster(body, due_only=False)
        body["status"] = outcome.status
        posted += reasons(outcome)
        clock.advance(60)
    assert posted == [("Normal", "Reachable"), ("Warning", "Unreachable"), ("Normal", "Reachable")]


async def test_a_plan_stalled_on_a_missing_cluster_says_so_once(runtime, conductor, clock):
    m = plans.Migration(runtime, conductor, clock, clusterRef={"name": "elsewhere"})
    for _ in range(4):
        await m.step()
    assert m.events == ["ClusterNotFound"]


# ---- an action is said each time it is taken ----------------------------------------------------------

async def test_a_trigger_found_while_draining_is_paused_and_said_so_though_no_condition_changed(clock):
    conductor = moves.MovesConductor()
    conductor.workflows[("order", 1)] = copy.deepcopy(plans.V1)
    conductor.add("e00", age=0)
    runtime = base.Runtime(base.SETTINGS, moves.CrashingKube(conductor), clock=clock,
                           client_factory=lambda *a, **k: conductor)
    m = moves.drain_migration(runtime, conductor, clock)
    await m.step(after=0)
    settled = await m.step(after=1)  # the executions are counted every 10s: not now
    assert m.status["phase"] == "Draining" and settled.events == []

    conductor.handlers["orders-late"] = {"name": "orders-late", "event": "sqs:orders", "active": True,
                                         "actions": [{"action": "start_workflow", "start_workflow": {"name": "order"}}]}
    outcome = await m.step(after=1)
    assert conductor.handlers["orders-late"]["active"] is False
    assert kept(outcome) == kept(settled), "nothing the conditions say changed"
    assert reasons(outcome) == [("Normal", "TriggersPaused")]
    assert "EventHandler/orders-late" in outcome.events[0].message


async def test_a_retirement_retried_after_a_failure_is_said_when_it_is_done(runtime, conductor, clock):
    m = plans.Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.running["order"] = {}
    for _ in range(5):
        await m.step()
    assert m.status["phase"] == "Retiring"
    conductor.fail[("delete", "order", 1)] = plans.Unavailable(status=None, message="connection reset")
    failed = await m.step()
    assert conductor.deleted == [] and "failed: Retire 1" in m.status["message"]
    del conductor.fail[("delete", "order", 1)]
    retried = await reconcile_plan(runtime, m.plan)
    assert kept(retried) == kept(failed), "the retry changes no condition"
    assert conductor.deleted == [("order", 1)]
    assert reasons(retried) == [("Normal", "Retired")]


# ---- a retired version seen running again -------------------------------------------------------------

async def test_a_retired_version_running_again_is_a_warning_on_its_definition(runtime, conductor, clock):
    m = plans.Migration(runtime, conductor, clock)
    await m.to_draining()
    conductor.running["order"] = {}
    for _ in range(7):
        await m.step()
    assert m.status["retiredVersions"] == [1]
    v1 = plans.definition_body("order-v1", 1, {"tasks": plans.V1["tasks"]}, uid="uid-v1", activation="Immediate",
                               status={"registered": True, "contentHash": "sha256:old"})

    async def reconcile_v1(due_only=True):
        clock.advance(base.SETTINGS.resync_interval)
        outcome = await runtime.reconcile_workflow(v1, due_only=due_only)
        if outcome is not None:
            v1["status"] = outcome.status
        return outcome

    quiet = await reconcile_v1(due_only=False)
    assert conditions(quiet)["Ready"] == ("True", "RetiredByMigrationPlan")
    assert conditions(quiet)["Warning"] == ("False", "NoWarnings")
    assert quiet.status["executions"]["running"] == 0
    assert reasons(quiet) == [("Normal", "RetiredByMigrationPlan")]

    conductor.running["order"] = {1: 1, 2: 4}  # an ended v1 execution was restarted
    seen = await reconcile_v1()
    assert seen is not None, "a retired version is counted at every resync"
    assert conditions(seen)["Warning"] == ("True", "RetiredVersionRunning")
    assert conditions(seen)["Ready"] == ("True", "RetiredByMigrationPlan"), "still retired: nothing registers it"
    assert seen.status["executions"]["running"] == 1
    assert ("Warning", "RetiredVersionRunning") in reasons(seen)
    assert ("order", 1) not in conductor.workflows

    conductor.running["order"] = {1: 3, 2: 4}
    again = await reconcile_v1()
    assert again.status["executions"]["running"] == 3 and reasons(again) == [], "said once"
    conductor.running["order"] = {2: 4}
    ended = await reconcile_v1()
    assert conditions(ended)["Warning"] == ("False", "NoWarnings")
