"""Recovering failed runs on the target (spec.recoverFailed, domain/migrations/recovery.py): the pure selection
(window, statuses, selector, eligibility), the settling of a restart left as an intent, and the planner's phase
Recovering walked with a shell that keeps the ledger's restarts apart from its moves."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.api.migration import MigrationPlan, RecoverFailed
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.migrations import ActionKind, plan_migration
from conductor_operator.domain.migrations.recovery import (
    RESTART,
    RESTART_SETTLES_AFTER,
    Ended,
    RecoveryFix,
    admitted,
    ended_execution,
    instant,
    pick_ended,
    reads_recovery_candidates,
    recovery_ineligibility,
    recovery_waves,
    resolve_recovery,
    window_start,
)
from conductor_operator.domain.waves import TERMINATE_RESTART, Move, MoveState, terminate_marker
from pydantic import ValidationError

from tests.unit.test_migration_planner import T0, ZERO, at, conditions, event_reasons, make_spec, observe
from tests.unit.test_migration_strategies import REFS, TEN, Shell, moved_ids, waves_spec

RECOVER = {"within": "1h", "workersIdempotent": True, "canary": {"count": 1}, "steps": [{"percent": 100}],
           "healthGate": {"window": "5m", "maxFailurePercent": 20}}
REGISTERED = T0 + timedelta(seconds=10)


def recover_spec(strategy=None, **recover):
    extra = {"strategy": strategy} if strategy else {}
    return make_spec(recoverFailed={**RECOVER, **recover}, **extra)


def ended(number, *, status="FAILED", version=1, minutes_ago=None, **fields) -> Ended:
    """f00 ended first: 50 minutes before T0, each next one a minute later."""
    ago = minutes_ago if minutes_ago is not None else 50 - number
    return Ended(f"f{number:02}", version, status, T0 - timedelta(minutes=ago), f"order-{number}",
                 **{"failed_tasks": ("a",), **fields})


FIVE = [ended(n) for n in (3, 0, 4, 1, 2)]


class RecoveryShell(Shell):
    """Shell, plus what reconcile/recovery.py adds: the ended executions, the ledger's restarts (apart from its
    moves) and their states; ``read_recovery=False`` leaves the ended executions unread."""

    def __init__(self, spec=None, *, ended_executions=FIVE, **shell):
        super().__init__(spec or recover_spec(), **shell)
        self.ended = {e.execution_id: e for e in ended_executions}
        self.recoveries: dict[str, Move] = {}
        self.recovered_states: dict[str, str | None] = {}

    def step(self, now, *, read_recovery=True, read_candidates=True, **observed):
        seen = replace(observe(now=now, **observed), flavor=self.flavor, moves=tuple(self.ledger.values()),
                       candidates=tuple(c for i, c in self.old.items() if i not in self.ledger)
                       if read_candidates else None,
                       move_states={i: self.states.get(i) for i in self.ledger},
                       target_refs=REFS if read_candidates else None,
                       recoveries=tuple(self.recoveries.values()),
                       recovery_candidates=tuple(e for i, e in self.ended.items() if i not in self.recoveries)
                       if read_recovery else None,
                       recovery_states={i: self.recovered_states.get(i) for i in self.recoveries})
        result = plan_migration(self.spec, self.status, seen, now, self.generation)
        result.status.observed_generation = self.generation
        self.status = result.status
        self._carry_out(result, now)
        return result

    def _carry_out(self, result, now):
        super()._carry_out(result, now)
        for action in result.actions:
            if action.kind is ActionKind.RECOVER:
                for entry in action.moves:
                    self.recoveries[entry.execution_id] = (entry.but(MoveState.MOVED, format_time(now))
                                                           if self.carry_out else entry)
                    self.recovered_states[entry.execution_id] = "RUNNING"


def restarted_ids(step):
    return moved_ids(step, ActionKind.RECOVER)


def recovering(spec=None, **shell) -> tuple[RecoveryShell, object]:
    """Through the gates at T0, registered at T0+10s: the recovery canary restarts f00."""
    shell = RecoveryShell(spec, **shell)
    cut = shell.step(T0)
    assert cut.status.phase == "CuttingOver"
    first = shell.registered_step(at(10))
    assert first.status.phase == "Recovering"
    return shell, first


# ---- pure ------------------------------------------------------------------------------------------

def test_an_ended_execution_reads_the_same_from_a_search_summary_and_from_the_execution():
    summary = {"workflowId": "w1", "version": 1, "status": "FAILED", "correlationId": "order-1",
               "endTime": "2026-11-30T13:04:25.391Z", "updateTime": "2026-11-30T13:04:25.391Z",
               "failedReferenceTaskNames": "charge,ship", "parentWorkflowId": "", "reasonForIncompletion": "boom"}
    execution = {"workflowId": "w1", "workflowVersion": 1, "status": "FAILED", "correlationId": "order-1",
                 "endTime": 1796043865391, "failedReferenceTaskNames": ["charge", "ship"],
                 "reasonForIncompletion": "boom"}
    expected = Ended("w1", 1, "FAILED", datetime(2026, 11, 30, 13, 4, 25, 391000, tzinfo=UTC), "order-1",
                     ("charge", "ship"), None, "boom")
    assert ended_execution(summary) == expected
    assert ended_execution(execution) == expected


@pytest.mark.parametrize("value", [None, "", 0, "0", "not a time"])
def test_no_time_reads_as_none(value):
    assert instant(value) is None


def test_admitted_by_version_status_window_and_selector():
    spec = RecoverFailed(within="1h", selector={"correlationIdPattern": "^order-", "failedTask": "a"})
    since = window_start(spec, T0)
    assert since == T0 - timedelta(hours=1)
    assert admitted(ended(1), spec, [1, 2], since)
    assert not admitted(ended(1, version=3), spec, [1, 2], since), "not an old version"
    assert not admitted(ended(1, status="TERMINATED"), spec, [1, 2], since), "TERMINATED is not asked for"
    assert admitted(ended(1, status="TIMED_OUT"), spec, [1, 2], since)
    assert not admitted(ended(1, minutes_ago=61), spec, [1, 2], since), "ended before the window"
    assert admitted(ended(1, minutes_ago=-5), spec, [1, 2], since), "ended after the cutover: in the window"
    assert not admitted(replace(ended(1), correlation_id="refund-1"), spec, [1, 2], since)
    assert not admitted(replace(ended(1), failed_tasks=("b",)), spec, [1, 2], since)
    assert not admitted(replace(ended(1), ended=None), spec, [1, 2], since)
    with_terminated = RecoverFailed(within="1h", statuses=["TERMINATED"])
    assert admitted(ended(1, status="TERMINATED"), with_terminated, [1], since)


def test_ineligible_the_plan_s_own_terminations_checks_and_sub_workflows():
    assert recovery_ineligibility(ended(1)) is None
    assert "ledger" in recovery_ineligibility(ended(1), moved={"f01"})
    marked = replace(ended(1, status="TERMINATED"), reason=terminate_marker("uid-1", back=False))
    assert recovery_ineligibility(marked) == "terminated by a MigrationPlan"
    check = replace(ended(1), correlation_id="migrationplan/shop/move/smoke/gen-1")
    assert recovery_ineligibility(check) == "a check workflow of a MigrationPlan"
    assert "its parent restarts it" in recovery_ineligibility(replace(ended(1), parent="p-1"))


def test_recovery_waves_have_the_shape_of_upgrade_waves():
    spec = RecoverFailed(within="1h", canary={"percent": 10}, steps=[{"percent": 50, "pause": "1m"}])
    assert [(w.number, w.count, w.percent, w.pause) for w in recovery_waves(spec)] == \
        [(0, None, 10, None), (1, None, 50, "1m"), (2, None, 100, None)]
    assert [w.percent for w in recovery_waves(RecoverFailed(within="1h"))] == [100]


def test_steps_must_rise():
    with pytest.raises(ValidationError, match="must rise"):
        RecoverFailed(within="1h", steps=[{"percent": 50}, {"percent": 40}])


def test_pick_takes_those_that_ended_first_then_by_id():
    items = [ended(2), ended(0), replace(ended(1), ended=None), ended(3, minutes_ago=50)]
    assert [e.execution_id for e in pick_ended(items, 3)] == ["f00", "f03", "f02"]
    assert pick_ended(items, 0) == []


@pytest.mark.parametrize(("execution", "fix"), [
    (None, RecoveryFix.ENDED),
    ({"workflowVersion": 3, "status": "RUNNING"}, RecoveryFix.DONE),
    ({"workflowVersion": 3, "status": "FAILED"}, RecoveryFix.DONE),
    ({"workflowVersion": 1, "status": "FAILED"}, RecoveryFix.RESTART),
    ({"workflowVersion": 1, "status": "TIMED_OUT"}, RecoveryFix.RESTART),
    ({"workflowVersion": 1, "status": "RUNNING"}, RecoveryFix.ENDED),
    ({"workflowVersion": 1, "status": "COMPLETED"}, RecoveryFix.ENDED),
])
def test_a_restart_left_as_an_intent_is_settled_from_the_execution(execution, fix):
    intent = Move("f01", 1, 3, 0, MoveState.INTENT, RESTART, format_time(T0))
    assert resolve_recovery(intent, execution, T0 + RESTART_SETTLES_AFTER) is fix


def test_an_intent_still_ended_on_its_old_version_waits_for_a_restart_that_may_still_land():
    """An operator killed mid-request: Conductor may still carry out the restart it sent. Restarting at once
    would run an execution that completed on the target in between a third time."""
    intent = Move("f01", 1, 3, 0, MoveState.INTENT, RESTART, format_time(T0))
    failed = {"workflowVersion": 1, "status": "FAILED"}
    assert resolve_recovery(intent, failed, T0 + timedelta(seconds=5)) is RecoveryFix.WAIT
    assert resolve_recovery(intent, failed, T0 + RESTART_SETTLES_AFTER) is RecoveryFix.RESTART
    assert resolve_recovery(intent, {"workflowVersion": 3, "status": "COMPLETED"}, T0) is RecoveryFix.DONE


def test_candidates_are_read_only_where_a_recovery_wave_may_pick():
    shell, _ = recovering()
    assert reads_recovery_candidates(shell.spec, shell.status) is True, "the canary may still pick"
    shell.registered_step(at(20))
    assert reads_recovery_candidates(shell.spec, shell.status) is False, "the canary is watched"
    shell.request(promote="p1")
    assert reads_recovery_candidates(shell.spec, shell.status) is True
    assert reads_recovery_candidates(make_spec(), shell.status) is False


# ---- validation --------------------------------------------------------------------------------------

def test_recovery_without_idempotent_workers_is_refused_with_a_clear_message():
    shell = RecoveryShell(recover_spec(workersIdempotent=False))
    step = shell.step(T0)
    assert step.status.phase == "Validating"
    assert conditions(step)["Stalled"] == ("True", "WorkersNotIdempotent")
    assert "spec.recoverFailed.workersIdempotent: true" in step.status.message
    assert step.actions == []


def test_recover_failed_is_optional_and_parses():
    plan = MigrationPlan.from_body({"metadata": {"name": "m", "namespace": "n"}, "spec": {
        "workflowName": "orders", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
        "strategy": {"parallel": {}}, "recoverFailed": {"within": "24h", "statuses": ["FAILED", "TERMINATED"],
                                                        "selector": {"failedTask": "charge"}}}})
    recover = plan.spec.recover_failed
    assert (recover.within, recover.statuses, recover.selector.failed_task) == ("24h", ["FAILED", "TERMINATED"],
                                                                                "charge")
    assert make_spec().recover_failed is None


# ---- the phase Recovering ------------------------------------------------------------------------------

def test_failed_executions_restart_in_waves_after_the_cutover_then_the_plan_drains_and_completes():
    shell, canary = recovering()
    assert event_reasons(canary) == ["CutOver"]
    assert restarted_ids(canary) == [["f00"]], "the one that ended first"
    entry = canary.actions[0].moves[0]
    assert (entry.from_version, entry.to_version, entry.wave, entry.state, entry.mover) == \
        (1, 3, 0, MoveState.INTENT, RESTART)
    recovery = canary.status.recovery
    assert (recovery.current, recovery.count, recovery.state, recovery.found) == (0, 2, "Moving", 5)
    assert recovery.window_start == format_time(REGISTERED - timedelta(hours=1))
    assert canary.status.waves is None, "restarts are counted apart from moves"
    assert conditions(canary)["Ready"] == ("True", "Recovering"), "healthyWhen Accepted"

    watching = shell.registered_step(at(20))
    assert watching.actions == [] and watching.status.recovery.state == "Watching"
    assert watching.status.recovery.restarted == 1
    assert watching.status.recovery.message == "0 of 1 execution(s) restarted in recovery canary failed"

    rest = shell.registered_step(at(320))
    assert event_reasons(rest) == ["RecoveryWavePassed"]
    assert restarted_ids(rest) == [["f01", "f02", "f03", "f04"]]
    shell.registered_step(at(330))
    done = shell.registered_step(at(630), read_recovery=False)
    assert done.status.phase == "Draining"
    assert event_reasons(done) == ["RecoveryWavePassed", "Recovered"]
    recovery = done.status.recovery
    assert (recovery.state, recovery.found, recovery.restarted, recovery.failed) == ("Done", 5, 5, 0)
    assert done.status.drain.since == format_time(at(630))
    every = [m.execution_id for s in (canary, rest) for a in s.actions for m in a.moves]
    assert sorted(every) == ["f00", "f01", "f02", "f03", "f04"], "each restarted once"

    for seconds in (660, 690, 720, 750):
        last = shell.registered_step(at(seconds), counts=ZERO, read_recovery=False)
    assert last.status.phase in ("Retiring", "Completed")


def test_nothing_to_recover_goes_on_to_the_drain_in_the_same_step():
    shell = RecoveryShell(ended_executions=[ended(1, minutes_ago=120)])
    shell.step(T0)
    step = shell.registered_step(at(10))
    assert step.status.phase == "Draining" and restarted_ids(step) == []
    assert (step.status.recovery.state, step.status.recovery.found) == ("Done", 0)


def test_after_upgrade_waves_the_recovery_follows_the_last_wave():
    spec = waves_spec().model_copy(update={"recover_failed": RecoverFailed(**RECOVER)})
    shell = RecoveryShell(spec, executions=TEN[:1])
    shell.step(T0)
    moving = shell.registered_step(at(10))
    assert moving.status.phase == "Moving" and moved_ids(moving) == [["e03"]]
    assert restarted_ids(moving) == []
    step = moving
    for seconds in (20, 320, 330, 630, 640, 940):
        step = shell.registered_step(at(seconds))
        if step.status.phase == "Recovering":
            break
    assert step.status.phase == "Recovering"
    assert step.status.waves.state == "Done"
    assert restarted_ids(step) == [["f00"]]


def test_a_version_above_the_target_stops_every_restart():
    shell = RecoveryShell()
    shell.step(T0)
    step = shell.registered_step(at(10), registered=(1, 2, 3, 4))
    assert step.status.phase == "Recovering" and restarted_ids(step) == []
    assert conditions(step)["Stalled"] == ("True", "TargetNotHighestVersion")
    assert "nothing restarts" in step.status.message


def test_a_failed_recovery_gate_stalls_until_promoted():
    shell, _ = recovering()
    shell.recovered_states["f00"] = "FAILED"
    failed = shell.registered_step(at(20))
    assert failed.status.recovery.state == "GateFailed"
    assert conditions(failed)["Stalled"] == ("True", "RecoveryGateFailed")
    assert ("Warning", "RecoveryGateFailed") in [(e.type, e.reason) for e in failed.events]
    assert failed.status.recovery.failed == 1
    assert restarted_ids(shell.registered_step(at(400), read_recovery=False)) == []
    shell.request(promote="go")
    promoted = shell.registered_step(at(410))
    assert promoted.status.handled_requests.promote.result == \
        "recovery wave 0: went on past its failed health gate"
    assert restarted_ids(promoted) == [["f01", "f02", "f03", "f04"]]


def test_a_restart_left_as_an_intent_holds_the_recovery():
    shell = RecoveryShell()
    shell.carry_out = False
    shell.step(T0)
    shell.registered_step(at(10))
    held = shell.registered_step(at(20))
    assert held.actions == [] and "finishing 1 restart(s) already begun" in held.status.message


def test_executions_the_plan_terminated_to_move_them_are_never_restarted():
    spec = waves_spec(healthGate={"window": "5m", "maxFailurePercent": 100}).model_copy(
        update={"recover_failed": RecoverFailed(**{**RECOVER, "statuses": ["TERMINATED"]})})
    moved = Ended("e03", 1, "TERMINATED", T0 - timedelta(minutes=1), reason="by hand")
    marked = Ended("x01", 2, "TERMINATED", T0 - timedelta(minutes=2),
                   reason=f"{terminate_marker('other-plan', back=False)} moving")
    shell = RecoveryShell(spec, executions=TEN[:1], ended_executions=[moved, marked])
    shell.step(T0)
    shell.registered_step(at(10))
    shell.ledger["e03"] = shell.ledger["e03"].but(MoveState.FAILED, "t", "terminated, restart refused")
    step = None
    for seconds in (20, 320, 330, 630, 640, 940, 950):
        step = shell.registered_step(at(seconds))
        if step.status.phase != "Moving":
            break
    assert step.status.phase == "Draining" and restarted_ids(step) == []
    assert sorted(step.status.recovery.ineligible_executions) == [
        "e03: the plan terminated it to move it (the ledger holds it)", "x01: terminated by a MigrationPlan"]
    assert shell.recoveries == {}


def test_a_dry_run_lists_the_recovery():
    shell = RecoveryShell(recover_spec().model_copy(update={"dry_run": True}))
    step = shell.step(T0)
    assert step.status.phase == "DryRun"
    assert any(line.startswith("restart the executions of the old versions that ended FAILED, TIMED_OUT within 1h")
               for line in step.status.planned_actions)


def test_an_abort_while_recovering_stops_it():
    shell, _ = recovering()
    shell.request(abort="stop")
    step = shell.registered_step(at(20))
    assert step.status.phase == "Aborted" and restarted_ids(step) == []


def test_the_moves_mover_is_not_the_recovery_s():
    assert RESTART != TERMINATE_RESTART
    assert observe().recoveries is None


# ---- the shell, with the operator killed anywhere (the fakes of tests/component/test_migration_moves.py) -------

import copy  # noqa: E402
import random  # noqa: E402

from conductor_operator.reconcile import Runtime  # noqa: E402

from tests.component import test_reconcile as component_base  # noqa: E402
from tests.component.test_migration_moves import (  # noqa: E402
    NO_GATES,
    Crash,
    CrashingKube,
    MovesConductor,
    ledger_entries,
    step_through_crashes,
)
from tests.component.test_migration_reconcile import V1, Migration  # noqa: E402
from tests.component.test_reconcile import SETTINGS  # noqa: E402

clock = component_base.clock


class RecoveryConductor(MovesConductor):
    """Adds Conductor's search of ended executions, as checked on the real server (docs/conductor-facts.md):
    the version is not filtered by the server; times are RFC 3339 text in a summary."""

    async def ended_executions(self, name, statuses, ended_since):
        self._check()
        since = ended_since.timestamp() * 1000
        return [{"workflowId": e["workflowId"], "version": e["workflowVersion"], "status": e["status"],
                 "endTime": datetime.fromtimestamp(e["endTime"] / 1000, UTC).isoformat().replace("+00:00", "Z"),
                 "correlationId": e.get("correlationId"), "failedReferenceTaskNames": "validate",
                 "parentWorkflowId": "", "reasonForIncompletion": e.get("reasonForIncompletion") or ""}
                for e in self.executions.values()
                if e["workflowName"] == name and e["status"] in statuses and e.get("endTime", 0) >= since]

    def add_failed(self, execution_id, now):
        self.add(execution_id, status="FAILED", correlation=f"order-{execution_id}")
        self.executions[execution_id].update(endTime=int(now.timestamp() * 1000),
                                             reasonForIncompletion="Task t failed with status: FAILED")

    in_flight_at: int | None = None
    """The bulk restart (1st, 2nd, ...) during which the operator dies with the request in flight: Conductor
    carries it out late, after the next operator's first step."""
    _bulk_restarts = 0
    _late = None

    async def bulk_restart(self, ids, use_latest_definitions):
        self._bulk_restarts += 1
        if self._bulk_restarts == self.in_flight_at:
            ids = list(ids)
            self._late = [2, lambda: [self._restart_one(i) for i in ids]]
            raise Crash("killed with the restart in flight")
        return await super().bulk_restart(ids, use_latest_definitions)

    def workers_finish_fast(self):
        """Restarted executions complete at once: a second restart would then be accepted by Conductor. A restart
        left in flight lands after that, at the end of the step after the crash."""
        for execution in self.executions.values():
            if execution["workflowVersion"] == 2 and execution["status"] == "RUNNING":
                execution.update(status="COMPLETED", endTime=execution.get("endTime", 0) + 1)
        if self._late:
            self._late[0] -= 1
            if self._late[0] == 0:
                self._late[1]()
                self._late = None


RECOVERY_PLAN = {"within": "1h", "workersIdempotent": True, "canary": {"count": 3},
                 "steps": [{"percent": 40}, {"percent": 70}, {"percent": 100}],
                 "healthGate": {"window": "5s"}}


async def recovery_run(seed: int, clock, *, crash: bool = True, in_flight_at: int | None = None
                       ) -> tuple[RecoveryConductor, CrashingKube, dict, int]:
    """A parallel plan recovering 12 failed executions, the operator dying at a random change (a ledger write or
    a restart, before or after it took effect), restarted each time, up to four times."""
    rng = random.Random(seed)
    conductor = RecoveryConductor()
    conductor.in_flight_at = in_flight_at
    conductor.workflows[("order", 1)] = copy.deepcopy(V1)
    for i in range(12):
        conductor.add_failed(f"f{i:02d}", clock())
    kube = CrashingKube(conductor)

    def new_runtime():
        return Runtime(SETTINGS, kube, clock=clock, client_factory=lambda *a, **k: conductor)

    m = Migration(new_runtime(), conductor, clock, gates=NO_GATES, strategy={"parallel": {}},
                  recoverFailed=RECOVERY_PLAN)
    conductor.crash_at = rng.randint(1, 10) if crash else None
    conductor.crash_after_effect = rng.random() < 0.5
    crashes = await step_through_crashes(m, conductor, clock, new_runtime, rng, crash=crash, rounds=150,
                                         until=("Draining", "Completed"), spacing=6,
                                         after_step=conductor.workers_finish_fast)
    return conductor, kube, m.status, crashes


async def test_a_crash_free_recovery_restarts_each_failed_execution_once_in_its_waves(clock):
    conductor, kube, status, crashes = await recovery_run(-1, clock, crash=False)
    assert (crashes, status["phase"]) == (0, "Draining"), status.get("message")
    assert set(conductor.restarts.values()) == {1} and len(conductor.restarts) == 12
    recovery = status["recovery"]
    assert (recovery["found"], recovery["restarted"], recovery["failed"], recovery["state"]) == (12, 12, 0, "Done")
    entries = ledger_entries(kube)
    assert sorted(e["wave"] for e in entries.values()) == [0] * 3 + [1] * 2 + [2] * 4 + [3] * 3
    assert {(e["mover"], e["state"]) for e in entries.values()} == {("Restart", "Moved")}
    assert status.get("waves") is None


@pytest.mark.parametrize("seed", range(30))
async def test_crashes_anywhere_in_the_recovery_restart_every_failed_execution_exactly_once(seed, clock):
    conductor, kube, status, crashes = await recovery_run(seed, clock)
    assert crashes >= 1, "the run crashed at least once"
    assert status.get("phase") == "Draining", status.get("message")
    assert set(conductor.restarts) == set(conductor.executions), "every failed execution restarted"
    assert set(conductor.restarts.values()) == {1}, f"restarts: {conductor.restarts}"
    assert all(e["workflowVersion"] == 2 and e["status"] == "COMPLETED" for e in conductor.executions.values())
    entries = ledger_entries(kube)
    assert set(entries) == set(conductor.executions)
    assert {e["state"] for e in entries.values()} == {"Moved"}, "the ledger agrees with Conductor"
    assert status["recovery"]["restarted"] == 12


@pytest.mark.parametrize("wave", [1, 2, 3, 4])
async def test_a_restart_in_flight_when_the_operator_dies_is_not_made_twice(wave, clock):
    """Killed with a bulk restart sent and not answered: the server carries it out after the next operator has
    looked. Restarting what still looked FAILED at once would run those executions a third time once they
    completed; the intent waits RESTART_SETTLES_AFTER instead, and then finds them on v2."""
    conductor, kube, status, crashes = await recovery_run(-1, clock, crash=False, in_flight_at=wave)
    assert crashes == 1
    assert status.get("phase") == "Draining", status.get("message")
    assert set(conductor.restarts.values()) == {1}, f"restarts: {conductor.restarts}"
    assert {e["state"] for e in ledger_entries(kube).values()} == {"Moved"}
