"""MigrationPlan part 2 walked through whole scenarios: drain before the cutover with triggers held,
upgradeWaves with a canary, health gates, pauses and rollback, mover refusals and one-shot requests.

``Shell`` plays the reconciler's part: it hands the planner the ledger, the old executions it does not
hold and the moved executions' states, and carries out MOVE, MOVE_BACK, REPUBLISH and the trigger actions
the way the real shell records them.
"""

from dataclasses import replace
from datetime import timedelta

import pytest
from conductor_operator.api.migration import MigrationPlanStatus, Requests, TriggerStatus, WavesStatus
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.migrations import ActionKind, MigrationStep, plan_migration, reads_candidates
from conductor_operator.domain.waves import ORKES_UPGRADE, TERMINATE_RESTART, Candidate, Move, MoveState, task_refs

from tests.unit.test_migration_planner import (
    GATE,
    NEW,
    T0,
    TARGET,
    WORKFLOW,
    ZERO,
    Walk,
    at,
    cond,
    conditions,
    event_reasons,
    kinds,
    make_spec,
    make_target,
    observe,
    workflow,
)

REFS = frozenset(task_refs(NEW))  # a, b
TRIGGERS = (("Schedule", "nightly-orders"), ("EventHandler", "order-created"))
BUSY = {1: 2, 2: 1, 3: 0}


class Shell(Walk):
    """Walk, plus what the shell does for moving plans: the ledger, the old executions, triggers, republishing.

    ``carry_out=False`` leaves a MOVE's entries as intents (the operator died before confirming them)."""

    def __init__(self, spec=None, *, executions=(), flavor="OSS"):
        super().__init__(spec)
        self.flavor = flavor
        self.old = {c.execution_id: c for c in executions}
        self.ledger: dict[str, Move] = {}
        self.states: dict[str, str | None] = {}
        self.carry_out = True

    def step(self, now, *, read_moves=True, old_starts=None, read_candidates=True, **observed) -> MigrationStep:
        """``read_candidates=False``: the shell left the old executions unread (``reads_candidates``)."""
        candidates = read_moves and read_candidates
        seen = replace(observe(now=now, **observed), flavor=self.flavor, old_starts=old_starts,
                       moves=tuple(self.ledger.values()) if read_moves else None,
                       candidates=tuple(c for i, c in self.old.items() if i not in self.ledger) if candidates
                       else None,
                       move_states={i: self.states.get(i) for i in self.ledger},
                       target_refs=REFS if candidates else None)
        result = plan_migration(self.spec, self.status, seen, now, self.generation)
        result.status.observed_generation = self.generation
        self.status = result.status
        self._carry_out(result, now)
        return result

    def _carry_out(self, result: MigrationStep, now):
        status, done = self.status, format_time(now)
        for action in result.actions:
            if action.kind is ActionKind.PAUSE_TRIGGERS:
                status.triggers = [t for t in status.triggers if (t.kind, t.name) not in TRIGGERS] + [
                    TriggerStatus(kind=k, name=n, state="Paused") for k, n in TRIGGERS]
            elif action.kind is ActionKind.RESUME_TRIGGERS:
                status.triggers = [t.model_copy(update={"state": "Resumed"}) for t in status.triggers]
            elif action.kind is ActionKind.MOVE:
                for entry in action.moves:
                    self.ledger[entry.execution_id] = entry.but(MoveState.MOVED, done) if self.carry_out else entry
                    self.states[entry.execution_id] = "RUNNING"
            elif action.kind is ActionKind.MOVE_BACK:
                for entry in action.moves:
                    self.ledger[entry.execution_id] = entry.but(MoveState.ROLLED_BACK, done,
                                                                back_version=action.version)
            elif action.kind is ActionKind.REPUBLISH:
                status.rollback.version = action.version

    def confirm(self):
        """The shell resolved the pending intents of a crashed MOVE: they moved."""
        self.ledger = {i: m.but(MoveState.MOVED, "later") if m.state is MoveState.INTENT else m
                       for i, m in self.ledger.items()}

    def request(self, **tokens):
        """A new generation whose spec.requests holds these tokens (the rest of the spec is unchanged)."""
        self.spec = self.spec.model_copy(update={"requests": Requests(**tokens)})
        self.generation += 1

    def set_spec(self, **fields):
        self.spec = self.spec.model_copy(update=fields)
        self.generation += 1


def trigger_states(shell):
    return [t.state for t in shell.status.triggers]


def moved_ids(step, kind=ActionKind.MOVE):
    return [[m.execution_id for m in a.moves] for a in step.actions if a.kind is kind]


def events(step):
    return [(e.type, e.reason) for e in step.events]


def execution(number, *, task="a", version=None, hours_old=None):
    """e00 is the oldest: it started 20 hours ago, each next one an hour later."""
    started = T0 - timedelta(hours=hours_old if hours_old is not None else 20 - number)
    return Candidate(f"e{number:02}", version or 1 + number % 2, "RUNNING", started, f"corr-{number}", task)


def drain_spec(on_deadline="Wait", *, deadline="1h", **spec):
    return make_spec(strategy={"drain": {"deadline": deadline, "onDeadline": on_deadline,
                                         "workersIdempotent": True}}, **spec)


WAVES = {"workersIdempotent": True, "canary": {"count": 1},
         "steps": [{"percent": 50, "pause": "10m"}, {"percent": 100}],
         "healthGate": {"window": "5m", "maxFailurePercent": 20}}


def waves_spec(**waves):
    return make_spec(strategy={"upgradeWaves": {**WAVES, **waves}})


# ---- drain ------------------------------------------------------------------------------------------

def drain_started(spec=None, **shell) -> Shell:
    shell = Shell(spec or drain_spec(), **shell)
    first = shell.step(T0, counts=BUSY)
    assert first.status.phase == "Draining" and kinds(first) == [ActionKind.PAUSE_TRIGGERS]
    return shell


def test_drain_holds_the_target_and_the_triggers_until_drained_then_cuts_over_and_resumes():
    shell = Shell(drain_spec())
    first = shell.step(T0, counts=BUSY)
    assert first.status.phase == "Draining"
    assert kinds(first) == [ActionKind.PAUSE_TRIGGERS]
    assert events(first) == [("Normal", "GatesPassed")]
    assert first.status.gates_passed_at == format_time(T0)
    assert first.status.cutover_at is None and first.status.released is None
    assert (first.status.drain.since, first.status.drain.deadline) == (format_time(T0), format_time(at(3600)))
    assert conditions(first)["GatesPassed"] == ("True", "GatesPassed")
    assert conditions(first)["CutOver"] == ("False", "NotCutOver")
    assert conditions(first)["Ready"] == ("False", "Draining")
    assert conditions(first)["Reconciling"] == ("True", "Draining")
    assert first.status.message == (f"3 execution(s) still run on v1, v2; triggers are paused; deadline "
                                    f"{format_time(at(3600))}")
    assert trigger_states(shell) == ["Paused", "Paused"]

    busy = shell.step(at(30), counts=BUSY)
    assert busy.status.phase == "Draining" and kinds(busy) == [ActionKind.PAUSE_TRIGGERS], "held, never resumed"
    assert busy.status.cutover_at is None and busy.events == []

    for seconds, readings in ((60, 1), (90, 2)):
        step = shell.step(at(seconds), counts=ZERO)
        assert step.status.phase == "Draining" and step.status.drain.zero_readings == readings
        assert step.status.cutover_at is None and step.status.drain.drained_at is None

    released = shell.step(at(120), counts=ZERO)
    assert released.status.phase == "CuttingOver"
    assert released.status.drain.drained_at == format_time(at(120))
    assert released.status.cutover_at == format_time(at(120)) and released.status.released == TARGET
    assert event_reasons(released) == ["Drained", "CutoverStarted"]
    assert kinds(released) == [ActionKind.PAUSE_TRIGGERS], "still held until the target is registered"
    assert conditions(released)["CutOver"] == ("False", "NotCutOver")
    assert conditions(released)["Drained"] == ("True", "OldVersionsDrained")

    waiting = shell.step(at(130))
    assert waiting.status.phase == "CuttingOver"
    assert kinds(waiting) == [ActionKind.PAUSE_TRIGGERS], "a trigger added since the release is held too"
    assert trigger_states(shell) == ["Paused", "Paused"]

    done = shell.registered_step(at(140))
    assert done.status.phase == "Completed"
    assert kinds(done) == [ActionKind.RESUME_TRIGGERS]
    assert event_reasons(done) == ["CutOver"]
    assert done.status.registered_at == format_time(at(140))
    assert conditions(done)["CutOver"][0] == "True" and conditions(done)["Ready"] == ("True", "Completed")
    assert trigger_states(shell) == ["Resumed", "Resumed"]

    later = shell.registered_step(at(150))
    assert later.status.phase == "Completed" and later.actions == [] and later.events == []


def test_drain_without_pausing_triggers_pauses_and_resumes_nothing():
    shell = Shell(make_spec(strategy={"drain": {"deadline": "1h", "pauseTriggers": False}}))
    assert shell.step(T0, counts=BUSY).actions == []
    for seconds in (30, 60, 90):
        assert shell.step(at(seconds), counts=ZERO).actions == []
    assert shell.status.phase == "CuttingOver"
    done = shell.registered_step(at(100))
    assert done.status.phase == "Completed" and done.actions == [] and shell.status.triggers == []


def test_drain_records_an_estimated_end_from_the_old_starts():
    shell = drain_started()
    starts = (T0 - timedelta(hours=2), T0 - timedelta(minutes=30))
    assert shell.step(at(30), counts=BUSY).status.drain.estimated_end is None
    step = shell.step(at(60), counts=BUSY, old_starts=starts)
    assert step.status.drain.estimated_end == format_time(at(60) + timedelta(hours=1, minutes=30))
    assert step.status.message.endswith(f"; estimated end {step.status.drain.estimated_end}")
    assert shell.step(at(90), old_starts=starts).status.drain.estimated_end == step.status.drain.estimated_end, \
        "estimated with the counts only"


def test_drain_deadline_wait_warns_and_keeps_waiting():
    shell = drain_started()
    before = shell.step(at(3599), counts=BUSY)
    assert conditions(before)["Warning"] == ("False", "NoWarnings")
    for seconds in (3600, 7200):
        step = shell.step(at(seconds), counts=BUSY)
        assert step.status.phase == "Draining"
        assert conditions(step)["Warning"] == ("True", "DrainDeadlinePassed")
        assert "onDeadline: Wait" in cond(step, "Warning").message
        assert kinds(step) == [ActionKind.PAUSE_TRIGGERS]
        assert step.status.cutover_at is None and step.events == []
        assert conditions(step)["Stalled"][0] == "False"
    for seconds in (7230, 7260):
        shell.step(at(seconds), counts=ZERO)
    assert shell.step(at(7290), counts=ZERO).status.cutover_at == format_time(at(7290))


def test_drain_deadline_fail_resumes_the_triggers_and_releases_nothing():
    shell = drain_started(drain_spec("Fail"))
    failed = shell.step(at(3600), counts=BUSY)
    assert failed.status.phase == "Failed"
    assert kinds(failed) == [ActionKind.RESUME_TRIGGERS], "not paused and resumed in one step"
    assert events(failed) == [("Warning", "DrainDeadlinePassed")]
    assert conditions(failed)["Stalled"] == ("True", "DrainDeadlinePassed")
    assert conditions(failed)["Ready"] == ("False", "DrainDeadlinePassed")
    assert conditions(failed)["Reconciling"][0] == "False"
    assert failed.status.message == "the drain deadline (1h) passed with 3 execution(s) on v1, v2"
    assert failed.status.cutover_at is None and failed.status.released is None
    assert trigger_states(shell) == ["Resumed", "Resumed"]

    for seconds in (3630, 7200):
        later = shell.step(at(seconds), counts=ZERO)
        assert later.status.phase == "Failed" and later.actions == [] and later.events == []
        assert conditions(later)["Stalled"] == ("True", "DrainDeadlinePassed"), "it keeps saying why"
        assert later.status.message == f"{failed.status.message}; final counts as of {format_time(at(3630))}"
        assert later.status.ended_at == format_time(at(3630)), "ended once its triggers were resumed, on a last count"
        assert later.status.cutover_at is None


def test_a_changed_spec_after_a_failed_drain_starts_the_gates_and_the_drain_over():
    shell = drain_started(drain_spec("Fail"))
    shell.step(at(3600), counts=BUSY)
    shell.set_spec(strategy=drain_spec("Fail", deadline="2h").strategy)
    again = shell.step(at(3700), counts=BUSY)
    assert again.status.phase == "Draining"
    assert again.status.gates_passed_at == format_time(at(3700))
    assert (again.status.drain.since, again.status.drain.deadline) == (format_time(at(3700)),
                                                                       format_time(at(3700 + 7200)))
    assert kinds(again) == [ActionKind.PAUSE_TRIGGERS] and event_reasons(again) == ["GatesPassed"]
    assert trigger_states(shell) == ["Paused", "Paused"]
    assert conditions(again)["Stalled"][0] == "False"


def test_a_changed_gate_while_draining_before_the_cutover_runs_the_gates_again_and_lets_triggers_go():
    shell = drain_started()
    shell.set_spec(gates=make_spec(gates={"workflows": [GATE]}).gates)
    gating = shell.step(at(60), counts=ZERO)
    assert gating.status.phase == "Gating"
    assert kinds(gating) == [ActionKind.START_GATE, ActionKind.RESUME_TRIGGERS]
    assert gating.status.gates_passed_at is None and gating.status.drain is None
    assert trigger_states(shell) == ["Resumed", "Resumed"]
    shell.started(WORKFLOW, "g1")
    passed = shell.step(at(90), counts=ZERO, executions={"g1": {"status": "COMPLETED", "output": {"ok": True}}})
    assert passed.status.phase == "Draining" and kinds(passed) == [ActionKind.PAUSE_TRIGGERS]
    assert passed.status.drain.since == format_time(at(90))
    assert passed.status.drain.zero_readings == 0, "readings taken before the new gates passed do not count"


def test_turning_a_dry_run_on_while_draining_before_the_cutover_releases_nothing():
    shell = drain_started()
    shell.set_spec(dry_run=True)
    for seconds in (30, 60, 90, 120):
        step = shell.step(at(seconds), counts=ZERO)
        assert step.status.phase == "DryRun"
        assert step.status.cutover_at is None and step.status.released is None
        assert ActionKind.PAUSE_TRIGGERS not in kinds(step)
    assert trigger_states(shell) == ["Resumed", "Resumed"]


def test_paused_while_draining_before_the_cutover_holds_the_triggers_and_releases_nothing():
    shell = drain_started()
    shell.set_spec(paused=True)
    for seconds in (30, 60, 90, 120, 7200):
        step = shell.step(at(seconds), counts=ZERO)
        assert step.status.phase == "Draining"
        assert kinds(step) == [ActionKind.PAUSE_TRIGGERS]
        assert step.status.cutover_at is None
        assert conditions(step)["Ready"] == ("False", "Paused")
        assert step.status.message == "held in Draining by spec.paused; nothing moves until it is false"
    shell.set_spec(paused=False)
    assert shell.step(at(7230), counts=ZERO).status.cutover_at == format_time(at(7230)), "readings went on"


def test_drain_with_nothing_older_cuts_over_at_once():
    shell = Shell(drain_spec())
    step = shell.step(T0, registered=(), old={})
    assert step.status.phase == "CuttingOver" and step.status.cutover_at == format_time(T0)
    assert event_reasons(step) == ["GatesPassed", "Drained", "CutoverStarted"]
    assert kinds(step) == [ActionKind.PAUSE_TRIGGERS]
    done = shell.registered_step(at(10), registered=(3,))
    assert done.status.phase == "Completed" and kinds(done) == [ActionKind.RESUME_TRIGGERS]


def test_drain_into_an_already_registered_target_completes_without_pausing_anything():
    shell = Shell(drain_spec())
    step = shell.step(T0, registered=(3,), old={}, target=make_target(registered=True, activation="Immediate"))
    assert step.status.phase == "Completed" and step.actions == []
    assert shell.status.triggers == []


def test_drain_deadline_move_remaining_releases_then_moves_everything_in_one_wave():
    shell = drain_started(drain_spec("MoveRemaining"), executions=[execution(n) for n in range(3)])
    assert shell.step(at(3599), counts=BUSY).status.cutover_at is None
    released = shell.step(at(3600), counts=BUSY)
    assert released.status.phase == "CuttingOver"
    assert released.status.cutover_at == format_time(at(3600))
    assert events(released) == [("Normal", "DrainDeadlinePassed"), ("Normal", "CutoverStarted")]
    assert kinds(released) == [ActionKind.PAUSE_TRIGGERS]
    assert released.status.drain.drained_at is None

    moving = shell.registered_step(at(3610), counts=BUSY)
    assert moving.status.phase == "Moving"
    assert kinds(moving) == [ActionKind.MOVE, ActionKind.RESUME_TRIGGERS]
    assert moved_ids(moving) == [["e00", "e01", "e02"]]
    assert moving.actions[0].mover == TERMINATE_RESTART
    assert {(m.wave, m.to_version, m.state) for m in moving.actions[0].moves} == {(1, 3, MoveState.INTENT)}
    waves = moving.status.waves
    assert (waves.current, waves.count, waves.state, waves.total) == (1, 1, "Moving", 3)

    done = shell.registered_step(at(3620), counts=BUSY)
    assert done.status.phase == "Draining" and done.actions == []
    assert done.status.waves.state == "Done" and done.status.waves.moved == 3
    assert event_reasons(done) == ["WavePassed"]
    for seconds in (3650, 3680):
        assert shell.registered_step(at(seconds), counts=ZERO).status.phase == "Draining"
    completed = shell.registered_step(at(3710), counts=ZERO)
    assert completed.status.phase == "Completed" and completed.actions == []


def test_a_promote_before_the_deadline_moves_nothing_even_if_registered_after_it():
    shell = drain_started(drain_spec("MoveRemaining"), executions=[execution(0)])
    shell.request(promote="p1")
    assert shell.step(at(30), counts=BUSY).status.cutover_at == format_time(at(30))
    assert shell.step(at(3000), counts=BUSY).status.phase == "CuttingOver"
    late = shell.registered_step(at(4000), counts=BUSY)
    assert late.status.phase == "Draining", "released by the promote, not by the deadline"
    assert kinds(late) == [ActionKind.RESUME_TRIGGERS] and shell.ledger == {}


def test_drain_move_remaining_already_drained_moves_nothing():
    shell = drain_started(drain_spec("MoveRemaining"), executions=[execution(0)])
    for seconds in (30, 60, 90):
        shell.step(at(seconds), counts=ZERO)
    assert shell.status.phase == "CuttingOver"
    done = shell.registered_step(at(4000))
    assert done.status.phase == "Completed" and ActionKind.MOVE not in kinds(done)


def test_promote_during_the_drain_cuts_over_and_what_runs_finishes_on_its_version():
    shell = drain_started(executions=[execution(0)])
    shell.request(promote="p1")
    promoted = shell.step(at(30), counts=BUSY)
    assert promoted.status.phase == "CuttingOver"
    assert promoted.status.cutover_at == format_time(at(30))
    assert event_reasons(promoted) == ["PromoteRequested", "CutoverStarted"]
    assert promoted.status.handled_requests.promote.token == "p1"
    assert promoted.status.handled_requests.promote.result.startswith("cut over before the drain ended")
    assert kinds(promoted) == [ActionKind.PAUSE_TRIGGERS]

    registered = shell.registered_step(at(40), counts=BUSY)
    assert registered.status.phase == "Draining", "promote moves nothing"
    assert kinds(registered) == [ActionKind.RESUME_TRIGGERS]
    assert registered.status.drain.since == format_time(at(40)) and registered.status.drain.deadline is None
    assert "new unpinned starts go to the target" in registered.status.message
    same = shell.registered_step(at(50), counts=BUSY)
    assert same.events == [] and same.status.handled_requests.promote.handled_at == format_time(at(30))


def test_abort_during_the_drain_resumes_the_triggers_and_stays_aborted():
    shell = drain_started()
    shell.request(abort="a1")
    aborted = shell.step(at(30), counts=ZERO)
    assert aborted.status.phase == "Aborted"
    assert kinds(aborted) == [ActionKind.RESUME_TRIGGERS]
    assert events(aborted) == [("Normal", "AbortRequested")]
    assert conditions(aborted)["Stalled"] == ("True", "Aborted")
    assert aborted.status.message == "aborted in phase Draining: nothing more moves; 0 moved execution(s) stay on " \
                                     "the target"
    assert aborted.status.cutover_at is None
    assert trigger_states(shell) == ["Resumed", "Resumed"]
    for seconds in (60, 90, 120, 7200):
        later = shell.step(at(seconds), counts=ZERO)
        assert later.status.phase == "Aborted" and later.actions == [] and later.status.cutover_at is None
    shell.set_spec(strategy=drain_spec(deadline="5h").strategy)
    changed = shell.step(at(7300), counts=ZERO)
    assert changed.status.phase == "Aborted" and changed.actions == [] and changed.status.cutover_at is None


def test_dry_run_plans_a_drain():
    spec = drain_spec("MoveRemaining", dryRun=True)
    step = Shell(spec).step(T0, counts=BUSY)
    assert step.status.phase == "DryRun" and step.actions == []
    assert step.status.planned_actions[1:] == [
        f"pause the event handlers and schedules that start {WORKFLOW}",
        "wait up to 1h until v1, v2 drain (3 execution(s) running now); at the deadline: MoveRemaining",
        f"let WorkflowDefinition {TARGET} register {WORKFLOW} v3: unpinned starts move to it, pinned callers keep "
        f"their version",
        "resume the paused triggers once it is registered",
    ]


def test_dry_run_plans_a_drain_without_triggers():
    spec = make_spec(strategy={"drain": {"deadline": "2h", "pauseTriggers": False}}, dryRun=True)
    planned = Shell(spec).step(T0).status.planned_actions
    assert planned[1] == "wait up to 2h until v1, v2 drain (an unknown number of execution(s) running now); " \
                         "at the deadline: Wait"
    assert not any("trigger" in p or "event handlers" in p for p in planned)


# ---- upgradeWaves ---------------------------------------------------------------------------------

TEN = [execution(n) for n in (3, 7, 0, 9, 1, 5, 2, 8, 4, 6)]  # e00 oldest; listed out of order


def moving(spec=None, executions=TEN, **shell) -> Shell:
    """Through the gates at T0 and registered at T0+10s: the canary (e00) is moved."""
    shell = Shell(spec or waves_spec(), executions=executions, **shell)
    cut = shell.step(T0)
    assert cut.status.phase == "CuttingOver" and cut.actions == []
    first = shell.registered_step(at(10))
    assert first.status.phase == "Moving"
    return shell


def watched_canary(spec=None, **shell) -> Shell:
    """The canary moved and passed its gate at T0+320s: step 1 (e01..e04) is moved."""
    shell = moving(spec, **shell)
    shell.registered_step(at(20))
    step = shell.registered_step(at(320))
    assert moved_ids(step) == [["e01", "e02", "e03", "e04"]]
    shell.registered_step(at(330))
    assert shell.status.waves.state == "Watching"
    return shell


def test_waves_move_each_quota_oldest_first_watch_wait_and_complete():
    shell = Shell(waves_spec(), executions=TEN)
    cut = shell.step(T0)
    assert cut.status.phase == "CuttingOver" and cut.status.waves is None

    canary = shell.registered_step(at(10))
    assert canary.status.phase == "Moving"
    assert event_reasons(canary) == ["CutOver"]
    assert moved_ids(canary) == [["e00"]]
    entry = canary.actions[0].moves[0]
    assert (entry.from_version, entry.to_version, entry.wave, entry.state, entry.mover, entry.at) == \
        (1, 3, 0, MoveState.INTENT, TERMINATE_RESTART, format_time(at(10)))
    assert canary.actions[0].mover == TERMINATE_RESTART
    waves = canary.status.waves
    assert (waves.current, waves.count, waves.state, waves.total, waves.moved) == (0, 3, "Moving", 10, 0)
    assert conditions(canary)["CutOver"][0] == "True"
    assert conditions(canary)["Ready"] == ("True", "Moving"), "healthyWhen Accepted: moving reads as accepted"
    assert canary.status.message == "canary: moving 1 execution(s) to v3"

    watching = shell.registered_step(at(20))
    assert watching.actions == [] and watching.status.waves.state == "Watching"
    assert watching.status.waves.until == format_time(at(320))
    assert watching.status.waves.moved == 1
    assert watching.status.waves.message == "0 of 1 execution(s) moved in canary failed"
    assert shell.registered_step(at(319)).actions == []

    step1 = shell.registered_step(at(320))
    assert event_reasons(step1) == ["WavePassed"]
    assert moved_ids(step1) == [["e01", "e02", "e03", "e04"]], "50% of 10 is 5, less the canary's 1"
    assert {m.wave for m in step1.actions[0].moves} == {1}
    assert [m.from_version for m in step1.actions[0].moves] == [2, 1, 2, 1]
    assert (step1.status.waves.current, step1.status.waves.state) == (1, "Moving")

    assert shell.registered_step(at(330)).status.waves.until == format_time(at(630))
    paused = shell.registered_step(at(630))
    assert paused.actions == [] and event_reasons(paused) == ["WavePassed"]
    assert (paused.status.waves.current, paused.status.waves.state) == (1, "Waiting")
    assert paused.status.waves.until == format_time(at(1230))
    assert shell.registered_step(at(1229)).actions == []
    assert shell.status.waves.state == "Waiting"

    step2 = shell.registered_step(at(1230))
    assert moved_ids(step2) == [["e05", "e06", "e07", "e08", "e09"]]
    assert (step2.status.waves.current, step2.status.waves.state) == (2, "Moving")

    shell.registered_step(at(1240))
    last = shell.registered_step(at(1540))
    assert last.status.phase == "Draining" and last.actions == []
    assert event_reasons(last) == ["WavePassed"]
    assert (last.status.waves.current, last.status.waves.state, last.status.waves.moved) == (2, "Done", 10)
    assert last.status.drain.since == format_time(at(1540))

    all_moves = [m for a in (canary, step1, step2) for m in a.actions[0].moves]
    assert len({m.execution_id for m in all_moves}) == 10, "every execution moved once"

    for seconds in (1570, 1600):
        assert shell.registered_step(at(seconds), counts=ZERO).status.phase == "Draining"
    done = shell.registered_step(at(1630), counts=ZERO)
    assert done.status.phase == "Completed" and done.actions == []
    assert conditions(done)["Ready"] == ("True", "Completed")


def test_on_orkes_auto_moves_with_the_upgrade_api():
    shell = moving(waves_spec(workersIdempotent=False), flavor="Orkes")
    assert shell.status.phase == "Moving"
    assert set(shell.ledger) == {"e00"} and shell.ledger["e00"].mover == ORKES_UPGRADE


def test_a_step_without_the_ledger_moves_nothing():
    shell = Shell(waves_spec(), executions=TEN)
    shell.step(T0)
    step = shell.registered_step(at(10), read_moves=False)
    assert step.status.phase == "Moving" and step.actions == []
    assert step.status.message == "canary: reading the ledger"
    assert moved_ids(shell.registered_step(at(20))) == [["e00"]]


def test_a_promote_ends_a_step_s_pause_and_starts_only_the_next_wave():
    shell = watched_canary()
    assert shell.registered_step(at(630)).status.waves.state == "Waiting"
    shell.request(promote="p1")
    promoted = shell.registered_step(at(700))
    assert moved_ids(promoted) == [["e05", "e06", "e07", "e08", "e09"]]
    assert (promoted.status.waves.current, promoted.status.waves.state) == (2, "Moving")
    assert promoted.status.phase == "Moving"
    assert event_reasons(promoted) == ["PromoteRequested"]
    assert promoted.status.handled_requests.promote.result == "wave 1: went on past its pause"

    again = shell.registered_step(at(710))
    assert again.events == [] and again.actions == [] and again.status.waves.state == "Watching"
    assert again.status.handled_requests.promote.handled_at == format_time(at(700))
    assert shell.registered_step(at(1010)).status.phase == "Draining", "the last wave is watched in full"


def test_a_promote_while_watching_has_nothing_to_promote():
    shell = watched_canary()
    shell.request(promote="p1")
    step = shell.registered_step(at(400))
    assert step.status.handled_requests.promote.result == "nothing to promote in phase Moving"
    assert step.actions == [] and step.status.waves.state == "Watching" and step.status.waves.current == 1


@pytest.mark.parametrize(("failed", "passes"), [(0, True), (1, True), (2, False), (5, False)])
def test_the_health_gate_fails_above_max_failure_percent(failed, passes):
    shell = moving(waves_spec(canary={"count": 5}))
    shell.registered_step(at(20))
    for number in range(failed):
        shell.states[f"e{number:02}"] = "FAILED"
    step = shell.registered_step(at(320))
    finding = f"{failed} of 5 execution(s) moved in canary failed"
    if passes:
        assert ("Normal", "WavePassed", f"canary passed its health gate: {finding}") in \
            [(e.type, e.reason, e.message) for e in step.events]
        assert step.status.waves.current == 1 and step.status.waves.state == "Waiting", "step 1 had nothing to move"
        assert conditions(step)["Stalled"][0] == "False"
    else:
        assert step.status.waves.message == finding
        assert (step.status.waves.current, step.status.waves.state) == (0, "GateFailed")
        assert events(step) == [("Warning", "HealthGateFailed")]
        assert conditions(step)["Stalled"] == ("True", "HealthGateFailed")


def test_a_failure_shows_while_watching_and_fails_the_gate_at_once():
    shell = watched_canary()
    shell.states["e02"] = "TIMED_OUT"
    step = shell.registered_step(at(400))
    assert step.status.waves.state == "GateFailed", "a failure above the limit needs no full window"
    assert step.status.waves.failed == 1


def test_a_failed_health_gate_pauses_until_promoted():
    shell = watched_canary()
    shell.states["e01"] = "FAILED"
    failed = shell.registered_step(at(630))
    assert failed.status.phase == "Moving"
    assert failed.status.waves.state == "GateFailed" and failed.status.waves.current == 1
    assert failed.status.waves.message == "1 of 4 execution(s) moved in step 1 failed"
    assert failed.status.waves.failed == 1
    assert events(failed) == [("Warning", "HealthGateFailed")]
    assert conditions(failed)["Stalled"] == ("True", "HealthGateFailed")
    assert conditions(failed)["Ready"] == ("False", "HealthGateFailed")
    assert "step 1: 1 of 4 execution(s) moved in step 1 failed, above 20% (e01)" in failed.status.message
    assert failed.actions == []

    for seconds in (700, 7200):
        held = shell.registered_step(at(seconds))
        assert held.actions == [] and held.events == [] and held.status.waves.state == "GateFailed"
        assert conditions(held)["Stalled"] == ("True", "HealthGateFailed")

    shell.request(promote="p1")
    promoted = shell.registered_step(at(7300))
    assert promoted.status.handled_requests.promote.result == "wave 1: went on past its failed health gate"
    assert moved_ids(promoted) == [["e05", "e06", "e07", "e08", "e09"]]
    assert conditions(promoted)["Stalled"][0] == "False"


def test_a_failed_health_gate_rolls_back_when_asked():
    shell = watched_canary(waves_spec(onGateFailure="Rollback"))
    shell.states.update(e01="FAILED", e02="COMPLETED")
    failing = shell.registered_step(at(630))
    assert failing.status.phase == "RollingBack"
    assert [(a.kind, a.version) for a in failing.actions] == [(ActionKind.REPUBLISH, 4)]
    assert events(failing) == [("Warning", "HealthGateFailed"), ("Warning", "RollbackStarted")]
    assert failing.status.rollback.from_version == 2 and failing.status.rollback.started_at == format_time(at(630))
    assert conditions(failing)["Reconciling"] == ("True", "RollingBack")
    assert shell.status.rollback.version == 4

    back = shell.registered_step(at(640), registered=(1, 2, 3, 4))
    assert kinds(back) == [ActionKind.MOVE_BACK]
    assert moved_ids(back, ActionKind.MOVE_BACK) == [["e00", "e03", "e04"]], "only what still runs on the target"
    assert back.actions[0].version == 4 and back.actions[0].mover == TERMINATE_RESTART
    assert {m.state for m in back.actions[0].moves} == {MoveState.BACK_INTENT}
    assert [m.wave for m in back.actions[0].moves] == [0, 1, 1]

    done = shell.registered_step(at(650), registered=(1, 2, 3, 4))
    assert done.status.phase == "RolledBack" and done.actions == []
    assert events(done) == [("Normal", "RolledBack")]
    assert done.status.waves.rolled_back == 3
    assert done.status.message == ("rolled back: unpinned starts run v2's content as v4; 3 execution(s) moved back; "
                                   "v3 stays registered for what still runs on it (2 moved execution(s) had ended "
                                   "there)")
    assert conditions(done)["Stalled"] == ("True", "RolledBack")
    for seconds in (660, 7200):
        ended = shell.registered_step(at(seconds), registered=(1, 2, 3, 4))
        assert ended.status.phase == "RolledBack" and ended.actions == [] and ended.events == []
    assert all(m.state is not MoveState.MOVED for i, m in shell.ledger.items() if i in ("e00", "e03", "e04"))


@pytest.mark.parametrize(("registered", "version"), [((1, 2, 3), 4), ((1, 2, 3, 4), 5), ((1, 2), 4)])
def test_republish_takes_the_version_above_every_registered_one(registered, version):
    shell = watched_canary()
    shell.request(rollback="r1")
    step = shell.registered_step(at(400), registered=registered)
    assert [(a.kind, a.version) for a in step.actions] == [(ActionKind.REPUBLISH, version)]
    assert step.status.handled_requests.rollback.result == "rolling back from phase Watching"


def test_a_rollback_finishes_pending_moves_back_before_moving_more():
    shell = watched_canary(waves_spec(onGateFailure="Rollback"))
    shell.states["e01"] = "FAILED"
    shell.registered_step(at(630))
    shell.ledger["e03"] = shell.ledger["e03"].but(MoveState.BACK_INTENT, "crashed")
    step = shell.registered_step(at(640))
    assert step.status.phase == "RollingBack" and step.actions == []
    assert step.status.message == "finishing 1 move(s) already begun"
    shell.ledger["e03"] = shell.ledger["e03"].but(MoveState.ROLLED_BACK, "resolved")
    step = shell.registered_step(at(650))
    assert moved_ids(step, ActionKind.MOVE_BACK) == [["e00", "e02", "e04"]]


def test_ineligible_executions_are_counted_listed_and_never_moved():
    executions = [execution(n, task="gone" if n in (1, 3) else "b") for n in range(6)]
    shell = Shell(make_spec(strategy={"upgradeWaves": {"workersIdempotent": True}}), executions=executions)
    shell.step(T0)
    step = shell.registered_step(at(10))
    assert moved_ids(step) == [["e00", "e02", "e04", "e05"]]
    waves = step.status.waves
    assert (waves.total, waves.ineligible) == (6, 2)
    assert waves.ineligible_executions == ["e01: its current task gone is not in the target",
                                           "e03: its current task gone is not in the target"]
    for seconds in (20, 620, 630, 660):
        later = shell.registered_step(at(seconds), counts={1: 1, 2: 1, 3: 4})
        assert ActionKind.MOVE not in kinds(later)
        assert later.status.waves.ineligible == 2
    assert shell.status.phase == "Draining", "the ineligible ones finish on their version"
    assert set(shell.ledger) == {"e00", "e02", "e04", "e05"}


def test_at_most_twenty_ineligible_executions_are_listed():
    executions = [execution(n, task="gone") for n in range(25)]
    shell = Shell(make_spec(strategy={"upgradeWaves": {"workersIdempotent": True}}), executions=executions)
    shell.step(T0)
    step = shell.registered_step(at(10))
    assert step.actions == [] and step.status.waves.ineligible == 25
    assert len(step.status.waves.ineligible_executions) == 20
    assert step.status.waves.ineligible_executions[0].startswith("e00: ")


def test_pending_intents_hold_the_waves_until_resolved():
    shell = Shell(waves_spec(), executions=TEN)
    shell.step(T0)
    shell.carry_out = False
    assert moved_ids(shell.registered_step(at(10))) == [["e00"]]
    assert shell.ledger["e00"].state is MoveState.INTENT
    shell.carry_out = True
    for seconds in (20, 400, 3600):
        held = shell.registered_step(at(seconds))
        assert held.actions == [] and held.status.phase == "Moving"
        assert held.status.message == "canary: finishing 1 move(s) already begun"
        assert held.status.waves.state == "Moving" and held.status.waves.moved == 0
    shell.confirm()
    watching = shell.registered_step(at(3610))
    assert watching.status.waves.state == "Watching" and watching.status.waves.moved == 1
    assert watching.status.waves.until == format_time(at(3910))


def test_a_pending_intent_holds_a_promote_too():
    shell = watched_canary()
    shell.registered_step(at(630))
    shell.ledger["e04"] = shell.ledger["e04"].but(MoveState.INTENT, "crashed")
    shell.request(promote="p1")
    step = shell.registered_step(at(700))
    assert step.actions == [] and step.status.waves.state == "Waiting"


def test_a_move_refused_by_conductor_counts_as_failed_and_is_not_retried():
    shell = moving()
    shell.ledger["e00"] = shell.ledger["e00"].but(MoveState.FAILED, "t", "409")
    step = shell.registered_step(at(20))
    assert (step.status.waves.moved, step.status.waves.failed) == (0, 1)
    # a canary whose every move Conductor refused fails its health gate: nothing more moves
    assert event_reasons(step) == ["HealthGateFailed"]
    assert step.status.waves.state == "GateFailed" and step.actions == []


def test_paused_holds_the_waves():
    shell = moving()
    shell.set_spec(paused=True)
    for seconds in (20, 320, 3600):
        step = shell.registered_step(at(seconds))
        assert step.actions == [] and step.status.phase == "Moving"
        assert step.status.message == "held in Moving by spec.paused; nothing moves until it is false"
        assert conditions(step)["Ready"] == ("True", "Paused")
    shell.set_spec(paused=False)
    shell.registered_step(at(3610))
    assert moved_ids(shell.registered_step(at(3910))) == [["e01", "e02", "e03", "e04"]]


def test_a_canary_selector_picks_only_what_it_admits():
    executions = [execution(0, task="b"), execution(1), execution(2, task="b"), execution(3)]
    spec = waves_spec(canary={"count": 1, "selector": {"currentTask": "a", "olderThan": "1h"}})
    shell = moving(spec, executions=executions)
    assert set(shell.ledger) == {"e01"}


# ---- a wave that selects nothing ----------------------------------------------------------------------

YOUNG = [execution(n, hours_old=(50 - n) / 60) for n in range(10)]  # e00 is 50 minutes old at T0, e09 41


def held_canary(**canary) -> tuple[Shell, MigrationStep]:
    """The canary may take only executions an hour old; at T0+10s the oldest is 50 minutes old."""
    spec = waves_spec(canary={"count": 2, "selector": {"olderThan": "1h"}, **canary})
    shell = Shell(spec, executions=YOUNG)
    shell.step(T0)
    return shell, shell.registered_step(at(10))


def test_a_canary_that_selects_nothing_holds_the_plan_and_says_why():
    shell, held = held_canary()
    assert held.actions == [] and held.status.phase == "Moving"
    waves = held.status.waves
    assert (waves.current, waves.state, waves.total, waves.moved) == (0, "Held", 10, 0)
    why = ("canary selected nothing: its selector (olderThan 1h) admits none of the 10 execution(s) it could move; "
           f"the oldest of them is 1h old at {format_time(T0 + timedelta(minutes=10))}")
    assert waves.message == why
    assert held.status.message == (f"{why}; held: a wave that moves nothing proves nothing, so the next wave does "
                                   f"not start. It goes on once the selector admits an execution; request promote "
                                   f"to skip the canary, or abort")
    assert conditions(held)["Stalled"] == ("True", "WaveSelectedNothing")
    assert conditions(held)["Ready"] == ("False", "WaveSelectedNothing")
    assert conditions(held)["Warning"] == ("True", "WaveSelectedNothing")
    assert events(held) == [("Normal", "CutOver"), ("Warning", "WaveSelectedNothing")]
    assert waves.until == format_time(at(40)), "it looks again after drainDetection.interval"


def test_a_held_canary_never_passes_its_gate_and_no_later_wave_starts():
    shell, _ = held_canary()
    for seconds in (40, 120, 330, 599):  # past the canary's health gate window, and still no execution an hour old
        step = shell.registered_step(at(seconds))
        assert step.actions == [] and step.status.waves.state == "Held" and step.status.waves.current == 0
        assert "WavePassed" not in event_reasons(step) and step.events == [], "the warning is said once"
        assert conditions(step)["Stalled"] == ("True", "WaveSelectedNothing")
    assert shell.ledger == {}


def test_a_held_canary_goes_on_once_an_execution_is_old_enough():
    shell, _ = held_canary()
    assert shell.registered_step(at(599)).actions == []
    ready = shell.registered_step(at(600))  # e00 is an hour old; e01 59 minutes
    assert moved_ids(ready) == [["e00"]]
    assert (ready.status.waves.state, ready.status.waves.message) == ("Moving", None)
    assert conditions(ready)["Stalled"][0] == "False" and conditions(ready)["Warning"] == ("False", "NoWarnings")
    watching = shell.registered_step(at(610))
    assert watching.actions == [] and watching.status.waves.state == "Watching", \
        "a canary that moved some of its count is judged on those"


def test_a_held_wave_looks_again_only_after_the_interval():
    shell, _ = held_canary()
    unread = shell.registered_step(at(20), read_candidates=False)
    assert unread.status.waves.state == "Held" and unread.actions == []
    assert conditions(unread)["Stalled"] == ("True", "WaveSelectedNothing")
    assert unread.status.waves.message.startswith("canary selected nothing")


def test_a_promote_skips_a_held_wave_and_starts_the_next():
    shell, _ = held_canary()
    shell.request(promote="p1")
    promoted = shell.registered_step(at(60))
    assert promoted.status.handled_requests.promote.result == ("wave 0: skipped, as it selected nothing; the next "
                                                               "wave starts")
    assert moved_ids(promoted) == [["e00", "e01", "e02", "e03", "e04"]], "step 1: 50% of 10, oldest first"
    assert (promoted.status.waves.current, promoted.status.waves.state) == (1, "Moving")
    assert conditions(promoted)["Stalled"][0] == "False"


def test_a_wave_whose_share_earlier_waves_moved_is_not_held():
    shell = moving(waves_spec(canary={"count": 5}))
    assert len(shell.ledger) == 5
    shell.registered_step(at(20))
    step1 = shell.registered_step(at(320))  # step 1 is 50% of 10: the canary moved it already
    assert step1.actions == [] and step1.status.waves.current == 1
    assert step1.status.waves.state == "Waiting" and event_reasons(step1) == ["WavePassed", "WavePassed"]
    assert conditions(step1)["Warning"] == ("False", "NoWarnings")


@pytest.mark.parametrize("executions", [[], [execution(n, task="gone") for n in range(3)]],
                         ids=["nothing-runs", "nothing-eligible"])
def test_a_selective_canary_with_nothing_it_could_move_is_not_held(executions):
    shell = Shell(waves_spec(canary={"count": 2, "selector": {"olderThan": "1h"}}), executions=executions)
    shell.step(T0)
    step = shell.registered_step(at(10))
    assert step.status.waves.state != "Held" and conditions(step)["Stalled"][0] == "False"
    assert "WavePassed" in event_reasons(step), "nothing could move: there is nothing for a canary to protect"


def test_abort_while_moving_stops_the_waves():
    shell = watched_canary()
    shell.request(abort="a1")
    aborted = shell.registered_step(at(400))
    assert aborted.status.phase == "Aborted" and aborted.actions == []
    assert aborted.status.handled_requests.abort.result == "aborted in phase Moving: nothing more moves; 5 moved " \
                                                           "execution(s) stay on the target"
    assert conditions(aborted)["Stalled"] == ("True", "Aborted")
    for seconds in (630, 1230, 7200):
        assert shell.registered_step(at(seconds)).actions == []
    assert shell.status.phase == "Aborted" and len(shell.ledger) == 5


def test_dry_run_plans_the_waves():
    step = Shell(make_spec(strategy={"upgradeWaves": WAVES}, dryRun=True)).step(T0, counts=BUSY)
    assert step.status.phase == "DryRun" and step.actions == []
    assert step.status.planned_actions[1:] == [
        f"let WorkflowDefinition {TARGET} register {WORKFLOW} v3: unpinned starts move to it, pinned callers keep "
        f"their version",
        "canary: move 1 execution(s) with TerminateRestart, then watch them for 5m (at most 20% may fail)",
        "step 1: move up to 50% of them with TerminateRestart, then watch them for 5m (at most 20% may fail), "
        "then wait 10m",
        "step 2: move up to 100% of them with TerminateRestart, then watch them for 5m (at most 20% may fail)",
        "wait until v1, v2 drain (3 execution(s) running now)",
    ]


# ---- movers and the verdict ------------------------------------------------------------------------

@pytest.mark.parametrize(("strategy", "flavor", "refusal"), [
    ({"upgradeWaves": {"mover": "OrkesUpgrade", "workersIdempotent": True}}, "OSS", "MoverUnsupported"),
    ({"upgradeWaves": {"mover": "OrkesUpgrade"}}, None, "MoverUnsupported"),
    ({"upgradeWaves": {}}, "OSS", "WorkersNotIdempotent"),
    ({"upgradeWaves": {}}, None, "WorkersNotIdempotent"),
    ({"upgradeWaves": {"mover": "TerminateRestart"}}, "Orkes", "WorkersNotIdempotent"),
    ({"drain": {"deadline": "1h", "onDeadline": "MoveRemaining"}}, "OSS", "WorkersNotIdempotent"),
    ({"drain": {"deadline": "1h", "onDeadline": "MoveRemaining", "mover": "OrkesUpgrade",
                "workersIdempotent": True}}, "OSS", "MoverUnsupported"),
    ({"upgradeWaves": {}}, "Orkes", None),
    ({"upgradeWaves": {"mover": "OrkesUpgrade"}}, "Orkes", None),
    ({"upgradeWaves": {"workersIdempotent": True}}, "OSS", None),
    ({"drain": {"deadline": "1h"}}, "OSS", None),  # Wait and Fail move nothing
    ({"drain": {"deadline": "1h", "onDeadline": "Fail", "mover": "OrkesUpgrade"}}, "OSS", None),
])
def test_a_mover_the_server_or_the_workers_cannot_take_stalls_validation(strategy, flavor, refusal):
    step = Shell(make_spec(strategy=strategy), flavor=flavor).step(T0, counts=BUSY)
    if refusal is None:
        assert step.status.phase in ("CuttingOver", "Draining")
        assert conditions(step)["Stalled"][0] == "False"
        return
    assert step.status.phase == "Validating"
    assert conditions(step)["Stalled"] == ("True", refusal)
    assert step.actions == [] and step.status.gates == [] and step.status.cutover_at is None
    assert step.status.verdict is not None, "the verdict is shown"
    if refusal == "MoverUnsupported":
        assert f"this server is {flavor or 'not Orkes'}" in step.status.message


BREAKING_OLD = {1: workflow("a", "b", "x", version=1), 2: workflow("a", version=2)}


@pytest.mark.parametrize(("strategy", "phase", "stalled"), [
    ({"upgradeWaves": {"workersIdempotent": True}}, "Validating", ("True", "StrategyNotAllowed")),
    ({"upgradeWaves": {"workersIdempotent": True, "acknowledgeBreaking": True}}, "CuttingOver",
     ("False", "NotStalled")),
    ({"drain": {"deadline": "1h"}}, "Draining", ("False", "NotStalled")),
])
def test_a_breaking_verdict_allows_waves_only_when_acknowledged(strategy, phase, stalled):
    step = Shell(make_spec(strategy=strategy)).step(T0, old=BREAKING_OLD)
    assert step.status.verdict.level == "Breaking"
    assert step.status.phase == phase
    assert conditions(step)["Stalled"] == stalled


# ---- requests --------------------------------------------------------------------------------------

def test_tokens_present_when_the_plan_is_created_are_recorded_not_acted_on():
    shell = Shell(drain_spec(requests={"abort": "a0", "promote": "p0", "rollback": "r0"}))
    first = shell.step(T0, counts=BUSY)
    assert first.status.phase == "Draining" and first.status.cutover_at is None
    handled = first.status.handled_requests
    assert [(h.token, h.result) for h in (handled.abort, handled.rollback, handled.promote)] == [
        (t, "present when the plan was created: not acted on") for t in ("a0", "r0", "p0")]
    assert event_reasons(first)[:3] == ["AbortRequested", "RollbackRequested", "PromoteRequested"]
    again = shell.step(at(30), counts=BUSY)
    assert again.status.phase == "Draining" and again.events == [] and again.status.cutover_at is None
    assert again.status.handled_requests.abort.handled_at == format_time(T0)


def test_a_new_token_acts_once():
    shell = drain_started()
    shell.request(promote="p1")
    assert shell.step(at(30), counts=BUSY).status.cutover_at == format_time(at(30))
    again = shell.step(at(40), counts=BUSY)
    assert again.events == [] and again.status.handled_requests.promote.handled_at == format_time(at(30))
    shell.request(promote="p2")
    step = shell.step(at(50), counts=BUSY)
    assert step.status.handled_requests.promote.token == "p2"
    assert step.status.handled_requests.promote.result == "nothing to promote in phase CuttingOver"


def running_gate() -> Shell:
    shell = Shell(make_spec(gates={"workflows": [GATE]}))
    shell.step(T0)
    shell.started(WORKFLOW, "g1")
    assert shell.step(at(30), executions={"g1": {"status": "RUNNING"}}).status.phase == "Gating"
    return shell


def test_abort_before_the_cutover_terminates_running_checks_and_stays_aborted():
    shell = running_gate()
    shell.request(abort="a1")
    aborted = shell.step(at(60), executions={"g1": {"status": "RUNNING"}})
    assert aborted.status.phase == "Aborted"
    assert [(a.kind, a.execution_id) for a in aborted.actions] == [(ActionKind.TERMINATE_GATE, "g1")]
    assert aborted.status.message == "aborted in phase Gating: nothing more moves; 0 moved execution(s) stay on " \
                                     "the target"
    assert conditions(aborted)["Stalled"] == ("True", "Aborted")
    resync = shell.step(at(90), executions={"g1": {"status": "COMPLETED", "output": {"ok": True}}})
    assert resync.status.phase == "Aborted" and resync.actions == [] and resync.events == []
    shell.set_spec(gates=make_spec(gates={"workflows": [{"name": "smoke"}]}).gates, requests=None)
    changed = shell.step(at(120))
    assert changed.status.phase == "Aborted" and changed.actions == [] and changed.status.cutover_at is None
    assert changed.status.message == aborted.status.message


def test_a_token_set_with_the_spec_change_that_restarts_a_failed_plan_acts():
    shell = running_gate()
    assert shell.step(at(60), executions={"g1": {"status": "FAILED"}}).status.phase == "Failed"
    shell.set_spec(gates=make_spec(gates={"workflows": [{"name": "smoke"}]}).gates, requests=Requests(abort="a1"))
    step = shell.step(at(90))
    assert step.status.phase == "Aborted"
    assert step.status.handled_requests.abort.result == ("aborted in phase Pending: nothing more moves; 0 moved "
                                                         "execution(s) stay on the target")


def test_rollback_before_the_cutover_acts_as_abort():
    shell = running_gate()
    shell.request(rollback="r1")
    step = shell.step(at(60), executions={"g1": {"status": "RUNNING"}})
    assert step.status.phase == "Aborted"
    assert kinds(step) == [ActionKind.TERMINATE_GATE]
    result = step.status.handled_requests.rollback.result
    assert result.startswith("nothing was cut over, so nothing to roll back: aborted in phase Gating")
    assert step.status.message == result and step.status.rollback is None
    assert event_reasons(step) == ["RollbackRequested"]


@pytest.mark.parametrize(("tokens", "result"), [
    ({"abort": "a1"}, "nothing to abort: the plan is Failed"),
    ({"rollback": "r1"}, "nothing was cut over, so nothing to roll back: nothing to abort: the plan is Failed"),
    ({"promote": "p1"}, "nothing to promote in phase Failed"),
])
def test_requests_on_a_failed_plan_change_nothing(tokens, result):
    shell = drain_started(drain_spec("Fail"))
    shell.step(at(3600), counts=BUSY)
    shell.request(**tokens)
    step = shell.step(at(3630), counts=BUSY)
    assert step.status.phase == "Failed" and step.actions == []
    handled = getattr(step.status.handled_requests, next(iter(tokens)))
    assert handled.result == result


def test_promote_with_nothing_to_promote_records_that():
    shell = Shell(make_spec(strategy={"parallel": {}}))
    shell.step(T0)
    shell.registered_step(at(10))
    shell.request(promote="p1")
    step = shell.registered_step(at(20), counts=BUSY)
    assert step.status.phase == "Draining" and step.actions == []
    assert step.status.handled_requests.promote.result == "nothing to promote in phase Draining"
    assert [(e.type, e.reason, e.message) for e in step.events] == [
        ("Normal", "PromoteRequested", "nothing to promote in phase Draining")]


def test_rollback_with_no_older_version_has_nothing_to_roll_back_to():
    shell = Shell(make_spec(strategy={"upgradeWaves": {"workersIdempotent": True}}))
    shell.registered_step(T0, registered=(3,), old={})
    shell.request(rollback="r1")
    step = shell.registered_step(at(10), registered=(3,), old={})
    assert step.status.handled_requests.rollback.result == "nothing to roll back to: no older version was moved from"
    assert step.status.phase != "RollingBack" and ActionKind.REPUBLISH not in kinds(step)


def test_a_second_rollback_request_while_rolling_back_changes_nothing():
    shell = watched_canary()
    shell.request(rollback="r1")
    shell.registered_step(at(400))
    shell.request(rollback="r2")
    step = shell.registered_step(at(410))
    assert step.status.handled_requests.rollback.result == "already RollingBack"
    assert kinds(step) == [ActionKind.MOVE_BACK]
    assert step.status.rollback.started_at == format_time(at(400))


# ---- check workflows of a wave's health gate that are still running when the wave is left ----------------

CHECKS = {"window": "5m", "maxFailurePercent": 20,
          "workflows": [{"name": "smoke", "timeout": "1h"}, {"name": "probe", "timeout": "1h"}]}


def checking_canary(**waves) -> Shell:
    """The canary moved at T0+10s and its two check workflows run from T0+20s (c-smoke, c-probe)."""
    shell = moving(waves_spec(healthGate=CHECKS, **waves))
    watching = shell.registered_step(at(20))
    assert [(a.kind, a.gate.name, a.wave) for a in watching.actions] == [
        (ActionKind.START_GATE, "smoke", 0), (ActionKind.START_GATE, "probe", 0)]
    shell.status.waves.gates = [g.model_copy(update={"execution_id": f"c-{g.name}"})
                                for g in shell.status.waves.gates]
    return shell


def terminated(step):
    return [a.execution_id for a in step.actions if a.kind is ActionKind.TERMINATE_GATE]


def test_a_promote_past_a_failed_check_terminates_the_check_still_running():
    shell = checking_canary()
    failed = shell.registered_step(at(60), executions={"c-smoke": {"status": "FAILED"},
                                                       "c-probe": {"status": "RUNNING"}})
    assert failed.status.waves.state == "GateFailed" and terminated(failed) == []
    shell.request(promote="p1")
    promoted = shell.registered_step(at(90), executions={"c-probe": {"status": "RUNNING"}})
    assert terminated(promoted) == ["c-probe"], "nothing will judge it any more"
    assert moved_ids(promoted) == [["e01", "e02", "e03", "e04"]]


def test_abort_while_a_wave_s_checks_run_terminates_them():
    shell = checking_canary()
    shell.request(abort="a1")
    aborted = shell.registered_step(at(60), executions={"c-smoke": {"status": "COMPLETED"},
                                                        "c-probe": {"status": "RUNNING"}})
    assert aborted.status.phase == "Aborted"
    assert sorted(terminated(aborted)) == ["c-probe", "c-smoke"], "neither was judged before the abort"
    assert [g.message for g in aborted.status.waves.gates] == [
        "execution c-smoke terminated: the plan was aborted", "execution c-probe terminated: the plan was aborted"]


def test_a_rollback_on_a_failed_check_terminates_the_check_still_running():
    shell = checking_canary(onGateFailure="Rollback")
    failing = shell.registered_step(at(60), executions={"c-smoke": {"status": "FAILED"},
                                                        "c-probe": {"status": "RUNNING"}})
    assert failing.status.phase == "RollingBack"
    assert [(a.kind, a.execution_id or a.version) for a in failing.actions] == [
        (ActionKind.TERMINATE_GATE, "c-probe"), (ActionKind.REPUBLISH, 4)]


def test_a_wave_whose_checks_all_passed_terminates_nothing():
    shell = checking_canary()
    passed = shell.registered_step(at(330), executions={"c-smoke": {"status": "COMPLETED"},
                                                        "c-probe": {"status": "COMPLETED"}})
    assert terminated(passed) == [] and moved_ids(passed) == [["e01", "e02", "e03", "e04"]]


# ---- what a step of the waves reads ------------------------------------------------------------------

@pytest.mark.parametrize(("state", "until", "promote", "reads"), [
    (None, None, None, True),
    ("Moving", None, None, True),
    ("Watching", 60, None, False),
    ("Watching", -1, None, True),
    ("Waiting", 60, None, False),
    ("Waiting", 0, None, True),
    ("GateFailed", None, None, False),
    ("GateFailed", None, "p2", True),
    ("GateFailed", None, "p1", False),
    ("Done", None, None, False),
    ("Held", 60, None, False),
    ("Held", 0, None, True),
    ("Held", 60, "p2", True),
], ids=["first-step", "moving", "watching", "watch-over", "waiting", "wait-over", "gate-failed",
        "gate-failed-promoted", "promote-already-handled", "done", "held", "held-look-again", "held-promoted"])
def test_the_old_executions_are_read_only_where_a_wave_may_pick(state, until, promote, reads):
    status = MigrationPlanStatus(handled_requests={"promote": {"token": "p1"}})
    if state:
        status.waves = WavesStatus(current=1, count=3, state=state,
                                   until=format_time(at(100 + until)) if until is not None else None)
    spec = waves_spec().model_copy(update={"requests": Requests(promote=promote) if promote else None})
    assert reads_candidates(spec, status, at(100)) is reads


def test_a_watched_wave_needs_no_old_executions_and_the_next_wave_reads_them_before_moving():
    shell = moving()
    shell.registered_step(at(20))
    figures = shell.status.waves.model_copy()
    shell.old["e05"] = replace(shell.old["e05"], current_task="gone")  # would count as ineligible if it were read
    watching = shell.registered_step(at(200), read_candidates=False)
    assert watching.status.waves.state == "Watching" and watching.actions == []
    assert (watching.status.waves.total, watching.status.waves.ineligible) == (figures.total, figures.ineligible)

    passed = shell.registered_step(at(320), read_candidates=False)
    assert passed.actions == [] and passed.status.waves.current == 1 and passed.status.waves.state == "Moving"
    assert passed.status.message == "step 1: reading the executions to move"
    step = shell.registered_step(at(330))
    assert moved_ids(step) == [["e01", "e02", "e03", "e04"]]
    assert step.status.waves.ineligible == 1, "counted afresh when read"


def test_a_failed_health_gate_names_the_first_five_failed_executions():
    shell = moving(waves_spec(canary={"count": 7}))
    assert set(shell.ledger) == {f"e0{n}" for n in range(7)}
    shell.states.update({f"e0{n}": "FAILED" for n in range(7)})
    failed = shell.registered_step(at(20))
    assert ("canary: 7 of 7 execution(s) moved in canary failed, above 20% (e00, e01, e02, e03, e04 and 2 more)"
            in failed.status.message)
