"""Properties of the compatibility verdict and of definition validation over generated definitions.

The definitions hypothesis draws are task trees as Conductor holds them (SIMPLE, SWITCH, FORK_JOIN with its
JOIN, DO_WHILE, SUB_WORKFLOW), nested up to the CRD's stated limit and a few dozen tasks wide, with unique
taskReferenceNames. Each property holds for every pair, whatever the table-driven tests happen to cover.
"""

from __future__ import annotations

import copy
import itertools

from conductor_operator.api.definitions import MAX_TASK_NESTING
from conductor_operator.domain import definitions as defs
from conductor_operator.domain.compatibility import (
    BREAKING,
    SAFE,
    Compatibility,
    Reason,
    compare,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = st.sampled_from(["charge", "ship", "notify", "score", "audit", "enrich"])


@st.composite
def task_lists(draw, depth: int = 0, max_size: int = 4) -> list[dict]:
    """A task list whose references are unique within the whole tree (made unique by a running counter)."""
    counter = draw(st.shared(st.builds(itertools.count), key="refs"))
    tasks: list[dict] = []
    for _ in range(draw(st.integers(1 if depth == 0 else 0, max_size))):
        ref = f"t{next(counter)}"
        nested = depth < MAX_TASK_NESTING
        kind = draw(st.sampled_from(["SIMPLE", "SIMPLE", "SUB_WORKFLOW"]
                                    + (["SWITCH", "FORK_JOIN", "DO_WHILE"] if nested else [])))
        task: dict = {"name": draw(NAMES), "taskReferenceName": ref, "type": kind,
                      "inputParameters": draw(st.dictionaries(st.sampled_from(["id", "amount", "mode"]),
                                                              st.sampled_from(["${workflow.input.id}", 1, "x"]),
                                                              max_size=2))}
        if kind == "SWITCH":
            task.update(evaluatorType="value-param", expression="mode",
                        decisionCases={case: draw(task_lists(depth + 1, 2)) for case in
                                       draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True))},
                        defaultCase=draw(task_lists(depth + 1, 2)))
        elif kind == "FORK_JOIN":
            branches = draw(st.lists(task_lists(depth + 1, 2), min_size=1, max_size=2))
            task["forkTasks"] = branches
            tasks.append(task)
            task = {"name": "join", "taskReferenceName": f"{ref}_join", "type": "JOIN",
                    "joinOn": [branch[-1]["taskReferenceName"] for branch in branches if branch]}
        elif kind == "DO_WHILE":
            task.update(loopCondition="false", loopOver=draw(task_lists(depth + 1, 2)))
        elif kind == "SUB_WORKFLOW":
            task["subWorkflowParam"] = {"name": draw(NAMES),
                                        **({"version": v} if (v := draw(st.none() | st.integers(1, 3))) else {})}
        tasks.append(task)
    return tasks


@st.composite
def definitions(draw) -> dict:
    return {"name": "orders", "version": draw(st.integers(1, 5)), "schemaVersion": 2,
            "tasks": draw(task_lists()),
            "inputParameters": draw(st.lists(st.sampled_from(["id", "amount"]), unique=True))}


@st.composite
def changed(draw, definition: dict) -> dict:
    """``definition`` after a few of the edits people make between versions, at its top level."""
    new = copy.deepcopy(definition)
    tasks = new["tasks"]
    for edit in draw(st.lists(st.sampled_from(["swap", "remove", "insert", "retype", "inputs", "pin"]),
                              min_size=1, max_size=3)):
        at = draw(st.integers(0, max(0, len(tasks) - 1)))
        if edit == "swap" and len(tasks) > 1:
            tasks[at], tasks[at - 1] = tasks[at - 1], tasks[at]
        elif edit == "remove" and len(tasks) > 1 and tasks[at]["type"] != "JOIN":
            del tasks[at]
        elif edit == "insert":
            tasks.insert(at, {"name": draw(NAMES), "taskReferenceName": f"inserted{at}_{len(tasks)}",
                              "type": "SIMPLE"})
        elif edit == "retype" and tasks[at]["type"] == "SIMPLE":
            tasks[at] = {**tasks[at], "type": "HTTP"}
        elif edit == "inputs":
            tasks[at] = {**tasks[at], "inputParameters": {"changed": draw(st.integers(0, 9))}}
        elif edit == "pin" and tasks[at]["type"] == "SUB_WORKFLOW":
            param = dict(tasks[at]["subWorkflowParam"])
            param.pop("version", None) if "version" in param else param.update(version=1)
            tasks[at] = {**tasks[at], "subWorkflowParam": param}
    return new


@st.composite
def pairs(draw) -> tuple[dict, dict]:
    """Two versions: mostly one and an edit of it, sometimes two unrelated definitions."""
    old = draw(definitions())
    return old, draw(changed(old) | definitions())


@PROPERTIES
@given(pairs())
def test_every_pair_gets_a_verdict_whose_level_is_its_worst_finding(pair):
    verdict = compare(*pair)
    assert isinstance(verdict.level, Compatibility)
    assert verdict.level == max((f.level for f in verdict.findings), default=SAFE)
    assert all(f.message and isinstance(f.reason, Reason) for f in verdict.findings)
    standing = {(w.reason, w.task_ref) for w in verdict.standing_warnings}
    assert not standing & {(f.reason, f.task_ref) for f in verdict.findings}, \
        "a risk is either shared by both versions or brought in by the change, never both"


@PROPERTIES
@given(definitions())
def test_a_definition_compared_with_itself_is_safe_with_no_findings(definition):
    verdict = compare(definition, copy.deepcopy(definition))
    assert (verdict.level, verdict.findings) == (SAFE, ())


@PROPERTIES
@given(pairs())
def test_comparing_changes_neither_definition(pair):
    before = copy.deepcopy(pair)
    compare(*pair)
    assert pair == before


@PROPERTIES
@given(definitions(), st.data())
def test_appending_is_safe_and_its_reverse_removes_and_breaks(definition, data):
    extended = copy.deepcopy(definition)
    extended["tasks"].append({"name": data.draw(NAMES), "taskReferenceName": "appended_last", "type": "SIMPLE"})
    forward, backward = compare(definition, extended), compare(extended, definition)
    assert forward.level is SAFE and [f.reason for f in forward.findings] == [Reason.TASK_APPENDED]
    assert backward.level is BREAKING
    assert [(f.reason, f.task_ref) for f in backward.findings] == [(Reason.TASK_REMOVED, "appended_last")]


@PROPERTIES
@given(pairs())
def test_a_change_and_its_reverse_agree_on_symmetric_facts(pair):
    """A task's type, its inputs and the workflow's name are differences between two versions: whichever way the
    change goes, they are found, on the same tasks unless a task was renamed (a finding names a task by the ref
    of the version moved from). A reordering is found both ways (which task counts as the one that moved may
    differ), and a task removed one way is added the other way."""
    old, new = pair
    symmetric = {Reason.TASK_TYPE_CHANGED, Reason.INPUT_MAPPING_CHANGED, Reason.WORKFLOW_RENAMED}
    forward, backward = compare(old, new).findings, compare(new, old).findings
    renamed = any(f.reason is Reason.TASK_RENAMED for f in forward)
    assert renamed == any(f.reason is Reason.TASK_RENAMED for f in backward)

    def facts(findings):
        return {(f.reason, None if renamed else f.task_ref) for f in findings if f.reason in symmetric}
    assert facts(forward) == facts(backward)
    assert any(f.reason is Reason.TASKS_REORDERED for f in forward) == \
        any(f.reason is Reason.TASKS_REORDERED for f in backward)
    added = {Reason.TASK_APPENDED, Reason.TASK_INSERTED}
    assert {f.task_ref for f in forward if f.reason is Reason.TASK_REMOVED} == \
        {f.task_ref for f in backward if f.reason in added}


@PROPERTIES
@given(definitions())
def test_validation_and_the_content_hash_take_every_generated_definition(definition):
    assert isinstance(defs.validate_workflow_definition(definition), list)
    assert defs.content_hash(definition) == defs.content_hash(copy.deepcopy(definition))
    assert len(defs.iter_tasks(definition["tasks"])) >= len(definition["tasks"])


def test_the_widest_and_deepest_definition_within_the_limits_is_judged():
    def nested(level: int) -> list[dict]:
        if level == MAX_TASK_NESTING:
            return [{"name": "leaf", "taskReferenceName": f"leaf{level}_{i}", "type": "SIMPLE"} for i in range(50)]
        return [{"name": "switch", "taskReferenceName": f"switch{level}", "type": "SWITCH",
                 "evaluatorType": "value-param", "expression": "mode",
                 "decisionCases": {"a": nested(level + 1)}, "defaultCase": []}]
    wide = [{"name": "simple", "taskReferenceName": f"w{i}", "type": "SIMPLE"} for i in range(2000)]
    old = {"name": "orders", "version": 1, "tasks": wide + nested(0)}
    new = copy.deepcopy(old)
    new["tasks"].append({"name": "simple", "taskReferenceName": "appended", "type": "SIMPLE"})
    verdict = compare(old, new)
    assert verdict.level is SAFE and [f.reason for f in verdict.findings] == [Reason.TASK_APPENDED]
    assert defs.validate_workflow_definition(new) == []
