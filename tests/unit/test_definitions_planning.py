from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.domain import definitions as d
from conductor_operator.domain.conditions import Condition, merge_conditions

LABEL = "workflow order v1"


def workflow(*tasks, **extra):
    return {"name": "order", "version": 1, "tasks": list(tasks), **extra}


def task(ref, name=None, **extra):
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE", **extra}


def server_copy(definition):
    """What Conductor answers: the definition with defaults filled in and timestamps."""
    tasks = [{**t, "inputParameters": t.get("inputParameters", {}), "decisionCases": {}, "optional": False}
             for t in definition["tasks"]]
    return {**definition, "tasks": tasks, "createTime": 0, "updateTime": 123, "timeoutSeconds": 0,
            "restartable": True, "outputParameters": definition.get("outputParameters", {})}


def conditions(plan):
    return {c.type: (c.status, c.reason) for c in plan.conditions}


# ---- content hash and drift ----

def test_content_hash_ignores_key_order_and_server_timestamps():
    a = {"name": "x", "version": 1, "tasks": [task("a")]}
    b = {"tasks": [task("a")], "version": 1, "name": "x", "updateTime": 5}
    assert d.content_hash(a) == d.content_hash(b)
    assert d.content_hash(a) != d.content_hash({**a, "description": "other"})


def test_server_defaults_are_not_drift():
    desired = workflow(task("a"))
    assert d.differences(desired, server_copy(desired)) == []


def test_changed_and_added_tasks_are_drift_with_paths():
    desired = workflow(task("a", inputParameters={"x": 1}))
    observed = server_copy(desired)
    observed["tasks"][0]["inputParameters"] = {"x": 2}
    assert d.differences(desired, observed) == ["tasks[0].inputParameters.x"]
    observed = server_copy(workflow(task("a", inputParameters={"x": 1}), task("b")))
    assert d.differences(desired, observed) == ["tasks"]


def test_empty_and_missing_values_are_the_same():
    assert d.differences({"a": {}, "b": [], "c": None}, {}) == []
    assert d.differences({"a": "x"}, {}) == ["a"]


# ---- validation ----

@pytest.mark.parametrize(("definition", "expected"), [
    (workflow(), "no tasks"),
    (workflow(task("a"), task("a", name="other")), "'a' is used more than once"),
    (workflow(task("a", inputParameters={"v": "${missing.output.value}"})), "no task has taskReferenceName 'missing'"),
    (workflow(task("a"), outputParameters={"r": "${ghost.output.r}"}), "'ghost'"),
    (workflow({"name": "x", "type": "SIMPLE"}), "has no taskReferenceName"),
])
def test_semantic_errors(definition, expected):
    errors = d.validate_workflow_definition(definition)
    assert any(expected in e for e in errors), errors


def test_valid_references_nested_tasks_and_workflow_inputs_pass():
    switch = {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
              "expression": "kind", "decisionCases": {"big": [task("big_one")]},
              "defaultCase": [task("small_one", inputParameters={"x": "${big_one.output.y}"})]}
    definition = workflow(task("a", inputParameters={"id": "${workflow.input.id}"}), switch,
                          task("b", inputParameters={"r": "${a.output.r}", "t": "${CPEWF_TASK_ID}"}))
    assert d.validate_workflow_definition(definition) == []


def test_duplicate_ref_inside_fork_branch_is_found():
    fork = {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[task("a")], [task("a")]]}
    assert any("'a'" in e for e in d.validate_workflow_definition(workflow(fork)))


def test_sub_workflow_pins():
    sub = {"name": "child", "taskReferenceName": "child_ref", "type": "SUB_WORKFLOW"}
    definition = workflow({**sub, "subWorkflowParam": {"name": "child"}},
                          {**sub, "taskReferenceName": "pinned", "subWorkflowParam": {"name": "child", "version": 3}},
                          {**sub, "taskReferenceName": "zero", "subWorkflowParam": {"name": "child", "version": 0}})
    assert d.unpinned_sub_workflows(definition) == ["child_ref", "zero"]
    assert d.pinned_sub_workflow_refs(definition) == [("child", 3)]


# ---- planning ----

POLICY = d.DefinitionPolicy()


def test_not_in_conductor_registers():
    desired = workflow(task("a"))
    plan = d.plan_definition(desired, None, None, POLICY, label=LABEL)
    assert plan.action is d.Action.REGISTER
    assert plan.content_hash == d.content_hash(desired)
    assert conditions(plan)["Ready"] == ("True", d.REASON_REGISTERED)
    assert conditions(plan)["Registered"][0] == "True"
    assert [e.reason for e in plan.events] == [d.REASON_REGISTERED]


def test_matching_copy_needs_nothing_and_adopts_the_hash():
    desired = workflow(task("a"))
    plan = d.plan_definition(desired, None, server_copy(desired), POLICY, label=LABEL)
    assert plan.action is d.Action.NONE
    assert plan.content_hash == d.content_hash(desired)
    assert conditions(plan)["Ready"] == ("True", d.REASON_ADOPTED)
    assert plan.registered is True and conditions(plan)["Registered"] == ("True", d.REASON_REGISTERED)
    ready = next(c for c in plan.conditions if c.type == "Ready")
    assert "already registered in Conductor with identical content" in ready.message
    assert [(e.type, e.reason) for e in plan.events] == [("Normal", d.REASON_ADOPTED)]


def test_an_adopted_copy_is_in_sync_at_the_next_check():
    desired = workflow(task("a"))
    plan = d.plan_definition(desired, d.content_hash(desired), server_copy(desired), POLICY, label=LABEL)
    assert (plan.action, conditions(plan)["Ready"], plan.events) == (d.Action.NONE, ("True", d.REASON_IN_SYNC), [])


def test_an_unversioned_task_definition_is_adopted_too():
    desired = {"name": "charge", "retryCount": 2}
    plan = d.plan_definition(desired, None, {**desired, "createTime": 1, "timeoutSeconds": 0}, POLICY,
                             label="task definition charge", versioned=False)
    assert (plan.action, conditions(plan)["Ready"]) == (d.Action.NONE, ("True", d.REASON_ADOPTED))


def test_drift_is_reapplied_by_default():
    desired = workflow(task("a"))
    edited = server_copy(workflow(task("a"), task("sneaky")))
    plan = d.plan_definition(desired, d.content_hash(desired), edited, POLICY, label=LABEL)
    assert plan.action is d.Action.REGISTER
    assert conditions(plan)["Ready"] == ("True", d.REASON_DRIFT_REPAIRED)
    assert plan.events[0].type == "Warning" and "tasks" in plan.events[0].message


def test_drift_is_only_reported_when_the_policy_says_so():
    desired = workflow(task("a"))
    edited = server_copy(workflow(task("a"), task("sneaky")))
    plan = d.plan_definition(desired, d.content_hash(desired), edited, d.DefinitionPolicy(on_drift="Report"),
                             label=LABEL)
    assert plan.action is d.Action.NONE
    assert conditions(plan)["Drifted"] == ("True", d.REASON_DRIFT_REPORTED)
    assert conditions(plan)["Ready"][0] == "True"
    assert plan.content_hash == d.content_hash(desired)


def test_in_place_change_of_a_registered_version_is_refused():
    old = workflow(task("a"))
    new = workflow(task("a"), task("b"))
    plan = d.plan_definition(new, d.content_hash(old), server_copy(old), POLICY, label=LABEL)
    assert plan.action is d.Action.NONE
    assert conditions(plan)["Stalled"] == ("True", d.REASON_IN_PLACE_CHANGE_REFUSED)
    assert conditions(plan)["Ready"][0] == "False"
    assert plan.content_hash == d.content_hash(old), "the previous registration stays recorded"
    assert "new version" in plan.conditions[0].message


def test_foreign_content_under_the_same_version_is_refused_too():
    plan = d.plan_definition(workflow(task("a")), None, server_copy(workflow(task("z"))), POLICY, label=LABEL)
    assert conditions(plan)["Stalled"] == ("True", d.REASON_IN_PLACE_CHANGE_REFUSED)
    assert plan.content_hash is None


def test_a_version_a_rollback_republished_says_so_and_asks_for_the_next_free_version():
    marker = d.republish_marker(1, "team-a", "to-v2")
    republished = server_copy(workflow(task("a"), description=f"first flow {marker}"))
    assert d.republished_by(republished) == "v1's content, republished by MigrationPlan team-a/to-v2"
    plan = d.plan_definition(workflow(task("a"), task("b")), None, republished, d.DefinitionPolicy(), label=LABEL)
    assert plan.action is d.Action.NONE
    assert conditions(plan)["Stalled"] == ("True", d.REASON_IN_PLACE_CHANGE_REFUSED)
    message = next(c.message for c in plan.conditions if c.type == "Stalled")
    assert message == ("workflow order v1 is already registered in Conductor with v1's content, republished by "
                       "MigrationPlan team-a/to-v2 in a rollback, and executions may run on it: give this "
                       "definition the next free version")
    assert d.republished_by(server_copy(workflow(task("a"), description="[republished by hand]"))) is None


def test_in_place_change_allowed_by_policy_registers_with_a_warning():
    old = workflow(task("a"))
    new = workflow(task("a"), task("b"))
    plan = d.plan_definition(new, d.content_hash(old), server_copy(old), d.DefinitionPolicy(in_place_change="Allow"),
                             label=LABEL)
    assert plan.action is d.Action.REGISTER
    assert plan.content_hash == d.content_hash(new)
    assert plan.events[0].type == "Warning"


def test_errors_block_registration_and_keep_the_previous_one():
    previous = d.content_hash(workflow(task("a")))
    plan = d.plan_definition(workflow(), previous, server_copy(workflow(task("a"))), POLICY, label=LABEL,
                             errors=["the workflow has no tasks"])
    assert plan.action is d.Action.NONE
    assert plan.content_hash == previous
    assert conditions(plan)["Stalled"] == ("True", d.REASON_INVALID_DEFINITION)


def test_warnings_show_in_their_own_condition_without_blocking():
    plan = d.plan_definition(workflow(task("a")), None, None, POLICY, label=LABEL,
                             warnings=[(d.REASON_UNPINNED_SUB_WORKFLOW, "child floats")])
    assert plan.action is d.Action.REGISTER
    assert conditions(plan)["Warning"] == ("True", d.REASON_UNPINNED_SUB_WORKFLOW)


def test_rejection_stalls_and_keeps_the_previous_hash():
    plan = d.rejected(label=LABEL, message="tasks: bad", registered=True, recorded_hash="sha256:old")
    assert conditions(plan)["Stalled"] == ("True", d.REASON_REJECTED)
    assert plan.content_hash == "sha256:old"
    assert "tasks: bad" in plan.events[0].message


def test_unavailable_keeps_last_good_conditions():
    previous = [{"type": "Ready", "status": "True", "reason": "InSync", "message": "ok"},
                {"type": "Reconciling", "status": "False", "reason": "Idle", "message": ""},
                {"type": "Registered", "status": "True", "reason": "Registered", "message": "yes"}]
    result = {c.type: c for c in d.unavailable(previous, "down")}
    assert result["Ready"].status == "True"
    assert result["Registered"].status == "True"
    assert (result["Reconciling"].status, result["Reconciling"].reason) == ("True", d.REASON_UNAVAILABLE)
    assert d.unavailable(None, "down")[0].status == "Unknown"


# ---- conditions ----

def test_transition_time_changes_only_when_status_flips():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = merge_conditions(None, [Condition("Ready", "True", "A", "m")], t0, 1)
    later = merge_conditions(first, [Condition("Ready", "True", "B", "other")], t0 + timedelta(hours=1), 2)
    assert later[0]["lastTransitionTime"] == first[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert later[0]["reason"] == "B" and later[0]["observedGeneration"] == 2
    flipped = merge_conditions(later, [Condition("Ready", "False", "C", "")], t0 + timedelta(hours=2), 2)
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T02:00:00Z"


def test_recomputing_the_same_status_is_identical():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    wanted = [Condition("Ready", "True", "A", "m"), Condition("Stalled", "False", "NotStalled", "")]
    first = merge_conditions(None, wanted, t0, 1)
    assert merge_conditions(first, wanted, t0 + timedelta(minutes=5), 1) == first


# ---- deletion ----

@pytest.mark.parametrize(("kwargs", "action", "words"), [
    ({"on_delete": "Retain", "registered_by_us": True, "running": 5, "referrers": []}, "Release", "kept"),
    ({"on_delete": "Delete", "registered_by_us": False, "running": 0, "referrers": []}, "Release", "never"),
    ({"on_delete": "Delete", "registered_by_us": True, "running": None, "referrers": []}, "Hold", "counted"),
    ({"on_delete": "Delete", "registered_by_us": True, "running": 2, "referrers": []}, "Hold", "2 execution"),
    ({"on_delete": "Delete", "registered_by_us": True, "running": 0, "referrers": ["parent v3"]}, "Hold",
     "parent v3"),
    ({"on_delete": "Delete", "registered_by_us": True, "running": 0, "referrers": []}, "Delete", "deleted"),
    ({"on_delete": "Delete", "registered_by_us": True, "running": 0, "referrers": [],
      "declared_by": ["WorkflowDefinition b/other"]}, "Release", "WorkflowDefinition b/other declares it too"),
])
def test_deletion(kwargs, action, words):
    plan = d.plan_deletion(label=LABEL, **kwargs)
    assert plan.action == action
    assert words in plan.message


def test_unversioned_definitions_are_simply_updated():
    old, new = {"name": "t", "retryCount": 1}, {"name": "t", "retryCount": 5}
    plan = d.plan_definition(new, d.content_hash(old), old, POLICY, label="task definition t", versioned=False)
    assert plan.action is d.Action.REGISTER
    assert conditions(plan)["Ready"] == ("True", d.REASON_UPDATED)
    assert "retryCount" in plan.events[0].message


def claim_body(spec, **metadata):
    return {"metadata": {"name": "wf", "namespace": "ns", "uid": "u1", "creationTimestamp": "2026-11-30T10:00:00Z",
                         **metadata}, "spec": spec}


@pytest.mark.parametrize(("kind", "spec", "key", "cluster"), [
    ("WorkflowDefinition", {"name": "order", "version": 2}, ("workflow", "order", 2), None),
    ("WorkflowDefinition", {"name": "order", "version": 2, "clusterRef": {"name": "prod"}},
     ("workflow", "order", 2), "prod"),
    ("TaskDefinition", {"name": "charge", "clusterRef": {}}, ("task", "charge"), None),
])
def test_a_resource_claims_the_conductor_definition_its_spec_names(kind, spec, key, cluster):
    claimed, claimant = d.claim_of(kind, claim_body(spec))
    assert claimed == key
    assert (claimant.ref, claimant.uid, claimant.cluster) == (f"{kind} ns/wf", "u1", cluster)


@pytest.mark.parametrize("spec", [None, {}, "cut", [], {"name": ""}, {"name": 3, "version": 1}, {"name": "order"},
                                  {"name": "order", "version": "2"}, {"name": "order", "version": True}])
def test_a_workflow_spec_naming_no_version_claims_nothing_and_breaks_nothing(spec):
    assert d.claim_of("WorkflowDefinition", claim_body(spec)) is None


def test_a_cluster_ref_that_is_no_object_names_no_cluster():
    assert d.claim_of("TaskDefinition", claim_body({"name": "t", "clusterRef": "prod"}))[1].cluster is None


def test_the_first_created_owns_a_definition_and_the_name_breaks_a_tie_within_a_second():
    early = d.claim_of("TaskDefinition", claim_body({"name": "t"}, name="z", creationTimestamp="2026-11-30T09:59:59Z"))
    later_a = d.claim_of("TaskDefinition", claim_body({"name": "t"}, name="a"))
    later_b = d.claim_of("TaskDefinition", claim_body({"name": "t"}, name="b"))
    ordered = sorted([later_b[1], early[1], later_a[1]], key=lambda claimant: claimant.seniority)
    assert [c.name for c in ordered] == ["z", "a", "b"]
