"""The replay gate: the pure comparison of an execution with its replay (domain/migrations/replay.py), the test
request it sends, the sample it picks, and the planner judging the gate (spec.gates.replay).

The executions and replays here have the shape Conductor OSS 3.32.3 answers (docs/conductor-facts.md,
"Replaying an execution"): a SIMPLE task's ``taskType`` is its name, a loop's tasks are ``ref__<iteration>``,
a SWITCH's output holds ``selectedCase``. The same comparisons run against the real server in
tests/e2e/test_replay_gate_real.py.
"""

import dataclasses
from datetime import timedelta

import httpx
import pytest
from conductor_operator.api.migration import MigrationPlan, ReplayGate
from conductor_operator.conductor.errors import NotFound
from conductor_operator.domain.migrations import ActionKind, plan_migration
from conductor_operator.domain.migrations import replay as r

from tests.unit.test_conductor_client import error_body, make_client
from tests.unit.test_migration_planner import T0, Walk, at, make_spec, observe, plan_body

OLD_DEF = {"name": "orders", "version": 1, "tasks": [
    {"name": "charge", "taskReferenceName": "charge", "type": "SIMPLE",
     "inputParameters": {"amount": "${workflow.input.amount}"}},
    {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
     "expression": "kind", "inputParameters": {"kind": "${workflow.input.kind}"},
     "decisionCases": {"express": [{"name": "fast", "taskReferenceName": "fast", "type": "SIMPLE"}]},
     "defaultCase": [{"name": "slow", "taskReferenceName": "slow", "type": "SIMPLE"}]},
], "outputParameters": {"charged": "${charge.output.charged}"}}


def target_def(*extra, route=None):
    tasks = [dict(t) for t in OLD_DEF["tasks"]]
    if route is not None:
        tasks[1] = {**tasks[1], "inputParameters": {"kind": route}}
    return {**OLD_DEF, "version": 2, "tasks": [*tasks, *extra]}


def done(ref, output=None, status="COMPLETED", seq=1, type_=None, **extra):
    return {"referenceTaskName": ref, "taskType": type_ or ref, "status": status, "outputData": output or {},
            "seq": seq, **extra}


def switch(case, seq=2):
    return done("route", {"selectedCase": case, "evaluationResult": [case]}, seq=seq, type_="SWITCH")


def execution(*tasks, status="COMPLETED", input_=None, output=None, id_="e1", version=1):
    return {"workflowId": id_, "workflowVersion": version, "status": status, "input": input_ or {"amount": 5},
            "output": output if output is not None else {"charged": True}, "tasks": list(tasks)}


OLD_RUN = execution(done("charge", {"charged": True}), switch("express"), done("fast", seq=3),
                    input_={"amount": 5, "kind": "express"})


# ---- the test request -----------------------------------------------------------------------------------------

def test_every_ended_attempt_is_mocked_in_order_and_a_new_task_completes_empty():
    old = execution(done("charge", {"error": 1}, status="FAILED", seq=1), done("charge", {"charged": True}, seq=2),
                    switch("express", seq=3), done("fast", seq=4))
    target = target_def({"name": "notify", "taskReferenceName": "notify", "type": "SIMPLE"})
    mocks = r.mocks(old, target)
    assert mocks["charge"] == [{"status": "FAILED", "output": {"error": 1}},
                               {"status": "COMPLETED", "output": {"charged": True}}]
    assert mocks["notify"] == [{"status": "COMPLETED", "output": {}}]  # the execution never ran it
    assert "slow" in mocks  # a branch it did not take: a mock, in case the replay takes it
    request = r.test_request(old, target, "migrationplan/ns/p/replay/gen-1")
    assert request["workflowDef"]["version"] == 2 and request["input"] == old["input"]
    assert request["correlationId"] == "migrationplan/ns/p/replay/gen-1"


def test_the_current_task_of_a_running_execution_gets_no_mock():
    old = execution(done("charge", {"charged": True}), switch("express"), done("fast", status="IN_PROGRESS", seq=3),
                    status="RUNNING")
    assert "fast" not in r.mocks(old, OLD_DEF)  # the replay stops where the execution is


def test_a_new_task_in_a_loop_is_mocked_per_iteration():
    loop = {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "false",
            "loopOver": [{"name": "step", "taskReferenceName": "step", "type": "SIMPLE"},
                         {"name": "audit", "taskReferenceName": "audit", "type": "SIMPLE"}]}
    old = execution(done("step__1", iteration=1), done("step__2", iteration=2))
    mocks = r.mocks(old, {"name": "orders", "version": 2, "tasks": [loop]})
    assert {"audit__1", "audit__2", "audit__3"} <= set(mocks)
    assert "audit" not in mocks and "loop" not in mocks  # the server runs the loop itself


def test_a_target_with_a_sub_workflow_is_not_replayed():
    sub = {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW",
           "subWorkflowParam": {"name": "child", "version": 1}}
    assert "child" in r.unreplayable_target(target_def(sub))
    assert r.unreplayable_target(target_def()) is None


def test_a_running_execution_at_a_system_task_is_not_replayed():
    at_http = execution(done("charge"), {**done("call", status="SCHEDULED", seq=2, type_="HTTP"),
                                         "workflowTask": {"type": "HTTP"}}, status="RUNNING")
    assert "call" in r.unreplayable(at_http)
    at_worker = execution(done("charge"), {**done("fast", status="SCHEDULED", seq=2),
                                           "workflowTask": {"type": "SIMPLE"}}, status="RUNNING")
    assert r.unreplayable(at_worker) is None


def test_the_sample_is_of_the_old_versions_matching_the_pattern_newest_first():
    summaries = [{"workflowId": f"e{i}", "version": 1 + i % 3, "startTime": f"2026-11-24T11:0{i}:00Z",
                  "correlationId": "order-1" if i % 2 else "test-1"} for i in range(8)]
    gate = ReplayGate(sample=2, correlation_id_pattern="^order-")
    assert r.select(summaries, [1, 2], gate) == ["e7", "e3"]  # e5 is of v3
    gate = ReplayGate(sample=10)
    assert r.select(summaries, [1], gate) == ["e6", "e3", "e0"]
    query = r.search_query("orders", ReplayGate(within="1h"), T0)
    assert 'workflowType="orders"' in query and "PAUSED" in query and "RUNNING" in query
    assert f"startTime>{int((T0 - timedelta(hours=1)).timestamp() * 1000)}" in query


# ---- the comparison -------------------------------------------------------------------------------------------

def replay_of(*tasks, status="COMPLETED", output=None, reason=None):
    answer = {"workflowId": "t1", "workflowVersion": 2, "status": status, "output": output or {"charged": True},
              "tasks": list(tasks)}
    if reason:
        answer["reasonForIncompletion"] = reason
    return answer


def test_the_same_run_does_not_diverge():
    replayed = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", seq=3))
    run = r.compare(OLD_RUN, replayed, OLD_DEF, target_def())
    assert not run.divergent, run.reasons


def test_a_new_task_reading_a_field_old_inputs_lack_is_the_old_schema_failure():
    notify = {"name": "notify", "taskReferenceName": "notify", "type": "SIMPLE",
              "inputParameters": {"to": "${workflow.input.customer.email}", "amount": "${workflow.input.amount}",
                                  "nested": {"tier": "${workflow.input.tier}"}}}
    replayed = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", seq=3),
                         {**done("notify", seq=4), "inputData": {"to": None, "amount": 5, "nested": {"tier": None}}})
    run = r.compare(OLD_RUN, replayed, OLD_DEF, target_def(notify))
    assert run.reasons == ("old schema: new task notify reads workflow.input.customer.email, workflow.input.tier, "
                           "which the execution's data lacks",)
    assert run.new_task_inputs == {"notify": {"to": None, "amount": 5, "nested": {"tier": None}}}


def test_a_new_task_whose_fields_are_there_is_listed_not_divergent():
    notify = {"name": "notify", "taskReferenceName": "notify", "type": "SIMPLE",
              "inputParameters": {"amount": "${workflow.input.amount}"}}
    replayed = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", seq=3),
                         {**done("notify", seq=4), "inputData": {"amount": 5}})
    run = r.compare(OLD_RUN, replayed, OLD_DEF, target_def(notify))
    assert not run.divergent and run.new_task_inputs == {"notify": {"amount": 5}}


def test_another_switch_case_is_a_path_divergence():
    replayed = replay_of(done("charge", {"charged": True}), switch("defaultCase"), done("slow", seq=3))
    run = r.compare(OLD_RUN, replayed, OLD_DEF, target_def(route="${workflow.input.speed}"))
    assert run.reasons[0] == "path: SWITCH route took case 'express', the replay takes 'defaultCase'"


def test_a_shared_task_run_in_one_and_not_the_other_is_a_path_divergence():
    replayed = replay_of(done("charge", {"charged": True}), switch("express"))
    assert r.compare(OLD_RUN, replayed, OLD_DEF, target_def()).reasons == (
        "path: ran fast where the replay does not",)


def test_another_loop_count_is_a_path_divergence():
    loop_def = {"name": "orders", "version": 1, "tasks": [{"name": "loop", "taskReferenceName": "loop",
                                                           "type": "DO_WHILE", "loopOver": []}]}
    old = execution(done("loop", {"iteration": 3}, type_="DO_WHILE"), output={})
    replayed = replay_of(done("loop", {"iteration": 1}, type_="DO_WHILE"), output={})
    assert r.compare(old, replayed, loop_def, {**loop_def, "version": 2}).reasons == (
        "path: DO_WHILE loop ran 3 iteration(s), the replay runs 1",)


def test_outputs_are_compared_on_the_listed_keys_or_all_of_the_executions():
    replayed = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", seq=3),
                         output={"charged": False, "extra": 1})
    assert r.compare(OLD_RUN, replayed, OLD_DEF, target_def()).reasons == (
        "output differs: charged: True became False",)
    assert not r.compare(OLD_RUN, replayed, OLD_DEF, target_def(), compare_output_keys=["extra2"]).divergent


def test_a_completed_execution_must_complete():
    failed = replay_of(done("charge", {"charged": True}), status="FAILED", reason="Task x failed")
    assert r.compare(OLD_RUN, failed, OLD_DEF, target_def()).reasons[0] == \
        "did not complete: the replay ended FAILED: Task x failed"
    stuck = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", status="SCHEDULED", seq=3),
                      status="RUNNING")
    assert r.compare(OLD_RUN, stuck, OLD_DEF, target_def()).reasons[0].startswith(
        "did not complete: the replay stops at fast")


def test_a_running_execution_must_stop_where_it_is():
    old = execution(done("charge", {"charged": True}), switch("express"), done("fast", status="IN_PROGRESS", seq=3),
                    status="RUNNING", output={})
    same = replay_of(done("charge", {"charged": True}), switch("express"), done("fast", status="SCHEDULED", seq=3),
                     status="RUNNING")
    assert not r.compare(old, same, OLD_DEF, target_def()).divergent
    elsewhere = replay_of(done("charge", {"charged": True}), switch("defaultCase"),
                          done("slow", status="SCHEDULED", seq=3), status="RUNNING")
    reasons = r.compare(old, elsewhere, OLD_DEF, target_def()).reasons
    assert reasons[0] == "the execution is at fast, the replay stops at slow"
    assert "path: SWITCH route took case 'express', the replay takes 'defaultCase'" in reasons


# ---- the verdict ----------------------------------------------------------------------------------------------

def runs(divergent, same):
    return tuple([r.ReplayRun(f"d{i}", 1, "COMPLETED", "FAILED", ("did not complete",)) for i in range(divergent)] +
                 [r.ReplayRun(f"s{i}", 1, "COMPLETED", "COMPLETED") for i in range(same)])


def test_the_threshold_is_a_count_or_a_percent():
    assert r.judge(ReplayGate(), r.ReplayObservation(runs(0, 3)), T0).passed
    failed = r.judge(ReplayGate(), r.ReplayObservation(runs(1, 3)), T0)
    assert not failed.passed and failed.reason == "GateFailed"
    assert failed.status.divergent_executions[0].execution_id == "d0"
    assert failed.message.startswith("1 of 4 replayed execution(s) diverged (0 allowed); d0: did not complete")
    assert r.judge(ReplayGate(max_divergent=1), r.ReplayObservation(runs(1, 3)), T0).passed
    assert r.judge(ReplayGate(max_divergent_percent=25), r.ReplayObservation(runs(1, 3)), T0).passed
    assert not r.judge(ReplayGate(max_divergent_percent=20), r.ReplayObservation(runs(1, 3)), T0).passed
    many = r.judge(ReplayGate(), r.ReplayObservation(runs(30, 0)), T0)
    assert many.status.divergent == 30 and len(many.status.divergent_executions) == r.LISTED


def test_unsupported_holds_or_skips_never_silently():
    hold = r.judge(ReplayGate(), r.ReplayObservation(unsupported="the server has no POST /workflow/test"), T0)
    assert not hold.passed and hold.reason == "ReplayUnsupported" and "Hold" in hold.message
    skip = r.judge(ReplayGate(on_unsupported="Skip"), r.ReplayObservation(unsupported="no endpoint"), T0)
    assert skip.passed and skip.reason == "ReplaySkipped" and "nothing was compared" in skip.message


# ---- the planner ----------------------------------------------------------------------------------------------

GATES = {"requireWorkers": False, "replay": {"sample": 5}}


def test_the_planner_waits_for_the_replay_then_passes_and_cuts_over():
    walk = Walk(make_spec(gates=GATES))
    first = walk.step(at(0))
    replay = next(g for g in walk.status.gates if g.name == "Replay")
    assert walk.status.phase == "Gating" and replay.reason == "ReplayPending" and not first.actions
    assert r.replay_due(walk.spec, walk.status)
    step_with(walk, at(30), r.ReplayObservation(runs(0, 2)))
    assert walk.status.cutover_at is not None and walk.status.replay.sampled == 2
    assert not r.replay_due(walk.spec, walk.status)


def step_with(walk, now, observation):
    result = plan_migration(walk.spec, walk.status, dataclasses.replace(observe(now=now), replay=observation), now,
                            walk.generation)
    walk.status = result.status
    return result


def test_a_divergent_replay_fails_the_plan_naming_the_executions():
    walk = Walk(make_spec(gates=GATES))
    step = step_with(walk, at(0), r.ReplayObservation(runs(2, 1)))
    assert walk.status.phase == "Failed" and walk.status.cutover_at is None
    assert [d.execution_id for d in walk.status.replay.divergent_executions] == ["d0", "d1"]
    assert any(e.reason == "GateFailed" and "d0" in e.message for e in step.events)
    assert not r.replay_due(walk.spec, walk.status)  # settled: not replayed again until the gates change
    walk.respec(gates={**GATES, "replay": {"sample": 5, "maxDivergent": 2}})
    walk.step(at(60))
    assert walk.status.phase == "Gating" and walk.status.replay is None and r.replay_due(walk.spec, walk.status)


def test_unsupported_holds_the_plan_with_one_warning_and_skip_goes_on():
    walk = Walk(make_spec(gates=GATES))
    unsupported = r.ReplayObservation(unsupported="the server has no POST /workflow/test (HTTP 404)")
    first = step_with(walk, at(0), unsupported)
    again = step_with(walk, at(30), unsupported)
    assert walk.status.phase == "Gating" and walk.status.cutover_at is None
    assert [e.reason for e in first.events] == ["ReplayUnsupported"] and not again.events
    assert r.replay_due(walk.spec, walk.status)  # tried again: the server may be upgraded
    skipping = Walk(make_spec(gates={**GATES, "replay": {"onUnsupported": "Skip"}}))
    step = step_with(skipping, at(0), unsupported)
    assert skipping.status.cutover_at is not None
    assert any(e.reason == "ReplaySkipped" and e.type == "Warning" for e in step.events)


def test_no_replay_while_paused_a_dry_run_or_without_the_gate():
    assert not r.replay_due(make_spec(), Walk().status)
    assert not r.replay_due(make_spec(gates=GATES, paused=True), Walk().status)
    dry = Walk(make_spec(gates=GATES, dryRun=True))
    step = dry.step(at(0))
    assert any(line.startswith("replay up to 5 execution(s) of v1, v2") for line in dry.status.planned_actions)
    assert not any(a.kind is ActionKind.START_GATE for a in step.actions)


def test_the_api_defaults():
    gate = MigrationPlan.from_body(plan_body(gates=GATES)).spec.gates.replay
    assert (gate.sample, gate.within, gate.statuses, gate.max_divergent, gate.on_unsupported) == \
        (5, "24h", ["COMPLETED", "RUNNING"], 0, "Hold")


def test_a_switch_that_fell_to_its_default_reads_as_the_default_whatever_the_value():
    cases = {"workflowTask": {"decisionCases": {"express": []}}}
    was = {**done("route", {"selectedCase": "standard"}, type_="SWITCH"), **cases}
    now = {**done("route", {"selectedCase": None, "evaluationResult": [None]}, type_="SWITCH"), **cases}
    old = execution(done("charge", {"charged": True}), was, done("slow", seq=3))
    replayed = replay_of(done("charge", {"charged": True}), now, done("slow", seq=3))
    assert not r.compare(old, replayed, OLD_DEF, target_def(route="${workflow.input.speed}")).divergent


# ---- the client's test call, against a fake server (the real one: tests/e2e/test_replay_gate_real.py) ----------
# Orkes documents the same endpoint; no Orkes server was available, so its side is tested against this fake only.

async def test_the_client_removes_the_test_execution_and_reads_404_or_405_as_no_endpoint():
    answer = {"workflowId": "t-1", "status": "RUNNING", "tasks": []}
    client, recorder = make_client({
        ("POST", "/api/workflow/test"): httpx.Response(200, json=answer),
        ("DELETE", "/api/workflow/t-1/remove"): httpx.Response(200)})
    assert await client.test_workflow({"name": "x"}) == answer
    assert recorder.paths() == ["POST /api/workflow/test", "DELETE /api/workflow/t-1/remove"]
    for status in (404, 405):
        client, _ = make_client({("POST", "/api/workflow/test"): httpx.Response(status, json=error_body(status, "no"))})
        with pytest.raises(NotFound, match="no POST /workflow/test"):
            await client.test_workflow({"name": "x"})
    # a server without the endpoint that has a workflow named "test" starts it: terminated, and unsupported
    client, recorder = make_client({
        ("POST", "/api/workflow/test"): httpx.Response(200, text="0b9f-started",
                                                       headers={"content-type": "text/plain"}),
        ("DELETE", "/api/workflow/0b9f-started"): httpx.Response(200)})
    with pytest.raises(NotFound, match="no POST /workflow/test"):
        await client.test_workflow({"name": "x"})
    assert "DELETE /api/workflow/0b9f-started" in recorder.paths()
