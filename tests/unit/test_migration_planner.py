"""The MigrationPlan planner (domain/migrations.plan_migration) walked phase by phase, and its helpers.

Each test builds a spec with MigrationPlan.from_body, an observation and a fixed clock, and feeds the
returned status back in as the shell does (status.observedGeneration set between steps). No I/O.

The gates start over when the digest of what they check (spec.from, to, strategy, gates) changes, not
on every new generation; after the cutover the plan follows the WorkflowDefinition it released.
"""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.api.common import Condition
from conductor_operator.api.migration import MigrationPlan, MigrationPlanStatus, RunningSummary, TriggerStatus
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.migrations import (
    TERMINAL,
    ActionKind,
    MigrationStep,
    PlanObservation,
    TargetView,
    at_rest,
    check_correlation_id,
    counts_due,
    definition_hold,
    gates_digest,
    older_plans_at_work,
    output_mismatches,
    plan_migration,
    plans_releasing,
    plans_retiring,
    record_retirement,
    rival_plan,
    same_cluster,
    simple_task_types,
    unrecorded_check,
)
from pydantic import ValidationError

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GEN = 1
WORKFLOW = "orders"
TARGET = "orders-v3"  # the WorkflowDefinition resource of the target
_DEFAULT = object()


def at(seconds: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---- builders -------------------------------------------------------------------------------------

def task(ref, type_="SIMPLE", **extra):
    return {"name": ref, "taskReferenceName": ref, "type": type_, **extra}


def workflow(*tasks, version):
    return {"name": WORKFLOW, "version": version, "tasks": [task(t) if isinstance(t, str) else t for t in tasks]}


OLD = {1: workflow("a", version=1), 2: workflow("a", version=2)}
NEW = workflow("a", "b", version=3)  # b appended: Safe from both old versions


def plan_body(status=None, **spec):
    base = {
        "workflowName": WORKFLOW,
        "from": {"allOlder": True},
        "to": {"workflowDefinitionRef": {"name": TARGET}},
        "strategy": {"parallel": {"retireOldVersions": True, "retireAfter": "10s"}},
        "drainDetection": {"interval": "30s", "consecutiveZeroReadings": 3, "gracePeriod": "1m"},
    }
    body = {"metadata": {"name": "move", "namespace": "shop"}, "spec": {**base, **spec}}
    if status is not None:
        body["status"] = status
    return body


def make_spec(**spec):
    return MigrationPlan.from_body(plan_body(**spec)).spec


def make_target(*, version=3, definition=_DEFAULT, registered=False, activation="ByMigrationPlan",
                workflow_name=WORKFLOW, problem=None):
    definition = NEW if definition is _DEFAULT else definition
    return TargetView(TARGET, workflow_name, version, definition, problem=problem, activation=activation,
                      registered=registered)


def observe(*, now=T0, target=_DEFAULT, registered=(1, 2), old=_DEFAULT, counts=None, polls=_DEFAULT,
            executions=None, referrers=None):
    """What the shell observes; by default every SIMPLE task type of the target was polled a minute ago.
    ``referrers`` ({version: [definitions pinning it]}) is what the shell reads while the plan retires."""
    target = make_target() if target is _DEFAULT else target
    if polls is _DEFAULT:
        polls = ({t: now - timedelta(minutes=1) for t in simple_task_types(target.definition)}
                 if target is not None and target.definition is not None else None)
    return PlanObservation(target, tuple(registered), OLD if old is _DEFAULT else old, counts, polls,
                           executions or {}, referrers)


class Walk:
    """The shell's loop: plan a step, keep the status it returns, mark the generation observed."""

    def __init__(self, spec=None, *, generation=GEN):
        self.spec = spec or make_spec()
        self.status = MigrationPlanStatus()
        self.generation = generation

    def step(self, now, **observed) -> MigrationStep:
        result = plan_migration(self.spec, self.status, observe(now=now, **observed), now, self.generation)
        result.status.observed_generation = self.generation
        self.status = result.status
        return result

    def registered_step(self, now, **observed) -> MigrationStep:
        """A step after the target was registered (Conductor lists it)."""
        return self.step(now, **{"target": make_target(registered=True), "registered": (1, 2, 3), **observed})

    def started(self, gate, execution_id):
        """What the shell writes after a START_GATE action."""
        self.status.gates = [g.model_copy(update={"execution_id": execution_id}) if g.name == gate else g
                             for g in self.status.gates]

    def respec(self, **spec):
        """A changed spec: a new metadata.generation (whether the gates start over is the digest's to say)."""
        self.spec = make_spec(**spec)
        self.generation += 1


def cond(step, type_):
    return next(c for c in step.conditions if c.type == type_)


def conditions(step):
    return {c.type: (c.status, c.reason) for c in step.conditions}


def kinds(step):
    return [a.kind for a in step.actions]


def event_reasons(step):
    return [e.reason for e in step.events]


def draining(spec=None) -> Walk:
    """A plan through its gates (at T0) and with the target registered (at T0+10s): Draining."""
    walk = Walk(spec)
    walk.step(T0)
    walk.registered_step(at(10))
    assert walk.status.phase == "Draining"
    return walk


ZERO = {1: 0, 2: 0, 3: 7}


def drained(spec=None) -> Walk:
    """Draining, then zero readings at +30s, +60s, +90s: drained at T0+90s."""
    walk = draining(spec)
    for seconds in (30, 60, 90):
        walk.registered_step(at(seconds), counts=ZERO)
    assert walk.status.drain.drained_at == format_time(at(90))
    return walk


# ---- Pending ----------------------------------------------------------------------------------------

def test_pending_while_the_target_is_missing():
    step = Walk().step(T0, target=None)
    assert step.status.phase == "Pending"
    assert conditions(step)["Ready"] == ("False", "TargetNotFound")
    assert conditions(step)["Reconciling"] == ("True", "TargetNotFound")
    assert conditions(step)["Stalled"] == ("False", "NotStalled")
    assert TARGET in step.status.message
    assert step.actions == [] and step.status.verdict is None and step.status.cutover_at is None


def test_stalled_when_the_target_is_a_version_of_another_workflow():
    step = Walk().step(T0, target=make_target(workflow_name="payments"))
    assert step.status.phase == "Pending"
    assert conditions(step)["Stalled"] == ("True", "TargetMismatch")
    assert conditions(step)["Reconciling"][0] == "False"
    assert "'payments'" in step.status.message and "'orders'" in step.status.message
    assert step.actions == []


def test_pending_while_the_target_definition_cannot_be_read():
    step = Walk().step(T0, target=make_target(definition=None, problem="ConfigMap defs not found"))
    assert step.status.phase == "Pending"
    assert conditions(step)["Ready"] == ("False", "TargetNotReadable")
    assert conditions(step)["Reconciling"][0] == "True"
    assert "ConfigMap defs not found" in step.status.message
    assert step.actions == [] and step.status.verdict is None


# ---- Validating -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "registered", "old", "missing"), [
    ({"versions": [1, 2]}, (1, 2), {1: OLD[1]}, "v2"),
    ({"versions": [1, 7]}, (1, 2), OLD, "v7"),
    ({"allOlder": True}, (1, 2), {2: OLD[2]}, "v1"),
])
def test_versions_missing_from_conductor_stall_validation(source, registered, old, missing):
    step = Walk(make_spec(**{"from": source})).step(T0, registered=registered, old=old)
    assert step.status.phase == "Validating"
    assert conditions(step)["Stalled"] == ("True", "VersionsNotFound")
    assert missing in step.status.message
    assert step.status.verdict is None and step.actions == [] and step.status.cutover_at is None


def test_a_stall_on_missing_versions_clears_once_they_are_registered():
    walk = Walk(make_spec(**{"from": {"versions": [1, 2]}}))
    assert walk.step(T0, old={1: OLD[1]}).status.phase == "Validating"
    step = walk.step(at(30))
    assert step.status.phase == "CuttingOver" and step.status.verdict.from_versions == [1, 2]
    assert conditions(step)["Stalled"][0] == "False"


def test_an_unreadable_old_definition_stalls_validation():
    broken = {"name": WORKFLOW, "version": 1, "tasks": [{"name": "a", "type": "SIMPLE"}]}
    step = Walk().step(T0, old={1: broken, 2: OLD[2]})
    assert step.status.phase == "Validating"
    assert conditions(step)["Stalled"] == ("True", "InvalidDefinition")
    assert "taskReferenceName" in step.status.message


@pytest.mark.parametrize(("old", "level", "reasons"), [
    (OLD, "Safe", [("v1", "TaskAppended"), ("v2", "TaskAppended")]),
    ({1: workflow("b", "a", version=1), 2: OLD[2]}, "Caution", [("v1", "TasksReordered"), ("v2", "TaskAppended")]),
    ({1: workflow("a", "b", "x", version=1), 2: OLD[2]}, "Breaking", [("v1", "TaskRemoved"), ("v2", "TaskAppended")]),
])
def test_the_verdict_is_recorded_with_findings_per_version(old, level, reasons):
    step = Walk().step(T0, old=old)
    verdict = step.status.verdict
    assert verdict.level == level
    assert verdict.from_versions == [1, 2] and verdict.to_version == 3
    assert [(f.message.split(":")[0], f.reason) for f in verdict.findings] == reasons
    assert all(f.message.startswith(f"{v}: ") for f, (v, _) in zip(verdict.findings, reasons, strict=True))
    # parallel leaves running executions where they are: any verdict goes on past Validating
    assert step.status.phase != "Validating" and conditions(step)["Stalled"][0] == "False"


def test_explicit_versions_are_compared():
    step = Walk(make_spec(**{"from": {"versions": [2]}})).step(T0)
    assert step.status.verdict.from_versions == [2]
    assert [f.message[:4] for f in step.status.verdict.findings] == ["v2: "]


def test_the_target_among_the_versions_to_move_from_is_refused_not_dropped():
    """The CRD cannot see the target's version (spec.to names a resource), so the planner says it."""
    step = Walk(make_spec(**{"from": {"versions": [3, 2]}})).step(T0)
    assert conditions(step)["Stalled"] == ("True", "TargetAmongOldVersions")
    assert "remove v3 from spec.from.versions" in step.status.message
    assert step.status.verdict is None and step.actions == []
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "TargetAmongOldVersions")]


UNPINNED = task("run_child", "SUB_WORKFLOW", subWorkflowParam={"name": "child"})


@pytest.mark.parametrize(("old", "level", "findings", "standing"), [
    # the same unpinned sub-workflow in old and new: a standing warning; the append alone is the verdict
    ({1: workflow("a", UNPINNED, version=1), 2: workflow("a", UNPINNED, version=2)}, "Safe",
     [("v1", "TaskAppended"), ("v2", "TaskAppended")], [("v1", "UnpinnedSubWorkflow"), ("v2", "UnpinnedSubWorkflow")]),
    # v1 did not start it: a finding against v1, standing against v2
    ({1: workflow("a", version=1), 2: workflow("a", UNPINNED, version=2)}, "Caution",
     [("v1", "TaskAppended"), ("v1", "UnpinnedSubWorkflow"), ("v1", "TaskAppended"), ("v2", "TaskAppended")],
     [("v2", "UnpinnedSubWorkflow")]),
])
def test_standing_warnings_sit_beside_the_verdict_and_in_the_warning_condition(old, level, findings, standing):
    target = make_target(definition=workflow("a", UNPINNED, "b", version=3))
    step = Walk().step(T0, old=old, target=target)
    verdict = step.status.verdict
    assert verdict.level == level
    assert [(f.message.split(":")[0], f.reason) for f in verdict.findings] == findings
    assert [(w.message.split(":")[0], w.reason) for w in verdict.standing_warnings] == standing
    assert [w.task_ref for w in verdict.standing_warnings] == ["run_child"] * len(standing)
    warning = cond(step, "Warning")
    assert (warning.status, warning.reason) == ("True", "UnpinnedSubWorkflow")
    assert warning.message == "; ".join(f"standing warning (not in the verdict): {w.message}"
                                        for w in verdict.standing_warnings)


def test_standing_warnings_follow_the_other_warnings_and_outlive_the_cutover():
    old = {1: workflow("a", UNPINNED, version=1), 2: workflow("a", UNPINNED, version=2)}
    target = make_target(definition=workflow("a", UNPINNED, "b", version=3), activation="Immediate", registered=True)
    step = Walk().step(T0, old=old, target=target, registered=(1, 2, 3))
    warning = cond(step, "Warning")
    assert warning.reason == "TargetRegisteredBeforeGates"  # the plan's own warning first, the standing ones after
    assert warning.message.count("standing warning (not in the verdict): v") == 2
    walk = Walk()
    walk.step(T0, old=old, target=target)
    later = walk.registered_step(at(10), old=old,
                                 target=make_target(definition=target.definition, registered=True))
    assert later.status.phase == "Draining"
    assert (cond(later, "Warning").status, cond(later, "Warning").reason) == ("True", "UnpinnedSubWorkflow")


def test_no_standing_warning_leaves_the_warning_condition_false():
    step = Walk().step(T0)
    assert step.status.verdict.standing_warnings == []
    assert conditions(step)["Warning"] == ("False", "NoWarnings")


BREAKING_OLD = {1: workflow("a", "b", "x", version=1), 2: OLD[2]}


def test_upgrade_waves_on_a_breaking_change_need_acknowledgement():
    step = Walk(make_spec(strategy={"upgradeWaves": {}})).step(T0, old=BREAKING_OLD)
    assert step.status.phase == "Validating"
    assert conditions(step)["Stalled"] == ("True", "StrategyNotAllowed")
    assert step.status.verdict.level == "Breaking"
    assert "acknowledgeBreaking" in step.status.message
    assert step.actions == [] and step.status.gates == []


# ---- the Workers gate --------------------------------------------------------------------------------

@pytest.mark.parametrize("polls", [
    None,
    {"a": at(-60)},
    {"a": at(-60), "b": None},
    {"a": at(-60), "b": at(-301)},
], ids=["never-read", "b-missing", "b-never-polled", "b-polled-too-long-ago"])
def test_task_types_without_a_recent_poll_hold_the_plan_in_gating(polls):
    spec = make_spec(gates={"workersSeenWithin": "5m", "workflows": [{"name": "smoke"}]})
    step = Walk(spec).step(T0, polls=polls)
    assert step.status.phase == "Gating"
    assert conditions(step)["GatesPassed"] == ("False", "WorkersMissing")
    assert conditions(step)["Ready"] == ("False", "GatesPending")
    assert conditions(step)["Reconciling"][0] == "True"
    assert [g.name for g in step.status.gates] == ["Workers"]
    assert "b" in step.status.gates[0].message
    assert ActionKind.START_GATE not in kinds(step)
    assert step.status.cutover_at is None


def test_a_poll_exactly_the_window_ago_counts():
    step = Walk(make_spec(gates={"workersSeenWithin": "5m"})).step(T0, polls={"a": at(-300), "b": at(-1)})
    assert step.status.gates[0].reason == "WorkersPolling" and step.status.gates[0].passed
    assert step.status.cutover_at == format_time(T0)


def test_require_workers_false_passes_without_any_poll():
    step = Walk(make_spec(gates={"requireWorkers": False})).step(T0, polls=None)
    assert step.status.gates[0].passed and step.status.gates[0].reason == "WorkersNotRequired"
    assert step.status.cutover_at == format_time(T0)
    assert step.status.phase == "CuttingOver"


NESTED = workflow(
    task("top"),
    task("fork", "FORK_JOIN", forkTasks=[[task("left")], [task("right"), task("call", "HTTP")]]),
    task("join", "JOIN", joinOn=["left", "right"]),
    task("route", "SWITCH", evaluatorType="value-param", expression="kind",
         decisionCases={"big": [task("big_one")]}, defaultCase=[task("small_one"), task("calc", "INLINE")]),
    task("loop", "DO_WHILE", loopCondition="false", loopOver=[task("looped")]),
    {"name": "untyped", "taskReferenceName": "untyped"},
    task("wait", "WAIT"),
    version=3,
)


def test_simple_task_types_take_nested_tasks_and_leave_system_tasks_out():
    assert simple_task_types(NESTED) == ["big_one", "left", "looped", "right", "small_one", "top", "untyped"]


@pytest.mark.parametrize("idle", ["left", "right", "big_one", "small_one", "looped", "untyped"])
def test_a_nested_simple_task_without_a_worker_holds_the_gate(idle):
    polls = {t: at(-10) for t in simple_task_types(NESTED) if t != idle}
    step = Walk().step(T0, target=make_target(definition=NESTED), old={1: NESTED, 2: NESTED}, polls=polls)
    assert conditions(step)["GatesPassed"] == ("False", "WorkersMissing")
    assert step.status.gates[0].message.startswith(f"no worker polled {idle} ")


def test_system_tasks_need_no_workers():
    only_system = workflow(task("call", "HTTP"), task("calc", "INLINE"), task("wait", "WAIT"), version=3)
    step = Walk().step(T0, target=make_target(definition=only_system), old={}, registered=(), polls={})
    assert step.status.gates[0].passed and step.status.gates[0].reason == "WorkersPolling"
    assert step.status.cutover_at == format_time(T0)


# ---- check workflows ---------------------------------------------------------------------------------

GATE = {"name": WORKFLOW, "expectedOutput": {"ok": True}, "timeout": "5m"}


def gated(*gates) -> Walk:
    return Walk(make_spec(gates={"workflows": list(gates or [GATE])}))


def test_a_check_workflow_is_started_once_and_its_success_cuts_over():
    walk = gated()
    first = walk.step(T0)
    assert kinds(first) == [ActionKind.START_GATE]
    assert first.actions[0].gate.name == WORKFLOW and first.actions[0].run_target_inline
    assert first.status.phase == "Gating"
    assert conditions(first)["GatesPassed"] == ("False", "GateRunning")
    assert [g.name for g in first.status.gates] == ["Workers", WORKFLOW]
    assert first.status.gates[1].started_at == format_time(T0)
    walk.started(WORKFLOW, "e1")

    for seconds, state in ((60, "RUNNING"), (120, "PAUSED")):
        step = walk.step(at(seconds), executions={"e1": {"status": state}})
        assert step.actions == [] and step.status.phase == "Gating" and step.status.cutover_at is None
        assert step.status.gates[1].message == f"execution e1 is {state}"
        assert step.status.gates[1].execution_id == "e1"

    done = walk.step(at(180), executions={"e1": {"status": "COMPLETED", "output": {"ok": True, "extra": 1}}})
    assert done.actions == []
    assert done.status.cutover_at == format_time(at(180))
    assert done.status.phase == "CuttingOver"
    assert "CutoverStarted" in event_reasons(done)
    assert conditions(done)["GatesPassed"] == ("True", "GatesPassed")
    assert done.status.gates[1].passed and done.status.gates[1].reason == "GatePassed"


@pytest.mark.parametrize(("gate", "inline"), [
    ({"name": WORKFLOW}, True),
    ({"name": WORKFLOW, "version": 3}, True),
    ({"name": WORKFLOW, "version": 2}, False),
    ({"name": "smoke"}, False),
    ({"name": "smoke", "version": 3}, False),
])
def test_a_check_workflow_naming_the_plan_s_workflow_runs_the_target_inline(gate, inline):
    step = gated(gate).step(T0)
    assert kinds(step) == [ActionKind.START_GATE]
    assert step.actions[0].run_target_inline is inline
    assert step.actions[0].gate.name == gate["name"]


def test_each_check_workflow_is_started_once_and_all_must_pass():
    walk = gated({"name": "smoke"}, {"name": "load"})
    assert [a.gate.name for a in walk.step(T0).actions] == ["smoke", "load"]
    walk.started("smoke", "s1")
    walk.started("load", "l1")
    half = walk.step(at(60), executions={"s1": {"status": "COMPLETED"}, "l1": {"status": "RUNNING"}})
    assert half.actions == [] and half.status.phase == "Gating"
    assert conditions(half)["GatesPassed"] == ("False", "GateRunning")
    # the passed gate is settled: the shell stops reading its execution
    done = walk.step(at(120), executions={"l1": {"status": "COMPLETED"}})
    assert done.actions == [] and done.status.cutover_at == format_time(at(120))


@pytest.mark.parametrize(("executions", "in_message"), [
    ({"e1": {"status": "COMPLETED", "output": {"ok": False}}}, "ok: wanted True, got False"),
    ({"e1": {"status": "COMPLETED", "output": {}}}, "ok: wanted True, got '<missing>'"),
    ({"e1": {"status": "FAILED", "reasonForIncompletion": "boom"}}, "ended FAILED: boom"),
    ({"e1": {"status": "TERMINATED"}}, "ended TERMINATED"),
    ({"e1": {"status": "TIMED_OUT"}}, "ended TIMED_OUT"),
    ({}, "execution e1 no longer exists"),
], ids=["wrong-output", "missing-output", "failed", "terminated", "timed-out", "gone"])
def test_a_failed_check_workflow_fails_the_plan(executions, in_message):
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    step = walk.step(at(60), executions=executions)
    assert step.status.phase == "Failed"
    assert conditions(step)["Stalled"] == ("True", "GateFailed")
    assert conditions(step)["Ready"][0] == "False" and conditions(step)["Reconciling"][0] == "False"
    assert conditions(step)["GatesPassed"] == ("False", "GateFailed")
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "GateFailed")]
    assert in_message in step.status.message and in_message in step.events[0].message
    assert step.status.cutover_at is None and step.actions == []

    # the same generation stays failed, quietly, whatever is observed
    again = walk.step(at(3600), executions={"e1": {"status": "COMPLETED", "output": {"ok": True}}},
                      target=make_target(registered=True), registered=(1, 2, 3))
    assert again.status.phase == "Failed" and again.actions == [] and again.events == []
    assert again.status.cutover_at is None


def test_a_check_workflow_running_past_its_timeout_is_terminated_and_fails_the_plan():
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    on_time = walk.step(at(300), executions={"e1": {"status": "RUNNING"}})
    assert on_time.actions == [] and on_time.status.phase == "Gating"
    late = walk.step(at(301), executions={"e1": {"status": "RUNNING"}})
    assert kinds(late) == [ActionKind.TERMINATE_GATE] and late.actions[0].execution_id == "e1"
    assert late.status.phase == "Failed"
    assert "did not complete within 5m" in late.status.message


def test_a_change_of_what_the_gates_check_after_a_failure_starts_over():
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    assert walk.step(at(60), executions={"e1": {"status": "FAILED"}}).status.phase == "Failed"
    walk.respec(gates={"workflows": [{**GATE, "timeout": "10m"}]})
    step = walk.step(at(120))
    assert step.status.phase == "Gating"
    assert kinds(step) == [ActionKind.START_GATE]
    assert [(g.name, g.execution_id, g.reason) for g in step.status.gates] == [
        ("Workers", None, "WorkersPolling"), (WORKFLOW, None, "GateRunning")]
    assert conditions(step)["Stalled"][0] == "False"


def test_a_started_check_workflow_is_not_forgotten_while_workers_are_missing():
    """A check workflow runs once per checked spec, even if a worker stops polling meanwhile."""
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    held = walk.step(at(60), polls={"a": at(50)}, executions={"e1": {"status": "RUNNING"}})
    assert held.status.phase == "Gating"
    assert conditions(held)["GatesPassed"] == ("False", "WorkersMissing")
    back = walk.step(at(120), executions={"e1": {"status": "RUNNING"}})
    assert ActionKind.START_GATE not in kinds(back), "e1 is still running: no second execution"
    assert [g.execution_id for g in back.status.gates if g.name == WORKFLOW] == ["e1"]


# ---- when the gates start over ----------------------------------------------------------------------

def test_the_digest_covers_what_the_gates_check_and_nothing_else():
    base = make_spec(gates={"workflows": [GATE]})
    same = [{"paused": True}, {"healthyWhen": "Completed"}, {"drainDetection": {"interval": "1m"}}]
    other = [{"from": {"versions": [1]}}, {"to": {"workflowDefinitionRef": {"name": "orders-v4"}}},
             {"dryRun": True}, {"clusterRef": {"name": "other"}},
             {"strategy": {"parallel": {"retireOldVersions": False}}},
             {"gates": {"workflows": [{**GATE, "expectedOutput": {"ok": False}}]}},
             {"gates": {"workflows": [GATE], "requireWorkers": False}}]
    for change in same:
        assert gates_digest(make_spec(**{"gates": {"workflows": [GATE]}, **change})) == gates_digest(base), change
    for change in other:
        assert gates_digest(make_spec(**{"gates": {"workflows": [GATE]}, **change})) != gates_digest(base), change


def test_the_checked_spec_is_recorded_with_the_gates():
    walk = gated()
    step = walk.step(T0)
    assert step.status.gates_checked_spec == gates_digest(walk.spec)


def running_gate() -> Walk:
    """A check workflow e1 started at T0 and running at T0+60s."""
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    assert walk.step(at(60), executions={"e1": {"status": "RUNNING"}}).status.phase == "Gating"
    return walk


@pytest.mark.parametrize("change", [{"paused": False}, {"healthyWhen": "Completed"},
                                    {"drainDetection": {"gracePeriod": "5m"}}],
                         ids=["paused-toggled", "healthy-when", "drain-detection"])
def test_a_new_generation_that_changes_nothing_the_gates_check_keeps_them(change):
    walk = running_gate()
    if "paused" in change:
        walk.respec(gates={"workflows": [GATE]}, paused=True)
        paused = walk.step(at(90), executions={"e1": {"status": "RUNNING"}})
        assert paused.actions == [] and paused.status.phase == "Gating"
        assert paused.status.message.startswith("held in Gating by spec.paused")
    walk.respec(gates={"workflows": [GATE]}, **change)
    step = walk.step(at(120), executions={"e1": {"status": "RUNNING"}})
    assert step.actions == [], "no second execution, and e1 is not terminated"
    assert [(g.name, g.execution_id) for g in step.status.gates] == [("Workers", None), (WORKFLOW, "e1")]
    assert step.status.gates[1].started_at == format_time(T0), "the timeout still counts from the first start"
    done = walk.step(at(180), executions={"e1": {"status": "COMPLETED", "output": {"ok": True}}})
    assert done.status.cutover_at == format_time(at(180))


def test_a_changed_expected_output_terminates_the_running_check_and_starts_it_again():
    walk = running_gate()
    walk.respec(gates={"workflows": [{**GATE, "expectedOutput": {"ok": True, "mode": "full"}}]})
    step = walk.step(at(120), executions={"e1": {"status": "RUNNING"}})
    assert [(a.kind, a.execution_id) for a in step.actions] == [(ActionKind.TERMINATE_GATE, "e1"),
                                                                 (ActionKind.START_GATE, None)]
    assert step.actions[1].gate.expected_output == {"ok": True, "mode": "full"}
    assert [(g.name, g.execution_id, g.reason) for g in step.status.gates] == [
        ("Workers", None, "WorkersPolling"), (WORKFLOW, None, "GateRunning")]
    assert step.status.gates[1].started_at == format_time(at(120))
    assert step.status.gates_checked_spec == gates_digest(walk.spec)
    # e1's result no longer counts: only the new execution can pass the gate
    walk.started(WORKFLOW, "e2")
    stale = walk.step(at(150), executions={"e2": {"status": "RUNNING"}})
    assert stale.status.cutover_at is None and stale.actions == []


def test_a_passed_check_workflow_is_run_again_when_the_gates_change():
    walk = gated({"name": "smoke"}, {"name": "load"})
    walk.step(T0)
    walk.started("smoke", "s1")
    walk.started("load", "l1")
    walk.step(at(60), executions={"s1": {"status": "COMPLETED"}, "l1": {"status": "RUNNING"}})
    walk.respec(gates={"workflows": [{"name": "smoke"}, {"name": "load", "timeout": "10m"}]})
    step = walk.step(at(90), executions={"l1": {"status": "RUNNING"}})
    assert [(a.kind, a.execution_id or a.gate.name) for a in step.actions] == [
        (ActionKind.TERMINATE_GATE, "l1"), (ActionKind.START_GATE, "smoke"), (ActionKind.START_GATE, "load")]
    assert not any(g.passed for g in step.status.gates if g.name != "Workers")


def test_a_failed_plan_stays_failed_when_only_pause_changes():
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    walk.step(at(60), executions={"e1": {"status": "FAILED"}})
    walk.respec(gates={"workflows": [GATE]}, paused=True)
    walk.step(at(90))
    walk.respec(gates={"workflows": [GATE]})
    step = walk.step(at(120))
    assert step.status.phase == "Failed" and step.actions == []
    assert conditions(step)["Stalled"] == ("True", "GateFailed")


def test_turning_a_dry_run_on_does_not_lose_a_running_check_workflow():
    """dryRun is not in the digest: switching it on keeps the gates; the running e1 must not be dropped
    untracked and unterminated, to be started a second time when the dry run ends."""
    walk = running_gate()
    walk.respec(gates={"workflows": [GATE]}, dryRun=True)
    dry = walk.step(at(90), executions={"e1": {"status": "RUNNING"}})
    assert dry.status.phase == "DryRun"
    terminated = [(a.kind, a.execution_id) for a in dry.actions] == [(ActionKind.TERMINATE_GATE, "e1")]
    walk.respec(gates={"workflows": [GATE]})
    back = walk.step(at(120), executions={"e1": {"status": "RUNNING"}})
    tracked = ActionKind.START_GATE not in kinds(back) and \
        [g.execution_id for g in back.status.gates if g.name == WORKFLOW] == ["e1"]
    assert terminated or tracked, "e1 was neither terminated nor kept: it runs on, forgotten, beside a second start"


def test_another_cluster_before_the_cutover_starts_the_gates_over():
    """A check that passed on one ConductorCluster says nothing about another: spec.clusterRef is what the
    gates run against, like spec.to."""
    walk = gated({"name": "smoke"}, {"name": "load"})
    walk.step(T0)
    walk.started("smoke", "s1")
    walk.started("load", "l1")
    walk.step(at(60), executions={"s1": {"status": "COMPLETED"}, "l1": {"status": "RUNNING"}})
    walk.respec(gates={"workflows": [{"name": "smoke"}, {"name": "load"}]}, clusterRef={"name": "staging"})
    step = walk.step(at(90), executions={"l1": {"status": "COMPLETED"}})
    assert step.status.cutover_at is None, "smoke passed on the other cluster only"
    assert sorted(a.gate.name for a in step.actions if a.kind is ActionKind.START_GATE) == ["load", "smoke"]


def test_check_workflow_names_are_unique():
    with pytest.raises(ValidationError, match="repeated: smoke"):
        make_spec(gates={"workflows": [{"name": "smoke"}, {"name": "load"}, {"name": "smoke", "version": 2}]})
    assert [g.name for g in make_spec(gates={"workflows": [{"name": "smoke"}, {"name": "load"}]}).gates.workflows] \
        == ["smoke", "load"]


# ---- dry run ----------------------------------------------------------------------------------------

def test_a_dry_run_plans_everything_and_does_nothing():
    walk = Walk(make_spec(dryRun=True, gates={"workflows": [GATE, {"name": "smoke", "version": 2}]}))
    for seconds in (0, 60, 3600):
        step = walk.step(at(seconds), counts={1: 2, 2: 3, 3: 0}, target=make_target(registered=True),
                         executions={"e1": {"status": "COMPLETED", "output": {"ok": True}}})
        assert step.status.phase == "DryRun"
        assert step.actions == [] and step.events == []
        assert step.status.cutover_at is None
        assert conditions(step)["Ready"] == ("True", "DryRun")
        assert conditions(step)["Reconciling"][0] == "False" and conditions(step)["Stalled"][0] == "False"
        assert conditions(step)["GatesPassed"] == ("Unknown", "DryRun")
        assert conditions(step)["CutOver"][0] == "False"
        assert [g.name for g in step.status.gates] == ["Workers"]
        planned = step.status.planned_actions
        assert len(planned) == 6
        assert planned[0].startswith("workers: ")
        assert planned[1].startswith(f"run check workflow {WORKFLOW} (the target definition) and expect "
                                     "{'ok': True} within 5m")
        assert planned[2].startswith("run check workflow smoke (workflow smoke v2)")
        assert planned[3].startswith(f"let WorkflowDefinition {TARGET} register {WORKFLOW} v3")
        assert planned[4] == "wait until v1, v2 drain (5 execution(s) running now)"
        assert planned[5] == "retire v1, v2 from Conductor 10s after the drain"


def test_a_dry_run_shows_missing_workers_and_leaves_out_retirement_when_not_asked():
    spec = make_spec(dryRun=True, strategy={"parallel": {}})
    step = Walk(spec).step(T0, polls={"a": at(-10)})
    planned = step.status.planned_actions
    assert planned[0].startswith("wait for workers: no worker polled b")
    assert conditions(step)["GatesPassed"] == ("False", "DryRun")
    assert not any("retire" in p for p in planned)
    assert "an unknown number of" in planned[-1]
    assert step.actions == [] and step.status.phase == "DryRun"


def test_a_dry_run_with_nothing_older_has_nothing_to_drain():
    step = Walk(make_spec(dryRun=True)).step(T0, registered=(), old={})
    assert step.status.planned_actions[-1] == "nothing to drain: no older version is registered"


def test_turning_a_dry_run_off_goes_on_to_the_gates_and_clears_the_plan():
    walk = Walk(make_spec(dryRun=True, gates={"workflows": [GATE]}))
    walk.step(T0)
    walk.respec(gates={"workflows": [GATE]})
    step = walk.step(at(60))
    assert step.status.phase == "Gating" and step.status.planned_actions == []
    assert kinds(step) == [ActionKind.START_GATE]


# ---- paused ------------------------------------------------------------------------------------------

def test_paused_before_the_cutover_holds_in_gating_although_everything_passes():
    step = Walk(make_spec(paused=True, gates={"workflows": [GATE]})).step(T0)
    assert step.status.phase == "Gating"
    assert step.actions == [] and step.status.cutover_at is None
    assert conditions(step)["Reconciling"] == ("False", "Idle")
    assert conditions(step)["Ready"] == ("False", "Paused")
    assert conditions(step)["Stalled"][0] == "False"
    assert step.status.message == "held in Gating by spec.paused; nothing moves until it is false"


@pytest.mark.parametrize(("healthy_when", "ready"), [("Accepted", "True"), ("Completed", "False")])
def test_paused_while_draining_stays_draining(healthy_when, ready):
    walk = draining(make_spec(healthyWhen=healthy_when))
    walk.respec(healthyWhen=healthy_when, paused=True)
    for seconds in (30, 60, 90, 3600):
        step = walk.registered_step(at(seconds), counts=ZERO)
        assert step.status.phase == "Draining"
        assert conditions(step)["Ready"] == (ready, "Paused")
        assert conditions(step)["Reconciling"][0] == "False"
        assert step.actions == [] and step.status.drain.drained_at is None


@pytest.mark.parametrize(("held_by", "field"), [({"paused": True}, "spec.paused"), ({"dryRun": True}, "spec.dryRun")])
def test_paused_or_dry_run_while_retiring_retires_nothing(held_by, field):
    walk = drained()
    walk.respec(**held_by)
    step = walk.registered_step(at(3600), counts=ZERO, referrers={})
    assert step.status.phase == "Retiring"
    assert step.actions == [] and step.status.retired_versions == []
    assert step.status.message == f"held in Retiring by {field}; nothing moves until it is false"
    assert conditions(step)["Ready"] == ("True", "Paused")
    assert step.status.planned_actions == []
    walk.respec()
    assert kinds(walk.registered_step(at(3630), counts=ZERO, referrers={})) == [ActionKind.RETIRE, ActionKind.RETIRE]


def test_dry_run_after_the_cutover_holds_the_drain():
    walk = draining()
    walk.respec(dryRun=True)
    for seconds in (30, 60, 90, 3600):
        step = walk.registered_step(at(seconds), counts=ZERO)
        assert step.status.phase == "Draining" and step.actions == []
        assert step.status.message == "held in Draining by spec.dryRun; nothing moves until it is false"
        assert step.status.drain.drained_at is None
        assert step.status.cutover_at == format_time(T0), "a dry run after the cutover undoes nothing"
    assert conditions(step)["CutOver"][0] == "True"


def test_paused_after_completion_stays_completed():
    walk = Walk(make_spec(strategy={"parallel": {}}))
    walk.step(T0, registered=(), old={})
    walk.registered_step(at(10), registered=(3,))
    assert walk.status.phase == "Completed"
    walk.respec(strategy={"parallel": {}}, paused=True)
    step = walk.registered_step(at(20), registered=(3,))
    assert step.status.phase == "Completed" and conditions(step)["Ready"] == ("True", "Completed")


# ---- cutover and draining ----------------------------------------------------------------------------

def test_cutting_over_until_the_target_is_registered_then_draining():
    walk = Walk()
    first = walk.step(T0)
    assert first.status.phase == "CuttingOver" and first.status.cutover_at == format_time(T0)
    assert conditions(first)["CutOver"] == ("False", "NotCutOver")
    assert conditions(first)["GatesPassed"][0] == "True"
    assert conditions(first)["Ready"][0] == "False"
    waiting = walk.step(at(5), registered=(1, 2))
    assert waiting.status.phase == "CuttingOver" and waiting.events == []
    assert TARGET in waiting.status.message
    cut = walk.registered_step(at(10))
    assert cut.status.phase == "Draining"
    assert "CutOver" in event_reasons(cut)
    assert cut.status.drain.since == format_time(at(10))
    assert conditions(cut)["CutOver"] == ("True", "TargetRegistered")
    assert conditions(cut)["Drained"] == ("False", "NotDrained")
    assert cut.actions == []
    later = walk.registered_step(at(20))
    assert later.status.phase == "Draining" and later.events == [] and later.status.drain.since == format_time(at(10))


def test_a_change_of_the_gates_after_the_cutover_does_not_run_them_again():
    walk = gated()
    walk.step(T0)
    walk.started(WORKFLOW, "e1")
    walk.step(at(60), executions={"e1": {"status": "COMPLETED", "output": {"ok": True}}})
    walk.registered_step(at(70))
    walk.respec(gates={"workflows": [GATE, {"name": "smoke"}]}, drainDetection={"gracePeriod": "2m"})
    step = walk.registered_step(at(80))
    assert step.status.phase == "Draining" and step.actions == []
    assert step.status.cutover_at == format_time(at(60))
    assert [(g.name, g.passed) for g in step.status.gates] == [("Workers", True), (WORKFLOW, True)]


def test_the_cutover_records_the_released_workflow_definition():
    walk = Walk()
    step = walk.step(T0)
    assert step.status.cutover_at == format_time(T0) and step.status.released == TARGET
    assert Walk(make_spec(gates={"workflows": [GATE]})).step(T0).status.released is None, "not before the gates"


def other_target(resource="orders-v4", version=4, **kwargs):
    return TargetView(resource, WORKFLOW, version, workflow("a", "b", "c", version=version), **kwargs)


def test_after_the_cutover_the_plan_follows_the_released_target_whatever_spec_to_says():
    walk = Walk()
    walk.step(T0)
    walk.respec(to={"workflowDefinitionRef": {"name": "orders-v4"}})
    # the shell still sees the released resource, not yet registered: the plan waits for it, not for v4
    waiting = walk.step(at(10), registered=(1, 2, 4))
    assert waiting.status.phase == "CuttingOver" and waiting.actions == []
    assert TARGET in waiting.status.message and "v3" in waiting.status.message
    assert conditions(waiting)["Warning"] == ("True", "TargetChangedAfterCutover")
    assert (f"spec.to names orders-v4, but the plan released {TARGET} at the cutover"
            in cond(waiting, "Warning").message)
    assert "is gone" not in cond(waiting, "Warning").message
    cut = walk.registered_step(at(20))
    assert cut.status.phase == "Draining" and cut.status.verdict.to_version == 3
    assert cut.status.released == TARGET and cut.status.cutover_at == format_time(T0)
    assert cut.status.verdict.from_versions == [1, 2] and cut.status.gates_checked_spec != gates_digest(walk.spec)
    assert conditions(cut)["Warning"][1] == "TargetChangedAfterCutover"


def test_the_released_target_counts_as_registered_only_when_its_resource_is_in_sync():
    walk = Walk()
    walk.step(T0)
    # Conductor lists v3, but the resource is not Ready (registered=False): not cut over yet
    step = walk.step(at(10), target=make_target(registered=False), registered=(1, 2, 3))
    assert step.status.phase == "CuttingOver"
    # the resource is in sync, but Conductor does not list v3 (yet)
    step = walk.step(at(20), target=make_target(registered=True), registered=(1, 2))
    assert step.status.phase == "CuttingOver"
    assert walk.registered_step(at(30)).status.phase == "Draining"


def test_another_resource_s_registration_says_nothing_about_the_released_one():
    walk = Walk()
    walk.step(T0)
    walk.respec(to={"workflowDefinitionRef": {"name": "orders-v4"}})
    # the resource seen is orders-v4 (not registered); Conductor lists the released v3: the plan drains
    cut = walk.step(at(10), target=other_target(registered=False), registered=(1, 2, 3))
    assert cut.status.phase == "Draining" and cut.status.verdict.to_version == 3


def test_a_released_target_that_is_gone_is_a_warning_and_the_plan_goes_on_with_conductor_s_copy():
    walk = draining()
    gone = walk.step(at(30), target=None, registered=(1, 2, 3), counts=ZERO)
    assert gone.status.phase == "Draining", "not Pending: the plan already cut over"
    assert conditions(gone)["Warning"] == ("True", "TargetGone")
    assert cond(gone, "Warning").message == (f"WorkflowDefinition {TARGET} is gone; the plan goes on with "
                                             f"orders v3 as Conductor holds it")
    assert conditions(gone)["Stalled"][0] == "False" and conditions(gone)["CutOver"][0] == "True"
    for seconds in (60, 90):
        step = walk.step(at(seconds), target=None, registered=(1, 2, 3), counts=ZERO)
    assert step.status.phase == "Retiring" and step.status.drain.drained_at == format_time(at(90))
    retire = walk.step(at(100), target=None, registered=(1, 2, 3), counts=ZERO, referrers={})
    assert [(a.kind, a.version) for a in retire.actions] == [(ActionKind.RETIRE, 1), (ActionKind.RETIRE, 2)]


def test_a_released_target_gone_before_conductor_lists_it_waits_in_cutting_over():
    walk = Walk()
    walk.step(T0)
    step = walk.step(at(10), target=None, registered=(1, 2))
    assert step.status.phase == "CuttingOver" and step.actions == []
    assert conditions(step)["Warning"] == ("True", "TargetGone")
    assert conditions(step)["Ready"] == ("False", "CuttingOver")
    # Conductor lists it (registered before the resource went): the plan drains
    assert walk.step(at(20), target=None, registered=(1, 2, 3)).status.phase == "Draining"


def test_spec_to_changed_after_the_cutover_keeps_counting_and_draining_the_released_version():
    walk = draining()
    walk.respec(to={"workflowDefinitionRef": {"name": "orders-v4"}})
    for seconds in (30, 60, 90):
        step = walk.step(at(seconds), target=other_target(registered=True), registered=(1, 2, 3, 4),
                         counts={1: 0, 2: 0, 3: 7, 4: 1})
        assert step.status.verdict.to_version == 3 and step.status.verdict.from_versions == [1, 2]
        assert (step.status.running.old, step.status.running.target) == (0, 7), "v3 is the target, not v4"
        assert "spec.to names orders-v4, but the plan released orders-v3" in cond(step, "Warning").message
        assert "orders v4 is registered above the target v3" in cond(step, "Warning").message
    assert step.status.phase == "Retiring"
    retire = walk.step(at(100), target=other_target(registered=True), registered=(1, 2, 3, 4),
                       counts={1: 0, 2: 0, 3: 7}, referrers={})
    assert [a.version for a in retire.actions] == [1, 2], "never v3, never v4"


def test_a_released_plan_without_status_released_follows_spec_to():
    """A plan cut over before status.released existed: the released target is spec.to's."""
    walk = draining()
    walk.status.released = None
    step = walk.registered_step(at(30), counts=ZERO)
    assert step.status.phase == "Draining"
    assert conditions(step)["Warning"] == ("False", "NoWarnings")


def test_paused_while_cutting_over_is_not_reconciling():
    walk = Walk()
    walk.step(T0)
    walk.respec(paused=True)
    step = walk.step(at(10))
    assert step.status.phase == "CuttingOver" and step.actions == []
    assert conditions(step)["Reconciling"][0] == "False"
    assert conditions(step)["Ready"][1] == "Paused"


HEALTHY_WHEN = [
    # Accepted reads as done to kstatus (Ready, not Reconciling): a drain of days does not hold a sync.
    ("Accepted", ("True", "Draining"), ("False", "Idle")),
    ("Completed", ("False", "Draining"), ("True", "Draining")),
]


@pytest.mark.parametrize(("healthy_when", "ready", "reconciling"), HEALTHY_WHEN)
def test_ready_while_draining_follows_healthy_when(healthy_when, ready, reconciling):
    walk = draining(make_spec(healthyWhen=healthy_when))
    step = walk.registered_step(at(30), counts={1: 4, 2: 0, 3: 1})
    assert step.status.phase == "Draining"
    assert conditions(step)["Ready"] == ready
    assert conditions(step)["Reconciling"] == reconciling
    assert conditions(step)["Stalled"][0] == "False"
    assert conditions(step)["CutOver"][0] == "True"
    assert step.status.message.startswith("4 execution(s) still run on v1, v2")


@pytest.mark.parametrize(("healthy_when", "ready", "reconciling"), HEALTHY_WHEN)
def test_ready_while_retiring_follows_healthy_when(healthy_when, ready, reconciling):
    walk = drained(make_spec(healthyWhen=healthy_when))
    step = walk.registered_step(at(95), counts=ZERO, referrers={})
    assert step.status.phase == "Retiring"
    assert conditions(step)["Ready"] == (ready[0], "Retiring")
    assert conditions(step)["Reconciling"] == (reconciling[0], "Retiring" if reconciling[0] == "True" else "Idle")


@pytest.mark.parametrize("healthy_when", ["Accepted", "Completed"])
def test_before_the_cutover_a_plan_is_never_ready(healthy_when):
    step = Walk(make_spec(healthyWhen=healthy_when, gates={"workflows": [GATE]})).step(T0)
    assert step.status.phase == "Gating"
    assert conditions(step)["Ready"][0] == "False" and conditions(step)["Reconciling"][0] == "True"


def test_drained_after_enough_zero_readings_spanning_the_grace_period():
    walk = draining()
    one = walk.registered_step(at(30), counts=ZERO)
    assert (one.status.drain.zero_readings, one.status.drain.first_zero_at) == (1, format_time(at(30)))
    two = walk.registered_step(at(60), counts=ZERO)
    assert two.status.phase == "Draining" and two.status.drain.zero_readings == 2
    assert "read zero 2 of 3 time(s)" in two.status.message
    three = walk.registered_step(at(90), counts=ZERO)
    assert three.status.phase == "Retiring"
    assert three.status.drain.drained_at == format_time(at(90))
    assert conditions(three)["Drained"] == ("True", "OldVersionsDrained")
    assert "Drained" in event_reasons(three)


def test_enough_zero_readings_before_the_grace_period_are_not_drained():
    walk = draining(make_spec(drainDetection={"consecutiveZeroReadings": 2, "gracePeriod": "2m"}))
    for seconds in (30, 60, 90, 120):
        assert walk.registered_step(at(seconds), counts=ZERO).status.phase == "Draining"
    assert walk.registered_step(at(150), counts=ZERO).status.phase == "Retiring"


def test_one_zero_reading_is_never_drained():
    walk = draining(make_spec(drainDetection={"consecutiveZeroReadings": 2, "gracePeriod": "1s"}))
    one = walk.registered_step(at(30), counts=ZERO)
    assert one.status.phase == "Draining" and one.status.drain.zero_readings == 1
    assert "read zero 1 of 2 time(s)" in one.status.message
    assert walk.registered_step(at(60), counts=ZERO).status.phase == "Retiring"


@pytest.mark.parametrize("busy", [{1: 1, 2: 0}, {1: 0, 2: 2}, {1: 3, 2: 4}])
def test_a_non_zero_reading_starts_the_run_over(busy):
    walk = draining()
    walk.registered_step(at(30), counts=ZERO)
    walk.registered_step(at(60), counts=ZERO)
    reset = walk.registered_step(at(90), counts={**busy, 3: 1})
    running = sum(busy.values())
    assert reset.status.phase == "Draining"
    assert (reset.status.drain.zero_readings, reset.status.drain.first_zero_at) == (0, None)
    assert reset.status.message.startswith(f"{running} execution(s) still run on v1, v2")
    for seconds in (120, 150):
        assert walk.registered_step(at(seconds), counts=ZERO).status.phase == "Draining"
    assert walk.registered_step(at(180), counts=ZERO).status.phase == "Retiring"


def test_a_version_missing_from_the_counts_reads_zero():
    walk = draining()
    for seconds in (30, 60):
        walk.registered_step(at(seconds), counts={3: 1})
    assert walk.registered_step(at(90), counts={1: 0}).status.phase == "Retiring"


def test_a_step_without_counts_is_no_reading():
    walk = draining()
    walk.registered_step(at(30), counts=ZERO)
    skipped = walk.registered_step(at(45), counts=None)
    assert (skipped.status.drain.zero_readings, skipped.status.drain.first_zero_at) == (1, format_time(at(30)))
    assert skipped.status.phase == "Draining"
    assert walk.registered_step(at(60), counts=ZERO).status.drain.zero_readings == 2


def test_a_step_without_counts_does_not_stretch_the_run_of_zeros_over_the_grace_period():
    """Zero readings at +30s and +60s span 30s; a later step that read nothing has not seen a minute at zero."""
    walk = draining(make_spec(drainDetection={"consecutiveZeroReadings": 2, "gracePeriod": "1m"}))
    walk.registered_step(at(30), counts=ZERO)
    walk.registered_step(at(60), counts=ZERO)
    assert walk.registered_step(at(120), counts=None).status.phase == "Draining"
    assert walk.registered_step(at(125), counts=ZERO).status.phase == "Retiring"


# ---- retiring and completion ------------------------------------------------------------------------

def test_retiring_waits_for_retire_after_then_retires_each_old_version_then_completes():
    walk = drained()
    assert walk.status.phase == "Retiring"
    early = walk.registered_step(at(95), counts=ZERO, referrers={})
    assert early.actions == [] and early.status.phase == "Retiring"
    assert format_time(at(100)) in early.status.message
    due = walk.registered_step(at(100), counts=ZERO, referrers={1: [], 2: []})
    assert [(a.kind, a.version) for a in due.actions] == [(ActionKind.RETIRE, 1), (ActionKind.RETIRE, 2)]
    assert due.status.phase == "Retiring" and due.status.message == "retiring v1, v2 from Conductor"
    assert conditions(due)["Ready"] == ("True", "Retiring")
    assert conditions(due)["Warning"] == ("False", "NoWarnings")
    assert due.status.retired_versions == [], "the shell records a retirement once the version is deleted"
    for version in (2, 1):
        record_retirement(walk.status, version)
    assert walk.status.retired_versions == [1, 2]
    done = walk.registered_step(at(110), registered=(3,), counts={3: 7}, referrers={})
    assert done.status.phase == "Completed" and done.actions == []
    assert conditions(done)["Ready"] == ("True", "Completed")
    assert conditions(done)["Reconciling"][0] == "False"
    assert "Completed" in event_reasons(done)
    assert done.status.message == f"orders runs on v3; retired v1, v2; final counts as of {format_time(at(110))}"
    assert done.status.ended_at == format_time(at(110)) == done.status.running.read_at
    later = walk.registered_step(at(3600), registered=(3,), counts={3: 1})
    assert later.status.phase == "Completed" and later.actions == [] and later.events == []


@pytest.mark.parametrize(("counts", "referrers"), [(None, {}), (ZERO, None), (None, None)],
                         ids=["not-counted", "pins-not-read", "neither"])
def test_retiring_waits_for_a_fresh_count_and_the_pins(counts, referrers):
    walk = drained()
    step = walk.registered_step(at(100), counts=counts, referrers=referrers)
    assert step.status.phase == "Retiring" and step.actions == []
    assert step.status.message == "retiring v1, v2 once counted afresh"
    assert conditions(step)["Ready"] == ("True", "Retiring")
    retired = walk.registered_step(at(101), counts=ZERO, referrers={})
    assert [(a.kind, a.version) for a in retired.actions] == [(ActionKind.RETIRE, 1), (ActionKind.RETIRE, 2)]


def test_a_version_whose_deletion_failed_is_retired_again_alone():
    walk = drained()
    walk.registered_step(at(100), counts=ZERO, referrers={})
    record_retirement(walk.status, 1)  # the shell deleted v1; deleting v2 failed
    again = walk.registered_step(at(110), counts=ZERO, referrers={})
    assert [(a.kind, a.version) for a in again.actions] == [(ActionKind.RETIRE, 2)]
    assert again.status.message == "retiring v2 from Conductor"


def test_a_pinned_version_is_not_retired_and_the_others_are():
    walk = drained()
    pins = {1: ["parent v3", "batch v1"], 2: []}
    step = walk.registered_step(at(100), counts=ZERO, referrers=pins)
    assert [(a.kind, a.version) for a in step.actions] == [(ActionKind.RETIRE, 2)]
    assert step.status.phase == "Retiring"
    assert step.status.message == "waiting to retire: v1 is pinned as a sub-workflow by batch v1, parent v3"
    assert conditions(step)["Warning"] == ("True", "RetirementBlocked")
    assert "v1 is pinned as a sub-workflow by batch v1, parent v3" in cond(step, "Warning").message
    assert conditions(step)["Ready"] == ("True", "Retiring")
    record_retirement(walk.status, 2)
    held = walk.registered_step(at(130), counts=ZERO, referrers={1: ["parent v3"]})
    assert held.actions == [] and held.status.phase == "Retiring"
    assert held.status.message == "waiting to retire: v1 is pinned as a sub-workflow by parent v3"
    freed = walk.registered_step(at(160), counts=ZERO, referrers={1: []})
    assert [(a.kind, a.version) for a in freed.actions] == [(ActionKind.RETIRE, 1)]
    assert conditions(freed)["Warning"] == ("False", "NoWarnings")


def test_turning_retirement_off_while_retiring_completes_without_retiring():
    walk = drained()
    walk.respec(strategy={"parallel": {"retireOldVersions": False, "retireAfter": "10s"}})
    done = walk.registered_step(at(100), counts=ZERO, referrers={})
    assert done.status.phase == "Completed" and done.actions == []
    assert done.status.retired_versions == []
    assert done.status.message == f"orders runs on v3; final counts as of {format_time(at(100))}"
    assert [(e.reason, e.message) for e in done.events] == [("Completed", "nothing retired")]
    assert conditions(done)["Ready"] == ("True", "Completed")


@pytest.mark.parametrize("healthy_when", ["Accepted", "Completed"])
def test_without_retirement_draining_goes_straight_to_completed(healthy_when):
    walk = draining(make_spec(strategy={"parallel": {"retireOldVersions": False}}, healthyWhen=healthy_when))
    for seconds in (30, 60):
        walk.registered_step(at(seconds), counts=ZERO)
    done = walk.registered_step(at(90), counts=ZERO)
    assert done.status.phase == "Completed" and done.actions == []
    assert conditions(done)["Ready"] == ("True", "Completed")
    assert done.status.retired_versions == [] and "Drained" in event_reasons(done)
    later = walk.registered_step(at(3600), counts=ZERO)
    assert later.status.phase == "Completed" and later.actions == []


def test_an_old_version_running_again_while_retiring_goes_back_to_draining():
    walk = drained()
    back = walk.registered_step(at(100), counts={1: 0, 2: 1, 3: 7})
    assert back.status.phase == "Draining" and back.actions == []
    assert back.status.drain.drained_at is None
    assert back.status.drain.zero_readings == 0
    assert back.status.drain.since == format_time(at(10))
    assert conditions(back)["Drained"] == ("False", "NotDrained")
    assert conditions(back)["CutOver"][0] == "True"
    for seconds in (130, 160):
        assert walk.registered_step(at(seconds), counts=ZERO).status.phase == "Draining"
    assert walk.registered_step(at(190), counts=ZERO).status.phase == "Retiring"


def test_with_no_older_version_the_plan_completes_as_soon_as_the_target_is_registered():
    walk = Walk()
    first = walk.step(T0, registered=(), old={})
    assert first.status.phase == "CuttingOver" and first.status.verdict.from_versions == []
    done = walk.registered_step(at(10), registered=(3,))
    assert done.status.phase == "Completed" and done.actions == []
    assert conditions(done)["Drained"][0] == "True"
    assert done.status.retired_versions == []


def test_an_already_registered_target_with_nothing_older_completes_in_one_step():
    step = Walk().step(T0, target=make_target(registered=True, activation="Immediate"), registered=(3,), old={})
    assert step.status.phase == "Completed" and step.status.cutover_at == format_time(T0)
    assert step.actions == []


# ---- counts ------------------------------------------------------------------------------------------

def test_counts_list_every_counted_version_plus_the_from_versions_and_the_target():
    step = Walk().step(T0, registered=(1, 2, 4), counts={1: 2, 4: 1, 9: 0})
    read_at = format_time(T0)
    assert [(v.version, v.running, v.read_at) for v in step.status.versions] == [
        (1, 2, read_at), (2, 0, read_at), (3, 0, read_at), (4, 1, read_at), (9, 0, read_at)]
    running = step.status.running
    assert (running.old, running.target, running.read_at) == (2, 0, read_at)


def test_running_sums_the_from_versions_and_the_target_separately():
    step = Walk(make_spec(**{"from": {"versions": [1]}})).step(T0, counts={1: 4, 2: 5, 3: 6})
    assert (step.status.running.old, step.status.running.target) == (4, 6)


def test_a_step_without_counts_keeps_the_last_ones():
    walk = Walk()
    walk.step(T0, counts={1: 2, 2: 3})
    step = walk.step(at(10))
    assert [(v.version, v.running, v.read_at) for v in step.status.versions] == [
        (1, 2, format_time(T0)), (2, 3, format_time(T0)), (3, 0, format_time(T0))]
    assert step.status.running.old == 5


@pytest.mark.parametrize(("read_at", "now", "due"), [
    (None, T0, True),
    (format_time(T0), at(29), False),
    (format_time(T0), at(30), True),
    (format_time(T0), at(300), True),
])
def test_counts_are_due_every_interval(read_at, now, due):
    status = MigrationPlanStatus(running=RunningSummary(read_at=read_at) if read_at else None)
    assert counts_due(status, timedelta(seconds=30), now) is due


def test_counts_due_without_a_running_summary():
    assert counts_due(MigrationPlanStatus(), timedelta(hours=1), T0)


@pytest.mark.parametrize(("phase", "due"), [
    ("Retiring", True),  # a version is deleted only on a fresh count
    ("Completed", True),  # once more as it ends
    ("Failed", True),
    ("Aborted", True),
    ("RolledBack", True),
    ("Draining", False),
    ("Gating", False),
])
def test_counts_are_due_at_every_step_while_retiring_once_as_the_plan_ends_and_never_after(phase, due):
    status = MigrationPlanStatus(phase=phase, running=RunningSummary(read_at=format_time(T0)))
    assert counts_due(status, timedelta(seconds=30), at(1)) is due
    assert counts_due(status, timedelta(seconds=30), at(3600)) is True
    assert counts_due(MigrationPlanStatus(phase=phase), timedelta(seconds=30), at(1)) is True
    ended = status.model_copy(update={"ended_at": format_time(at(1))})
    assert counts_due(ended, timedelta(seconds=30), at(3600)) is (phase not in TERMINAL)


# ---- a plan that ended ----------------------------------------------------------------------------------

def nothing_to_drain() -> Walk:
    """A plan with no older version: it completes as the target registers, without counting at that step."""
    walk = Walk(make_spec(strategy={"parallel": {}}))
    walk.step(T0, registered=(), old={})
    done = walk.registered_step(at(10), registered=(3,), old={})
    assert done.status.phase == "Completed" and done.actions == []
    return walk


def test_a_plan_ends_on_a_last_count_and_then_rests_with_its_counts_as_of_its_end():
    walk = nothing_to_drain()
    assert walk.status.ended_at is None, "not counted at its end yet"
    assert not at_rest(walk.status, walk.generation)
    assert counts_due(walk.status, timedelta(seconds=30), at(11)), "counted once more, at once"
    ended = walk.registered_step(at(11), registered=(3,), old={}, counts={3: 4})
    assert ended.status.ended_at == format_time(at(11))
    assert ended.status.running.read_at == ended.status.ended_at
    assert [v.read_at for v in ended.status.versions] == [format_time(at(11))]
    assert ended.status.message == f"orders runs on v3; final counts as of {format_time(at(11))}"
    assert at_rest(walk.status, walk.generation)
    assert not counts_due(walk.status, timedelta(seconds=30), at(3600)), "never counted again"
    assert not at_rest(walk.status, walk.generation + 1), "a changed spec wakes it"


def test_an_ended_plan_woken_by_its_spec_keeps_its_record():
    walk = nothing_to_drain()
    ended = walk.registered_step(at(11), registered=(3,), old={}, counts={3: 4})
    walk.status.conditions = [Condition(type=c.type, status=c.status, reason=c.reason, message=c.message)
                              for c in ended.conditions]  # what the shell writes
    assert conditions(ended)["Warning"] == ("False", "NoWarnings")
    walk.respec(strategy={"parallel": {}}, healthyWhen="Completed")
    later = walk.registered_step(at(600), registered=(3, 4), old={})  # v4 registered since: not its business
    assert later.status.phase == "Completed" and later.actions == [] and later.events == []
    assert conditions(later)["Warning"] == ("False", "NoWarnings")
    assert later.status.ended_at == format_time(at(11))
    assert later.status.message == ended.status.message, "the note is not repeated"


def test_a_plan_is_not_ended_while_something_is_left_to_do_and_starting_over_clears_its_end():
    walk = nothing_to_drain()
    walk.registered_step(at(11), registered=(3,), old={}, counts={3: 4})
    walk.status.phase = "Failed"  # as a failed gate leaves it, its triggers still paused
    walk.status.triggers = [TriggerStatus(kind="Schedule", name="nightly", state="Paused")]
    walk.status.ended_at = None
    step = plan_migration(walk.spec, walk.status, observe(now=at(20), counts={3: 4}), at(20), walk.generation)
    assert kinds(step) == [ActionKind.RESUME_TRIGGERS] and step.status.ended_at is None


def test_a_failed_plan_starting_over_has_not_ended():
    walk = Walk(make_spec(gates={"workflows": [GATE]}))
    walk.step(T0)
    walk.started(GATE["name"], "exec-1")
    failed = walk.step(at(30), executions={"exec-1": {"status": "FAILED"}}, counts={1: 0, 2: 0})
    assert failed.status.phase == "Failed" and failed.status.ended_at == format_time(at(30))
    walk.respec(gates={"workflows": [{**GATE, "timeout": "2m"}]})
    again = walk.step(at(60))
    assert again.status.phase == "Gating" and again.status.ended_at is None


# ---- the Warning condition ---------------------------------------------------------------------------

def test_a_target_below_the_highest_registered_version_stalls_before_the_cutover():
    walk = Walk(make_spec(gates={"workflows": [GATE]}))
    for seconds in (0, 60):
        step = walk.step(at(seconds), registered=(1, 2, 4, 5))
        assert step.status.phase == "Validating"
        assert conditions(step)["Stalled"] == ("True", "TargetNotHighestVersion")
        assert conditions(step)["Ready"][0] == "False" and conditions(step)["Reconciling"][0] == "False"
        assert "v4, v5 is registered above the target v3" in step.status.message
        assert "unpinned starts would go to v5" in step.status.message
        assert step.actions == [] and step.status.gates == [] and step.status.cutover_at is None
        assert step.status.verdict.from_versions == [1, 2], "the verdict is shown"
    # the higher versions are retired: the plan goes on
    step = walk.step(at(120), registered=(1, 2))
    assert step.status.phase == "Gating" and kinds(step) == [ActionKind.START_GATE]
    assert conditions(step)["Stalled"][0] == "False"


def test_a_version_registered_above_the_target_after_the_cutover_is_a_warning():
    walk = draining()
    step = walk.step(at(30), target=make_target(registered=True), registered=(1, 2, 3, 4), counts={1: 1, 3: 1})
    assert step.status.phase == "Draining"
    assert conditions(step)["Warning"] == ("True", "TargetNotHighestVersion")
    assert "unpinned starts go to v4, not to the target" in cond(step, "Warning").message
    assert conditions(step)["Stalled"][0] == "False"
    assert step.status.verdict.from_versions == [1, 2], "the versions moved from are those of the cutover"


def test_the_warning_is_given_once_in_the_step_that_cuts_over():
    target = make_target(registered=True, activation="Immediate")
    step = Walk().step(T0, target=target, registered=(1, 2, 3))
    assert step.status.cutover_at is not None and step.status.phase == "Draining"
    assert conditions(step)["Warning"] == ("True", "TargetRegisteredBeforeGates")
    assert cond(step, "Warning").message.count("before the gates passed") == 1


@pytest.mark.parametrize(("activation", "registered", "warning", "how"), [
    ("Immediate", (1, 2, 3), ("True", "TargetRegisteredBeforeGates"),
     f"set spec.activation: ByMigrationPlan on WorkflowDefinition {TARGET}"),
    ("ByMigrationPlan", (1, 2, 3), ("True", "TargetRegisteredBeforeGates"),
     "it was registered by something other than this plan"),
    ("Immediate", (1, 2), ("False", "NoWarnings"), None),
    ("ByMigrationPlan", (1, 2), ("False", "NoWarnings"), None),
])
def test_a_target_registered_before_the_gates_is_a_warning(activation, registered, warning, how):
    walk = Walk(make_spec(gates={"workflows": [GATE]}))
    step = walk.step(T0, target=make_target(activation=activation, registered=3 in registered),
                     registered=registered)
    assert step.status.phase == "Gating"
    assert conditions(step)["Warning"] == warning
    if how:
        assert cond(step, "Warning").message == (f"v3 is registered in Conductor before the gates passed, so they "
                                                 f"cannot hold the cutover: {how}")


def test_a_target_conductor_lists_is_registered_before_the_gates_even_if_the_resource_says_otherwise():
    step = Walk(make_spec(gates={"workflows": [GATE]})).step(T0, target=make_target(registered=False),
                                                             registered=(1, 2, 3))
    assert conditions(step)["Warning"] == ("True", "TargetRegisteredBeforeGates")


def test_an_immediate_target_is_no_warning_after_the_cutover():
    walk = Walk()
    target = make_target(activation="Immediate", registered=True)
    walk.step(T0, target=target, registered=(1, 2, 3))
    step = walk.step(at(30), target=target, registered=(1, 2, 3))
    assert step.status.phase == "Draining"
    assert conditions(step)["Warning"] == ("False", "NoWarnings")


# ---- holding WorkflowDefinitions ---------------------------------------------------------------------

def plan(name="move", *, target=TARGET, workflow_name=WORKFLOW, cutover=False, released=None, dry_run=False,
         retired=(), cluster=None, retiring=()):
    status = {"retiredVersions": list(retired)}
    if retiring:
        status.update(phase="Retiring", verdict={"fromVersions": list(retiring), "toVersion": 3})
    if cutover:
        status["cutoverAt"] = format_time(T0)
    if released:
        status["released"] = released
    extra = {"clusterRef": {"name": cluster}} if cluster else {}
    body = plan_body(status=status, workflowName=workflow_name, to={"workflowDefinitionRef": {"name": target}},
                     dryRun=dry_run, **extra)
    body["metadata"]["name"] = name
    return MigrationPlan.from_body(body)


def hold(*plans, version=3, activation="ByMigrationPlan", ever_registered=False, running=None):
    return definition_hold(resource=TARGET, workflow_name=WORKFLOW, version=version, activation=activation,
                           ever_registered=ever_registered, plans=plans, label=f"workflow {WORKFLOW} v{version}",
                           running=running)


AWAITING = {"Ready": ("False", "AwaitingActivation"), "Reconciling": ("True", "AwaitingActivation"),
            "Stalled": ("False", "NotStalled"), "Registered": ("False", "AwaitingActivation")}
RETIRED = {"Ready": ("True", "RetiredByMigrationPlan"), "Reconciling": ("False", "Idle"),
           "Stalled": ("False", "NotStalled"), "Registered": ("False", "RetiredByMigrationPlan"),
           "Warning": ("False", "NoWarnings")}


@pytest.mark.parametrize(("plans", "kwargs", "expected"), [
    ((), {}, AWAITING),
    ((plan(),), {}, AWAITING),
    ((plan(dry_run=True),), {}, AWAITING),
    ((plan(cutover=True, target="orders-v4"),), {}, AWAITING),
    ((plan(cutover=True, target="orders-v4", released="orders-v4"),), {}, AWAITING),
    ((plan(cutover=True),), {}, None),
    ((plan(cutover=True, released=TARGET),), {}, None),
    ((plan(cutover=True, target="orders-v4", released=TARGET),), {}, None),
    ((plan(cutover=True, dry_run=True, released=TARGET),), {}, None),
    ((plan("other"), plan(cutover=True)), {}, None),
    ((), {"ever_registered": True}, None),
    ((), {"activation": "Immediate"}, None),
    ((plan(),), {"activation": "Immediate"}, None),
    ((plan(retired=[1]),), {"version": 1, "activation": "Immediate", "ever_registered": True}, RETIRED),
    ((plan(retired=[1], cutover=True),), {"version": 1}, RETIRED),
    ((plan(retired=[1], workflow_name="payments"),), {"version": 1, "activation": "Immediate"}, None),
    ((plan(retired=[1]),), {"version": 2, "activation": "Immediate"}, None),
    ((plan(cutover=True, retiring=[1, 2]),), {"version": 1, "activation": "Immediate", "ever_registered": True},
     RETIRED),
    ((plan(cutover=True, retiring=[1]),), {"version": 2, "activation": "Immediate", "ever_registered": True}, None),
], ids=["no-plan", "plan-before-cutover", "dry-run-plan", "plan-for-another-resource",
        "released-another-resource", "released", "released-recorded", "released-then-spec-to-changed",
        "released-then-dry-run", "released-by-one-of-two", "ever-registered", "immediate", "immediate-with-plan",
        "retired",
        "retired-by-a-releasing-plan", "retired-in-another-workflow", "another-version-retired",
        "being-retired", "another-version-being-retired"])
def test_definition_hold(plans, kwargs, expected):
    held = hold(*plans, **kwargs)
    if expected is None:
        assert held is None
        return
    assert {c.type: (c.status, c.reason) for c in held} == expected
    assert all(c.message for c in held if c.type in ("Ready", "Registered"))


def test_a_retired_hold_names_the_plans():
    held = hold(plan("first", retired=[1]), plan("second", retired=[1, 2]), version=1)
    assert "MigrationPlan first, second" in held[0].message


@pytest.mark.parametrize("running", [None, 0])
def test_a_retired_version_with_nothing_running_is_no_warning(running):
    held = hold(plan(retired=[1]), version=1, running=running)
    assert {c.type: (c.status, c.reason) for c in held} == RETIRED


def test_running_executions_of_a_retired_version_are_a_warning_and_it_stays_retired():
    """A plain restart of an ended execution brings a retired version back to RUNNING, unseen by the plan."""
    held = hold(plan("to-v3", retired=[1]), version=1, running=2)
    assert {c.type: (c.status, c.reason) for c in held} == {**RETIRED, "Warning": ("True", "RetiredVersionRunning")}
    warning = next(c for c in held if c.type == "Warning")
    assert f"executions of workflow {WORKFLOW} v1 run again although MigrationPlan to-v3 retired it" in warning.message
    assert "restart" in warning.message
    assert hold(plan(), version=3, running=2) == hold(plan(), version=3), "only a retired version is watched"


def test_plans_releasing_and_retiring():
    plans = [plan("a", cutover=True), plan("b"), plan("c", dry_run=True),
             plan("d", cutover=True, target="orders-v4"), plan("e", retired=[1, 2]),
             plan("f", retired=[1], workflow_name="payments"),
             plan("g", cutover=True, target="orders-v5", released=TARGET),
             plan("h", target="orders-v4", released="orders-v4")]
    assert plans_releasing(TARGET, plans) == ["a", "g"], "status.released wins over a spec.to changed since"
    assert plans_releasing("orders-v4", plans) == ["d"], "released only with a cutover"
    assert plans_releasing("orders-v5", plans) == []
    assert plans_retiring(WORKFLOW, 1, plans) == ["e"]
    assert plans_retiring(WORKFLOW, 3, plans) == []
    assert plans_retiring("payments", 1, plans) == ["f"]
    # A plan in Retiring may have deleted a version without having recorded it yet (it was killed in between).
    assert plans_retiring(WORKFLOW, 2, [plan("i", cutover=True, retiring=[1, 2])]) == ["i"]


def test_same_cluster_takes_the_plans_on_the_resource_s_cluster_the_default_standing_for_none():
    plans = [plan("implicit"), plan("named-default", cluster="default"), plan("staging", cluster="staging")]

    def names(kept):
        return [p.metadata.name for p in kept]

    assert names(same_cluster(plans, None, "default")) == ["implicit", "named-default"]
    assert names(same_cluster(plans, "default", "default")) == ["implicit", "named-default"]
    assert names(same_cluster(plans, "staging", "default")) == ["staging"]
    assert names(same_cluster(plans, None, "staging")) == ["implicit", "staging"]
    assert same_cluster(plans, "prod", "default") == []


def test_record_retirement_keeps_the_versions_sorted_and_once():
    status = MigrationPlanStatus()
    for version in (3, 1, 3, 2):
        record_retirement(status, version)
    assert status.retired_versions == [1, 2, 3]


@pytest.mark.parametrize(("expected", "output", "mismatches"), [
    (None, {"x": 1}, []),
    ({}, None, []),
    ({"ok": True}, {"ok": True, "more": 1}, []),
    ({"ok": True}, {"ok": False}, ["ok: wanted True, got False"]),
    ({"ok": True}, None, ["ok: wanted True, got '<missing>'"]),
    ({"n": 1, "s": "x"}, {"n": 2, "s": "x"}, ["n: wanted 1, got 2"]),
    ({"n": 1, "s": "x"}, {}, ["n: wanted 1, got '<missing>'", "s: wanted 'x', got '<missing>'"]),
    ({"nested": {"a": 1}}, {"nested": {"a": 1}}, []),
])
def test_output_mismatches(expected, output, mismatches):
    assert output_mismatches(expected, output) == mismatches


# ---- two plans for one workflow ----------------------------------------------------------------------

def named_plan(name, created, phase=None, workflow=WORKFLOW):
    body = plan_body(status={"phase": phase} if phase else None, workflowName=workflow)
    body["metadata"].update(name=name, uid=f"uid-{name}", creationTimestamp=created)
    return MigrationPlan.from_body(body)


def test_the_newer_of_two_plans_for_a_workflow_waits_for_the_older():
    mine = named_plan("second", "2026-11-24T12:00:00Z")
    older = named_plan("first", "2026-11-24T11:00:00Z", phase="Draining")
    assert rival_plan(mine, [older, mine]) == "first"
    assert rival_plan(older, [older, mine]) is None, "the older one goes on"
    for ended in ("Completed", "RolledBack", "Aborted", "Failed"):
        assert rival_plan(mine, [named_plan("first", "2026-11-24T11:00:00Z", phase=ended)]) is None
    assert rival_plan(mine, [named_plan("first", "2026-11-24T11:00:00Z", workflow="payments")]) is None
    same_time = named_plan("a-plan", "2026-11-24T12:00:00Z")
    assert rival_plan(mine, [same_time]) == "a-plan", "a tie goes to the name"
    elsewhere = named_plan("first", "2026-11-24T11:00:00Z", phase="Moving")
    elsewhere.metadata.namespace = "team-b"
    assert rival_plan(mine, [elsewhere]) == "team-b/first", "one in another namespace is named with it"
    assert older_plans_at_work(mine, [mine, same_time, older, elsewhere]) == [older, elsewhere, same_time]

    walk = Walk()
    step = plan_migration(walk.spec, walk.status, dataclasses.replace(observe(), rival="first"), T0, GEN)
    assert conditions(step)["Stalled"] == ("True", "ConflictingPlan")
    assert "MigrationPlan first is still migrating orders" in step.status.message
    assert step.actions == [] and step.status.cutover_at is None


# ---- finding a check workflow a step started without recording it ----------------------------------

def test_check_correlation_ids_name_the_plan_the_check_the_wave_and_the_generation():
    assert check_correlation_id("ns", "to-v2", "smoke", 4, None) == "migrationplan/ns/to-v2/smoke/gen-4"
    assert check_correlation_id("ns", "to-v2", "smoke", 4, 0) == "migrationplan/ns/to-v2/smoke/wave-0/gen-4"


@pytest.mark.parametrize(("starts", "created", "adopted"), [
    ((), None, None),
    ((("a", 1000),), None, "a"),
    ((("a", 1000), ("b", 3000), ("c", 2000)), None, "b"),
    ((("a", 1000),), "1970-01-01T00:00:02Z", None),
    ((("a", 1000), ("b", 3000)), "1970-01-01T00:00:02Z", "b"),
    ((("a", 2000),), "1970-01-01T00:00:02Z", "a"),
], ids=["none", "one", "the-latest", "before-the-plan-existed", "the-one-since", "at-creation"])
def test_an_unrecorded_check_is_the_latest_started_since_the_plan_was_created(starts, created, adopted):
    executions = [{"workflowId": i, "startTime": t, "status": "RUNNING"} for i, t in starts]
    assert unrecorded_check(executions, created) == adopted


# ---- triggers that keep starting an old version while it drains --------------------------------------

def pinned_step(walk: Walk, seconds: int, pinning, counts=None) -> MigrationStep:
    seen = dataclasses.replace(observe(now=at(seconds), target=make_target(registered=True), registered=(1, 2, 3),
                                       counts=counts or {1: 2, 2: 1, 3: 4}), pinning_triggers=pinning)
    step = plan_migration(walk.spec, walk.status, seen, at(seconds), walk.generation)
    walk.status = step.status
    return step


def test_a_trigger_pinned_to_an_old_version_is_a_warning_while_it_drains():
    walk = draining()
    step = pinned_step(walk, 30, {"Schedule/nightly": 1, "EventHandler/orders-in": 3, "Schedule/old": 9})
    assert step.status.phase == "Draining"
    assert conditions(step)["Warning"] == ("True", "TriggerPinsOldVersion")
    warning = next(c for c in step.conditions if c.type == "Warning")
    assert warning.message == ("Schedule/nightly starts v1 (pinned): the old versions will not drain while it "
                               "does; unpin it or point it at v3")
    assert conditions(pinned_step(walk, 60, {"EventHandler/orders-in": 3}))["Warning"] == ("False", "NoWarnings")
    assert conditions(pinned_step(walk, 90, None))["Warning"] == ("False", "NoWarnings"), "not read: not judged"
