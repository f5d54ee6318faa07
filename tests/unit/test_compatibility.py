import ast
import copy
import dataclasses
import re
import sys
from pathlib import Path

import pytest
from conductor_operator.domain import compatibility
from conductor_operator.domain.compatibility import (
    BREAKING,
    CAUTION,
    PROPERTY_REASONS,
    REASON_LEVELS,
    SAFE,
    Compatibility,
    Finding,
    InvalidDefinition,
    Reason,
    StandingWarning,
    Verdict,
    compare,
)

# ---- building definitions ----------------------------------------------------------------------


def wf(*tasks, name="order", **extra):
    return {"name": name, "version": 1, "tasks": list(tasks), **extra}


def task(ref, name=None, **extra):
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE", **extra}


def switch(ref, cases, default=(), **extra):
    return {"name": ref, "taskReferenceName": ref, "type": "SWITCH", "evaluatorType": "value-param",
            "expression": "size", "decisionCases": cases, "defaultCase": list(default), **extra}


def decision(ref, cases, **extra):
    return {"name": ref, "taskReferenceName": ref, "type": "DECISION", "caseValueParam": "size",
            "decisionCases": cases, **extra}


def fork(ref, *branches):
    return {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": [list(b) for b in branches]}


def join(ref, *on):
    return {"name": ref, "taskReferenceName": ref, "type": "JOIN", "joinOn": list(on)}


def loop(ref, body, condition="$.loop['iteration'] < 3"):
    return {"name": ref, "taskReferenceName": ref, "type": "DO_WHILE", "loopCondition": condition,
            "loopOver": list(body)}


def sub(ref, child="child", **param):
    return {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": child, **param}}


def summary(verdict):
    return [(f.level, f.reason, f.task_ref) for f in verdict.findings]


def standing(verdict):
    return [(w.reason, w.task_ref) for w in verdict.standing_warnings]


ABC = wf(task("a"), task("b"), task("c"))

# ---- one table for the rules: (old, new, expected findings) ------------------------------------

RULES = [
    # -- nothing that matters
    pytest.param(ABC, copy.deepcopy(ABC), [], id="identical"),
    pytest.param(ABC, {**ABC, "version": 7, "createTime": 1, "updateTime": 2, "ownerEmail": "x@y.z",
                       "description": "new words"}, [], id="bookkeeping-fields-ignored"),
    pytest.param(wf(task("a")),
                 wf({**task("a"), "inputParameters": {}, "optional": False, "startDelay": 0, "decisionCases": {},
                     "description": "other"}, restartable=True, timeoutSeconds=0, schemaVersion=2),
                 [], id="server-defaults-are-no-change"),
    pytest.param(wf(task("a"), enforceSchema=True, workflowStatusListenerEnabled=False, variables={},
                    inputTemplate={}, metadata={}, maskedFields=[], timeoutPolicy="ALERT_ONLY"),
                 wf(task("a")), [], id="a-server-copy-against-a-file"),
    pytest.param(wf({"name": "a", "taskReferenceName": "a"}), wf(task("a")), [], id="absent-type-is-simple"),

    # -- adding tasks
    pytest.param(ABC, wf(task("a"), task("b"), task("c"), task("d")),
                 [(SAFE, Reason.TASK_APPENDED, "d")], id="appended-at-top-level"),
    pytest.param(ABC, wf(task("a"), task("b"), task("c"), task("d"), task("e")),
                 [(SAFE, Reason.TASK_APPENDED, "d"), (SAFE, Reason.TASK_APPENDED, "e")], id="two-appended"),
    pytest.param(ABC, wf(task("x"), task("a"), task("b"), task("c")),
                 [(CAUTION, Reason.TASK_INSERTED, "x")], id="inserted-first"),
    pytest.param(ABC, wf(task("a"), task("x"), task("b"), task("c")),
                 [(CAUTION, Reason.TASK_INSERTED, "x")], id="inserted-between"),
    pytest.param(ABC, wf(task("a"), task("b"), task("c"), switch("route", {"big": [task("b1")]}, [task("d1")])),
                 [(SAFE, Reason.TASK_APPENDED, "route")], id="appended-switch-counts-once"),

    # -- removing and renaming
    pytest.param(ABC, wf(task("a"), task("c")), [(BREAKING, Reason.TASK_REMOVED, "b")], id="removed-middle"),
    pytest.param(ABC, wf(task("a"), task("b")), [(BREAKING, Reason.TASK_REMOVED, "c")], id="removed-last"),
    pytest.param(ABC, wf(task("a"), task("b2", name="b"), task("c")),
                 [(BREAKING, Reason.TASK_RENAMED, "b")], id="renamed"),
    pytest.param(ABC, wf(task("x"), task("a"), task("b2", name="b"), task("c")),
                 [(CAUTION, Reason.TASK_INSERTED, "x"), (BREAKING, Reason.TASK_RENAMED, "b")],
                 id="renamed-after-an-insert"),
    pytest.param(ABC, wf(task("a"), task("b2", name="other"), task("c")),
                 [(BREAKING, Reason.TASK_REMOVED, "b"), (CAUTION, Reason.TASK_INSERTED, "b2")],
                 id="other-task-in-its-place-is-no-rename"),
    pytest.param(ABC, wf(task("a"), task("c"), task("b2", name="b")),
                 [(BREAKING, Reason.TASK_REMOVED, "b"), (SAFE, Reason.TASK_APPENDED, "b2")],
                 id="same-name-elsewhere-is-no-rename"),
    pytest.param(wf(task("a"), switch("route", {"big": [task("b1")]}, [task("d1")])),
                 wf(task("a"), {**switch("route2", {"big": [task("b1")]}, [task("d1")]), "name": "route"}),
                 [(BREAKING, Reason.TASK_RENAMED, "route")], id="renamed-parent-keeps-its-children"),
    pytest.param(wf(task("a"), switch("route", {"big": [task("b1"), task("b2")]})), wf(task("a")),
                 [(BREAKING, Reason.TASK_REMOVED, "route")], id="removed-parent-counts-once"),

    # -- order
    pytest.param(ABC, wf(task("b"), task("a"), task("c")), [(CAUTION, Reason.TASKS_REORDERED, "b")],
                 id="swapped"),
    pytest.param(ABC, wf(task("c"), task("a"), task("b")), [(CAUTION, Reason.TASKS_REORDERED, "c")],
                 id="last-moved-first"),
    pytest.param(wf(task("a"), switch("route", {"big": [task("x")], "small": [task("y")]})),
                 wf(task("a"), switch("route", {"big": [], "small": [task("y"), task("x")]})),
                 [(CAUTION, Reason.TASKS_REORDERED, "x")], id="moved-to-another-case"),
    pytest.param(wf(fork("fork", [task("l1")], [task("r1"), task("r2")]), join("join", "l1", "r2")),
                 wf(fork("fork", [task("l1")], [task("r1")]), join("join", "l1", "r2"), task("r2")),
                 [(CAUTION, Reason.TASKS_REORDERED, "r2")], id="moved-out-of-a-fork-branch"),

    # -- one task, changed
    pytest.param(ABC, wf(task("a"), task("b", type="HTTP"), task("c")),
                 [(CAUTION, Reason.TASK_TYPE_CHANGED, "b")], id="type-changed"),
    pytest.param(ABC, wf(task("a"), task("b", name="b_v2"), task("c")),
                 [(CAUTION, Reason.TASK_DEFINITION_CHANGED, "b")], id="task-definition-changed"),
    pytest.param(ABC, wf(task("a"), task("b", inputParameters={"x": "${workflow.input.x}"}), task("c")),
                 [(SAFE, Reason.INPUT_MAPPING_CHANGED, "b")], id="input-mapping-changed"),
    pytest.param(ABC, wf(task("a"), task("b", optional=True), task("c")),
                 [(CAUTION, Reason.TASK_SETTINGS_CHANGED, "b")], id="task-setting-changed"),

    # -- branching
    pytest.param(wf(switch("route", {"big": [task("b1")]})),
                 wf(switch("route", {"big": [task("b1")], "small": []})),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "route")], id="switch-case-added"),
    pytest.param(wf(switch("route", {"big": [task("b1")], "small": [task("s1")]})),
                 wf(switch("route", {"big": [task("b1")]})),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "route"), (BREAKING, Reason.TASK_REMOVED, "s1")],
                 id="switch-case-removed-with-its-task"),
    pytest.param(wf(switch("route", {"big": []})), wf(switch("route", {"big": []}, expression="weight")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "route")], id="switch-expression-changed"),
    pytest.param(wf(switch("route", {"big": []})), wf(switch("route", {"big": []}, evaluatorType="javascript")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "route")], id="switch-evaluator-changed"),
    pytest.param(wf(decision("route", {"big": []})), wf(decision("route", {"big": []}, caseValueParam="weight")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "route")], id="decision-case-value-param-changed"),
    pytest.param(wf(fork("fork", [task("l1")], [task("r1")]), join("join", "l1", "r1")),
                 wf(fork("fork", [task("l1")], [task("r1")], [task("m1")]), join("join", "l1", "r1", "m1")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "fork"), (SAFE, Reason.TASK_APPENDED, "m1"),
                  (CAUTION, Reason.BRANCHING_CHANGED, "join")], id="fork-branch-added"),
    pytest.param(wf(fork("fork", [task("l1")], [task("r1")]), join("join", "l1", "r1")),
                 wf(fork("fork", [task("l1")], [task("r1")]), join("join", "r1")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "join")], id="join-on-changed"),
    pytest.param(wf(fork("fork", [task("l1")], [task("r1")]), join("join", "l1", "r1")),
                 wf(fork("fork", [task("l1")], [task("r1")]), join("join", "r1", "l1")),
                 [], id="join-on-order-does-not-matter"),
    pytest.param(wf(loop("loop", [task("l1")])), wf(loop("loop", [task("l1")], "$.loop['iteration'] < 5")),
                 [(CAUTION, Reason.BRANCHING_CHANGED, "loop")], id="loop-condition-changed"),

    # -- the same rules inside branches
    pytest.param(wf(switch("route", {"big": [task("b1")]})), wf(switch("route", {"big": [task("b1"), task("b2")]})),
                 [(SAFE, Reason.TASK_APPENDED, "b2")], id="appended-inside-a-case"),
    pytest.param(wf(switch("route", {}, [task("d1")])), wf(switch("route", {}, [task("d0"), task("d1")])),
                 [(CAUTION, Reason.TASK_INSERTED, "d0")], id="inserted-in-default-case"),
    pytest.param(wf(loop("loop", [task("l1"), task("l2")])), wf(loop("loop", [task("l1"), task("x"), task("l2")])),
                 [(CAUTION, Reason.TASK_INSERTED, "x")], id="inserted-in-a-loop-body"),
    pytest.param(wf(fork("fork", [task("l1"), task("l2")], [task("r1")]), join("join", "l2", "r1")),
                 wf(fork("fork", [task("l1")], [task("r1")]), join("join", "l2", "r1")),
                 [(BREAKING, Reason.TASK_REMOVED, "l2")], id="removed-inside-a-fork-branch"),
    pytest.param(wf(fork("fork", [task("l1")], [task("r1")])), wf(fork("fork", [task("l1")], [task("r2", "r1")])),
                 [(BREAKING, Reason.TASK_RENAMED, "r1")], id="renamed-inside-a-fork-branch"),
    pytest.param(wf(loop("loop", [task("l1"), task("l2")])), wf(loop("loop", [task("l2"), task("l1")])),
                 [(CAUTION, Reason.TASKS_REORDERED, "l2")], id="reordered-inside-a-loop"),

    # -- the workflow as a whole
    pytest.param(ABC, {**ABC, "name": "order_v2"}, [(BREAKING, Reason.WORKFLOW_RENAMED, None)], id="renamed-workflow"),
    pytest.param(wf(task("a"), inputParameters=["id"]), wf(task("a"), inputParameters=["id", "region"]),
                 [(CAUTION, Reason.WORKFLOW_INPUT_CHANGED, None)], id="workflow-input-added"),
    pytest.param(wf(task("a"), inputParameters=["id", "region"]), wf(task("a"), inputParameters=["id"]),
                 [(CAUTION, Reason.WORKFLOW_INPUT_CHANGED, None)], id="workflow-input-removed"),
    pytest.param(wf(task("a"), inputSchema={"name": "order_input", "version": 1}),
                 wf(task("a"), inputSchema={"name": "order_input", "version": 2}),
                 [(CAUTION, Reason.WORKFLOW_INPUT_CHANGED, None)], id="input-schema-changed"),
    pytest.param(wf(task("a"), outputParameters={"id": "${a.output.id}"}),
                 wf(task("a"), outputParameters={"id": "${a.output.orderId}"}),
                 [(CAUTION, Reason.OUTPUT_MAPPING_CHANGED, None)], id="output-mapping-changed"),
    pytest.param(wf(task("a")), wf(task("a"), timeoutSeconds=600),
                 [(SAFE, Reason.WORKFLOW_SETTINGS_CHANGED, None)], id="workflow-setting-changed"),

    # -- sub-workflows
    pytest.param(wf(task("a")), wf(task("a"), sub("child_run")),
                 [(SAFE, Reason.TASK_APPENDED, "child_run"), (CAUTION, Reason.UNPINNED_SUB_WORKFLOW, "child_run")],
                 id="unpinned-sub-workflow-version-absent"),
    pytest.param(wf(task("a")), wf(task("a"), sub("child_run", version=None)),
                 [(SAFE, Reason.TASK_APPENDED, "child_run"), (CAUTION, Reason.UNPINNED_SUB_WORKFLOW, "child_run")],
                 id="unpinned-sub-workflow-version-null"),
    pytest.param(wf(task("a")), wf(task("a"), sub("child_run", version=0)),
                 [(SAFE, Reason.TASK_APPENDED, "child_run"), (CAUTION, Reason.UNPINNED_SUB_WORKFLOW, "child_run")],
                 id="unpinned-sub-workflow-version-0"),
    pytest.param(wf(sub("child_run")), wf(sub("child_run", version=3)),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run")], id="sub-workflow-pinned-now"),
    pytest.param(wf(sub("child_run", version=3)), wf(sub("child_run", version=3, taskToDomain={"*": "blue"})),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run")], id="sub-workflow-started-differently"),
    pytest.param(wf(sub("child_run", version=3)), wf(sub("child_run", version=3)), [], id="pinned-sub-workflow"),
    pytest.param(wf(sub("child_run", workflowDefinition={"name": "inline", "tasks": []})),
                 wf(sub("child_run", workflowDefinition={"name": "inline", "tasks": []})),
                 [], id="inline-sub-workflow-does-not-float"),
]


@pytest.mark.parametrize(("old", "new", "expected"), RULES)
def test_rules(old, new, expected):
    verdict = compare(old, new)
    assert summary(verdict) == expected
    assert verdict.level == max((level for level, _, _ in expected), default=SAFE)
    assert verdict.standing_warnings == ()


# ---- properties of a version: introduced by the change, or standing in both ----------------------
#
# A rule about a property of the new version (PROPERTY_REASONS) is a finding only when the change
# brings the property in. When the old version has it unchanged, it is a standing warning beside the
# verdict and leaves the level to the findings. (old, new, expected findings, expected standing warnings)

UNPINNED = Reason.UNPINNED_SUB_WORKFLOW
PROPERTIES = [
    # -- unchanged in both: a standing warning, the verdict is the change's alone
    pytest.param(wf(task("a"), sub("child_run")), wf(task("a"), sub("child_run"), task("b")),
                 [(SAFE, Reason.TASK_APPENDED, "b")], [(UNPINNED, "child_run")],
                 id="append-only-beside-an-unpinned-sub-workflow-is-safe"),
    pytest.param(wf(sub("child_run")), wf(sub("child_run")), [], [(UNPINNED, "child_run")],
                 id="identical-unpinned"),
    pytest.param(wf(sub("child_run", version=None)), wf(sub("child_run", version=None)), [],
                 [(UNPINNED, "child_run")], id="identical-unpinned-version-null"),
    pytest.param(wf(sub("child_run", version=0)), wf(sub("child_run", version=0), task("b")),
                 [(SAFE, Reason.TASK_APPENDED, "b")], [(UNPINNED, "child_run")], id="unpinned-version-0-in-both"),
    pytest.param(wf(task("a"), switch("route", {"big": [sub("child_run")]})),
                 wf(task("a"), switch("route", {"big": [sub("child_run")]}), task("b")),
                 [(SAFE, Reason.TASK_APPENDED, "b")], [(UNPINNED, "child_run")], id="nested-unpinned-in-both"),
    pytest.param(wf(task("a"), sub("first"), sub("second", child="other")),
                 wf(task("a"), sub("first"), sub("second", child="other"), task("b")),
                 [(SAFE, Reason.TASK_APPENDED, "b")], [(UNPINNED, "first"), (UNPINNED, "second")],
                 id="two-standing-in-document-order"),
    pytest.param(wf(sub("child_run")), wf({**sub("run_child"), "name": "child_run"}),
                 [(BREAKING, Reason.TASK_RENAMED, "child_run")], [(UNPINNED, "child_run")],
                 id="renamed-task-keeps-its-standing-warning"),
    pytest.param(wf(task("a"), sub("child_run")), wf(sub("child_run"), task("a")),
                 [(CAUTION, Reason.TASKS_REORDERED, "child_run")], [(UNPINNED, "child_run")],
                 id="moved-task-keeps-its-standing-warning"),
    pytest.param(wf(sub("child_run", taskToDomain={"*": "blue"})), wf(sub("child_run", taskToDomain={"*": "green"})),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run")], [(UNPINNED, "child_run")],
                 id="started-differently-still-the-same-floating-child"),

    # -- introduced by the change: a finding that raises the verdict
    pytest.param(wf(task("a")), wf(task("a"), sub("child_run")),
                 [(SAFE, Reason.TASK_APPENDED, "child_run"), (CAUTION, UNPINNED, "child_run")], [],
                 id="appended-unpinned-sub-workflow"),
    pytest.param(wf(sub("child_run", version=3)), wf(sub("child_run")),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run"), (CAUTION, UNPINNED, "child_run")], [],
                 id="unpinned-now-pinned-before"),
    pytest.param(wf(sub("child_run", child="x")), wf(sub("child_run", child="y")),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run"), (CAUTION, UNPINNED, "child_run")], [],
                 id="another-child-floats-now"),
    pytest.param(wf(sub("child_run", workflowDefinition={"name": "inline", "tasks": []})), wf(sub("child_run")),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run"), (CAUTION, UNPINNED, "child_run")], [],
                 id="inline-before-unpinned-now"),
    pytest.param(wf(task("child_run")), wf(sub("child_run")),
                 [(CAUTION, Reason.TASK_TYPE_CHANGED, "child_run"), (CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run"),
                  (CAUTION, UNPINNED, "child_run")], [], id="simple-task-becomes-unpinned-sub-workflow"),
    pytest.param(wf(sub("first")), wf(sub("first"), task("a"), sub("second")),
                 [(SAFE, Reason.TASK_APPENDED, "a"), (SAFE, Reason.TASK_APPENDED, "second"),
                  (CAUTION, UNPINNED, "second")], [(UNPINNED, "first")],
                 id="one-standing-one-introduced"),
    pytest.param(wf(sub("first"), task("a")), wf(sub("first"), sub("second", child="child"), task("a")),
                 [(CAUTION, Reason.TASK_INSERTED, "second"), (CAUTION, UNPINNED, "second")], [(UNPINNED, "first")],
                 id="same-child-started-by-a-new-task-is-introduced"),

    # -- gone in the new version: nothing to warn about
    pytest.param(wf(sub("child_run")), wf(sub("child_run", version=2)),
                 [(CAUTION, Reason.SUB_WORKFLOW_CHANGED, "child_run")], [], id="pinned-now"),
]


@pytest.mark.parametrize(("old", "new", "expected", "expected_standing"), PROPERTIES)
def test_properties_of_the_new_version(old, new, expected, expected_standing):
    verdict = compare(old, new)
    assert summary(verdict) == expected
    assert standing(verdict) == expected_standing
    assert verdict.level == max((level for level, _, _ in expected), default=SAFE)  # standing warnings never count


def test_each_property_reason_is_tested_on_both_sides_of_the_line():
    rows = [p.values for p in PROPERTIES]
    as_finding = {reason for _, _, expected, _ in rows for _, reason, _ in expected}
    as_standing = {reason for *_, expected_standing in rows for reason, _ in expected_standing}
    assert as_finding >= PROPERTY_REASONS
    assert as_standing == PROPERTY_REASONS


def test_only_unpinned_sub_workflows_are_properties_of_the_new_version():
    # Every other rule compares old with new. A changed shared task definition is part of the change
    # itself: a finding even when old and new use it alike (test_changed_task_definition_used_by_the_new_version).
    assert {Reason.UNPINNED_SUB_WORKFLOW} == PROPERTY_REASONS
    assert {reason for reason, *_ in compatibility._PROPERTY_RULES} == PROPERTY_REASONS


def test_standing_warnings_say_the_old_version_has_it_too_and_findings_say_now():
    [warning] = compare(wf(sub("child_run")), wf(sub("child_run"))).standing_warnings
    assert isinstance(warning, StandingWarning)
    assert warning.message == ("Task 'child_run' starts sub-workflow 'child' with no pinned version in the old "
                               "version and the new alike, so it runs whatever version of 'child' is the latest "
                               "when the task starts; this change does not alter that (pin "
                               "subWorkflowParam.version to end it).")
    [_, finding] = compare(wf(task("a")), wf(task("a"), sub("child_run"))).findings
    assert finding.message == ("Task 'child_run' now starts sub-workflow 'child' with no pinned version, so it runs "
                               "whatever version of 'child' is the latest when the task starts.")


def test_the_issue_case_an_append_only_change_is_safe_beside_a_standing_unpinned_sub_workflow():
    old = wf(task("a"), sub("child_run"), task("b"))
    new = wf(task("a"), sub("child_run"), task("b"), task("c"))
    verdict = compare(old, new)
    assert verdict.level is SAFE
    assert verdict.allows("upgradeWaves")
    assert [w.reason for w in verdict.standing_warnings] == [Reason.UNPINNED_SUB_WORKFLOW]


def test_every_reason_is_exercised_by_the_table():
    covered = {reason for *_, expected in (p.values for p in RULES) for _, reason, _ in expected}
    assert set(Reason) - covered == {Reason.SHARED_TASK_DEFINITION_CHANGED}  # needs an argument: tested below


def test_compare_leaves_its_arguments_alone():
    old, new = wf(task("a"), task("b")), wf(task("b2", name="b"), task("a"))
    before = copy.deepcopy((old, new))
    compare(old, new)
    assert (old, new) == before


# ---- shared task definitions -------------------------------------------------------------------

def test_changed_task_definition_used_by_the_new_version():
    verdict = compare(ABC, ABC, changed_task_defs=["b", "not_used"])
    assert summary(verdict) == [(CAUTION, Reason.SHARED_TASK_DEFINITION_CHANGED, "b")]
    assert verdict.standing_warnings == ()  # the definition's change is the change, though old and new use it alike
    assert "every version" in verdict.findings[0].message


def test_changed_task_definition_names_every_task_using_it():
    new = wf(task("first", name="charge"), switch("route", {"big": [task("again", name="charge")]}))
    [finding] = compare(new, new, changed_task_defs=("charge",)).findings
    assert finding.task_ref == "first"
    assert "first, again" in finding.message


def test_changed_task_definition_only_in_the_old_version_is_no_finding():
    assert compare(ABC, wf(task("a"), task("c"), task("d")), changed_task_defs=["b"]).findings == (
        compare(ABC, wf(task("a"), task("c"), task("d"))).findings)


def test_a_single_changed_name_may_be_passed_as_a_string():
    assert summary(compare(ABC, ABC, changed_task_defs="b")) == [
        (CAUTION, Reason.SHARED_TASK_DEFINITION_CHANGED, "b")]


# ---- the verdict ---------------------------------------------------------------------------------

def test_levels_are_ordered():
    assert SAFE < CAUTION < BREAKING
    assert max([CAUTION, BREAKING, SAFE]) is BREAKING
    assert sorted([BREAKING, SAFE, CAUTION]) == [SAFE, CAUTION, BREAKING]
    assert [level.value for level in Compatibility] == ["Safe", "Caution", "Breaking"]  # status.verdict.level


def test_the_worst_finding_decides():
    old = wf(task("a"), task("b"), task("c"))
    safe_only = wf(task("a", inputParameters={"x": 1}), task("b"), task("c"), task("d"))
    with_caution = wf(task("a", inputParameters={"x": 1}), task("x"), task("b"), task("c"))
    with_breaking = wf(task("a", inputParameters={"x": 1}), task("x"), task("b"))
    assert compare(old, safe_only).level is SAFE
    assert compare(old, with_caution).level is CAUTION
    verdict = compare(old, with_breaking)
    assert verdict.level is BREAKING
    assert {f.level for f in verdict.findings} == {SAFE, CAUTION, BREAKING}


def test_no_findings_is_safe():
    assert compare(ABC, ABC) == Verdict(SAFE, ())


def test_every_reason_has_a_level_and_reads_camel_case():
    assert set(REASON_LEVELS) == set(Reason)
    assert all(re.fullmatch(r"(?:[A-Z][a-z]+)+", reason) for reason in Reason)
    assert REASON_LEVELS[Reason.TASK_REMOVED] is BREAKING


def test_findings_hold_a_level_reason_ref_and_one_sentence():
    verdict = compare(ABC, wf(task("a"), task("x"), task("c"), name="other"), changed_task_defs=["a"])
    assert verdict.findings
    for finding in verdict.findings:
        assert isinstance(finding, Finding)
        assert finding.level is REASON_LEVELS[finding.reason]
        assert finding.message[0].isupper() and finding.message.endswith(".") and "\n" not in finding.message
        if finding.task_ref:
            assert repr(finding.task_ref) in finding.message


def test_verdict_and_findings_are_frozen():
    verdict = compare(ABC, wf(task("a"), task("b")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.level = SAFE
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.findings[0].level = SAFE
    assert isinstance(verdict.findings, tuple)


# ---- order ---------------------------------------------------------------------------------------

OLD_BIG = wf(
    task("a"),
    switch("route", {"big": [task("b1")], "small": [task("s1"), task("s2")]}),
    fork("fork", [task("l1")], [task("r1")]),
    join("join", "l1", "r1"),
    task("z"),
    inputParameters=["id"],
)
NEW_BIG = wf(
    task("a", type="HTTP"),
    switch("route", {"big": [task("b1"), task("b2")], "small": [task("s2")]}),
    fork("fork", [task("l0"), task("l1")], [task("r1")]),
    join("join", "l1", "r1"),
    inputParameters=["id", "region"],
    name="order2",
)


def test_findings_follow_the_document_workflow_first():
    assert summary(compare(OLD_BIG, NEW_BIG)) == [
        (BREAKING, Reason.WORKFLOW_RENAMED, None),
        (CAUTION, Reason.WORKFLOW_INPUT_CHANGED, None),
        (CAUTION, Reason.TASK_TYPE_CHANGED, "a"),
        (SAFE, Reason.TASK_APPENDED, "b2"),
        (BREAKING, Reason.TASK_REMOVED, "s1"),
        (CAUTION, Reason.TASK_INSERTED, "l0"),
        (BREAKING, Reason.TASK_REMOVED, "z"),
    ]


def test_findings_do_not_depend_on_key_order_or_repetition():
    def reversed_keys(value):
        if isinstance(value, dict):
            return {key: reversed_keys(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(item) for item in value]
        return value

    first = compare(OLD_BIG, NEW_BIG)
    assert compare(OLD_BIG, NEW_BIG) == first
    # case order is part of the document, so keep decisionCases' order as written
    old, new = reversed_keys(OLD_BIG), reversed_keys(NEW_BIG)
    old["tasks"][1]["decisionCases"] = OLD_BIG["tasks"][1]["decisionCases"]
    new["tasks"][1]["decisionCases"] = NEW_BIG["tasks"][1]["decisionCases"]
    assert compare(old, new) == first


def test_messages_name_the_path():
    messages = {f.task_ref: f.message for f in compare(OLD_BIG, NEW_BIG).findings}
    assert "tasks/route.decisionCases[big]" in messages["b2"]
    assert "tasks/route.decisionCases[small]" in messages["s1"]
    assert "tasks/fork.forkTasks[0]" in messages["l0"]
    assert "before 'l1'" in messages["l0"]


def test_rename_message_names_both_refs():
    [finding] = compare(ABC, wf(task("a"), task("b2", name="b"), task("c"))).findings
    assert "'b'" in finding.message and "'b2'" in finding.message


def test_workflow_input_messages_tell_added_from_removed():
    added, removed = compare(wf(task("a"), inputParameters=["id", "old"]),
                             wf(task("a"), inputParameters=["id", "new"])).findings
    assert "'new' is new" in added.message
    assert "'old' is no longer declared" in removed.message


def test_sub_workflow_messages_name_the_versions():
    [pinned] = compare(wf(sub("run", version=2)), wf(sub("run", version=3))).findings
    assert "version 3 instead of sub-workflow 'child' version 2" in pinned.message
    [routed] = compare(wf(sub("run", version=2)), wf(sub("run", version=2, taskToDomain={"*": "b"}))).findings
    assert "changed how it starts sub-workflow 'child' version 2" in routed.message


def test_removed_parent_message_counts_its_nested_tasks():
    [finding] = compare(wf(task("a"), switch("route", {"big": [task("b1"), task("b2")]})), wf(task("a"))).findings
    assert "2 nested tasks" in finding.message


# ---- strategies --------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "strategy", "acknowledged", "allowed"), [
    (SAFE, "parallel", False, True),
    (SAFE, "drain", False, True),
    (SAFE, "upgradeWaves", False, True),
    (CAUTION, "parallel", False, True),
    (CAUTION, "drain", False, True),
    (CAUTION, "upgradeWaves", False, True),
    (BREAKING, "parallel", False, True),
    (BREAKING, "drain", False, True),
    (BREAKING, "upgradeWaves", False, False),
    (BREAKING, "upgradeWaves", True, True),
])
def test_allows(level, strategy, acknowledged, allowed):
    assert Verdict(level).allows(strategy, acknowledged_breaking=acknowledged) is allowed


def test_allows_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="canary"):
        Verdict(SAFE).allows("canary")


def test_breaking_change_blocks_upgrade_waves_end_to_end():
    verdict = compare(ABC, wf(task("a"), task("c")))
    assert not verdict.allows("upgradeWaves")
    assert verdict.allows("upgradeWaves", acknowledged_breaking=True)


# ---- bad input and purity ----------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "which", "problem"), [
    (wf(task("a"), task("a")), ABC, "old", "'a' is used more than once"),
    (ABC, wf(task("a"), {"name": "b"}), "new", "tasks[1] has no taskReferenceName"),
    (ABC, wf(switch("route", ["not", "a", "map"])), "new", "tasks/route.decisionCases must map"),
    (ABC, wf(fork("fork", [task("l1")]) | {"forkTasks": [{"not": "a list"}]}), "new", "forkTasks[0] must be a list"),
    (ABC, {"name": "order", "tasks": "none"}, "new", "tasks must be a list"),
    (ABC, wf(sub("run") | {"subWorkflowParam": "child"}), "new", "tasks/run.subWorkflowParam must be an object"),
    (wf(join("join") | {"joinOn": "l1"}), ABC, "old", "tasks/join.joinOn must be a list"),
    (ABC, wf(task("a"), inputParameters="id"), "new", "inputParameters must be a list"),
    ("not a definition", ABC, "old", "not a JSON object"),
])
def test_unreadable_definitions_are_refused(old, new, which, problem):
    with pytest.raises(InvalidDefinition) as caught:
        compare(old, new)
    assert caught.value.which == which
    assert problem in str(caught.value)


def test_the_package_imports_only_the_standard_library_and_itself():
    package = compatibility.__name__
    modules = sorted(Path(compatibility.__file__).parent.glob("*.py"))
    assert len(modules) > 1
    for module in modules:
        tree = ast.parse(module.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level], module.name
        outside = {name for name in imported if name != package and not name.startswith(f"{package}.")}
        assert {name.split(".")[0] for name in outside} <= set(sys.stdlib_module_names) | {"__future__"}, module.name
