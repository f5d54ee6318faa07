"""Hostile input, the pure parts: definitions nested past every limit, cycles of pinned sub-workflows, numbers
Conductor cannot hold, settings the operator would not honour, and what kopf reads and stores.

The same cases against the real API server and operator are in tests/e2e/test_hostile_definitions_real.py.
"""

from __future__ import annotations

import json

import kopf
import pytest
from conductor_operator.api.cluster import ConductorCluster
from conductor_operator.api.definitions import MAX_DEFINITION_DEPTH, MAX_TASK_NESTING, WorkflowDefinition
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain import definitions as defs
from pydantic import ValidationError


def switch_in_switch(depth: int) -> dict:
    """A definition whose SWITCH holds a SWITCH ... ``depth`` deep (about three JSON levels each)."""
    task: dict = {"name": "leaf", "taskReferenceName": "leaf", "type": "SIMPLE"}
    for level in range(depth):
        task = {"name": f"s{level}", "taskReferenceName": f"s{level}", "type": "SWITCH", "evaluatorType": "value-param",
                "expression": "x", "inputParameters": {"x": "a"}, "decisionCases": {"a": [task]}}
    return {"tasks": [task]}


def nested_value(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# ---- walking any depth -------------------------------------------------------------------------------------

def test_every_walk_of_the_tasks_survives_any_depth():
    definition = switch_in_switch(3000)
    tasks = defs.iter_tasks(definition["tasks"])
    assert len(tasks) == 3001 and tasks[0]["taskReferenceName"] == "s2999" and tasks[-1]["name"] == "leaf"
    assert defs.task_nesting(definition["tasks"]) == 3000
    assert defs.json_depth(definition) > 9000
    assert defs.unpinned_sub_workflows(definition) == [] and defs.pinned_sub_workflow_refs(definition) == []


def test_iter_tasks_keeps_document_order():
    def ref(name, **nested):
        return {"taskReferenceName": name, **nested}

    definition = {"tasks": [
        ref("a", decisionCases={"x": [ref("b")], "y": [ref("c")]}, defaultCase=[ref("d")]),
        ref("e", forkTasks=[[ref("f")], [ref("g", loopOver=[ref("h")])]]),
        "not a task", ref("i", decisionCases="not cases", loopOver=None)]}
    assert [t["taskReferenceName"] for t in defs.iter_tasks(definition["tasks"])] == list("abcdefghi")


def test_a_definition_past_the_limits_is_refused_naming_the_limit():
    too_deep = defs.validate_workflow_definition(switch_in_switch(200))
    assert len(too_deep) == 1 and f"the limit is {MAX_DEFINITION_DEPTH}" in too_deep[0], too_deep
    assert "spec.definition nests" in too_deep[0] and "sub-workflow" in too_deep[0]
    nested = defs.validate_workflow_definition(switch_in_switch(MAX_TASK_NESTING + 1))
    assert nested == [f"spec.definition nests tasks {MAX_TASK_NESTING + 1} levels deep (a SWITCH, FORK_JOIN or "
                      f"DO_WHILE inside another); the limit is {MAX_TASK_NESTING}: move the inner tasks into a "
                      f"sub-workflow"]
    assert defs.validate_workflow_definition(switch_in_switch(MAX_TASK_NESTING)) == []
    free_form = {"tasks": [{"name": "a", "taskReferenceName": "a", "inputParameters": nested_value(70)}]}
    assert "nests 73 JSON levels deep" in defs.depth_error(free_form, "the definition in ConfigMap c key k")


def test_depth_is_read_from_text_without_decoding_it():
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    assert defs.json_text_depth(deep) == 5000
    assert defs.json_text_depth('{"a": "[[[{{{", "b": "\\"[[", "c": [1, {"d": []}]}') == 4
    assert defs.json_text_depth("1") == 0
    error = defs.text_depth_error(deep, "the definition in ConfigMap c key k")
    assert error.startswith("the definition in ConfigMap c key k nests 5000 JSON levels deep; the limit is 64")
    assert defs.text_depth_error(json.dumps(switch_in_switch(MAX_TASK_NESTING)), "x") is None


def test_cutting_what_nests_too_deep():
    text = json.dumps({"type": "ADDED", "object": {"spec": {"s": "]]}}", "a": [[[[1]]], {"b": {"c": 2}}]}}})
    assert defs.cut_deep_json(text, 10, "CUT") is text
    cut = json.loads(defs.cut_deep_json(text, 5, "CUT"))
    assert cut == {"type": "ADDED", "object": {"spec": {"s": "]]}}", "a": [["CUT"], {"b": "CUT"}]}}}
    assert json.loads(defs.cut_deep_json(text, 4, "CUT"))["object"]["spec"]["a"] == ["CUT", "CUT"]
    assert defs.find_string(cut, "CUT") == "object.spec.a[0][0]"
    assert defs.find_string(cut, "nothing") is None
    deep = '{"object":{"spec":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}}"
    assert json.loads(defs.cut_deep_json(deep, 4, "CUT")) == {"object": {"spec": {"a": {"a": "CUT"}}}}


# ---- cycles of pinned sub-workflows ------------------------------------------------------------------------

def pinning(*refs: tuple[str, int]) -> list[dict]:
    return [{"name": f"call_{name}", "taskReferenceName": f"call_{name}_{version}", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": name, "version": version}} for name, version in refs]


def test_a_workflow_starting_itself_is_a_cycle():
    definition = {"name": "a", "version": 1, "tasks": pinning(("a", 1))}
    start = ("a", 1)
    cycle = defs.sub_workflow_cycle(start, {start: defs.pinned_sub_workflow_refs(definition)})
    assert cycle == [("a", 1), ("a", 1)]
    reason, message = defs.cycle_warning(cycle)
    assert reason == "SubWorkflowCycle"
    assert message.startswith("pinned sub-workflows form a cycle (a v1 -> a v1): each execution starts itself")


def test_a_cycle_across_definitions_is_found_with_its_shortest_chain():
    graph = {("a", 1): [("x", 1), ("b", 1)], ("b", 1): [("c", 2)], ("c", 2): [("a", 1), ("a", 2)],
             ("x", 1): [("y", 1)], ("y", 1): [("x", 1)]}
    cycle = defs.sub_workflow_cycle(("a", 1), graph)
    assert cycle == [("a", 1), ("b", 1), ("c", 2), ("a", 1)]
    assert "(a v1 -> b v1 -> c v2 -> a v1)" in defs.cycle_warning(cycle)[1]
    assert defs.sub_workflow_cycle(("x", 1), graph) == [("x", 1), ("y", 1), ("x", 1)]
    assert defs.sub_workflow_cycle(("a", 2), graph) is None
    assert defs.sub_workflow_cycle(("b", 1), {("b", 1): [("c", 2)]}) is None, "an unknown child ends the search"


# ---- numbers and settings the operator would not honour ------------------------------------------------------

WORKFLOW = {"metadata": {"name": "w"}, "spec": {"name": "w", "version": 1, "definition": {
    "tasks": [{"name": "a", "taskReferenceName": "a"}]}}}
PLAN = {"metadata": {"name": "p"}, "spec": {"workflowName": "w", "from": {"versions": [1]},
                                            "to": {"workflowDefinitionRef": {"name": "w2"}},
                                            "strategy": {"parallel": {}}}}


def with_spec(body: dict, **spec) -> dict:
    return {**body, "spec": {**body["spec"], **spec}}


def refusal(model, body: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        model.from_body(body)
    return str(caught.value)


def test_versions_conductor_cannot_hold_are_refused():
    assert WorkflowDefinition.from_body(with_spec(WORKFLOW, version=2**31 - 1)).spec.version == 2**31 - 1
    assert "less than or equal to 2147483647" in refusal(WorkflowDefinition, with_spec(WORKFLOW, version=2**31))
    too_high = with_spec(PLAN, **{"from": {"versions": [2**31]}})
    assert "less than or equal to 2147483647" in refusal(MigrationPlan, too_high)


@pytest.mark.parametrize(("detection", "message"), [
    ({"interval": "0s"}, "spec.drainDetection.interval must be longer than 0s"),
    ({"gracePeriod": "0ms"}, "spec.drainDetection.gracePeriod must be longer than 0s"),
    ({"consecutiveZeroReadings": 1}, "spec.drainDetection.consecutiveZeroReadings must be at least 2"),
])
def test_a_drain_judged_on_nothing_is_refused(detection, message):
    assert message in refusal(MigrationPlan, with_spec(PLAN, drainDetection=detection))


def test_wave_steps_must_rise():
    def waves(*percents):
        return with_spec(PLAN, strategy={"upgradeWaves": {"steps": [{"percent": p} for p in percents]}})

    assert MigrationPlan.from_body(waves(10, 60, 100)).spec.strategy.upgrade_waves.steps[1].percent == 60
    assert "steps must rise: each step's percent higher than the one before; found 60, 30" in refusal(
        MigrationPlan, waves(60, 30))
    assert "steps must rise" in refusal(MigrationPlan, waves(50, 50))


def test_zero_timeouts_are_refused():
    cluster = {"metadata": {"name": "c"}, "spec": {"url": "http://c"}}
    assert ConductorCluster.from_body(cluster).spec.timeouts.request == "30s"
    for field in ("connect", "request"):
        assert f"spec.timeouts.{field} must be longer than 0s" in refusal(
            ConductorCluster, with_spec(cluster, timeouts={field: "0s"}))


def test_the_crd_describes_nested_tasks_to_the_limit_and_refuses_deeper():
    from conductor_operator.api.crdgen import render_crd

    spec = render_crd(WorkflowDefinition)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    task = spec["properties"]["definition"]["properties"]["tasks"]["items"]
    path = []
    for level in range(1, MAX_TASK_NESTING + 1):
        cases = task["properties"]["decisionCases"]
        assert cases["description"] == f"SWITCH: the tasks of each case (nesting level {level} of {MAX_TASK_NESTING})."
        task = cases["additionalProperties"]["items"]
        path.append(level)
    for key in ("defaultCase", "loopOver"):
        assert task["properties"][key]["maxItems"] == 0
    assert task["properties"]["decisionCases"]["additionalProperties"]["maxItems"] == 0
    assert task["properties"]["forkTasks"]["items"]["maxItems"] == 0
    assert f"Tasks nest at most {MAX_TASK_NESTING} levels deep" in spec["properties"]["definition"]["description"]
    assert f"at most {MAX_DEFINITION_DEPTH} JSON levels" in spec["properties"]["definitionFrom"]["description"]
    assert spec["properties"]["version"]["maximum"] == 2**31 - 1


# ---- what kopf reads and stores ------------------------------------------------------------------------------

def test_kopf_reads_a_deep_object_as_a_note_of_where_it_was_cut():
    from conductor_operator.handlers import read_json

    deep = ('{"kind":"WorkflowDefinition","metadata":{"name":"deep"},"spec":{"name":"w","version":1,"definition":'
            '{"tasks":[{"name":"a","taskReferenceName":"a","inputParameters":' + '{"a":' * 3000 + "1" + "}" * 3000
            + "}]}}}")
    text = '{"type":"ADDED","object":' + deep + "}"
    with pytest.raises(RecursionError):
        json.loads(text)
    read = read_json(text.encode())
    assert read == {"type": "ADDED", "object": {"kind": "WorkflowDefinition", "metadata": {"name": "deep"}, "spec": {
        defs.TOO_DEEP_KEY: "spec.definition.tasks[0].inputParameters" + ".a" * (defs.MAX_OBJECT_DEPTH - 4)}}}
    # (the event is level 1, the object 2, inputParameters 7: what is deeper than the object's level 100 goes)
    healthy = {"kind": "WorkflowDefinition", "metadata": {"name": "ok"}, "spec": WORKFLOW["spec"]}
    listed = read_json('{"kind":"List","items":[' + json.dumps(healthy) + "," + deep + "]}")
    assert listed["items"][0] == healthy and list(listed["items"][1]["spec"]) == [defs.TOO_DEEP_KEY]
    assert read_json(json.dumps(healthy)) == healthy


def test_the_diff_base_is_a_hash_and_the_old_annotation_goes():
    from conductor_operator.handlers import HashDiffBaseStorage

    storage = HashDiffBaseStorage(prefix="conductor-operator.io")
    big = {"tasks": [{"name": "a", "taskReferenceName": "a", "description": "x" * 400_000}]}
    body = kopf.Body({"metadata": {"name": "w", "annotations": {"team": "a"}}, "spec": {"definition": big}})
    assert storage.fetch(body=body) is None, "never handled: a creation"
    essence = storage.build(body=body)
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=essence)
    stored = patch["metadata"]["annotations"]["conductor-operator.io/last-handled-hash"]
    assert stored.startswith("sha256:") and len(json.dumps(dict(patch))) < 300

    handled = kopf.Body({"metadata": {"name": "w", "annotations": {"team": "a", **patch["metadata"]["annotations"]}},
                         "spec": {"definition": big}, "status": {"anything": 1}})
    assert storage.fetch(body=handled) == storage.build(body=handled), "unchanged: no diff"
    changed = kopf.Body({**handled, "spec": {"definition": {"tasks": []}}})
    assert storage.fetch(body=changed) == {}, "changed: a diff against nothing"

    legacy_essence = {"spec": {"definition": {"tasks": []}}, "metadata": {"annotations": {"team": "a"}}}
    legacy = kopf.Body({"metadata": {"name": "w", "annotations": {
        "team": "a", "conductor-operator.io/last-handled-configuration": json.dumps(legacy_essence)}},
        "spec": {"definition": big}})
    assert storage.fetch(body=legacy) == legacy_essence, "an object handled before keeps its diff base"
    assert "conductor-operator.io/last-handled-configuration" not in json.dumps(storage.build(body=legacy))
    patch = kopf.Patch()
    storage.store(body=legacy, patch=patch, essence=storage.build(body=legacy))
    assert patch["metadata"]["annotations"]["conductor-operator.io/last-handled-configuration"] is None


def test_kopf_keeps_no_copy_of_what_kubectl_apply_applied():
    from conductor_operator.handlers import LAST_APPLIED, read_json

    applied = {"metadata": {"name": "wf", "annotations": {LAST_APPLIED: '{"spec": {"big": "..."}}', "team": "a"}},
               "spec": {"name": "order"}}
    event = read_json(json.dumps({"type": "MODIFIED", "object": applied}))
    assert event["object"]["metadata"]["annotations"] == {"team": "a"}
    listed = read_json(json.dumps({"kind": "List", "items": [applied, {"metadata": {}}, 3]}))
    assert listed["items"][0]["metadata"]["annotations"] == {"team": "a"}
    assert read_json(json.dumps(applied))["spec"] == {"name": "order"}
    assert read_json("[1, 2]") == [1, 2]
