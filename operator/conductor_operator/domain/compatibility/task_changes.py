"""Findings on what a task that stays does differently, and on shared task definitions changed with it."""

from __future__ import annotations

from collections.abc import Iterator

from conductor_operator.domain.compatibility.tree import Located, Tree, task_type
from conductor_operator.domain.compatibility.values import changed_keys, differs
from conductor_operator.domain.compatibility.verdict import Finding, Reason, finding

# Task keys with a rule of their own, or that do not matter to executions.
_COMPARED_ELSEWHERE = frozenset({
    "name", "taskReferenceName", "type", "description", "inputParameters", "subWorkflowParam",
    "decisionCases", "defaultCase", "forkTasks", "loopOver", "joinOn", "loopCondition",
    "evaluatorType", "expression", "caseValueParam", "caseExpression",
})
# What Conductor fills in for a task field left out, so a server copy equals the file it came from.
_TASK_DEFAULTS = {"startDelay": 0}
_BRANCHING_KEYS = ("evaluatorType", "expression", "caseValueParam", "caseExpression", "loopCondition")


def changed(old: Tree, new: Tree) -> Iterator[Located]:
    for ref, placed in new.tasks.items():
        if ref not in old.tasks:
            continue
        before, after = old.tasks[ref].task, placed.task
        for change in _task_changes(ref, before, after):
            yield placed.position, change


def _task_changes(ref: str, before: dict, after: dict) -> Iterator[Finding]:
    if task_type(before) != task_type(after):
        yield finding(Reason.TASK_TYPE_CHANGED, ref,
                      f"Task {ref!r} changed type from {task_type(before)} to {task_type(after)}: an execution "
                      f"moved while it runs or after it ran holds state the new type may not understand.")
    if before.get("name") != after.get("name"):
        yield finding(Reason.TASK_DEFINITION_CHANGED, ref,
                      f"Task {ref!r} now runs task definition {after.get('name')!r} instead of "
                      f"{before.get('name')!r}, with that definition's workers, retries and timeouts.")
    branching = _branching_changes(before, after)
    if branching:
        yield finding(Reason.BRANCHING_CHANGED, ref,
                      f"The branching of task {ref!r} changed ({'; '.join(branching)}): executions that "
                      f"already chose a branch may not match the new structure.")
    if differs(before.get("subWorkflowParam"), after.get("subWorkflowParam")):
        old_child, new_child = _child(before), _child(after)
        yield finding(Reason.SUB_WORKFLOW_CHANGED, ref,
                      f"Task {ref!r} now starts {new_child} instead of {old_child}." if old_child != new_child
                      else f"Task {ref!r} changed how it starts {new_child}.")
    inputs = changed_keys(before.get("inputParameters"), after.get("inputParameters"))
    if inputs:
        yield finding(Reason.INPUT_MAPPING_CHANGED, ref,
                      f"The input parameters of task {ref!r} changed ({', '.join(inputs)}); they are resolved "
                      f"when the task starts, so only tasks that have not started yet see the change.")
    settings = [key for key in changed_keys(before, after, _TASK_DEFAULTS) if key not in _COMPARED_ELSEWHERE]
    if settings:
        yield finding(Reason.TASK_SETTINGS_CHANGED, ref,
                      f"Task {ref!r} changed {', '.join(settings)}, which may change how a half-run "
                      f"execution continues.")


def _branching_changes(before: dict, after: dict) -> list[str]:
    changes = [f"{key} changed" for key in _BRANCHING_KEYS if differs(before.get(key), after.get(key))]
    old_cases = [str(case) for case in before.get("decisionCases") or {}]
    new_cases = [str(case) for case in after.get("decisionCases") or {}]
    changes += [f"case {case!r} added" for case in new_cases if case not in old_cases]
    changes += [f"case {case!r} removed" for case in old_cases if case not in new_cases]
    old_forks, new_forks = len(before.get("forkTasks") or []), len(after.get("forkTasks") or [])
    if old_forks != new_forks:
        changes.append(f"fork branches went from {old_forks} to {new_forks}")
    old_join, new_join = before.get("joinOn") or [], after.get("joinOn") or []
    if sorted(map(str, old_join)) != sorted(map(str, new_join)):
        changes.append(f"joinOn went from [{', '.join(map(str, old_join))}] to [{', '.join(map(str, new_join))}]")
    return changes


def _child(task: dict) -> str:
    param = task.get("subWorkflowParam") or {}
    if param.get("workflowDefinition"):
        return "an inline sub-workflow definition"
    version = param.get("version")
    return f"sub-workflow {param.get('name')!r} " + (f"version {version}" if version else "at its latest version")


def shared_task_definitions(new: Tree, changed_names: set[str]) -> Iterator[Located]:
    users: dict[str, list[str]] = {}
    for ref, placed in new.tasks.items():
        name = placed.task.get("name")
        if isinstance(name, str) and name in changed_names:
            users.setdefault(name, []).append(ref)
    for name, refs in users.items():
        yield new.tasks[refs[0]].position, finding(
            Reason.SHARED_TASK_DEFINITION_CHANGED, refs[0],
            f"Task definition {name!r} (used by {', '.join(refs)}) changed: task definitions are global in "
            f"Conductor, so the change also reaches running executions of every version.")
