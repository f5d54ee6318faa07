"""The proposal of `kubectl conductor plan`: a strategy per verdict and shape of workload, each rule with its reason,
a manifest the MigrationPlan model accepts, and a runbook."""

from datetime import timedelta

import pytest
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain.compatibility import compare
from conductor_operator.domain.proposal import (
    DRAIN,
    PARALLEL,
    UPGRADE_WAVES,
    Change,
    Running,
    Trigger,
    deadline_text,
    percentile,
    propose,
)


def task(ref: str) -> dict:
    return {"name": ref, "taskReferenceName": ref, "type": "SIMPLE"}


def definition(version: int, *refs: str) -> dict:
    return {"name": "orders", "version": version, "tasks": [task(ref) for ref in refs]}


OLD = definition(1, "charge", "ship")
SAFE = compare(OLD, definition(2, "charge", "ship", "notify"))  # appended
CAUTION = compare(OLD, definition(2, "charge", "review", "ship"))  # inserted
BREAKING = compare(OLD, definition(2, "charge"))  # ship removed
CHANGE = Change(workflow="orders", old_version=1, new_version=2, target_ref="orders-v2", plan_name="orders-to-v2",
                namespace="team", target_activation="ByMigrationPlan")

NONE_RUNNING = [Running(2, 0)]
FEW_SHORT = [Running(1, 3, tuple(timedelta(minutes=m) for m in (2, 5, 10)))]
MANY_LONG = [Running(1, 40, tuple(timedelta(hours=h) for h in range(1, 41))), Running(2, 4)]
FEW_LONG = [Running(1, 2, (timedelta(hours=2), timedelta(hours=5)))]
NO_TRIGGERS: list[Trigger] = []
SCHEDULE = [Trigger("Schedule", "nightly")]
PINNED = [Trigger("EventHandler", "on-order", pinned_version=1)]


def rules(proposal) -> list[str]:
    return [r.rule for r in proposal.rationale]


def why(proposal, rule: str) -> str:
    return next(r.why for r in proposal.rationale if r.rule == rule)


def strategy_settings(proposal) -> dict:
    return proposal.manifest["spec"]["strategy"][proposal.strategy]


def test_verdict_levels_as_compared():
    assert (SAFE.level.value, CAUTION.level.value, BREAKING.level.value) == ("Safe", "Caution", "Breaking")


# ---- every proposal: a manifest the model accepts, a runbook ----------------------------------

CASES = [(verdict, running, triggers, idempotent)
         for verdict in (SAFE, CAUTION, BREAKING)
         for running in (None, NONE_RUNNING, FEW_SHORT, MANY_LONG, FEW_LONG)
         for triggers in (None, NO_TRIGGERS, SCHEDULE, PINNED)
         for idempotent in (False, True)]


@pytest.mark.parametrize(("verdict", "running", "triggers", "idempotent"), CASES)
def test_every_proposal_is_a_valid_plan_with_reasons_and_a_runbook(verdict, running, triggers, idempotent):
    proposal = propose(CHANGE, verdict, running, triggers, workers_idempotent=idempotent)
    plan = MigrationPlan.model_validate(proposal.manifest)
    assert plan.spec.strategy.name == proposal.strategy
    assert plan.spec.to.workflow_definition_ref.name == "orders-v2"
    assert plan.spec.from_.versions == [1] and plan.spec.workflow_name == "orders"
    assert proposal.rationale and all(r.why for r in proposal.rationale)
    if verdict is BREAKING and proposal.strategy == UPGRADE_WAVES:
        assert plan.spec.strategy.upgrade_waves.acknowledge_breaking
    for needed in ("## Why", "## What will happen", "## What to watch", "## How to roll back",
                   "kubectl conductor status orders-to-v2 -n team", "kubectl conductor rollback orders-to-v2"):
        assert needed in proposal.runbook
    assert bool(proposal.unknowns) == (running is None or triggers is None)


# ---- Safe -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("running", "shape_rule"), [(NONE_RUNNING, "NothingRunning"),
                                                     (FEW_SHORT, "ShortRunsDrainSoon"),
                                                     (MANY_LONG, "LongRunsFinishWhereTheyAre")])
def test_safe_runs_side_by_side_whatever_runs(running, shape_rule):
    proposal = propose(CHANGE, SAFE, running, NO_TRIGGERS, workers_idempotent=True)
    assert proposal.strategy == PARALLEL
    assert rules(proposal)[:2] == ["SafeRunsSideBySide", shape_rule]
    assert strategy_settings(proposal) == {"retireOldVersions": True, "retireAfter": "1h"}


def test_many_long_runs_are_described_with_their_ages():
    proposal = propose(CHANGE, SAFE, MANY_LONG, NO_TRIGGERS)
    assert why(proposal, "LongRunsFinishWhereTheyAre").startswith(
        "40 executions of v1 run, the oldest for 40h (p95 38h)")


def test_safe_without_the_cluster_keeps_the_old_versions():
    proposal = propose(CHANGE, SAFE, None, None)
    assert proposal.strategy == PARALLEL
    assert strategy_settings(proposal) == {"retireOldVersions": False}
    assert "the triggers are unknown" in why(proposal, "KeepOldVersions")
    assert len(proposal.unknowns) == 2 and "--from-cluster" in proposal.unknowns[0]


# ---- Caution ----------------------------------------------------------------------------------

def test_caution_drains_with_a_deadline_from_the_ages():
    proposal = propose(CHANGE, CAUTION, FEW_SHORT, SCHEDULE)
    assert proposal.strategy == DRAIN
    assert strategy_settings(proposal) == {"deadline": "15m", "onDeadline": "Wait", "pauseTriggers": True}
    assert rules(proposal) == ["CautionDrains", "DeadlineFromAges", "WaitAtDeadline", "TriggersPausedWhileDraining"]
    assert "p95 age x 1.5" in why(proposal, "DeadlineFromAges")
    assert "Schedule nightly" in why(proposal, "TriggersPausedWhileDraining")


def test_a_long_drain_without_triggers_still_drains_and_ignores_an_outlier():
    ages = tuple([timedelta(hours=2)] * 19 + [timedelta(hours=400)])  # one stuck execution
    proposal = propose(CHANGE, CAUTION, [Running(1, 20, ages)], NO_TRIGGERS)
    assert proposal.strategy == DRAIN
    assert strategy_settings(proposal)["deadline"] == "3h"  # p95 2h x 1.5, not 400h
    assert "NoTriggers" in rules(proposal)


def test_caution_with_nothing_running_drains_within_the_floor():
    proposal = propose(CHANGE, CAUTION, NONE_RUNNING, NO_TRIGGERS)
    assert strategy_settings(proposal)["deadline"] == "15m"
    assert "DeadlineFloor" in rules(proposal)


def test_caution_unknown_ages_waits_long():
    proposal = propose(CHANGE, CAUTION, None, None)
    assert (proposal.strategy, strategy_settings(proposal)["deadline"]) == (DRAIN, "24h")
    assert "DeadlineUnknownAges" in rules(proposal)


def test_caution_runs_side_by_side_rather_than_pause_triggers_for_hours():
    proposal = propose(CHANGE, CAUTION, MANY_LONG, SCHEDULE)
    assert proposal.strategy == PARALLEL
    reason = why(proposal, "DrainTooLongRunSideBySide")
    assert "pause 1 trigger for about 57h" in reason and "--max-trigger-pause" in reason
    assert strategy_settings(proposal)["retireOldVersions"] is True


def test_caution_drains_long_when_a_longer_trigger_pause_is_allowed():
    proposal = propose(CHANGE, CAUTION, MANY_LONG, SCHEDULE, max_trigger_pause=timedelta(hours=72))
    assert (proposal.strategy, strategy_settings(proposal)["deadline"]) == (DRAIN, "57h")


def test_caution_moves_long_runs_in_waves_when_workers_are_idempotent():
    proposal = propose(CHANGE, CAUTION, MANY_LONG, SCHEDULE, workers_idempotent=True)
    assert proposal.strategy == UPGRADE_WAVES
    settings = strategy_settings(proposal)
    assert "acknowledgeBreaking" not in settings and settings["workersIdempotent"] is True
    assert "DrainTooLongMoveInstead" in rules(proposal)


# ---- Breaking ---------------------------------------------------------------------------------

def test_breaking_is_never_moved_without_idempotent_workers():
    proposal = propose(CHANGE, BREAKING, MANY_LONG, NO_TRIGGERS)
    assert proposal.strategy == PARALLEL
    assert rules(proposal)[:2] == ["BreakingNeverMoved", "KeepOldWorkers"]
    assert "ship" in why(proposal, "KeepOldWorkers")


def test_breaking_many_long_runs_move_in_acknowledged_waves_with_a_canary():
    proposal = propose(CHANGE, BREAKING, MANY_LONG, NO_TRIGGERS, workers_idempotent=True)
    settings = strategy_settings(proposal)
    assert proposal.strategy == UPGRADE_WAVES
    assert (settings["acknowledgeBreaking"], settings["workersIdempotent"]) == (True, True)
    assert settings["canary"] == {"count": 2}
    assert [s["percent"] for s in settings["steps"]] == [25, 50, 100]
    assert settings["onGateFailure"] == "Pause"
    assert "BreakingMovedInWaves" in rules(proposal)
    assert why(proposal, "KeepOldWorkers").startswith("executions that are not moved (ineligible) still run ship")
    assert "Canary:" in proposal.runbook and "HealthGateFailed" in proposal.runbook


def test_breaking_few_long_runs_move_in_one_wave():
    proposal = propose(CHANGE, BREAKING, FEW_LONG, NO_TRIGGERS, workers_idempotent=True)
    settings = strategy_settings(proposal)
    assert (settings["canary"], settings["steps"]) == ({"count": 1}, [{"percent": 100}])


@pytest.mark.parametrize(("running", "rule"), [(FEW_SHORT, "ShortRunsNotMoved"), (NONE_RUNNING, "NothingToMove"),
                                               (None, "BreakingNotMovedBlind"),
                                               ([Running(1, 3)], "BreakingNotMovedBlind")])
def test_breaking_moves_nothing_when_waiting_is_cheap_or_blind(running, rule):
    proposal = propose(CHANGE, BREAKING, running, NO_TRIGGERS, workers_idempotent=True)
    assert proposal.strategy == PARALLEL
    assert rules(proposal)[0] == rule


# ---- triggers, versions, the target -----------------------------------------------------------

def test_a_trigger_pinned_to_the_old_version_is_named_and_blocks_retirement():
    proposal = propose(CHANGE, SAFE, FEW_SHORT, PINNED)
    assert strategy_settings(proposal) == {"retireOldVersions": False}
    assert "EventHandler on-order starts v1 by number" in why(proposal, "KeepOldVersions")
    assert "change it to start v2" in why(proposal, "TriggerPinsOldVersion")
    assert "Re-point EventHandler on-order at v2" in proposal.runbook


def test_all_older_versions_when_old_has_no_version():
    change = Change(workflow="orders", new_version=3, target_ref="orders-v3", plan_name="p")
    proposal = propose(change, SAFE, [Running(1, 2), Running(2, 1), Running(3, 5)], NO_TRIGGERS)
    assert proposal.manifest["spec"]["from"] == {"allOlder": True}
    assert why(proposal, "StartTimesUnknown").startswith(
        "3 executions of the versions below v3 run (their start times are unknown)")
    assert "namespace" not in proposal.manifest["metadata"]


def test_other_older_versions_running_are_pointed_out():
    change = Change(workflow="orders", old_version=2, new_version=3, target_ref="orders-v3", plan_name="p")
    proposal = propose(change, SAFE, [Running(1, 4), Running(2, 1)], NO_TRIGGERS)
    assert "v1 (4)" in why(proposal, "OtherVersionsRunning")


def test_a_target_registered_on_apply_is_flagged():
    change = Change(workflow="orders", old_version=1, new_version=2, target_ref="orders-v2", plan_name="p",
                    target_activation="Immediate", cluster_ref="prod")
    proposal = propose(change, CAUTION, FEW_SHORT, NO_TRIGGERS)
    assert "the drain is pointless" in why(proposal, "ActivateByPlan")
    assert "spec.activation: ByMigrationPlan" in proposal.runbook
    assert proposal.manifest["spec"]["clusterRef"] == {"name": "prod"}


def test_a_json_target_asks_for_its_resource():
    change = Change(workflow="orders", old_version=1, new_version=2, target_ref="orders-v2", plan_name="p")
    assert "create WorkflowDefinition orders-v2" in why(propose(change, SAFE, None, None), "CreateTargetResource")


def test_to_json_is_the_whole_proposal():
    proposal = propose(CHANGE, SAFE, FEW_SHORT, NO_TRIGGERS)
    document = proposal.to_json()
    assert set(document) == {"strategy", "reasons", "unknowns", "manifest", "runbook"}
    assert document["reasons"][0] == {"rule": "SafeRunsSideBySide", "why": proposal.rationale[0].why}


# ---- numbers ----------------------------------------------------------------------------------

def test_percentile_is_nearest_rank():
    values = [timedelta(minutes=m) for m in range(1, 101)]
    assert percentile(values, 95) == timedelta(minutes=95)
    assert percentile([timedelta(minutes=7)], 95) == timedelta(minutes=7)
    assert percentile([], 95) is None


@pytest.mark.parametrize(("value", "text"), [(timedelta(minutes=1), "5m"), (timedelta(minutes=16), "20m"),
                                             (timedelta(minutes=60), "1h"), (timedelta(minutes=61), "2h"),
                                             (timedelta(hours=57), "57h")])
def test_deadline_rounds_up_to_a_plan_duration(value, text):
    assert deadline_text(value) == text
