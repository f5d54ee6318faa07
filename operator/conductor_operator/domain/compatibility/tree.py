"""A definition's task tree, read and checked: every task by its taskReferenceName, placed on its path.

A path is the ordered task list at one level (the top level, a SWITCH case, a fork branch, a loop
body), written like ``tasks/route.decisionCases[big]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from conductor_operator.domain.compatibility.verdict import Finding, InvalidDefinition

TaskPath = tuple[tuple[str, str], ...]
"""(parent ref, branch) pairs from the top level down; () is the top level."""


@dataclass(frozen=True)
class Placed:
    task: dict
    path: TaskPath
    index: int
    position: tuple[int, ...]  # depth-first place in the document; orders the findings


Located = tuple[tuple[int, ...], Finding]
"""A finding with the position of its task, which orders the findings as the document does."""


@dataclass(frozen=True)
class Tree:
    tasks: dict[str, Placed]  # by taskReferenceName, in document order (parents first)
    paths: dict[TaskPath, list[str]]  # the refs of each path, in order


def show(path: TaskPath) -> str:
    return "tasks" + "".join(f"/{ref}.{branch}" for ref, branch in path)


def _task_list(value, which: str, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDefinition(which, f"{where} must be a list of tasks")
    return value


def _branches(task: dict, which: str, where: str) -> Iterator[tuple[str, list]]:
    cases = task.get("decisionCases") or {}
    if not isinstance(cases, dict):
        raise InvalidDefinition(which, f"{where}.decisionCases must map case values to task lists")
    for case, tasks in cases.items():
        yield f"decisionCases[{case}]", _task_list(tasks, which, f"{where}.decisionCases[{case}]")
    yield "defaultCase", _task_list(task.get("defaultCase"), which, f"{where}.defaultCase")
    for number, tasks in enumerate(_task_list(task.get("forkTasks"), which, f"{where}.forkTasks")):
        yield f"forkTasks[{number}]", _task_list(tasks, which, f"{where}.forkTasks[{number}]")
    yield "loopOver", _task_list(task.get("loopOver"), which, f"{where}.loopOver")


def _check_fields(task: dict, which: str, where: str) -> None:
    for key, kind, shape in (("subWorkflowParam", dict, "an object"), ("joinOn", list, "a list of task references")):
        if task.get(key) is not None and not isinstance(task[key], kind):
            raise InvalidDefinition(which, f"{where}.{key} must be {shape}")


def read_tree(definition: dict, which: str) -> Tree:
    """The task tree of ``definition`` (``which`` is "old" or "new"); raises InvalidDefinition."""
    if not isinstance(definition, dict):
        raise InvalidDefinition(which, "it is not a JSON object")
    tasks: dict[str, Placed] = {}
    paths: dict[TaskPath, list[str]] = {}

    def walk(task_list: list, path: TaskPath, position: tuple[int, ...]) -> None:
        paths[path] = []
        for index, task in enumerate(task_list):
            where = f"{show(path)}[{index}]"
            ref = task.get("taskReferenceName") if isinstance(task, dict) else None
            if not isinstance(ref, str) or not ref:
                raise InvalidDefinition(which, f"{where} has no taskReferenceName")
            if ref in tasks:
                raise InvalidDefinition(which, f"taskReferenceName {ref!r} is used more than once")
            _check_fields(task, which, f"{show(path)}/{ref}")
            here = (*position, index)
            tasks[ref] = Placed(task, path, index, here)
            paths[path].append(ref)
            for rank, (branch, nested) in enumerate(_branches(task, which, f"{show(path)}/{ref}")):
                walk(nested, (*path, (ref, branch)), (*here, rank))

    walk(_task_list(definition.get("tasks"), which, "tasks"), (), ())
    return Tree(tasks, paths)


def task_type(task: dict) -> str:
    return task.get("type") or "SIMPLE"


def inside(path: TaskPath, refs) -> bool:
    return any(ref in refs for ref, _ in path)


def task_with_nested(tree: Tree, ref: str, among: set[str]) -> str:
    """"Task 'x'", naming how many of ``among`` sit inside it."""
    count = sum(1 for nested, placed in tree.tasks.items() if nested in among and inside(placed.path, {ref}))
    if not count:
        return f"Task {ref!r}"
    return f"Task {ref!r} (with {count} nested task{'' if count == 1 else 's'})"
