"""The phase table (domain/migrations/phases.py) is the single source of a MigrationPlan's phase machine.

Walked three ways: the table itself (every listed move, every unlisted one refused), the planner (each row
made by one of the planner's own scenarios, and a planner whose table lacks a row refuses the move), and the
docs (docs/migration-design.md shows the table as ``table_markdown`` renders it).
"""

from dataclasses import replace
from pathlib import Path

import pytest
from conductor_operator.domain.migrations import context, phases, plan_migration
from conductor_operator.domain.migrations.model import Phase
from conductor_operator.domain.migrations.phases import ALL, NEW, STAY, TRANSITIONS, On, UnlistedTransition, next_phase

from tests.unit import test_migration_planner as planner_tests
from tests.unit import test_migration_strategies as strategy_tests
from tests.unit import test_recovery as recovery_tests
from tests.unit.test_migration_planner import T0, Walk, at, observe

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration-design.md"


def expected(row, phase):
    return phase if row.to == STAY else row.to


# ---- the table on its own -----------------------------------------------------------------------------

@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda row: f"{row.on.name}->{row.to}")
def test_every_listed_move_is_what_the_table_says(row):
    for phase in row.source:
        assert next_phase(phase, row.on) == expected(row, phase)


def test_every_unlisted_move_is_refused():
    listed = {(phase, row.on) for row in TRANSITIONS for phase in row.source}
    unlisted = [(phase, on) for phase in ALL for on in On if (phase, on) not in listed]
    assert unlisted, "the table does not allow everything"
    for phase, on in unlisted:
        with pytest.raises(UnlistedTransition):
            next_phase(phase, on)


def test_a_phase_and_an_observation_pick_one_row():
    for phase in ALL:
        for on in On:
            assert sum(1 for row in TRANSITIONS if row.on is on and phase in row.source) <= 1, (phase, on)


def test_every_observation_is_in_the_table():
    assert {row.on for row in TRANSITIONS} == set(On)


def test_every_phase_is_reached():
    assert {row.to for row in TRANSITIONS} - {STAY} == {NEW, *Phase}


def test_a_rolled_back_plan_stays_rolled_back():
    assert all(next_phase(Phase.ROLLED_BACK, row.on) == Phase.ROLLED_BACK
               for row in TRANSITIONS if Phase.ROLLED_BACK in row.source)


# ---- the planner makes only the moves the table lists -----------------------------------------------

def rival_stays():
    """Not among the planner's scenarios: a plan already pending goes on waiting for the older plan."""
    walk = Walk()
    for seconds in (0, 30):
        now = at(seconds)
        walk.status = plan_migration(walk.spec, walk.status, replace(observe(now=now), rival="older"), now,
                                     walk.generation).status
    assert walk.status.phase == "Pending"


def paused_without_a_phase_after_the_cutover():
    """Not among the planner's scenarios (the planner never writes it): a status past its cutover without a
    phase, paused, is held in CuttingOver."""
    walk = Walk()
    walk.step(T0)
    walk.status.phase = None
    walk.spec = walk.spec.model_copy(update={"paused": True})
    assert walk.step(at(10)).status.phase == "CuttingOver"


P, S = planner_tests, strategy_tests
WALKS = {
    (On.RIVAL, Phase.PENDING): P.test_the_newer_of_two_plans_for_a_workflow_waits_for_the_older,
    (On.RIVAL, STAY): rival_stays,
    (On.SPEC_CHANGED, NEW): P.test_a_failed_plan_starting_over_has_not_ended,
    (On.TARGET_MISSING, Phase.PENDING): P.test_pending_while_the_target_is_missing,
    (On.TARGET_REFUSED, Phase.PENDING): P.test_stalled_when_the_target_is_a_version_of_another_workflow,
    (On.TARGET_UNREADABLE, Phase.PENDING): P.test_pending_while_the_target_definition_cannot_be_read,
    (On.VALIDATION_REFUSED, Phase.VALIDATING): P.test_an_unreadable_old_definition_stalls_validation,
    (On.PAUSED_BEFORE_GATES, Phase.GATING):
        P.test_paused_before_the_cutover_holds_in_gating_although_everything_passes,
    (On.DRY_RUN, Phase.DRY_RUN): S.test_dry_run_plans_a_drain,
    (On.GATES_PENDING, Phase.GATING): P.test_a_failed_plan_starting_over_has_not_ended,
    (On.GATE_FAILED, Phase.FAILED): P.test_a_failed_plan_starting_over_has_not_ended,
    (On.DRAIN_STARTED, Phase.DRAINING): S.test_a_new_token_acts_once,
    (On.DRAIN_WAITS, Phase.DRAINING): S.test_a_new_token_acts_once,
    (On.DEADLINE_FAIL, Phase.FAILED): S.test_drain_deadline_fail_resumes_the_triggers_and_releases_nothing,
    (On.NOT_REGISTERED, Phase.CUTTING_OVER): S.test_a_new_token_acts_once,
    (On.REGISTERED_TO_MOVE, Phase.MOVING): S.test_paused_holds_the_waves,
    (On.REGISTERED_DRAINED, Phase.COMPLETED): S.test_drain_with_nothing_older_cuts_over_at_once,
    (On.REGISTERED, Phase.DRAINING): P.test_one_zero_reading_is_never_drained,
    (On.WAVE_STEP, Phase.MOVING): S.test_paused_holds_the_waves,
    (On.WAVE_STALLED, Phase.MOVING): S.test_a_failed_health_gate_pauses_until_promoted,
    (On.WAVES_DONE, Phase.DRAINING): S.test_at_most_twenty_ineligible_executions_are_listed,
    (On.HEALTH_GATE_ROLLBACK, Phase.ROLLING_BACK): S.test_a_failed_health_gate_rolls_back_when_asked,
    (On.DRAINED_RETIRE, Phase.RETIRING): P.test_one_zero_reading_is_never_drained,
    (On.DRAINED, Phase.COMPLETED): P.test_paused_after_completion_stays_completed,
    (On.RETIRE_STEP, Phase.RETIRING): P.test_one_zero_reading_is_never_drained,
    (On.RUNNING_AGAIN, Phase.DRAINING): P.test_an_old_version_running_again_while_retiring_goes_back_to_draining,
    (On.RETIRED, Phase.COMPLETED): P.test_turning_retirement_off_while_retiring_completes_without_retiring,
    (On.COMPLETED, Phase.COMPLETED): P.test_paused_after_completion_stays_completed,
    (On.PAUSED, STAY): S.test_paused_holds_the_waves,
    (On.PAUSED, Phase.CUTTING_OVER): paused_without_a_phase_after_the_cutover,
    (On.ABORT_REQUESTED, Phase.ABORTED): S.test_abort_while_moving_stops_the_waves,
    (On.ROLLBACK_REQUESTED, Phase.ROLLING_BACK):
        S.test_a_second_rollback_request_while_rolling_back_changes_nothing,
    (On.ROLLBACK_STEP, Phase.ROLLING_BACK): S.test_a_failed_health_gate_rolls_back_when_asked,
    (On.MOVED_BACK, Phase.ROLLED_BACK): S.test_a_failed_health_gate_rolls_back_when_asked,
    # spec.recoverFailed (tests/unit/test_recovery.py)
    (On.REGISTERED_TO_RECOVER, Phase.RECOVERING):
        recovery_tests.test_failed_executions_restart_in_waves_after_the_cutover_then_the_plan_drains_and_completes,
    (On.WAVES_DONE_RECOVER, Phase.RECOVERING):
        recovery_tests.test_after_upgrade_waves_the_recovery_follows_the_last_wave,
    (On.RECOVER_STEP, Phase.RECOVERING):
        recovery_tests.test_failed_executions_restart_in_waves_after_the_cutover_then_the_plan_drains_and_completes,
    (On.RECOVER_STALLED, Phase.RECOVERING): recovery_tests.test_a_failed_recovery_gate_stalls_until_promoted,
    (On.RECOVERED, Phase.DRAINING):
        recovery_tests.test_failed_executions_restart_in_waves_after_the_cutover_then_the_plan_drains_and_completes,
}


@pytest.fixture
def moves(monkeypatch):
    """The phase moves the planner makes while the fixture is active: (from, observation, to)."""
    made = []
    enter = context.StepState.enter

    def recording(self, on):
        was = self.status.phase
        phase = enter(self, on)
        made.append((Phase(was) if was is not None else None, on, phase))
        return phase

    monkeypatch.setattr(context.StepState, "enter", recording)
    return made


def test_every_row_has_a_walk():
    assert set(WALKS) == {(row.on, row.to) for row in TRANSITIONS}


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda row: f"{row.on.name}->{row.to}")
def test_the_planner_makes_every_move_of_the_table(row, moves):
    WALKS[row.on, row.to]()
    made = [(was, to) for was, on, to in moves if on is row.on and was in row.source]
    assert made, f"{WALKS[row.on, row.to].__name__} made no move on {row.on.name}"
    assert all(to == expected(row, was) for was, to in made)


def test_a_move_the_table_does_not_list_is_refused_by_the_planner(monkeypatch):
    monkeypatch.setattr(phases, "TRANSITIONS", tuple(r for r in TRANSITIONS if r.on is not On.TARGET_MISSING))
    with pytest.raises(UnlistedTransition, match="no move from no phase on TARGET_MISSING"):
        Walk().step(T0, target=None)


def test_a_step_reports_its_moves():
    step = Walk().step(T0)
    assert [(was, on) for was, on, _ in step.transitions] == [(None, On.NOT_REGISTERED)]
    assert step.transitions[-1][2] == Phase.CUTTING_OVER


# ---- the docs show the table -----------------------------------------------------------------------------

def test_the_design_doc_shows_the_table():
    assert phases.table_markdown() in DOC.read_text(), \
        "docs/migration-design.md must hold phases.table_markdown() as it renders now"
