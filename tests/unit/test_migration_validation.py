"""The validation chain (domain/migrations/validation.py) and the strategy objects (domain/migrations/strategies),
each check and each strategy on its own. The planner's use of them is walked in test_migration_planner.py and
test_migration_strategies.py."""

from dataclasses import replace

import pytest
from conductor_operator.api.migration import DrainStatus, MigrationPlanStatus
from conductor_operator.domain.compatibility import BREAKING, SAFE
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.migrations.strategies import Drain, Parallel, UpgradeWaves, strategy_of
from conductor_operator.domain.migrations.strategies.base import DryRun
from conductor_operator.domain.migrations.validation import (
    AFTER_VERDICT,
    BEFORE_VERDICT,
    PlanUnderCheck,
    PlanVerdict,
    breaking_move_acknowledged,
    mover_supported,
    recovery_idempotent,
    strategy_allowed,
    target_highest,
    validate,
    versions_registered,
)

from tests.unit.test_migration_planner import OLD, T0, at, make_spec, make_target, observe, workflow

WAVES = {"upgradeWaves": {"workersIdempotent": True}}
DRAIN_MOVE = {"drain": {"deadline": "1h", "onDeadline": "MoveRemaining", "workersIdempotent": True}}


def proposal(strategy=None, *, registered=(1, 2), old=None, flavor="OSS", level=None, **spec):
    made = make_spec(**({"strategy": strategy} if strategy else {}), **spec)
    seen = replace(observe(registered=registered, old=OLD if old is None else old), flavor=flavor)
    verdict = PlanVerdict(level, ()) if level is not None else None
    return PlanUnderCheck(made, seen, make_target(), [1, 2], strategy_of(made), verdict)


# ---- each check ---------------------------------------------------------------------------------------

def test_versions_registered_names_the_missing_ones():
    refusal = versions_registered(proposal(old={1: OLD[1]}))
    assert refusal.reason == "VersionsNotFound" and "v2 are not registered" in refusal.message
    assert versions_registered(proposal()) is None


@pytest.mark.parametrize(("strategy", "level", "refused"), [
    (None, BREAKING, False), (WAVES, SAFE, False), (WAVES, BREAKING, True),
    ({"upgradeWaves": {**WAVES["upgradeWaves"], "acknowledgeBreaking": True}}, BREAKING, False),
])
def test_strategy_allowed_follows_the_verdict(strategy, level, refused):
    refusal = strategy_allowed(proposal(strategy, level=level))
    assert (refusal is not None) == refused
    assert refusal is None or refusal.reason == "StrategyNotAllowed"


@pytest.mark.parametrize(("strategy", "refused"), [
    (DRAIN_MOVE, True), ({"drain": {"deadline": "1h", "onDeadline": "Wait"}}, False), (None, False),
    ({"drain": {**DRAIN_MOVE["drain"], "acknowledgeBreaking": True}}, False),
])
def test_a_breaking_change_is_moved_only_when_acknowledged(strategy, refused):
    assert (breaking_move_acknowledged(proposal(strategy, level=BREAKING)) is not None) == refused


@pytest.mark.parametrize(("strategy", "flavor", "reason"), [
    (WAVES, "OSS", None),
    ({"upgradeWaves": {"mover": "OrkesUpgrade"}}, "OSS", "MoverUnsupported"),
    ({"upgradeWaves": {"mover": "OrkesUpgrade"}}, "Orkes", None),
    ({"upgradeWaves": {}}, "OSS", "WorkersNotIdempotent"),
    (None, "OSS", None),  # parallel moves nothing
])
def test_mover_supported(strategy, flavor, reason):
    refusal = mover_supported(proposal(strategy, flavor=flavor))
    assert (refusal.reason if refusal else None) == reason


def test_target_highest_names_the_higher_versions():
    refusal = target_highest(proposal(registered=(1, 2, 4)))
    assert refusal.reason == "TargetNotHighestVersion" and "v4 is registered above the target v3" in refusal.message
    assert target_highest(proposal()) is None


# ---- the chain --------------------------------------------------------------------------------------------

def test_the_chain_checks_in_order_and_stops_at_the_first_refusal():
    assert (versions_registered,) == BEFORE_VERDICT
    assert (strategy_allowed, breaking_move_acknowledged, mover_supported, target_highest,
            recovery_idempotent) == AFTER_VERDICT  # recovery_idempotent: spec.recoverFailed (test_recovery.py)
    verdict, refusal = validate(proposal(registered=(1, 2, 4)))
    assert verdict.level is SAFE and refusal.reason == "TargetNotHighestVersion", "the verdict is kept"
    verdict, refusal = validate(proposal({"upgradeWaves": {}}, registered=(1, 2, 4)))
    assert refusal.reason == "WorkersNotIdempotent", "the mover is checked before the versions above"


def test_no_verdict_without_the_versions_or_with_an_invalid_definition():
    verdict, refusal = validate(proposal(old={1: OLD[1]}))
    assert verdict is None and refusal.reason == "VersionsNotFound"
    broken = {1: {**workflow("a", version=1), "tasks": "not a list"}, 2: OLD[2]}
    verdict, refusal = validate(proposal(old=broken))
    assert verdict is None and refusal.reason == "InvalidDefinition"


def test_a_plan_that_passes_every_check_has_its_verdict_and_no_refusal():
    verdict, refusal = validate(proposal())
    assert refusal is None and verdict.level is SAFE


# ---- the strategies ---------------------------------------------------------------------------------------

def test_a_spec_names_one_strategy_object():
    assert isinstance(strategy_of(make_spec()), Parallel)
    assert isinstance(strategy_of(make_spec(strategy={"drain": {"deadline": "1h"}})), Drain)
    assert isinstance(strategy_of(make_spec(strategy=WAVES)), UpgradeWaves)


@pytest.mark.parametrize(("strategy", "drains", "moves", "retires", "waves"), [
    ({"parallel": {"retireOldVersions": True}}, False, False, True, 1),
    ({"parallel": {}}, False, False, False, 1),
    ({"drain": {"deadline": "1h"}}, True, False, False, 1),
    (DRAIN_MOVE, True, True, False, 1),
    ({"upgradeWaves": {"canary": {"count": 1}, "steps": [{"percent": 50}]}}, False, True, False, 3),
])
def test_what_each_strategy_runs(strategy, drains, moves, retires, waves):
    chosen = strategy_of(make_spec(strategy=strategy))
    assert (chosen.drains_before_cutover, chosen.moves_executions, chosen.retires) == (drains, moves, retires)
    assert len(chosen.waves()) == waves


def test_drain_moves_after_the_registration_only_when_its_deadline_released_the_target():
    chosen = strategy_of(make_spec(strategy=DRAIN_MOVE))
    late = MigrationPlanStatus(cutover_at=format_time(at(3600)), drain=DrainStatus(deadline=format_time(at(3600))))
    early = late.model_copy(update={"cutover_at": format_time(at(60))})
    drained = late.model_copy(update={"drain": DrainStatus(deadline=format_time(at(3600)), drained_at="x")})
    assert [chosen.moves_after_registration(s) for s in (late, early, drained)] == [True, False, False]
    assert strategy_of(make_spec(strategy=WAVES)).moves_after_registration(early)


def test_only_a_drain_holds_triggers_until_its_target_is_registered():
    status = MigrationPlanStatus(phase="Draining")
    assert strategy_of(make_spec(strategy={"drain": {"deadline": "1h"}})).holds_triggers(status)
    assert not strategy_of(make_spec(strategy={"drain": {"deadline": "1h"}})).holds_triggers(
        status.model_copy(update={"registered_at": format_time(T0)}))
    assert not strategy_of(make_spec(strategy=WAVES)).holds_triggers(status)


def test_each_strategy_plans_its_own_dry_run_lines():
    dry = DryRun("orders", [1, 2], 3, "OSS")
    parallel = strategy_of(make_spec())
    assert parallel.planned_before_release(dry) == []
    assert parallel.planned_after_release(dry) == ["wait until v1, v2 drain (3 execution(s) running now)",
                                                   "retire v1, v2 from Conductor 10s after the drain"]
    drain = strategy_of(make_spec(strategy={"drain": {"deadline": "1h"}}))
    assert drain.planned_before_release(dry)[0] == "pause the event handlers and schedules that start orders"
    assert drain.planned_after_release(dry) == ["resume the paused triggers once it is registered"]
    waves = strategy_of(make_spec(strategy=WAVES)).planned_after_release(dry)
    assert waves[0].startswith("the rest: move up to 100% of them with TerminateRestart")
    assert waves[-1] == "wait until v1, v2 drain (3 execution(s) running now)"
