"""The tasks of a workflow definition: walking them at any depth (iteratively), the semantic checks Conductor
does not make, how deep a definition nests, and its pinned sub-workflows (who pins whom, and cycles)."""

from __future__ import annotations

import re

from conductor_operator.api.definitions import MAX_DEFINITION_DEPTH, MAX_TASK_NESTING
from conductor_operator.domain.depth import json_depth, json_text_depth

REASON_SUB_WORKFLOW_CYCLE = "SubWorkflowCycle"


_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_\-]+)\.(output|input)\b")
_NESTED_LISTS = ("defaultCase", "loopOver")


def _task_lists(task: dict) -> list[list]:
    """The task lists a task holds (SWITCH cases, its default case, a DO_WHILE loop, FORK_JOIN branches)."""
    cases = task.get("decisionCases")
    lists = list(cases.values()) if isinstance(cases, dict) else []
    lists += [task.get(key) for key in _NESTED_LISTS]
    forks = task.get("forkTasks")
    lists += forks if isinstance(forks, list) else []
    return [tasks for tasks in lists if isinstance(tasks, list)]


def _walk_tasks(tasks: list):
    """(task, nesting level) of every task, nested ones included, in document order; iterative, so any depth."""
    stack = [(iter(tasks if isinstance(tasks, list) else []), 0)]
    while stack:
        level = stack[-1][1]
        task = next(stack[-1][0], None)
        if task is None:
            stack.pop()
            continue
        if not isinstance(task, dict):
            continue
        yield task, level
        stack.extend((iter(inner), level + 1) for inner in reversed(_task_lists(task)))


def iter_tasks(tasks: list) -> list[dict]:
    """Every task of a workflow, nested ones included, in document order."""
    return [task for task, _ in _walk_tasks(tasks or [])]



def task_nesting(tasks: list) -> int:
    """The deepest nesting level of a task (0: only top-level tasks)."""
    return max((level for _, level in _walk_tasks(tasks or [])), default=0)


def depth_error(definition, where: str = "spec.definition") -> str | None:
    """Why a definition is nested too deep for the operator, naming the limit and the fix; None when it is not."""
    depth = json_depth(definition)
    if depth > MAX_DEFINITION_DEPTH:
        return (f"{where} nests {depth} JSON levels deep; the limit is {MAX_DEFINITION_DEPTH}: flatten it, or move "
                f"nested tasks into a sub-workflow")
    nesting = task_nesting(definition.get("tasks") if isinstance(definition, dict) else [])
    if nesting > MAX_TASK_NESTING:
        return (f"{where} nests tasks {nesting} levels deep (a SWITCH, FORK_JOIN or DO_WHILE inside another); the "
                f"limit is {MAX_TASK_NESTING}: move the inner tasks into a sub-workflow")
    return None


def text_depth_error(text: str, where: str) -> str | None:
    """``depth_error`` for a JSON document not decoded yet (so that decoding it cannot exhaust the stack)."""
    depth = json_text_depth(text)
    if depth > MAX_DEFINITION_DEPTH:
        return (f"{where} nests {depth} JSON levels deep; the limit is {MAX_DEFINITION_DEPTH}: flatten it, or move "
                f"nested tasks into a sub-workflow")
    return None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def validate_workflow_definition(definition: dict) -> list[str]:
    """Semantic errors Conductor itself does not catch (or catches with a worse message)."""
    tasks = definition.get("tasks") or []
    if not tasks:
        return ["the workflow has no tasks: spec.definition.tasks needs at least one"]
    if error := depth_error(definition):
        return [error]
    errors = []
    all_tasks = iter_tasks(tasks)
    refs = [t.get("taskReferenceName") for t in all_tasks]
    for task in all_tasks:
        if not task.get("taskReferenceName"):
            errors.append(f"task {task.get('name')!r} has no taskReferenceName")
    seen, duplicates = set(), []
    for ref in refs:
        if ref and ref in seen and ref not in duplicates:
            duplicates.append(ref)
        seen.add(ref)
    for ref in duplicates:
        errors.append(f"taskReferenceName {ref!r} is used more than once")
    known = set(refs) | {"workflow"}
    unknown = []
    for text in _strings({"tasks": tasks, "outputParameters": definition.get("outputParameters")}):
        for ref, _ in _REFERENCE.findall(text):
            if ref not in known and ref not in unknown:
                unknown.append(ref)
    for ref in unknown:
        errors.append(f"an expression refers to ${{{ref}.…}} but no task has taskReferenceName {ref!r}")
    return errors


def unpinned_sub_workflows(definition: dict) -> list[str]:
    """References of SUB_WORKFLOW tasks with no version: they float to the child's latest version."""
    return [t.get("taskReferenceName") for t in iter_tasks(definition.get("tasks") or [])
            if t.get("type") == "SUB_WORKFLOW" and not (t.get("subWorkflowParam") or {}).get("version")]


def pinned_sub_workflow_refs(definition: dict) -> list[tuple[str, int]]:
    """(workflow name, version) of every SUB_WORKFLOW task pinned to a version."""
    pinned = []
    for task in iter_tasks(definition.get("tasks") or []):
        param = task.get("subWorkflowParam") or {}
        if task.get("type") == "SUB_WORKFLOW" and param.get("name") and param.get("version"):
            pinned.append((param["name"], int(param["version"])))
    return pinned


def sub_workflow_cycle(start: tuple[str, int],
                       pinned: dict[tuple[str, int], list[tuple[str, int]]]) -> list[tuple[str, int]] | None:
    """The shortest chain of pinned sub-workflows from ``start`` back to itself (``[start, ..., start]``), or None.

    ``pinned`` maps (name, version) to the pinned sub-workflows of that definition, as far as they are known.
    """
    parents: dict[tuple[str, int], tuple[str, int]] = {}
    frontier, seen = [start], {start}
    while frontier:
        following = []
        for node in frontier:
            for child in pinned.get(node, []):
                if child == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [start, *reversed(chain[:-1]), start] if node != start else [start, start]
                if child not in seen:
                    seen.add(child)
                    parents[child] = node
                    following.append(child)
        frontier = following
    return None


def cycle_warning(cycle: list[tuple[str, int]]) -> tuple[str, str]:
    """The Warning (reason, message) of a cycle of pinned sub-workflows."""
    chain = " -> ".join(f"{name} v{version}" for name, version in cycle)
    what = "starts itself" if len(cycle) == 2 else "is started again by its own sub-workflows"
    return (REASON_SUB_WORKFLOW_CYCLE,
            f"pinned sub-workflows form a cycle ({chain}): each execution {what} until Conductor or the "
            f"workflow's own conditions stop it; break the cycle, or make sure a SWITCH ends it")


def pinned_referrers(definitions: list[dict], name: str, version: int) -> list[str]:
    """Labels ("parent v3") of the definitions whose SUB_WORKFLOW tasks are pinned to ``name`` ``version``."""
    return [f"{d['name']} v{d.get('version')}" for d in definitions if (name, version) in pinned_sub_workflow_refs(d)]

