"""domain.adoption: Conductor's definitions as manifests the operator adopts without registering them again."""

import pytest
from conductor_operator.api.definitions import TaskDefinition, WorkflowDefinition
from conductor_operator.domain import adoption as a
from conductor_operator.domain import definitions as d

# What Conductor OSS 3.32.3 answered for a task definition and a workflow registered with only a few fields.
TASK_DEF = {"createTime": 1796043920578, "updateTime": 0, "createdBy": "", "name": "charge", "retryCount": 3,
            "timeoutSeconds": 0, "inputKeys": [], "outputKeys": [], "runtimeMetadata": [],
            "timeoutPolicy": "TIME_OUT_WF", "retryLogic": "FIXED", "retryDelaySeconds": 60,
            "responseTimeoutSeconds": 3600, "inputTemplate": {}, "rateLimitPerFrequency": 0,
            "rateLimitFrequencyInSeconds": 1, "ownerEmail": "a@b.c", "backoffScaleFactor": 1,
            "maxRetryDelaySeconds": 0, "backoffJitterMs": 0, "totalTimeoutSeconds": 0,
            "taskStatusListenerEnabled": True, "enforceSchema": False}


def server_task(name, ref, **extra):
    return {"name": name, "taskReferenceName": ref, "inputParameters": {}, "type": "SIMPLE", "decisionCases": {},
            "defaultCase": [], "forkTasks": [], "startDelay": 0, "joinOn": [], "optional": False,
            "defaultExclusiveJoinTask": [], "asyncComplete": False, "loopOver": [], "onStateChange": {},
            "permissive": False, "metadata": {}, **extra}


def server_workflow(name="order_flow", version=1, tasks=None, **extra):
    return {"createTime": 0, "updateTime": 1796043920721, "name": name, "version": version,
            "tasks": tasks or [server_task("charge", "a")], "inputParameters": [], "outputParameters": {},
            "schemaVersion": 2, "restartable": True, "workflowStatusListenerEnabled": False, "ownerEmail": "a@b.c",
            "timeoutPolicy": "ALERT_ONLY", "timeoutSeconds": 0, "variables": {}, "inputTemplate": {},
            "enforceSchema": True, "metadata": {}, "maskedFields": [], **extra}


SWITCH = server_task("decide", "decide", type="SWITCH", evaluatorType="value-param", expression="k",
                     inputParameters={"k": "${workflow.input.k}", "empty": {}, "gone": None},
                     decisionCases={"x": [server_task("ship", "ship_x", optional=True)]},
                     defaultCase=[server_task("ship", "ship")])


# ---- names ----

@pytest.mark.parametrize(("conductor_name", "expected"), [
    ("orders", "orders"), ("order_flow", "order-flow"), ("customerOnboarding", "customer-onboarding"),
    ("Order Flow v2!", "order-flow-v2"), ("__x__", "x"), ("a.b", "a-b"), ("日本", ""),
])
def test_kubernetes_name(conductor_name, expected):
    assert a.kubernetes_name(conductor_name) == expected


def test_a_valid_name_keeps_itself_and_changed_names_that_collide_get_a_hash():
    names = a.resource_names(["order-flow", "order_flow", "Order_Flow", "payments"], "workflow")
    assert names["order-flow"] == "order-flow" and names["payments"] == "payments"
    assert names["order_flow"].startswith("order-flow-") and names["Order_Flow"].startswith("order-flow-")
    assert len(set(names.values())) == 4
    assert a.resource_names(["payments", "Order_Flow", "order_flow", "order-flow"], "workflow") == names


def test_only_changed_names_that_collide_get_a_hash():
    assert a.resource_names(["order_flow", "Order_Flow"], "w") == {
        "Order_Flow": "order-flow-" + a._short_hash("Order_Flow"), "order_flow": "order-flow-" +
        a._short_hash("order_flow")}
    assert a.resource_names(["order_flow"], "w") == {"order_flow": "order-flow"}


def test_empty_and_long_names():
    long_name = "x" * 255
    names = a.resource_names(["日本", "中文", long_name], "workflow")
    assert names["日本"].startswith("workflow-") and names["日本"] != names["中文"]
    assert len(names[long_name] + "-v2147483647") <= a.MAX_NAME_LENGTH
    assert names[long_name].endswith(a._short_hash(long_name))


def test_patterns():
    assert a.check_patterns(["order_*", "[ab]?"]) == ["order_*", "[ab]?"]
    for bad, expected in [("", "empty"), ("a/b", "'/'"), ("[abc", "closing ]"), ("x[", "closing ]")]:
        with pytest.raises(a.BadPattern, match=expected):
            a.check_patterns([bad])
    assert a.matches("Order", []) and not a.matches("Order", ["order"]) and a.matches("order_v2", ["order_*"])


# ---- bodies ----

def test_a_manifest_declares_what_conductor_holds_less_the_noise():
    result = a.adopt([server_workflow(tasks=[server_task("charge", "a"), SWITCH])], [TASK_DEF])
    workflow = next(m for m in result.manifests if m.kind == "WorkflowDefinition").body
    assert workflow["metadata"]["name"] == "order-flow-v1"
    assert workflow["spec"]["name"] == "order_flow" and workflow["spec"]["version"] == 1
    definition = workflow["spec"]["definition"]
    assert "createTime" not in definition and "maskedFields" not in definition and "variables" not in definition
    assert definition["tasks"][0] == {"name": "charge", "taskReferenceName": "a", "type": "SIMPLE"}
    switch = definition["tasks"][1]
    assert switch["inputParameters"] == {"k": "${workflow.input.k}", "empty": {}}, "free-form {} kept, null dropped"
    assert switch["decisionCases"]["x"] == [{"name": "ship", "taskReferenceName": "ship_x", "type": "SIMPLE",
                                             "optional": True}]
    assert switch["defaultCase"] == [{"name": "ship", "taskReferenceName": "ship", "type": "SIMPLE"}]
    assert (definition["timeoutPolicy"], definition["restartable"], definition["ownerEmail"]) == (
        "ALERT_ONLY", True, "a@b.c")
    task = next(m for m in result.manifests if m.kind == "TaskDefinition").body
    assert task["metadata"]["name"] == "charge"
    assert set(task["spec"]["definition"]) <= a.TASK_DEF_FIELDS
    assert task["spec"]["definition"]["responseTimeoutSeconds"] == 3600
    assert result.notes == [] and result.skipped == []


@pytest.mark.parametrize("cluster", ["default", "prod"])
def test_each_manifest_is_adopted_by_the_operator(cluster):
    """What the operator makes of each manifest equals Conductor's copy: plan_definition says Adopted."""
    workflows = [server_workflow(version=1), server_workflow(version=2, tasks=[server_task("charge", "a"), SWITCH])]
    task_defs = [TASK_DEF, {**TASK_DEF, "name": "ship"}]
    result = a.adopt(workflows, task_defs, cluster=cluster)
    assert [(m.kind, m.name) for m in result.manifests] == [
        ("TaskDefinition", "charge"), ("TaskDefinition", "ship"),
        ("WorkflowDefinition", "order-flow-v1"), ("WorkflowDefinition", "order-flow-v2")]
    observed = {"charge": task_defs[0], "ship": task_defs[1], 1: workflows[0], 2: workflows[1]}
    for manifest in result.manifests:
        spec = manifest.body["spec"]
        assert ("clusterRef" in spec) == (cluster != "default")
        if manifest.kind == "TaskDefinition":
            resource = TaskDefinition.from_body(manifest.body)
            desired = d.desired_task_definition(spec["name"], resource.spec.definition.to_dict())
            copy = observed[spec["name"]]
        else:
            resource = WorkflowDefinition.from_body(manifest.body)
            desired = d.desired_workflow_definition(spec["name"], spec["version"], spec["definition"])
            copy = observed[spec["version"]]
        plan = d.plan_definition(desired, None, copy, d.DefinitionPolicy(), label=manifest.label,
                                 versioned=manifest.kind == "WorkflowDefinition")
        assert plan.action is d.Action.NONE
        assert plan.conditions[0].reason == d.REASON_ADOPTED, manifest.label


def test_fields_the_schema_lacks_are_named_when_they_hold_more_than_the_default():
    result = a.adopt([server_workflow(maskedFields=["card"])],
                     [{**TASK_DEF, "totalTimeoutSeconds": 900, "backoffScaleFactor": 1}])
    assert len(result.notes) == 2
    assert result.notes[0].startswith("task definition charge: totalTimeoutSeconds not in the TaskDefinition schema")
    assert result.notes[1].startswith("workflow order_flow v1: maskedFields not in the WorkflowDefinition schema")


def test_task_definitions_are_those_the_chosen_workflows_use_unless_all_are_asked_for():
    workflows = [server_workflow(tasks=[SWITCH]), server_workflow("refunds", tasks=[server_task("refund", "r")])]
    task_defs = [{**TASK_DEF, "name": n} for n in ("ship", "refund", "unused", "decide")]
    chosen = a.adopt(workflows, task_defs, patterns=["order_*"])
    assert sorted(m.name for m in chosen.manifests if m.kind == "TaskDefinition") == ["decide", "ship"]
    assert [m.name for m in chosen.manifests if m.kind == "WorkflowDefinition"] == ["order-flow-v1"]
    every = a.adopt(workflows, task_defs, patterns=["order_*"], all_task_defs=True)
    assert every.count("TaskDefinition") == 4


def test_definitions_the_operator_would_refuse_are_skipped_with_the_reason():
    duplicate = server_workflow("dup", tasks=[server_task("a", "x"), server_task("b", "x")])
    bad_task = {**TASK_DEF, "name": "zero", "responseTimeoutSeconds": 0}
    result = a.adopt([duplicate, server_workflow()], [bad_task], all_task_defs=True)
    assert [m.name for m in result.manifests] == ["order-flow-v1"]
    assert result.skipped[0].startswith("task definition zero: the TaskDefinition schema refuses it")
    assert result.skipped[1].startswith("workflow dup v1: the operator would refuse it (taskReferenceName 'x'")


def test_cluster_manifest():
    assert a.cluster_manifest("default", "http://c:8080") == {
        "apiVersion": "conductor-operator.io/v1alpha1", "kind": "ConductorCluster", "metadata": {"name": "default"},
        "spec": {"url": "http://c:8080"}}
    keyed = a.cluster_manifest("prod", "https://x.orkesconductor.io", "prod-conductor-key")
    assert keyed["spec"]["auth"] == {"secretRef": {"name": "prod-conductor-key"}}


def test_null_members_of_objects_go_as_the_api_server_drops_them_and_list_items_stay():
    tasks = [server_task("charge", "a", inputParameters={"l": [1, None, {"x": None, "y": 2}], "n": None})]
    result = a.adopt([server_workflow(tasks=tasks, description=None)], [])
    definition = result.manifests[0].body["spec"]["definition"]
    assert definition["tasks"][0]["inputParameters"] == {"l": [1, None, {"y": 2}]}
    assert "description" not in definition
